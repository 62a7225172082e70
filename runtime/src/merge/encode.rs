//! Values in PostgreSQL's binary wire format: captured row values out (COPY FROM), key values in (COPY TO).

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use super::copy::BinaryWriter;
use crate::row::{RowError, RowValues, Slot};
use crate::table::{ColumnInfo, SpecType};

/// PostgreSQL's epoch for dates and timestamps.
fn pg_epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default().and_time(NaiveTime::MIN)
}

/// Microseconds since 2000-01-01; sub-microsecond digits are cut, as Diesel does.
pub(crate) fn timestamp_micros(stamp: &NaiveDateTime) -> Option<i64> {
    (*stamp - pg_epoch()).num_microseconds()
}

pub(crate) fn date_days(date: &NaiveDate) -> i32 {
    (*date - pg_epoch().date()).num_days() as i32
}

/// The element type OIDs PostgreSQL checks array contents against.
fn element_oid(ty: &SpecType) -> u32 {
    match ty {
        SpecType::SmallInt => 21,
        SpecType::Int => 23,
        SpecType::BigInt => 20,
        SpecType::Bool => 16,
        SpecType::Float => 700,
        SpecType::Double => 701,
        SpecType::Decimal => 1700,
        SpecType::String => 1043,
        SpecType::Text => 25,
        SpecType::DateTime => 1114,
        SpecType::DateTimeTz => 1184,
        SpecType::Date => 1082,
        SpecType::Time => 1083,
        SpecType::Uuid => 2950,
        SpecType::Json => 3802,
        SpecType::Bytes => 17,
        // Nested arrays are not a spec type.
        SpecType::Array(_) => 0,
    }
}

/// Writes one field (length prefix and value) for a column of type `ty`.
pub(crate) fn write_slot(out: &mut BinaryWriter, column: &ColumnInfo, ty: &SpecType, slot: &Slot, values: &RowValues) -> Result<(), RowError> {
    if *slot == Slot::Null {
        out.null();
        return Ok(());
    }
    let out_of_range = |what: &str| RowError::column(&column.name, format!("{what} does not fit a {ty} column"));
    let start = out.begin_field();
    let buf = &mut out.buf;
    match (ty, slot) {
        (SpecType::SmallInt, Slot::Int(i)) => buf.extend_from_slice(&i16::try_from(*i).map_err(|_| out_of_range(&i.to_string()))?.to_be_bytes()),
        (SpecType::Int, Slot::Int(i)) => buf.extend_from_slice(&i32::try_from(*i).map_err(|_| out_of_range(&i.to_string()))?.to_be_bytes()),
        (SpecType::BigInt, Slot::Int(i)) => buf.extend_from_slice(&i.to_be_bytes()),
        (SpecType::Bool, Slot::Bool(b)) => buf.push(u8::from(*b)),
        (SpecType::Float, Slot::Real(f)) => buf.extend_from_slice(&f.to_be_bytes()),
        (SpecType::Float, Slot::Float(f)) => buf.extend_from_slice(&(*f as f32).to_be_bytes()),
        (SpecType::Double, Slot::Float(f)) => buf.extend_from_slice(&f.to_be_bytes()),
        (SpecType::Double, Slot::Real(f)) => buf.extend_from_slice(&f64::from(*f).to_be_bytes()),
        (SpecType::Decimal, Slot::Decimal(range)) => {
            let text = &values.text[range.clone()];
            write_numeric(buf, text).ok_or_else(|| RowError::column(&column.name, format!("`{text}` is not a decimal number")))?
        }
        (SpecType::String | SpecType::Text, Slot::Text(range)) => buf.extend_from_slice(values.text[range.clone()].as_bytes()),
        (SpecType::DateTime, Slot::Timestamp(t)) => buf.extend_from_slice(&timestamp_micros(t).ok_or_else(|| out_of_range(&t.to_string()))?.to_be_bytes()),
        (SpecType::DateTimeTz, Slot::TimestampTz(t)) => {
            buf.extend_from_slice(&timestamp_micros(&t.naive_utc()).ok_or_else(|| out_of_range(&t.to_string()))?.to_be_bytes())
        }
        (SpecType::Date, Slot::Date(d)) => buf.extend_from_slice(&date_days(d).to_be_bytes()),
        (SpecType::Time, Slot::Time(t)) => {
            let micros = i64::from(t.num_seconds_from_midnight()) * 1_000_000 + i64::from(t.nanosecond() / 1000);
            buf.extend_from_slice(&micros.to_be_bytes())
        }
        (SpecType::Uuid, Slot::Uuid(u)) => buf.extend_from_slice(u.as_bytes()),
        (SpecType::Json, Slot::Json(index)) => {
            // jsonb's binary form: a version byte, then the text.
            buf.push(1);
            serde_json::to_writer(&mut *buf, &values.json[*index]).map_err(|e| RowError::column(&column.name, e.to_string()))?
        }
        (SpecType::Bytes, Slot::Bytes(range)) => buf.extend_from_slice(&values.bytes[range.clone()]),
        (SpecType::Array(inner), Slot::List(index)) => {
            let items = &values.lists[*index];
            let has_nulls = items.contains(&Slot::Null);
            let dimensions: i32 = if items.is_empty() { 0 } else { 1 };
            buf.extend_from_slice(&dimensions.to_be_bytes());
            buf.extend_from_slice(&i32::from(has_nulls).to_be_bytes());
            buf.extend_from_slice(&element_oid(inner).to_be_bytes());
            if !items.is_empty() {
                buf.extend_from_slice(&(items.len() as i32).to_be_bytes());
                buf.extend_from_slice(&1_i32.to_be_bytes());
            }
            for item in items {
                write_slot(out, column, inner, item, values)?;
            }
        }
        (ty, slot) => {
            return Err(RowError::column(&column.name, format!("internal: a {ty} column captured {slot:?}; please report this")));
        }
    }
    out.end_field(start);
    Ok(())
}

/// PostgreSQL's binary `numeric` from decimal text (`-12.340`, `1E+5`, `NaN`):
/// base-10000 digit groups around the decimal point, with the display scale
/// the text had. `None` when the text is not a number.
pub(crate) fn write_numeric(buf: &mut Vec<u8>, text: &str) -> Option<()> {
    const POSITIVE: u16 = 0x0000;
    const NEGATIVE: u16 = 0x4000;
    const NAN: u16 = 0xC000;
    const PLUS_INFINITY: u16 = 0xD000;
    const MINUS_INFINITY: u16 = 0xF000;
    let special = |buf: &mut Vec<u8>, sign: u16| {
        buf.extend_from_slice(&0_i16.to_be_bytes());
        buf.extend_from_slice(&0_i16.to_be_bytes());
        buf.extend_from_slice(&sign.to_be_bytes());
        buf.extend_from_slice(&0_i16.to_be_bytes());
    };
    let trimmed = text.trim();
    let (negative, body) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    match body.to_ascii_lowercase().as_str() {
        "nan" => {
            special(buf, NAN);
            return Some(());
        }
        "inf" | "infinity" => {
            special(buf, if negative { MINUS_INFINITY } else { PLUS_INFINITY });
            return Some(());
        }
        _ => {}
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], body[at + 1..].parse::<i64>().ok()?),
        None => (body, 0),
    };
    let (integer, fraction) = match mantissa.find('.') {
        Some(at) => (&mantissa[..at], &mantissa[at + 1..]),
        None => (mantissa, ""),
    };
    if integer.is_empty() && fraction.is_empty() || !integer.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    // value = digits × 10^(exponent − fraction length)
    let digits: Vec<u8> = integer.bytes().chain(fraction.bytes()).map(|b| b - b'0').collect();
    let power = exponent.checked_sub(fraction.len() as i64)?;
    if power.abs() > 200_000 {
        return None;
    }
    let display_scale = (-power).max(0) as usize;
    // Digits before the point and after it, padded to whole groups of four.
    let (mut before, after): (Vec<u8>, Vec<u8>) = if power >= 0 {
        let mut all = digits.clone();
        all.extend(std::iter::repeat_n(0, power as usize));
        (all, Vec::new())
    } else {
        let fraction_digits = (-power) as usize;
        if fraction_digits >= digits.len() {
            let mut after = vec![0; fraction_digits - digits.len()];
            after.extend_from_slice(&digits);
            (Vec::new(), after)
        } else {
            let split = digits.len() - fraction_digits;
            (digits[..split].to_vec(), digits[split..].to_vec())
        }
    };
    let lead = (4 - before.len() % 4) % 4;
    before.splice(0..0, std::iter::repeat_n(0, lead));
    let mut after = after;
    after.extend(std::iter::repeat_n(0, (4 - after.len() % 4) % 4));
    let group = |chunk: &[u8]| chunk.iter().fold(0_i16, |acc, &d| acc * 10 + i16::from(d));
    let mut groups: Vec<i16> = before.chunks(4).map(group).chain(after.chunks(4).map(group)).collect();
    let mut weight = (before.len() / 4) as i64 - 1;
    let leading_zeros = groups.iter().take_while(|&&g| g == 0).count();
    groups.drain(..leading_zeros);
    weight -= leading_zeros as i64;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let sign = if negative && !groups.is_empty() { NEGATIVE } else { POSITIVE };
    buf.extend_from_slice(&i16::try_from(groups.len()).ok()?.to_be_bytes());
    buf.extend_from_slice(&i16::try_from(weight).ok()?.to_be_bytes());
    buf.extend_from_slice(&sign.to_be_bytes());
    buf.extend_from_slice(&u16::try_from(display_scale).ok().filter(|s| *s <= 0x3FFF)?.to_be_bytes());
    for g in groups {
        buf.extend_from_slice(&g.to_be_bytes());
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(text: &str) -> Vec<i16> {
        let mut buf = Vec::new();
        write_numeric(&mut buf, text).unwrap();
        buf.chunks(2).map(|pair| i16::from_be_bytes([pair[0], pair[1]])).collect()
    }

    #[test]
    fn numerics_in_base_ten_thousand() {
        // ndigits, weight, sign, dscale, digits…
        assert_eq!(numeric("12345.678"), vec![3, 1, 0, 3, 1, 2345, 6780]);
        assert_eq!(numeric("-0.0001"), vec![1, -1, 0x4000, 4, 1]);
        assert_eq!(numeric("1.10"), vec![2, 0, 0, 2, 1, 1000]);
        assert_eq!(numeric("1E+5"), vec![1, 1, 0, 0, 10]);
        assert_eq!(numeric("0.00"), vec![0, 0, 0, 2]);
        assert_eq!(numeric("1e-7"), vec![1, -2, 0, 7, 10]);
        assert_eq!(numeric("NaN"), vec![0, 0, 0xC000_u16 as i16, 0]);
        let mut buf = Vec::new();
        assert_eq!(write_numeric(&mut buf, "12a"), None);
        assert_eq!(write_numeric(&mut buf, "."), None);
    }
}
