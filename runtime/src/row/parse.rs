//! Text forms of dates and times back into values: chrono serializes them as ISO 8601 text through serde, and `dcgen hash` reads them as ISO text from JSON.
//!
//! The common shapes (`2024-05-06T07:08:09.123456`, with `T` or a space) are
//! parsed by hand because merge parses one per timestamp column per row;
//! anything else falls back to chrono's own parsers.

use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};

fn digits(bytes: &[u8]) -> Option<u32> {
    let mut value: u32 = 0;
    for &byte in bytes {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(byte - b'0');
    }
    Some(value)
}

/// `YYYY-MM-DD` exactly (four-digit years).
fn fast_date(bytes: &[u8]) -> Option<NaiveDate> {
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = digits(&bytes[0..4])?;
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, digits(&bytes[5..7])?, digits(&bytes[8..10])?)
}

/// `HH:MM:SS` with an optional fraction of one to nine digits.
fn fast_time(bytes: &[u8]) -> Option<NaiveTime> {
    if bytes.len() < 8 || bytes[2] != b':' || bytes[5] != b':' {
        return None;
    }
    let (hour, minute, second) = (digits(&bytes[0..2])?, digits(&bytes[3..5])?, digits(&bytes[6..8])?);
    let nanos = match &bytes[8..] {
        [] => 0,
        [b'.', fraction @ ..] if !fraction.is_empty() && fraction.len() <= 9 => {
            digits(fraction)? * 10_u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
}

pub fn parse_date(text: &str) -> Option<NaiveDate> {
    fast_date(text.as_bytes()).or_else(|| NaiveDate::from_str(text).ok())
}

pub fn parse_time(text: &str) -> Option<NaiveTime> {
    fast_time(text.as_bytes()).or_else(|| NaiveTime::from_str(text).ok())
}

/// A timestamp without time zone: `YYYY-MM-DD[T ]HH:MM:SS[.f]`, or a bare date (midnight).
pub fn parse_timestamp(text: &str) -> Option<NaiveDateTime> {
    let bytes = text.as_bytes();
    if bytes.len() >= 19 && (bytes[10] == b'T' || bytes[10] == b' ') {
        if let (Some(date), Some(time)) = (fast_date(&bytes[..10]), fast_time(&bytes[11..])) {
            return Some(date.and_time(time));
        }
    }
    NaiveDateTime::from_str(text)
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").ok())
        .or_else(|| fast_date(bytes).map(|d| d.and_time(NaiveTime::MIN)))
}

/// A timestamp with an offset (`Z` or `±HH:MM`); text without one is refused,
/// since guessing a zone would change the row's hash.
pub fn parse_timestamp_tz(text: &str) -> Option<DateTime<FixedOffset>> {
    let bytes = text.as_bytes();
    if let Some(naive_text) = text.strip_suffix('Z') {
        if let Some(naive) = parse_timestamp(naive_text) {
            return Some(naive.and_utc().fixed_offset());
        }
    }
    if bytes.len() > 25 {
        let split = bytes.len() - 6;
        if (bytes[split] == b'+' || bytes[split] == b'-') && bytes[split + 3] == b':' {
            if let (Some(naive), Some(hours), Some(minutes)) =
                (parse_timestamp(&text[..split]), digits(&bytes[split + 1..split + 3]), digits(&bytes[split + 4..]))
            {
                let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
                let offset = if bytes[split] == b'+' { FixedOffset::east_opt(seconds)? } else { FixedOffset::west_opt(seconds)? };
                return naive.and_local_timezone(offset).single();
            }
        }
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .or_else(|| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z").ok())
        .or_else(|| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z").ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chrono_serde_text_round_trips() {
        let stamp = NaiveDate::from_ymd_opt(2024, 5, 6).unwrap().and_hms_micro_opt(7, 8, 9, 123_456).unwrap();
        let text = serde_json::to_value(stamp).unwrap();
        assert_eq!(parse_timestamp(text.as_str().unwrap()), Some(stamp));
        assert_eq!(parse_timestamp("2024-05-06 07:08:09.123456"), Some(stamp));
        assert_eq!(parse_timestamp("2024-05-06T07:08:09.1234560"), Some(stamp));
        let whole = NaiveDate::from_ymd_opt(2024, 5, 6).unwrap().and_hms_opt(0, 0, 0).unwrap();
        assert_eq!(parse_timestamp("2024-05-06"), Some(whole));
        assert_eq!(parse_timestamp("+12024-05-06T00:00:00"), NaiveDate::from_ymd_opt(12024, 5, 6).map(|d| d.and_time(NaiveTime::MIN)));
        assert_eq!(parse_timestamp("2024-13-06T00:00:00"), None);
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn aware_timestamps_keep_their_offset_and_refuse_none() {
        let utc = chrono::Utc::now();
        let text = serde_json::to_value(utc).unwrap();
        assert_eq!(parse_timestamp_tz(text.as_str().unwrap()), Some(utc.fixed_offset()));
        let parsed = parse_timestamp_tz("2024-05-06 07:08:09+02:00").unwrap();
        assert_eq!(parsed.offset().local_minus_utc(), 7200);
        assert_eq!(parse_timestamp_tz("2024-05-06T07:08:09.5-03:30").unwrap().offset().local_minus_utc(), -12600);
        assert_eq!(parse_timestamp_tz("2024-05-06T07:08:09"), None);
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(parse_date("2024-02-29"), NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_time("23:59:59.5"), NaiveTime::from_hms_milli_opt(23, 59, 59, 500));
        assert_eq!(parse_time("24:00:00"), None);
    }
}
