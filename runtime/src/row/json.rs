//! JSON values read as a column's spec type: rows for `dcgen hash`, literal defaults, and the JSON, bytes and array columns of serialized rows.
//!
//! The rules are those of `dcgen hash`: timestamps and dates as ISO 8601
//! text, decimals and UUIDs as strings kept exactly as written, JSON columns
//! as any JSON, enum columns as their key or stored value.

use serde_json::Value;

use super::parse::{parse_date, parse_time, parse_timestamp, parse_timestamp_tz};
use super::{enum_slot, valid_decimal_text, RowError, RowValues, Slot};
use crate::table::{ColumnInfo, EnumStored, SpecType};

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads `value` as a value of type `ty` in `column` (`ty` differs from the
/// column's own type for array elements).
pub(crate) fn slot_from_json(column: &ColumnInfo, ty: &SpecType, value: &Value, values: &mut RowValues) -> Result<Slot, RowError> {
    let expected = |what: &str| RowError::column(&column.name, format!("expected {what}, found {}", render(value)));
    if value.is_null() {
        return Ok(Slot::Null);
    }
    if !column.enum_values.is_empty() && !matches!(ty, SpecType::Array(_)) {
        let enum_name = column.enum_name.as_deref().unwrap_or("?");
        let stored = match value {
            Value::String(text) => column
                .enum_value_of(text)
                .or_else(|| column.enum_values.iter().map(|(_, v)| v).find(|v| matches!(v, EnumStored::Text(t) if t == text))),
            Value::Number(number) => {
                number.as_i64().and_then(|n| column.enum_values.iter().map(|(_, v)| v).find(|v| **v == EnumStored::Int(n)))
            }
            _ => None,
        };
        let stored = stored.ok_or_else(|| expected(&format!("a key or stored value of enum {enum_name}")))?;
        return Ok(enum_slot(stored, values));
    }
    let text = |values: &mut RowValues, text: &str| {
        let start = values.text.len();
        values.text.push_str(text);
        start..values.text.len()
    };
    Ok(match ty {
        SpecType::SmallInt | SpecType::Int | SpecType::BigInt => {
            let number = value.as_i64().ok_or_else(|| expected("an integer"))?;
            let fits = match ty {
                SpecType::SmallInt => i16::try_from(number).is_ok(),
                SpecType::Int => i32::try_from(number).is_ok(),
                _ => true,
            };
            if !fits {
                return Err(expected(&format!("an integer within the range of {ty}")));
            }
            Slot::Int(number)
        }
        SpecType::Bool => Slot::Bool(value.as_bool().ok_or_else(|| expected("true or false"))?),
        SpecType::Float => Slot::Real(value.as_f64().ok_or_else(|| expected("a number"))? as f32),
        SpecType::Double => Slot::Float(value.as_f64().ok_or_else(|| expected("a number"))?),
        SpecType::Decimal => match value {
            Value::String(s) if valid_decimal_text(s) => Slot::Decimal(text(values, s)),
            Value::Number(n) if n.is_i64() || n.is_u64() => Slot::Decimal(text(values, &n.to_string())),
            _ => return Err(expected("a decimal as a string (\"1.10\"), which keeps its digits exactly")),
        },
        SpecType::String | SpecType::Text => Slot::Text(text(values, value.as_str().ok_or_else(|| expected("a string"))?)),
        SpecType::DateTime => {
            Slot::Timestamp(value.as_str().and_then(parse_timestamp).ok_or_else(|| expected("an ISO 8601 timestamp (\"2024-05-06T07:08:09\")"))?)
        }
        SpecType::DateTimeTz => Slot::TimestampTz(
            value.as_str().and_then(parse_timestamp_tz).ok_or_else(|| expected("an ISO 8601 timestamp with an offset (\"2024-05-06T07:08:09+00:00\")"))?,
        ),
        SpecType::Date => Slot::Date(value.as_str().and_then(parse_date).ok_or_else(|| expected("an ISO 8601 date (\"2024-05-06\")"))?),
        SpecType::Time => Slot::Time(value.as_str().and_then(parse_time).ok_or_else(|| expected("an ISO 8601 time (\"07:08:09\")"))?),
        SpecType::Uuid => {
            Slot::Uuid(value.as_str().and_then(|s| uuid::Uuid::parse_str(s).ok()).ok_or_else(|| expected("a UUID as a string"))?)
        }
        SpecType::Json => {
            values.json.push(value.clone());
            Slot::Json(values.json.len() - 1)
        }
        SpecType::Bytes => {
            let start = values.bytes.len();
            match value {
                Value::Array(items) => {
                    for item in items {
                        let byte = item.as_u64().and_then(|b| u8::try_from(b).ok()).ok_or_else(|| expected("bytes (an array of 0..=255)"))?;
                        values.bytes.push(byte);
                    }
                }
                Value::String(s) if s.starts_with("\\x") => {
                    let digits = &s[2..];
                    if digits.len() % 2 != 0 {
                        return Err(expected("bytes as PostgreSQL hex (\"\\\\x0a1b\")"));
                    }
                    for pair in digits.as_bytes().chunks(2) {
                        let hex = std::str::from_utf8(pair).ok().and_then(|p| u8::from_str_radix(p, 16).ok());
                        values.bytes.push(hex.ok_or_else(|| expected("bytes as PostgreSQL hex (\"\\\\x0a1b\")"))?);
                    }
                }
                _ => return Err(expected("bytes (an array of 0..=255, or PostgreSQL hex \"\\\\x0a1b\")")),
            }
            Slot::Bytes(start..values.bytes.len())
        }
        SpecType::Array(inner) => {
            let items = value.as_array().ok_or_else(|| expected("an array"))?;
            let mut list = Vec::with_capacity(items.len());
            // Elements of an enum array read as the enum too: `inner` is not an array.
            for item in items {
                list.push(slot_from_json(column, inner, item, values)?);
            }
            values.lists.push(list);
            Slot::List(values.lists.len() - 1)
        }
    })
}

/// A value as the user wrote it, cut short so one long value cannot flood a message.
fn render(value: &Value) -> String {
    let text = value.to_string();
    let kind = kind_of(value);
    if text.chars().count() > 60 {
        format!("{kind} {}…", text.chars().take(60).collect::<String>())
    } else {
        format!("{kind} {text}")
    }
}
