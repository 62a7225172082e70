//! Rows of any generated table, read through serde by the table's [`TableInfo`]: their hash, their key values, their binary COPY form.
//!
//! A row is walked once per purpose by a custom serde `Serializer`
//! (`capture`) into [`Slot`]s, one per insert-struct field, typed by the
//! column's spec type (chrono's ISO text becomes a timestamp again, an enum
//! variant becomes its stored value). From slots, [`RowReader`] builds the
//! canonical text of HASHING.md through [`RowHasher`] in the sorted order
//! the hash needs, whatever order the struct declares its fields in.
//! `json` reads the same slots from a JSON object, for `dcgen hash`.
//!
//! `BigDecimal`'s own serde text (its `Display`) writes a zero without its
//! scale (`0.00` → `0`) and spells out positive exponents (`1E+5` →
//! `100000`), where Python's `str(Decimal)` keeps both. Generated insert
//! structs serialize decimals through their `serde_text` (`0E-2`, `1E+5`),
//! which keeps them; a hand-written struct with a `BigDecimal` field hashes
//! such values as their `Display` text unless it serializes them the same way.

mod capture;
pub mod json;
pub mod parse;

use std::ops::Range;

use bigdecimal::BigDecimal;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};
use serde::Serialize;
use uuid::Uuid;

use crate::hash::{HashKey, HashValue, RowHasher};
use crate::table::{ColumnDefault, ColumnInfo, EnumStored, SpecType, TableInfo};

/// One captured value. Text lives in the reader's scratch buffer (a range),
/// so capturing a row allocates nothing once the buffers have grown.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Slot {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A real column: kept as f32 so COPY writes exactly what the row held.
    Real(f32),
    Text(Range<usize>),
    /// A numeric column's text, as written (`1.10`, `1E+5`, `NaN`).
    Decimal(Range<usize>),
    Timestamp(NaiveDateTime),
    TimestampTz(DateTime<FixedOffset>),
    Date(NaiveDate),
    Time(NaiveTime),
    Uuid(Uuid),
    /// Index into the reader's JSON values.
    Json(usize),
    /// Range in the reader's byte scratch.
    Bytes(Range<usize>),
    /// Index into the reader's lists.
    List(usize),
    /// Already fed to the hasher while serde walked the row (text in a
    /// struct whose fields come in hash order); nothing kept.
    Hashed,
}

/// Why a row could not be read; names the column and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("column `{column}`: {problem}")]
    Column { column: String, problem: String },
    #[error("{0}")]
    Row(String),
}

impl serde::ser::Error for RowError {
    fn custom<T: std::fmt::Display>(message: T) -> Self {
        RowError::Row(message.to_string())
    }
}

impl RowError {
    pub(crate) fn column(column: &str, problem: impl Into<String>) -> Self {
        RowError::Column { column: column.to_string(), problem: problem.into() }
    }
}

/// One insert-struct field and what reading it needs.
#[derive(Debug, Clone)]
pub(crate) struct FieldPlan {
    /// Index into `TableInfo::columns`.
    pub column: usize,
    pub serde_name: String,
    /// Bit in [`RowValues::defaulted`] when the column has a database
    /// default: a `None` there means "let the database fill it".
    pub default_bit: Option<u32>,
}

/// The fields of a table's insert struct, with the order the hash needs.
#[derive(Debug, Clone)]
pub struct RowShape {
    pub(crate) info: TableInfo,
    pub(crate) fields: Vec<FieldPlan>,
    /// Positions in `fields` of the hashed columns, sorted by column name.
    pub(crate) hash_order: Vec<usize>,
    /// Per field, its rank in `hash_order` (hashed fields only).
    pub(crate) hash_rank: Vec<Option<u32>>,
    /// Per field, its column name as the canonical text writes it.
    pub(crate) hash_keys: Vec<HashKey>,
    /// Per field, how a streamed row hashes it straight from what serde
    /// hands over (hashed columns of the common types only).
    pub(crate) direct: Vec<Option<DirectHash>>,
}

/// A hashed field whose value serde hands over in a form the hash text can
/// be written from at once, with no [`Slot`] in between (`capture`'s
/// `DirectSerializer`): the common column types of generated rows.
#[derive(Debug, Clone)]
pub(crate) struct DirectHash {
    pub kind: DirectKind,
    /// The value text a `None` hashes as (NULL, or the column's literal
    /// default); `None` when that takes the long way (a default that is
    /// computed or does not read as the column's type).
    pub none_text: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DirectKind {
    /// smallint, int, bigint: serde's integers.
    Integer,
    /// string, text (not enums): serde's `&str`, normalized.
    Text,
    Bool,
    /// datetime: chrono's ISO text, rewritten as Python's.
    Timestamp,
}

impl DirectHash {
    fn of(column: &ColumnInfo) -> Option<DirectHash> {
        if !column.hashed || !column.enum_values.is_empty() {
            return None;
        }
        let kind = match column.ty {
            SpecType::SmallInt | SpecType::Int | SpecType::BigInt => DirectKind::Integer,
            SpecType::String | SpecType::Text => DirectKind::Text,
            SpecType::Bool => DirectKind::Bool,
            SpecType::DateTime => DirectKind::Timestamp,
            _ => return None,
        };
        Some(DirectHash { kind, none_text: none_text(column) })
    }
}

/// What [`RowReader::none_field`] then hashing the slot writes for a `None`.
fn none_text(column: &ColumnInfo) -> Option<String> {
    let mut values = RowValues::default();
    let slot = match &column.default {
        Some(ColumnDefault::Literal(literal)) => json::slot_from_json(column, &column.ty, literal, &mut values).ok()?,
        // The database computes it only once the row is written.
        Some(ColumnDefault::Computed) | None => Slot::Null,
    };
    if matches!(slot, Slot::List(_)) {
        return None;
    }
    Some(crate::hash::value_text(&values.hash_value(&slot, &[])))
}

/// Tables may have at most this many insert columns with defaults (one bit each).
pub(crate) const MAX_DEFAULTED: u32 = 64;

impl RowShape {
    pub fn new(info: TableInfo) -> Result<RowShape, RowError> {
        let mut fields = Vec::new();
        let mut next_bit = 0;
        for (index, column) in info.columns.iter().enumerate() {
            let Some(serde_name) = &column.field else { continue };
            let default_bit = if column.default.is_some() {
                if next_bit == MAX_DEFAULTED {
                    return Err(RowError::Row(format!(
                        "table `{}` has more than {MAX_DEFAULTED} insert columns with defaults; merge cannot track them",
                        info.table
                    )));
                }
                next_bit += 1;
                Some(next_bit - 1)
            } else {
                None
            };
            fields.push(FieldPlan { column: index, serde_name: serde_name.clone(), default_bit });
        }
        let mut hash_order: Vec<usize> = (0..fields.len()).filter(|&f| info.columns[fields[f].column].hashed).collect();
        hash_order.sort_by(|&a, &b| info.columns[fields[a].column].name.cmp(&info.columns[fields[b].column].name));
        let mut hash_rank = vec![None; fields.len()];
        for (rank, &field) in hash_order.iter().enumerate() {
            hash_rank[field] = Some(rank as u32);
        }
        let hash_keys = fields.iter().map(|f| HashKey::new(&info.columns[f.column].name)).collect();
        let direct = fields.iter().map(|f| DirectHash::of(&info.columns[f.column])).collect();
        Ok(RowShape { info, fields, hash_order, hash_rank, hash_keys, direct })
    }

    pub fn info(&self) -> &TableInfo {
        &self.info
    }

    pub(crate) fn column_of(&self, field: usize) -> &ColumnInfo {
        &self.info.columns[self.fields[field].column]
    }

    /// The field position of a column, if the insert struct has it.
    pub(crate) fn field_of_column(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| self.info.columns[f.column].name == name)
    }
}

/// One row's captured values and the buffers they point into.
#[derive(Debug, Default)]
pub(crate) struct RowValues {
    pub slots: Vec<Slot>,
    /// Bit `default_bit` set: the field was `None` and its column has a default.
    pub defaulted: u64,
    pub text: String,
    pub bytes: Vec<u8>,
    pub json: Vec<serde_json::Value>,
    pub lists: Vec<Vec<Slot>>,
    /// Where `collect_str` values are formatted before they are read.
    pub format: String,
}

impl RowValues {
    fn clear(&mut self, fields: usize) {
        self.slots.clear();
        self.slots.resize(fields, Slot::Null);
        self.clear_buffers(fields);
    }

    /// Everything but the slots, for a reader that reads no slot back
    /// ([`RowReader::hash_only`]); they still have one place per field.
    fn clear_buffers(&mut self, fields: usize) {
        if self.slots.len() != fields {
            self.slots.clear();
            self.slots.resize(fields, Slot::Null);
        }
        self.defaulted = 0;
        self.text.clear();
        self.bytes.clear();
        self.json.clear();
        self.lists.clear();
    }

    /// The slot as the hash sees it; `items` receives a list's elements.
    fn hash_value<'s>(&'s self, slot: &Slot, items: &'s [HashValue<'s>]) -> HashValue<'s> {
        match slot {
            Slot::Null => HashValue::Null,
            Slot::Bool(b) => HashValue::Bool(*b),
            Slot::Int(i) => HashValue::Int(*i),
            Slot::Float(f) => HashValue::Float(*f),
            Slot::Real(f) => HashValue::Real(*f),
            Slot::Text(range) => HashValue::Text(&self.text[range.clone()]),
            Slot::Decimal(range) => HashValue::DecimalText(&self.text[range.clone()]),
            Slot::Timestamp(t) => HashValue::Timestamp(*t),
            Slot::TimestampTz(t) => HashValue::TimestampTz(*t),
            Slot::Date(d) => HashValue::Date(*d),
            Slot::Time(t) => HashValue::Time(*t),
            Slot::Uuid(u) => HashValue::Uuid(*u),
            Slot::Json(index) => HashValue::Json(&self.json[*index]),
            Slot::Bytes(range) => HashValue::Bytes(&self.bytes[range.clone()]),
            Slot::List(_) => HashValue::List(items),
            Slot::Hashed => HashValue::Null,
        }
    }
}

/// Reads rows of one table: hashes them, and captures the values merge
/// compares and writes. Holds its buffers, so reuse one per thread.
#[derive(Debug)]
pub struct RowReader<'s> {
    pub(crate) shape: &'s RowShape,
    pub(crate) values: RowValues,
    pub(crate) hasher: RowHasher,
    /// Which fields to keep in slots (beyond what hashing needs).
    pub(crate) wanted: Vec<bool>,
    /// Per call of `serialize_field` in a row: the address of the name
    /// serde passed and the field it named.
    pub(crate) key_addresses: Vec<(usize, usize)>,
    /// Hash while serde walks the row, when the struct serializes its fields
    /// in hash order (`TableInfo::sorted_fields`): no copy of the row first.
    stream: bool,
    /// The current row is being hashed as it is walked.
    pub(crate) streaming_row: bool,
    /// The hash rank the next hashed field must have.
    pub(crate) next_rank: u32,
    /// Streams and keeps no field: no slot is read back after a row (its
    /// hashed fields go into the hash as serde walks them, and a map row,
    /// which doesn't stream, writes every slot it reads), so rows need not
    /// reset them.
    hash_only: bool,
}

impl<'s> RowReader<'s> {
    /// A reader that hashes rows and keeps `extra` (field positions) in slots.
    pub(crate) fn new(shape: &'s RowShape, extra: &[usize]) -> Self {
        let stream = shape.info.sorted_fields;
        let mut wanted = vec![false; shape.fields.len()];
        let always: &[usize] = if stream { &[] } else { &shape.hash_order };
        for &f in always.iter().chain(extra) {
            wanted[f] = true;
        }
        RowReader {
            shape,
            values: RowValues::default(),
            hasher: RowHasher::new(),
            key_addresses: vec![(0, 0); wanted.len()],
            hash_only: stream && !wanted.contains(&true),
            wanted,
            stream,
            streaming_row: false,
            next_rank: 0,
        }
    }

    /// A reader that captures every field (to write the row).
    pub(crate) fn all_fields(shape: &'s RowShape) -> Self {
        let fields = shape.fields.len();
        RowReader {
            shape,
            values: RowValues::default(),
            hasher: RowHasher::new(),
            wanted: vec![true; fields],
            key_addresses: vec![(0, 0); fields],
            stream: false,
            streaming_row: false,
            next_rank: 0,
            hash_only: false,
        }
    }

    /// Called when serde starts a struct row: hash as the fields come.
    pub(crate) fn begin_struct(&mut self) {
        if self.stream {
            self.streaming_row = true;
            self.next_rank = 0;
            self.hasher.begin();
        }
    }

    /// Whether a field is kept in a slot for this row.
    pub(crate) fn keeps(&self, field: usize) -> bool {
        self.wanted[field] || (!self.streaming_row && self.shape.hash_rank[field].is_some())
    }

    /// Feeds one captured value to the hasher (streaming rows).
    pub(crate) fn hash_slot(&mut self, field: usize, slot: &Slot) {
        let RowReader { shape, values, hasher, .. } = self;
        let items: Vec<HashValue<'_>> = match slot {
            Slot::List(index) => values.lists[*index].iter().map(|item| values.hash_value(item, &[])).collect(),
            _ => Vec::new(),
        };
        hasher.keyed_field(&shape.hash_keys[field], &values.hash_value(slot, &items));
    }

    /// A reader for hashing only.
    pub fn for_hashing(shape: &'s RowShape) -> Self {
        Self::new(shape, &[])
    }

    /// Captures a row through serde.
    pub(crate) fn read<T: Serialize + ?Sized>(&mut self, row: &T) -> Result<(), RowError> {
        if self.hash_only {
            self.values.clear_buffers(self.shape.fields.len());
        } else {
            self.values.clear(self.shape.fields.len());
        }
        self.streaming_row = false;
        row.serialize(capture::RowSerializer { reader: self })?;
        if self.streaming_row && self.next_rank as usize != self.shape.hash_order.len() {
            let missing = self.shape.column_of(self.shape.hash_order[self.next_rank as usize]);
            return Err(RowError::column(&missing.name, "the row's Serialize left out this hashed column"));
        }
        Ok(())
    }

    /// Captures a row from a JSON object (`dcgen hash`): values by spec type,
    /// missing columns as NULL.
    pub(crate) fn read_json(&mut self, object: &serde_json::Map<String, serde_json::Value>) -> Result<(), RowError> {
        self.values.clear(self.shape.fields.len());
        self.streaming_row = false;
        for field in 0..self.shape.fields.len() {
            if !self.keeps(field) {
                continue;
            }
            let column = self.shape.column_of(field);
            let slot = match object.get(&column.name) {
                None | Some(serde_json::Value::Null) => Slot::Null,
                Some(value) => json::slot_from_json(column, &column.ty, value, &mut self.values)?,
            };
            self.values.slots[field] = slot;
        }
        Ok(())
    }

    /// Fills the slot of a field that was `None`: its literal default when
    /// the database would store one, otherwise NULL.
    pub(crate) fn none_field(&mut self, field: usize) -> Result<(), RowError> {
        let plan = &self.shape.fields[field];
        let column = &self.shape.info.columns[plan.column];
        if let Some(bit) = plan.default_bit {
            self.values.defaulted |= 1 << bit;
        }
        self.values.slots[field] = match &column.default {
            Some(ColumnDefault::Literal(literal)) => json::slot_from_json(column, &column.ty, literal, &mut self.values)?,
            // The database computes it (now, raw SQL) only once the row is written.
            Some(ColumnDefault::Computed) | None => Slot::Null,
        };
        Ok(())
    }

    fn feed_hasher(&mut self) {
        if self.streaming_row {
            // Fed while serde walked the row.
            return;
        }
        let RowReader { shape, values, hasher, .. } = self;
        hasher.begin();
        let mut items: Vec<HashValue<'_>> = Vec::new();
        for &field in &shape.hash_order {
            let slot = &values.slots[field];
            items.clear();
            if let Slot::List(index) = slot {
                items.extend(values.lists[*index].iter().map(|item| values.hash_value(item, &[])));
            }
            hasher.keyed_field(&shape.hash_keys[field], &values.hash_value(slot, &items));
        }
    }

    /// The SHA3-256 of the captured row's canonical text.
    pub(crate) fn digest(&mut self) -> [u8; 32] {
        self.feed_hasher();
        self.hasher.finish()
    }

    /// The captured row's canonical text.
    pub(crate) fn canonical(&mut self) -> &str {
        self.feed_hasher();
        self.hasher.canonical()
    }

    /// The `sha` of a row, as 32 bytes.
    pub fn sha<T: Serialize + ?Sized>(&mut self, row: &T) -> Result<[u8; 32], RowError> {
        self.read(row)?;
        Ok(self.digest())
    }

    /// The `sha` of a row as 64 lowercase hex characters (what the `sha` column holds).
    pub fn sha_hex<T: Serialize + ?Sized>(&mut self, row: &T) -> Result<String, RowError> {
        self.sha(row).map(|digest| hex_of(&digest))
    }

    /// The canonical text of a row (what `dcgen hash --canonical` prints).
    pub fn canonical_of<T: Serialize + ?Sized>(&mut self, row: &T) -> Result<&str, RowError> {
        self.read(row)?;
        Ok(self.canonical())
    }

    /// The `sha` of a JSON row (as `dcgen hash` reads it).
    pub fn json_sha_hex(&mut self, object: &serde_json::Map<String, serde_json::Value>) -> Result<String, RowError> {
        self.read_json(object)?;
        Ok(hex_of(&self.digest()))
    }

    /// The canonical text of a JSON row.
    pub fn json_canonical(&mut self, object: &serde_json::Map<String, serde_json::Value>) -> Result<&str, RowError> {
        self.read_json(object)?;
        Ok(self.canonical())
    }
}

/// 64 lowercase hex characters.
pub fn hex_of(digest: &[u8; 32]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(64);
    for byte in digest {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    text
}

/// The stored value of an enum key as a slot.
pub(crate) fn enum_slot(stored: &EnumStored, values: &mut RowValues) -> Slot {
    match stored {
        EnumStored::Int(i) => Slot::Int(*i),
        EnumStored::Text(text) => {
            let start = values.text.len();
            values.text.push_str(text);
            Slot::Text(start..values.text.len())
        }
    }
}

/// A decimal's text must be a number `str(Decimal(text))` accepts; checked
/// here so a bad value names its column instead of failing inside COPY.
pub(crate) fn valid_decimal_text(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    if matches!(body.to_ascii_lowercase().as_str(), "nan" | "inf" | "infinity" | "snan") {
        return true;
    }
    use std::str::FromStr;
    !body.is_empty() && body.bytes().next().is_some_and(|b| b.is_ascii_digit() || b == b'.') && BigDecimal::from_str(text).is_ok()
}

/// Whether a spec type can be a scope or compare-key column: types whose
/// equality is exact and whose values read back unchanged from PostgreSQL.
pub(crate) fn is_key_type(ty: &SpecType) -> bool {
    matches!(
        ty,
        SpecType::SmallInt
            | SpecType::Int
            | SpecType::BigInt
            | SpecType::Bool
            | SpecType::String
            | SpecType::Text
            | SpecType::Uuid
            | SpecType::Date
            | SpecType::DateTime
    )
}
