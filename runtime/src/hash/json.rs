//! JSON text as Python's `json.dumps(..., sort_keys=True, ensure_ascii=False)` writes it: strings, and nested JSON values.

use serde_json::{Map, Value};

use super::buf::CanonicalBuf;
use super::float::push_float;
use super::swar::any_needs_escape;

/// Writes `text` as a JSON string without normalizing it.
///
/// Python escapes only `"`, `\` and U+0000..U+001F (DEL and everything
/// non-ASCII go out as themselves with `ensure_ascii=False`), so this scans
/// bytes: UTF-8 continuation bytes are never escaped.
pub(crate) fn push_json_string(out: &mut CanonicalBuf, text: &str) {
    out.push_byte(b'"');
    push_json_string_body(out, text);
    out.push_byte(b'"');
}

/// Writes a column name and what goes around it: `"name": `, preceded by
/// `, ` unless it is the row's first.
pub(crate) fn push_json_key(out: &mut CanonicalBuf, name: &str, first: bool) {
    // Two fixed-size pushes: a fixed size compiles to a plain store.
    if !first {
        out.push_ascii(b", ");
    }
    out.push_byte(b'"');
    push_json_string_body(out, name);
    out.push_ascii(b"\": ");
}

/// The escaped text between the quotes.
fn push_json_string_body(out: &mut CanonicalBuf, text: &str) {
    // Column names and most values need no escape: a word-at-a-time test
    // lets them through with a single copy.
    let bytes = text.as_bytes();
    if !any_needs_escape(bytes) {
        out.push_str(text);
        return;
    }
    let mut run_start = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        if needs_escape(byte) {
            out.push_str(text.get(run_start..at).unwrap_or_default());
            push_escaped_byte(out, byte);
            run_start = at + 1;
        }
    }
    out.push_str(text.get(run_start..).unwrap_or_default());
}

fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// Writes the JSON escape Python's json module uses for an ASCII byte that
/// needs one: the short forms where JSON has them, else `\u00xx` with
/// lowercase hex.
pub(crate) fn push_escaped_byte(out: &mut CanonicalBuf, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match byte {
        b'"' => "\\\"",
        b'\\' => "\\\\",
        b'\n' => "\\n",
        b'\r' => "\\r",
        b'\t' => "\\t",
        0x08 => "\\b",
        0x0c => "\\f",
        _ => "",
    };
    if !short.is_empty() {
        out.push_str(short);
        return;
    }
    out.push_str("\\u00");
    out.push_byte(HEX[usize::from(byte >> 4)]);
    out.push_byte(HEX[usize::from(byte & 0x0f)]);
}

/// Writes a nested JSON value (the content of a json/jsonb column, which
/// Python gets parsed): strings as they are, numbers as Python's int and
/// float would print, object keys sorted by code point at every level.
pub(crate) fn push_json_value(out: &mut CanonicalBuf, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => push_json_number(out, number),
        Value::String(text) => push_json_string(out, text),
        Value::Array(items) => push_json_array(out, items),
        Value::Object(map) => push_json_object(out, map),
    }
}

/// serde_json keeps integers apart from floats the way Python's json.loads
/// does (`1` is an int, `1.0` a float), so each prints as Python would.
/// Integers beyond the u64 range are parsed as floats by serde_json (no
/// `arbitrary_precision`), where Python keeps an int: the one place a JSON
/// column can hash differently.
fn push_json_number(out: &mut CanonicalBuf, number: &serde_json::Number) {
    if let Some(int) = number.as_i64() {
        out.push_str(itoa::Buffer::new().format(int));
    } else if let Some(int) = number.as_u64() {
        out.push_str(itoa::Buffer::new().format(int));
    } else if let Some(float) = number.as_f64() {
        push_float(out, float);
    } else {
        out.push_str("null");
    }
}

fn push_json_array(out: &mut CanonicalBuf, items: &[Value]) {
    out.push_byte(b'[');
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        push_json_value(out, item);
    }
    out.push_byte(b']');
}

fn push_json_object(out: &mut CanonicalBuf, map: &Map<String, Value>) {
    out.push_byte(b'{');
    // jsonb hands keys over shortest first, so objects usually need sorting;
    // one already in order is written without collecting its entries.
    let sorted = map.keys().zip(map.keys().skip(1)).all(|(a, b)| a < b);
    if sorted {
        push_json_entries(out, map.iter());
    } else {
        let mut entries: Vec<(&String, &Value)> = map.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        push_json_entries(out, entries.into_iter());
    }
    out.push_byte(b'}');
}

fn push_json_entries<'v>(
    out: &mut CanonicalBuf,
    entries: impl Iterator<Item = (&'v String, &'v Value)>,
) {
    for (index, (key, value)) in entries.enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        push_json_string(out, key);
        out.push_str(": ");
        push_json_value(out, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dumped(value: &Value) -> String {
        let mut out = CanonicalBuf::default();
        push_json_value(&mut out, value);
        out.as_str().to_owned()
    }

    #[test]
    fn escapes_like_python() {
        let mut out = CanonicalBuf::default();
        push_json_string(&mut out, "a\"b\\c\n\u{1f}\u{7f}é\u{2028}");
        assert_eq!(out.as_str(), "\"a\\\"b\\\\c\\n\\u001f\u{7f}é\u{2028}\"");
    }

    #[test]
    fn sorts_keys_at_every_level() {
        let value: Value = serde_json::from_str(r#"{"b": {"z": 1, "a": [2.0, "X Y"]}, "A": null}"#)
            .unwrap_or_default();
        assert_eq!(
            dumped(&value),
            r#"{"A": null, "b": {"a": [2.0, "X Y"], "z": 1}}"#
        );
    }
}
