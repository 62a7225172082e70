#!/usr/bin/env python3
"""Writes hash_vectors.json: row-hash vectors computed by Python itself.

The Rust runtime must hash a row byte for byte as the Python Data Collector
framework does (see shared/HASHING.md). This script builds rows out of real
Python objects (datetime, Decimal, UUID, bytes, floats, nested dicts), applies
the framework's rule, and records for each row the typed input (so the Rust
test can rebuild the same typed values), the canonical text and its SHA3-256.
It also records the tables the Rust side must agree with Python on: the set of
characters `re` matches with `\\s`, `str.lower()` for every code point,
`repr(float)` (of doubles and of float4 values as read back) and
`str(Decimal)` on many values.

Run from anywhere:  python3 runtime/tests/vectors/make_vectors.py
The output is deterministic (fixed seeds, no clock, no hash-order effects),
so re-running it must reproduce the committed file byte for byte.
"""

import datetime
import decimal
import hashlib
import json
import os
import random
import re
import struct
import sys
import unicodedata
import uuid

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hash_vectors.json")

# --- the rule, exactly as the Python framework applies it -----------------

_WHITESPACE = re.compile(r"\s+")


def normalize(text):
    """Lowercase, then drop every character `re`'s \\s matches."""
    return _WHITESPACE.sub("", text.lower())


def canonical(row):
    normalized = {k: normalize(v) if isinstance(v, str) else v for k, v in row.items()}
    return json.dumps(normalized, sort_keys=True, ensure_ascii=False, default=str)


def sha3_hex(text):
    return hashlib.sha3_256(text.encode("utf-8")).hexdigest()


# --- typed values: a Python object plus how the Rust test rebuilds it -------


class Typed:
    """A Python value and its description as {type, value} for the Rust side."""

    def __init__(self, kind, python_value, text):
        self.kind = kind
        self.python_value = python_value
        self.text = text

    def describe(self):
        return {"type": self.kind, "value": self.text}


def t_null():
    return Typed("null", None, None)


def t_bool(b):
    return Typed("bool", b, b)


def t_int(i):
    return Typed("int", i, str(i))


def t_float(f):
    return Typed("float", f, float_bits(f))


def t_f32(f):
    """A `real` column, as psycopg2 hands it to Python: float() of the text
    PostgreSQL (12+) prints for a float4, its shortest round-trip digits."""
    return Typed("f32", float(float4_text(f)), f32_bits(f))


def f32_bits(f):
    return "%08x" % struct.unpack("<I", struct.pack("<f", f))[0]


def float4_text(f):
    """The shortest decimal that reads back as the same float4 (float4out)."""
    (widened,) = struct.unpack("<f", struct.pack("<f", f))
    if widened != widened or widened in (float("inf"), float("-inf")):
        return repr(widened)
    for digits in range(1, 10):
        text = "%.*g" % (digits, widened)
        try:
            if struct.unpack("<f", struct.pack("<f", float(text)))[0] == widened:
                return text
        except OverflowError:
            continue  # rounded past the largest float4: not this one
    return repr(widened)


def t_text(s):
    return Typed("text", s, s)


def t_decimal(s):
    return Typed("decimal", decimal.Decimal(s), s)


def t_timestamp(dt):
    return Typed("timestamp", dt, dt.isoformat())


def t_timestamptz(dt):
    return Typed("timestamptz", dt, dt.isoformat())


def t_date(d):
    return Typed("date", d, d.isoformat())


def t_time(t):
    return Typed("time", t, t.isoformat())


def t_uuid(u):
    return Typed("uuid", u, str(u))


def t_json(text):
    """A json/jsonb column: the driver hands Python the parsed object."""
    return Typed("json", json.loads(text), json.loads(text))


def t_bytes(b):
    return Typed("bytes", b, b.hex())


def t_list(items):
    value = Typed("list", [i.python_value for i in items], None)
    value.items = items
    return value


def describe(typed):
    if typed.kind == "list":
        return {"type": "list", "items": [describe(i) for i in typed.items]}
    return typed.describe()


def float_bits(f):
    return "%016x" % struct.unpack("<Q", struct.pack("<d", f))[0]


# --- the vectors -----------------------------------------------------------

UTC = datetime.timezone.utc
ALL_WHITESPACE = "".join(chr(c) for c in range(0x110000) if re.match(r"\s", chr(c)))
ALL_ASCII = "".join(chr(c) for c in range(0x80))


def vectors():
    """(name, [(column, Typed)], expected canonical text or None)."""
    tz_plus = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
    tz_minus = datetime.timezone(-datetime.timedelta(hours=3, minutes=15, seconds=7))
    u = uuid.UUID("A1B2C3D4-E5F6-4789-ABCD-0123456789EF")
    return [
        # The two vectors of shared/HASHING.md, verbatim.
        (
            "hashing_md_1",
            [("company_id", t_int(1)), ("person_id", t_int(1)), ("name", t_text("Name1")), ("surname", t_text("Surname1"))],
            '{"company_id": 1, "name": "name1", "person_id": 1, "surname": "surname1"}',
        ),
        (
            "hashing_md_2",
            [("name", t_text("  Ivan  Horvat\t\n")), ("city", t_text("ZAGREB"))],
            '{"city": "zagreb", "name": "ivanhorvat"}',
        ),
        ("empty_row", [], "{}"),
        ("nulls_and_bools", [("b", t_null()), ("a", t_bool(True)), ("c", t_bool(False))], None),
        (
            "integers",
            [
                ("max", t_int(2**63 - 1)),
                ("min", t_int(-(2**63))),
                ("neg", t_int(-42)),
                ("zero", t_int(0)),
                ("u64_max", t_int(2**64 - 1)),
                ("small", t_int(-32768)),
            ],
            None,
        ),
        (
            "floats",
            [
                ("a_tenth", t_float(0.1)),
                ("b_small", t_float(1e-5)),
                ("c_big", t_float(1e16)),
                ("d_hundred", t_float(100.0)),
                ("e_negzero", t_float(-0.0)),
                ("f_huge", t_float(1.5e300)),
                ("g_denormal", t_float(5e-324)),
                ("h_edge", t_float(123456789012345.0)),
                ("i_fixed", t_float(0.0001)),
                ("j_sci", t_float(1.5e16)),
                ("k_zero", t_float(0.0)),
                ("l_max", t_float(sys.float_info.max)),
                ("m_pi", t_float(-3.141592653589793)),
                ("n_below16", t_float(9999999999999998.0)),
            ],
            None,
        ),
        (
            "float_specials",
            [("inf", t_float(float("inf"))), ("ninf", t_float(float("-inf"))), ("nan", t_float(float("nan")))],
            None,
        ),
        (
            "reals",
            [
                ("a", t_f32(0.1)),
                ("b", t_f32(1.0)),
                ("c", t_f32(3.4028234663852886e38)),
                ("d", t_f32(1e-40)),
                ("e", t_f32(-2.5)),
                ("f", t_f32(123456.7)),
                ("g", t_f32(1e-5)),
            ],
            None,
        ),
        # Apart from the other reals, which `dcgen hash` can take as JSON numbers.
        ("real_nan", [("h", t_f32(float("nan")))], None),
        (
            "timestamps",
            [
                ("plain", t_timestamp(datetime.datetime(2024, 1, 2, 3, 4, 5))),
                ("micros", t_timestamp(datetime.datetime(2024, 1, 2, 3, 4, 5, 7))),
                ("micros_full", t_timestamp(datetime.datetime(1999, 12, 31, 23, 59, 59, 999999))),
                ("early", t_timestamp(datetime.datetime(5, 6, 7, 8, 9, 10, 120000))),
                ("late", t_timestamp(datetime.datetime(9999, 12, 31, 0, 0, 0))),
            ],
            None,
        ),
        (
            "timestamptz",
            [
                ("utc", t_timestamptz(datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))),
                ("utc_micros", t_timestamptz(datetime.datetime(2024, 1, 2, 3, 4, 5, 600, tzinfo=UTC))),
                ("plus", t_timestamptz(datetime.datetime(2024, 6, 1, 12, 0, 0, tzinfo=tz_plus))),
                ("minus_seconds", t_timestamptz(datetime.datetime(2024, 6, 1, 12, 0, 0, 5, tzinfo=tz_minus))),
            ],
            None,
        ),
        (
            "dates_and_times",
            [
                ("d", t_date(datetime.date(2024, 2, 29))),
                ("d_early", t_date(datetime.date(1, 1, 1))),
                ("t", t_time(datetime.time(23, 59, 58))),
                ("t_micros", t_time(datetime.time(0, 0, 0, 1))),
            ],
            None,
        ),
        (
            "decimals",
            [
                ("a", t_decimal("1.10")),
                ("b", t_decimal("1E+2")),
                ("c", t_decimal("0.000001")),
                ("d", t_decimal("0.0000001")),
                ("e", t_decimal("-123.4500")),
                ("f", t_decimal("100")),
                ("g", t_decimal("0.00")),
                ("h", t_decimal("0.0000000")),
                ("i", t_decimal("12345678901234567890123456789012345678901234567890.5")),
            ],
            None,
        ),
        (
            # Values whose scale or exponent bigdecimal's Display loses (`0.00`
            # prints `0`, `1E+5` prints `100000`): str(Decimal) keeps both.
            "decimals_scale_and_exponent",
            [
                ("zero_2", t_decimal("0.00")),
                ("zero_10", t_decimal("0E-10")),
                ("zero_exp", t_decimal("0E+3")),
                ("zero", t_decimal("0")),
                ("exp_5", t_decimal("1E+5")),
                ("exp_mixed", t_decimal("12.30E+3")),
                ("exp_big", t_decimal("1.5E+100")),
                ("tiny", t_decimal("1E-100")),
                ("trailing", t_decimal("120.000")),
                ("tiny_trailing", t_decimal("0.00000012300")),
                ("six_zeros", t_decimal("0.000000123")),
                ("neg_tiny", t_decimal("-0.0000001")),
            ],
            None,
        ),
        ("uuids", [("id", t_uuid(u)), ("nil", t_uuid(uuid.UUID(int=0)))], None),
        (
            "bytes",
            [
                ("plain", t_bytes(b"abc")),
                ("both_quotes", t_bytes(b"a'b\"c\\")),
                ("single_quote", t_bytes(b"it's")),
                ("controls", t_bytes(bytes(range(0, 0x20)) + b"\x7f\x80\xff")),
                ("empty", t_bytes(b"")),
            ],
            None,
        ),
        (
            "non_ascii_text",
            [
                ("croatian", t_text("ČĆŽŠĐ čćžšđ Šumarstvo")),
                ("german", t_text("STRASSE Straße ẞ")),
                ("turkish", t_text("İSTANBUL ıI")),
                ("greek", t_text("ΟΔΟΣ ΟΔΟΣ. Σ ΑΣ'Σ")),
                ("greek_mixed", t_text("ΣΑΣ aΣb ΑΣ1")),
                ("kelvin_ohm", t_text("\u212a \u2126 \u0130")),
                ("emoji", t_text("Ä 😀 ǅ ῼ")),
            ],
            None,
        ),
        (
            "all_whitespace",
            [("ws", t_text("A" + "B".join(ALL_WHITESPACE) + "Z")), ("only_ws", t_text(ALL_WHITESPACE))],
            None,
        ),
        (
            "not_whitespace",
            # Look-alikes that `\s` does not match: they must survive.
            [("kept", t_text("a\u180eb\u200bc\u2060d\ufeffe\u00adf"))],
            None,
        ),
        (
            "escapes",
            [
                ("ascii", t_text(ALL_ASCII)),
                ("quotes", t_text('Say "Hi" \\ bye\'')),
                ("del_and_c1", t_text("a\x7fb\x80c\x9fd")),
                ("separators", t_text("x\u2028y\u2029z")),
            ],
            None,
        ),
        (
            "nested_json",
            [
                ("payload", t_json('{"Zeta": "Hello World", "alpha": [1, 2.5, null, true, "X Y", {"b": 1, "a": "\\u001f\\n"}], "Mid": {"z": -0.0, "A": 1e16, "m": 100.0, "k": 12345678901234567890}}')),
                ("list", t_json('["B A", "a b", []]')),
                ("empty_obj", t_json("{}")),
                ("number", t_json("0.5")),
                ("int", t_json("-7")),
                # serde_json parses the first one 1 ULP off unless its
                # float_roundtrip feature is on.
                ("floats", t_json("[9.461480344306637e+19, 0.1, 2.2250738585072014e-308, 1.7976931348623157e+308, 5e-324]")),
            ],
            None,
        ),
        (
            "json_top_level_string",
            # psycopg hands a JSON string scalar to Python as `str`, so the
            # rule's isinstance(v, str) normalizes it like a text column.
            [("doc", t_json('"Hello  World\\t"')), ("null_doc", t_json("null"))],
            None,
        ),
        (
            "arrays",
            [
                ("texts", t_list([t_text("A b"), t_null(), t_text("C\tD")])),
                ("ints", t_list([t_int(1), t_int(-2), t_int(2**63 - 1)])),
                ("floats", t_list([t_float(0.1), t_float(1e22), t_f32(0.1)])),
                ("stamps", t_list([t_timestamp(datetime.datetime(2024, 1, 2, 3, 4, 5, 6)), t_date(datetime.date(2024, 1, 2))])),
                ("decimals", t_list([t_decimal("1.10"), t_decimal("1E-7")])),
                ("empty", t_list([])),
            ],
            None,
        ),
        (
            "key_order",
            # Keys sort by code point: uppercase before lowercase, '_' between.
            [("b", t_int(1)), ("B", t_int(2)), ("_x", t_int(3)), ("a_b", t_int(4)), ("ab", t_int(5)), ("é", t_int(6)), ("z", t_int(7))],
            None,
        ),
        (
            "odd_keys",
            [('quote"key', t_int(1)), ("back\\slash", t_int(2)), ("tab\tkey", t_int(3)), ("Ünïcode", t_int(4))],
            None,
        ),
    ] + random_rows()


def random_rows():
    """Mixed rows from a fixed seed, so every type meets every other."""
    rng = random.Random(20240102)
    words = ["Ivan", "HORVAT", "  Zagreb ", "Čakovec", "ĐURĐEVAC\t", "straße", "x\u3000y", "İzmir", "ΟΔΟΣ", "a\u001cb"]
    rows = []
    for n in range(20):
        row = [
            ("company_id", t_int(rng.randint(-(2**63), 2**63 - 1))),
            ("name", t_text(rng.choice(words) + " " + rng.choice(words))),
            ("amount", t_decimal("%d.%02d" % (rng.randint(-99999, 99999), rng.randint(0, 99)))),
            ("ratio", t_float(rng.uniform(-1e6, 1e6))),
            ("tiny", t_float(rng.uniform(0, 1e-4))),
            ("seen_at", t_timestamp(datetime.datetime(2000, 1, 1) + datetime.timedelta(microseconds=rng.randint(0, 10**16)))),
            ("active", t_bool(rng.random() < 0.5)),
            ("note", t_null() if rng.random() < 0.3 else t_text(rng.choice(words))),
            ("ref", t_uuid(uuid.UUID(int=rng.getrandbits(128), version=4))),
            ("born", t_date(datetime.date(1900, 1, 1) + datetime.timedelta(days=rng.randint(0, 50000)))),
        ]
        rows.append(("random_%02d" % n, row, None))
    return rows


# --- tables the Rust side checks against ------------------------------------


def whitespace_table():
    return [c for c in range(0x110000) if re.match(r"\s", chr(c))]


def lowercase_table():
    """Every code point whose str.lower() is not itself, and the unassigned ranges.

    Code points unassigned in this Python's Unicode database lower to
    themselves here but may have a mapping in the newer Unicode of Rust's std;
    the Rust test skips those, and records why.
    """
    mappings = []
    unassigned = []
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        ch = chr(c)
        if unicodedata.category(ch) == "Cn":
            if unassigned and unassigned[-1][1] == c - 1:
                unassigned[-1][1] = c
            else:
                unassigned.append([c, c])
            continue
        lowered = ch.lower()
        if lowered != ch:
            mappings.append([c, lowered])
    return {"unicode_version": unicodedata.unidata_version, "mappings": mappings, "unassigned_ranges": unassigned}


def float_table():
    rng = random.Random(7)
    values = [0.0, -0.0, 0.1, 0.2, 0.3, 1 / 3, 2 / 3, 1e-5, 1e-4, 9.999e-5, 1e15, 1e16, 1e17, 1e22, 1e23, 5e-324, 2.2250738585072014e-308, sys.float_info.max, 9007199254740993.0, 123456789012345.0, 1234567890123456.0, 12345678901234567.0]
    for k in range(-325, 309):
        for m in (1.0, 1.5, 9.87654321):
            values.append(float("%re%d" % (m, k)))
    for _ in range(1500):
        (f,) = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))
        values.append(f)
    for _ in range(500):
        values.append(round(rng.uniform(-1e7, 1e7), rng.randint(0, 8)))
    for _ in range(300):
        values.append(float(struct.unpack("<f", struct.pack("<f", rng.uniform(-1e6, 1e6)))[0]))
    return [[float_bits(v), json.dumps(v)] for v in values]


def real_table():
    """float4 values: bits, and json.dumps of the float psycopg2 would read."""
    rng = random.Random(3)
    values = [0.1, 0.2, 1 / 3, 1e-5, 1e-4, 1e16, 1e17, 16777217.0, 3.4028234663852886e38, 1e-45, 1.17549435e-38, -0.0, 0.0, 100.0]
    for k in range(-45, 39):
        values.append(float("1e%d" % k))
    for _ in range(1500):
        (f,) = struct.unpack("<f", struct.pack("<I", rng.getrandbits(32)))
        values.append(f)
    for _ in range(500):
        values.append(round(rng.uniform(-1e5, 1e5), rng.randint(0, 6)))
    return [[f32_bits(v), json.dumps(float(float4_text(v)))] for v in values]


def decimal_table():
    rng = random.Random(11)
    texts = ["0", "-0", "0.0", "1.10", "1E+2", "1e2", "0E+3", "-0.00", "0.000001", "0.0000001", "1.23E-10", "123.456e10", "NaN", "-NaN", "Infinity", "-inf", "sNaN", "NaN12", "00012.3400", ".5", "5.", "+7.25", "1e-6", "1e-7", "0.00000100"]
    # Zeros with every kind of scale, negative zeros, exponents at and past
    # the points where str() switches to E notation, trailing zeros kept.
    texts += ["0.00", "0E-2", "0E-10", "0E+10", "-0E-10", "-0E+5", "-0", "0E-6", "0E-7", "0.000000", "0.0000000"]
    texts += ["1E+5", "10E+4", "100000", "12.30E+3", "1.5E+100", "-7E+30", "1E-100", "123E-10", "1E+0", "1E-0"]
    texts += ["120.000", "-120.000", "0.00000012300", "0.000000123", "0.00000123", "-0.0000001", "1.000000E-6", "99999999999999999999999999999.9999999990"]
    for _ in range(400):
        digits = str(rng.randint(0, 10 ** rng.randint(1, 40)))
        exponent = rng.randint(-45, 45)
        sign = rng.choice(["", "-"])
        form = rng.randint(0, 2)
        if form == 0:
            texts.append("%s%sE%+d" % (sign, digits, exponent))
        elif form == 1 and exponent < 0 and -exponent < len(digits):
            texts.append("%s%s.%s" % (sign, digits[:exponent], digits[exponent:]))
        else:
            texts.append("%s0.%s%s" % (sign, "0" * rng.randint(0, 12), digits))
    return [[t, str(decimal.Decimal(t))] for t in texts]


def main():
    out_vectors = []
    for name, fields, expected in vectors():
        row = {column: typed.python_value for column, typed in fields}
        text = canonical(row)
        if expected is not None and text != expected:
            sys.exit("vector %s: Python gives %r, HASHING.md says %r" % (name, text, expected))
        out_vectors.append(
            {
                "name": name,
                "fields": [dict(describe(typed), name=column) for column, typed in fields],
                "canonical": text,
                "sha3_256": sha3_hex(text),
            }
        )
    documented = {v["name"]: v["sha3_256"] for v in out_vectors}
    assert documented["hashing_md_1"] == "7c4216b576ba2246dde241c5b654f30498f9374dae3d238ca46c5ff58eb6c7fd"
    assert documented["hashing_md_2"] == "a0057e6ee5826b770c25a58963c18901c7ce4c5e97532b1ab5082250f630703f"
    document = {
        "generated_by": "runtime/tests/vectors/make_vectors.py",
        "whitespace": whitespace_table(),
        "lowercase": lowercase_table(),
        "floats": float_table(),
        "reals": real_table(),
        "decimals": decimal_table(),
        "vectors": out_vectors,
    }
    text = layout(document)
    if "--check" in sys.argv[1:]:
        # `make test`: the committed file must be what this Python produces, so the
        # Rust tests are judged by Python itself, not by a stale copy.
        with open(OUT, encoding="ascii", newline="") as f:
            if f.read() != text:
                sys.exit("%s is not what this Python produces; run python3 %s and review the diff" % (OUT, document["generated_by"]))
        print("hash vectors: %d vectors and the Python tables match %s" % (len(out_vectors), sys.version.split()[0]))
        return
    with open(OUT, "w", encoding="ascii", newline="\n") as f:
        f.write(text)


def layout(document):
    """JSON with one table entry or vector per line: small diffs, ASCII only."""

    def dense(value):
        return json.dumps(value, ensure_ascii=True)

    def lines(items):
        return "[\n  " + ",\n  ".join(dense(i) for i in items) + "\n ]"

    parts = []
    for key, value in document.items():
        if isinstance(value, list):
            body = lines(value)
        elif isinstance(value, dict):
            body = "{\n" + ",\n".join("  %s: %s" % (dense(k), lines(v) if isinstance(v, list) else dense(v)) for k, v in value.items()) + "\n }"
        else:
            body = dense(value)
        parts.append(" %s: %s" % (dense(key), body))
    return "{\n" + ",\n".join(parts) + "\n}\n"


if __name__ == "__main__":
    main()
