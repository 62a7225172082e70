#!/usr/bin/env python3
"""The Python side of the hashing benchmark: the rule of HASHING.md, as
runtime/tests/vectors/make_vectors.py applies it, on the benchmark's own rows.

Usage: python3 python_hash.py ROWS.jsonl PASSES

The first line of ROWS.jsonl is {"hashed": {column: spec type}}; every
other line is one row as serde_json writes the insert struct (timestamps,
dates, decimals and UUIDs as text). Each row is first turned into the values
the Python framework would hold (datetime, Decimal, UUID, ...), outside the
clock; then the rows are hashed PASSES times, and only that is timed, in
CPU time of this process. Prints one JSON line: rows, the best pass in
seconds, and the SHA3-256 of all the rows' hex shas one after another, so
the Rust side can check that both hashed every row alike.
"""

import datetime
import decimal
import hashlib
import json
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "vectors"))
from make_vectors import canonical, sha3_hex  # noqa: E402  (the rule, written once)


def python_value(spec_type, value):
    """What psycopg2 would hand the framework for a column of this type."""
    if value is None:
        return None
    if spec_type in ("datetime", "datetimetz"):
        return datetime.datetime.fromisoformat(value)
    if spec_type == "date":
        return datetime.date.fromisoformat(value)
    if spec_type == "time":
        return datetime.time.fromisoformat(value)
    if spec_type == "decimal":
        return decimal.Decimal(value)
    if spec_type == "uuid":
        return uuid.UUID(value)
    if spec_type == "bytes":
        return bytes(value)
    return value


def main():
    path, passes = sys.argv[1], int(sys.argv[2])
    with open(path, encoding="utf-8") as lines:
        hashed = json.loads(next(lines))["hashed"]
        rows = []
        for line in lines:
            row = json.loads(line)
            rows.append({name: python_value(spec_type, row.get(name)) for name, spec_type in hashed.items()})
    best = None
    shas = None
    for _ in range(passes):
        started = time.process_time()
        shas = [sha3_hex(canonical(row)) for row in rows]
        elapsed = time.process_time() - started
        best = elapsed if best is None else min(best, elapsed)
    digest = hashlib.sha3_256("".join(shas).encode("ascii")).hexdigest()
    print(json.dumps({"rows": len(rows), "best_seconds": best, "digest": digest}))


if __name__ == "__main__":
    main()
