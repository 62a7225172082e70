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

/// `str(datetime)` of a naive timestamp as a JSON string (in quotes), as
/// [`python_timestamp_of_iso`] writes it, in a block of 32 bytes.
pub(crate) struct PythonTimestamp {
    quoted: [u8; 32],
    /// The length of the text between the quotes.
    len: usize,
}

impl PythonTimestamp {
    pub(crate) fn quoted(&self) -> &[u8; 32] {
        &self.quoted
    }

    pub(crate) fn quoted_len(&self) -> usize {
        self.len + 2
    }

    #[cfg(test)]
    fn text(&self) -> &[u8] {
        &self.quoted[1..=self.len]
    }
}

/// What [`push_timestamp`] writes for the timestamp that the ISO text
/// `YYYY-MM-DD[T ]HH:MM:SS[.f]` (one to nine fraction digits, as chrono and
/// the generated structs serialize a `NaiveDateTime`) stands for, rewritten
/// from the text itself: the date and the time are copied, the fraction is
/// cut to microseconds and left out when they are zero. Merge hashes one
/// such text per timestamp column per row, and parsing it into chrono only
/// to print it again was a tenth of the hashing time.
///
/// `None` for any other shape and for what Python's `datetime` can't hold
/// or chrono would refuse (year 0, month 13, February 30, hour 24, a leap
/// second): the caller then parses the text, which reports it or handles it
/// as [`push_timestamp`] does.
pub(crate) fn python_timestamp_of_iso(iso: &[u8]) -> Option<PythonTimestamp> {
    if iso.len() < 19 || iso[4] != b'-' || iso[7] != b'-' || !matches!(iso[10], b'T' | b' ') || iso[13] != b':' || iso[16] != b':' {
        return None;
    }
    let year = two_digits(iso[0], iso[1])? * 100 + two_digits(iso[2], iso[3])?;
    let month = two_digits(iso[5], iso[6])?;
    let day = two_digits(iso[8], iso[9])?;
    let (hour, minute, second) = (two_digits(iso[11], iso[12])?, two_digits(iso[14], iso[15])?, two_digits(iso[17], iso[18])?);
    if year == 0 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let fraction = match &iso[19..] {
        [] => &[][..],
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit) => digits,
        _ => return None,
    };
    // `"YYYY-MM-DD HH:MM:SS"` or `"YYYY-MM-DD HH:MM:SS.ffffff"`; the fraction's
    // place is filled with zeros first, so a short fraction comes out padded.
    let mut quoted = *b"\"0000-00-00 00:00:00.000000\"    ";
    quoted[1..20].copy_from_slice(&iso[..19]);
    quoted[11] = b' ';
    let micros = fraction.get(..6).unwrap_or(fraction);
    if micros.iter().all(|&digit| digit == b'0') {
        quoted[20] = b'"';
        return Some(PythonTimestamp { quoted, len: 19 });
    }
    quoted[21..21 + micros.len()].copy_from_slice(micros);
    Some(PythonTimestamp { quoted, len: 26 })
}

fn two_digits(tens: u8, units: u8) -> Option<u32> {
    if tens.is_ascii_digit() && units.is_ascii_digit() {
        Some(u32::from(tens - b'0') * 10 + u32::from(units - b'0'))
    } else {
        None
    }
}

/// Days of a month of the proleptic Gregorian calendar (chrono's and Python's).
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
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

    /// What the long way (chrono's value, then `push_timestamp`) writes for `iso`.
    fn parsed_then_written(iso: &str) -> Option<String> {
        let stamp = crate::row::parse::parse_timestamp(iso)?;
        let mut out = CanonicalBuf::default();
        push_timestamp(&mut out, &stamp);
        Some(out.as_str().to_owned())
    }

    fn rewritten(iso: &str) -> Option<String> {
        python_timestamp_of_iso(iso.as_bytes()).map(|python| format!("\"{}\"", std::str::from_utf8(python.text()).unwrap()))
    }

    #[test]
    fn iso_timestamps_rewritten_as_parsed_then_written() {
        let cases = [
            ("2024-05-06T07:08:09", Some("2024-05-06 07:08:09")),
            ("2024-05-06 07:08:09.5", Some("2024-05-06 07:08:09.500000")),
            ("2024-05-06T07:08:09.123", Some("2024-05-06 07:08:09.123000")),
            ("2024-05-06T07:08:09.123456", Some("2024-05-06 07:08:09.123456")),
            ("2024-05-06T07:08:09.123456789", Some("2024-05-06 07:08:09.123456")),
            ("2024-05-06T07:08:09.000000999", Some("2024-05-06 07:08:09")),
            ("2024-05-06T07:08:09.000", Some("2024-05-06 07:08:09")),
            ("0001-01-01T00:00:00", Some("0001-01-01 00:00:00")),
            ("9999-12-31T23:59:59.999999999", Some("9999-12-31 23:59:59.999999")),
            ("2024-02-29T00:00:00", Some("2024-02-29 00:00:00")),
            ("2000-02-29T00:00:00", Some("2000-02-29 00:00:00")),
            // Left to the long way: valid for chrono, but not a shape rewritten here.
            ("0000-01-01T00:00:00", None),
            ("2016-12-31T23:59:60.5", None),
            ("+12024-05-06T00:00:00", None),
            ("2024-05-06", None),
            ("2024-05-06T07:08:09.1234567890", None),
            // Not timestamps at all.
            ("1900-02-29T00:00:00", None),
            ("2023-02-29T00:00:00", None),
            ("2024-04-31T00:00:00", None),
            ("2024-13-06T00:00:00", None),
            ("2024-00-06T00:00:00", None),
            ("2024-05-00T00:00:00", None),
            ("2024-05-06T24:00:00", None),
            ("2024-05-06T07:60:00", None),
            ("2024-05-06T07:08:09.", None),
            ("2024-05-06T07:08:09.12a", None),
            ("2024-05-06T07:08:09Z", None),
            ("2024-05-06X07:08:09", None),
            ("2024-5-06T07:08:09", None),
            ("yesterday", None),
        ];
        for (iso, expected) in cases {
            assert_eq!(rewritten(iso), expected.map(|text| format!("\"{text}\"")), "{iso}");
            if let Some(text) = rewritten(iso) {
                assert_eq!(parsed_then_written(iso), Some(text), "{iso}");
            }
        }
        // Every day of four years (one of them a leap year, one a century),
        // with fractions of each length: the rewrite agrees with the long way,
        // and takes every valid date.
        let mut seed = 7_u64;
        for year in [1900, 2000, 2023, 2024] {
            for month in 1..=13 {
                for day in 0..=32 {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let places = (seed >> 33) as usize % 10;
                    let digits = format!("{:09}", (seed >> 20) % 1_000_000_000);
                    let fraction = if places == 0 { String::new() } else { format!(".{}", &digits[..places]) };
                    let iso = format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{fraction}", seed % 24, (seed >> 8) % 60, (seed >> 16) % 60);
                    assert_eq!(rewritten(&iso), parsed_then_written(&iso), "{iso}");
                }
            }
        }
    }

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
