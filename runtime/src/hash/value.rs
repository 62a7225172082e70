//! The values a hashed column can hold ([`HashValue`]) and how Rust types turn into them ([`ToHashValue`]).
//!
//! Each variant stands for the Python value the Python framework would see
//! for the same database value, and is written as `json.dumps` writes that
//! Python value. Where the Rust and Python values differ:
//!
//! - `f32` (a `real` column): PostgreSQL prints a float4 as its shortest
//!   round-trip digits and psycopg2 reads them with `float()`, so Python
//!   holds the double nearest those digits: `0.1_f32` hashes as `0.1`, not
//!   as the widened `0.10000000149011612` (a Python app's own value for the
//!   column is that plain double too). A driver that reads float4 in binary
//!   (psycopg 3 with binary results) would see the widened value instead:
//!   hash `HashValue::Float(f64::from(x))` for that.
//! - `timestamptz`: Python prints an aware datetime in the offset the driver
//!   gave it. `DateTime<Utc>` prints `+00:00`, which is what a Python
//!   connection in UTC sees; other offsets need `DateTime<FixedOffset>`.
//! - A JSON column holding a bare string: the driver hands Python a `str`,
//!   which the rule normalizes like a text column, so a top-level
//!   [`HashValue::Json`] string is normalized too; strings nested inside
//!   JSON never are.
//! - `Vec<u8>` (bytea) is hashed as `str(bytes)` (`b'...'`).
//! - Arrays become JSON lists; their elements are nested values, not
//!   normalized (in Python a list is not a `str`).

use bigdecimal::BigDecimal;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::buf::CanonicalBuf;
use super::decimal::{push_bigdecimal, push_decimal_text};
use super::float::{push_float, push_real};
use super::json::{push_json_string, push_json_value};
use super::pystr::{
    push_bytes, push_date, push_time, push_timestamp, push_timestamp_tz, push_uuid,
};
use super::text::push_normalized;

/// One column value, borrowing its data, as the canonical text sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HashValue<'a> {
    /// SQL NULL: `null`.
    Null,
    Bool(bool),
    Int(i64),
    /// Integers above `i64::MAX` (Python ints have no limit).
    UInt(u64),
    /// Python `repr(float)`; NaN and infinities as `NaN`, `Infinity`.
    Float(f64),
    /// A `real` column: its shortest f32 digits in `repr(float)`'s layout.
    Real(f32),
    /// A text or string-stored enum column: normalized at column level.
    Text(&'a str),
    /// A numeric column as `str(Decimal)` of its digits and scale.
    Decimal(&'a BigDecimal),
    /// A numeric column given as text (`"1.10"`, `"NaN"`): `str(Decimal(text))`.
    DecimalText(&'a str),
    /// `timestamp` (no time zone).
    Timestamp(NaiveDateTime),
    /// `timestamptz`, printed in its own offset.
    TimestampTz(DateTime<FixedOffset>),
    Date(NaiveDate),
    Time(NaiveTime),
    Uuid(Uuid),
    /// A json/jsonb column: keys sorted, nested strings untouched.
    Json(&'a Value),
    /// bytea: `str(bytes)`.
    Bytes(&'a [u8]),
    /// An array column: a JSON list of nested values.
    List(&'a [HashValue<'a>]),
}

/// Where a value sits: only a column's own value is normalized.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Level {
    Column,
    Nested,
}

/// Receives a value's canonical JSON text; handed to [`ToHashValue::write_hash`],
/// which must call exactly one of [`value`](Self::value) or
/// [`list`](Self::list) once (anything else would not be one JSON value).
pub struct ValueWriter<'b> {
    out: &'b mut CanonicalBuf,
    level: Level,
}

impl<'b> ValueWriter<'b> {
    /// A writer for a column's own value.
    pub(crate) fn column(out: &'b mut CanonicalBuf) -> Self {
        ValueWriter {
            out,
            level: Level::Column,
        }
    }

    /// Writes one value.
    pub fn value(&mut self, value: &HashValue<'_>) {
        write_value(self.out, value, self.level);
    }

    /// Writes a JSON list whose items are nested values.
    pub fn list<'i, T, I>(&mut self, items: I)
    where
        T: ToHashValue + ?Sized + 'i,
        I: IntoIterator<Item = &'i T>,
    {
        self.out.push_byte(b'[');
        for (index, item) in items.into_iter().enumerate() {
            if index > 0 {
                self.out.push_str(", ");
            }
            item.write_hash(&mut ValueWriter {
                out: self.out,
                level: Level::Nested,
            });
        }
        self.out.push_byte(b']');
    }
}

fn write_value(out: &mut CanonicalBuf, value: &HashValue<'_>, level: Level) {
    match *value {
        HashValue::Null => out.push_str("null"),
        HashValue::Bool(flag) => out.push_str(if flag { "true" } else { "false" }),
        HashValue::Int(int) => out.push_str(itoa::Buffer::new().format(int)),
        HashValue::UInt(int) => out.push_str(itoa::Buffer::new().format(int)),
        HashValue::Float(float) => push_float(out, float),
        HashValue::Real(real) => push_real(out, real),
        HashValue::Text(text) => write_text(out, text, level),
        HashValue::Decimal(decimal) => push_bigdecimal(out, decimal),
        HashValue::DecimalText(text) => push_decimal_text(out, text),
        HashValue::Timestamp(stamp) => push_timestamp(out, &stamp),
        HashValue::TimestampTz(stamp) => push_timestamp_tz(out, &stamp),
        HashValue::Date(date) => push_date(out, &date),
        HashValue::Time(time) => push_time(out, &time),
        HashValue::Uuid(uuid) => push_uuid(out, &uuid),
        HashValue::Json(Value::String(text)) => write_text(out, text, level),
        HashValue::Json(json) => push_json_value(out, json),
        HashValue::Bytes(bytes) => push_bytes(out, bytes),
        HashValue::List(items) => ValueWriter { out, level }.list(items),
    }
}

fn write_text(out: &mut CanonicalBuf, text: &str, level: Level) {
    match level {
        Level::Column => push_normalized(out, text),
        Level::Nested => push_json_string(out, text),
    }
}

/// A Rust value that can be a hashed column. Generated code calls
/// [`RowHasher::field`](super::RowHasher::field) with its fields, which need
/// this; implement it for your own column types by handing the writer a
/// [`HashValue`] (or a list).
pub trait ToHashValue {
    fn write_hash(&self, writer: &mut ValueWriter<'_>);
}

impl ToHashValue for HashValue<'_> {
    fn write_hash(&self, writer: &mut ValueWriter<'_>) {
        writer.value(self);
    }
}

impl<T: ToHashValue + ?Sized> ToHashValue for &T {
    fn write_hash(&self, writer: &mut ValueWriter<'_>) {
        (**self).write_hash(writer);
    }
}

impl<T: ToHashValue> ToHashValue for Option<T> {
    fn write_hash(&self, writer: &mut ValueWriter<'_>) {
        match self {
            Some(value) => value.write_hash(writer),
            None => writer.value(&HashValue::Null),
        }
    }
}

/// Scalars that map to one variant by a plain conversion.
macro_rules! scalar {
    ($($type:ty => |$value:ident| $variant:expr;)*) => {$(
        impl ToHashValue for $type {
            fn write_hash(&self, writer: &mut ValueWriter<'_>) {
                let $value = self;
                writer.value(&$variant);
            }
        }
    )*};
}

scalar! {
    bool => |v| HashValue::Bool(*v);
    i8 => |v| HashValue::Int(i64::from(*v));
    i16 => |v| HashValue::Int(i64::from(*v));
    i32 => |v| HashValue::Int(i64::from(*v));
    i64 => |v| HashValue::Int(*v);
    u16 => |v| HashValue::Int(i64::from(*v));
    u32 => |v| HashValue::Int(i64::from(*v));
    u64 => |v| HashValue::UInt(*v);
    f32 => |v| HashValue::Real(*v);
    f64 => |v| HashValue::Float(*v);
    str => |v| HashValue::Text(v);
    String => |v| HashValue::Text(v);
    BigDecimal => |v| HashValue::Decimal(v);
    NaiveDateTime => |v| HashValue::Timestamp(*v);
    DateTime<Utc> => |v| HashValue::TimestampTz(v.fixed_offset());
    DateTime<FixedOffset> => |v| HashValue::TimestampTz(*v);
    NaiveDate => |v| HashValue::Date(*v);
    NaiveTime => |v| HashValue::Time(*v);
    Uuid => |v| HashValue::Uuid(*v);
    Value => |v| HashValue::Json(v);
    [u8] => |v| HashValue::Bytes(v);
    Vec<u8> => |v| HashValue::Bytes(v);
}

impl<T: ToHashValue> ToHashValue for [Option<T>] {
    fn write_hash(&self, writer: &mut ValueWriter<'_>) {
        writer.list(self);
    }
}

impl<T: ToHashValue> ToHashValue for Vec<Option<T>> {
    fn write_hash(&self, writer: &mut ValueWriter<'_>) {
        writer.list(self);
    }
}

/// Arrays whose elements can't be NULL. Listed per element type because a
/// blanket `[T]` would also claim `[u8]`, which is bytea, not a list.
macro_rules! list {
    ($($type:ty),*) => {$(
        impl ToHashValue for [$type] {
            fn write_hash(&self, writer: &mut ValueWriter<'_>) {
                writer.list(self);
            }
        }
        impl ToHashValue for Vec<$type> {
            fn write_hash(&self, writer: &mut ValueWriter<'_>) {
                writer.list(self);
            }
        }
    )*};
}

list!(
    bool,
    i16,
    i32,
    i64,
    f32,
    f64,
    String,
    BigDecimal,
    NaiveDateTime,
    DateTime<Utc>,
    DateTime<FixedOffset>,
    NaiveDate,
    NaiveTime,
    Uuid,
    Value
);
