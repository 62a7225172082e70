//! `str()` of the values JSON has no type for (datetimes, dates, times, UUIDs, bytes), as `json.dumps(default=str)` writes them.
//!
//! Each is written straight into the output as a JSON string. They are not
//! `str` in Python when the row is normalized, so they are never lowercased
//! or stripped: the space inside a timestamp stays.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use uuid::Uuid;

use super::buf::CanonicalBuf;

/// "00" to "99", back to back.
const DIGIT_PAIRS: [u8; 200] = digit_pairs();

const fn digit_pairs() -> [u8; 200] {
    let mut table = [0_u8; 200];
    let mut value = 0;
    while value < 100 {
        table[value * 2] = b'0' + (value / 10) as u8;
        table[value * 2 + 1] = b'0' + (value % 10) as u8;
        value += 1;
    }
    table
}

/// ASCII text built on the stack, then copied out once.
struct Ascii {
    bytes: [u8; 48],
    len: usize,
}

impl Ascii {
    fn new() -> Self {
        Ascii {
            bytes: [0; 48],
            len: 0,
        }
    }

    fn byte(&mut self, byte: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
    }

    /// `value` as exactly `width` digits (Python's `%0Nd` for values that
    /// fit), filled from the right two digits at a time; every division is
    /// by a constant, which compiles to a multiplication.
    fn digits(&mut self, value: u32, width: usize) {
        let end = (self.len + width).min(self.bytes.len());
        let mut rest = value;
        let mut slots = self
            .bytes
            .get_mut(self.len..end)
            .unwrap_or_default()
            .rchunks_mut(2);
        for pair in slots.by_ref() {
            let index = (rest % 100) as usize * 2;
            match pair {
                [tens, units] => {
                    *tens = DIGIT_PAIRS[index];
                    *units = DIGIT_PAIRS[index + 1];
                }
                [units] => *units = DIGIT_PAIRS[index + 1],
                _ => {}
            }
            rest /= 100;
        }
        self.len = end;
    }

    fn written(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]`, as `str(datetime)` of a naive datetime.
pub(crate) fn push_timestamp(out: &mut CanonicalBuf, value: &NaiveDateTime) {
    let mut text = Ascii::new();
    date_part(&mut text, &value.date());
    text.byte(b' ');
    time_part(&mut text, &value.time());
    push_quoted(out, text.written());
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]±HH:MM[:SS]`, as `str(datetime)` of an
/// aware datetime: local wall time followed by its UTC offset.
pub(crate) fn push_timestamp_tz(out: &mut CanonicalBuf, value: &DateTime<FixedOffset>) {
    let mut text = Ascii::new();
    let local = value.naive_local();
    date_part(&mut text, &local.date());
    text.byte(b' ');
    time_part(&mut text, &local.time());
    offset_part(&mut text, value.offset().local_minus_utc());
    push_quoted(out, text.written());
}

/// `YYYY-MM-DD`, as `str(date)`.
pub(crate) fn push_date(out: &mut CanonicalBuf, value: &NaiveDate) {
    let mut text = Ascii::new();
    date_part(&mut text, value);
    push_quoted(out, text.written());
}

/// `HH:MM:SS[.ffffff]`, as `str(time)`.
pub(crate) fn push_time(out: &mut CanonicalBuf, value: &NaiveTime) {
    let mut text = Ascii::new();
    time_part(&mut text, value);
    push_quoted(out, text.written());
}

/// The hyphenated lowercase form, as `str(uuid.UUID)`.
pub(crate) fn push_uuid(out: &mut CanonicalBuf, value: &Uuid) {
    let mut buffer = Uuid::encode_buffer();
    push_quoted(out, value.hyphenated().encode_lower(&mut buffer).as_bytes());
}

/// Python's `datetime` only spans years 1..=9999 (four digits, zero
/// padded); chrono's wider years print in full, with their sign, so a value
/// Python could never hold still hashes without failing.
fn date_part(text: &mut Ascii, date: &NaiveDate) {
    let year = date.year();
    if year < 0 {
        text.byte(b'-');
    }
    let year = year.unsigned_abs();
    if year > 9999 {
        text.digits(year, decimal_width(year));
    } else {
        text.digits(year, 4);
    }
    text.byte(b'-');
    text.digits(date.month(), 2);
    text.byte(b'-');
    text.digits(date.day(), 2);
}

fn decimal_width(value: u32) -> usize {
    value.checked_ilog10().unwrap_or(0) as usize + 1
}

/// Python keeps microseconds, so nanoseconds are truncated to them (the
/// database stores microseconds anyway); chrono's leap second (nanosecond
/// count past one second) has no Python form and is clamped into the
/// second it extends.
fn time_part(text: &mut Ascii, time: &NaiveTime) {
    text.digits(time.hour(), 2);
    text.byte(b':');
    text.digits(time.minute(), 2);
    text.byte(b':');
    text.digits(time.second(), 2);
    let micros = time.nanosecond().min(999_999_999) / 1_000;
    if micros != 0 {
        text.byte(b'.');
        text.digits(micros, 6);
    }
}

/// `±HH:MM`, plus `:SS` when the offset has seconds (Python's
/// `_format_offset`); a zero offset is `+00:00`.
fn offset_part(text: &mut Ascii, offset_seconds: i32) {
    text.byte(if offset_seconds < 0 { b'-' } else { b'+' });
    let magnitude = offset_seconds.unsigned_abs();
    text.digits(magnitude / 3600, 2);
    text.byte(b':');
    text.digits(magnitude / 60 % 60, 2);
    if magnitude % 60 != 0 {
        text.byte(b':');
        text.digits(magnitude % 60, 2);
    }
}

fn push_quoted(out: &mut CanonicalBuf, ascii: &[u8]) {
    out.push_byte(b'"');
    out.push_ascii(ascii);
    out.push_byte(b'"');
}

/// `str(bytes)`, which is `repr(bytes)`: `b'...'` (or `b"..."` when the
/// bytes hold a `'` and no `"`), `\t \n \r \\` and the chosen quote escaped,
/// other bytes outside printable ASCII as `\xhh`; then JSON-escaped.
pub(crate) fn push_bytes(out: &mut CanonicalBuf, value: &[u8]) {
    let quote = if value.contains(&b'\'') && !value.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    out.push_byte(b'"');
    out.push_byte(b'b');
    push_repr_byte(out, quote);
    for &byte in value {
        push_escaped_repr(out, byte, quote);
    }
    push_repr_byte(out, quote);
    out.push_byte(b'"');
}

fn push_escaped_repr(out: &mut CanonicalBuf, byte: u8, quote: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match byte {
        b'\t' => out.push_str("\\\\t"),
        b'\n' => out.push_str("\\\\n"),
        b'\r' => out.push_str("\\\\r"),
        _ if byte == quote || byte == b'\\' => {
            push_repr_byte(out, b'\\');
            push_repr_byte(out, byte);
        }
        0x20..=0x7e => push_repr_byte(out, byte),
        _ => {
            out.push_str("\\\\x");
            out.push_byte(HEX[usize::from(byte >> 4)]);
            out.push_byte(HEX[usize::from(byte & 0x0f)]);
        }
    }
}

/// One printable ASCII char of the repr, JSON-escaped (`"` and `\` are the
/// only ones that need it).
fn push_repr_byte(out: &mut CanonicalBuf, byte: u8) {
    match byte {
        b'"' => out.push_str("\\\""),
        b'\\' => out.push_str("\\\\"),
        _ => out.push_byte(byte),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_repr_then_json() {
        let mut out = CanonicalBuf::default();
        push_bytes(&mut out, b"a'b\"\\\x00\t\xff");
        assert_eq!(out.as_str(), r#""b'a\\'b\"\\\\\\x00\\t\\xff'""#);
        out.clear();
        push_bytes(&mut out, b"it's");
        assert_eq!(out.as_str(), r#""b\"it's\"""#);
    }

    #[test]
    fn offsets_like_python() {
        let mut text = Ascii::new();
        offset_part(&mut text, -(3 * 3600 + 15 * 60 + 7));
        assert_eq!(text.written(), b"-03:15:07");
    }
}
