//! The serde `Serializer` that walks an insert struct into [`Slot`]s, reading each field by its column's spec type.
//!
//! The generated insert structs derive `Serialize`, which visits the fields
//! in declaration order; [`RowSerializer`] matches each to its column and
//! [`FieldSerializer`] turns what serde hands over into the column's value:
//! integers, floats and text as they are, chrono's and bigdecimal's ISO text
//! back into timestamps and decimals, enum variants into their stored values,
//! JSON, bytes and arrays through `serde_json::Value`.

use std::fmt::{Display, Write as _};

use serde::ser::{self, Impossible, Serialize, SerializeStruct};

use super::json::slot_from_json;
use super::parse::{parse_date, parse_time, parse_timestamp, parse_timestamp_tz};
use super::{enum_slot, valid_decimal_text, DirectHash, DirectKind, RowError, RowReader, Slot};
use crate::hash::{HashKey, HashValue};
use crate::table::{ColumnInfo, SpecType};

pub(crate) struct RowSerializer<'r, 's> {
    pub reader: &'r mut RowReader<'s>,
}

fn not_a_struct(found: &str) -> RowError {
    RowError::Row(format!("a row must be a struct (an insert struct of the schema crate), found {found}"))
}

macro_rules! refuse {
    ($($method:ident($($arg:ty),*) -> $found:literal;)*) => {$(
        fn $method(self, $(_: $arg),*) -> Result<Self::Ok, Self::Error> {
            Err(not_a_struct($found))
        }
    )*};
}

impl<'r, 's> ser::Serializer for RowSerializer<'r, 's> {
    type Ok = ();
    type Error = RowError;
    type SerializeSeq = Impossible<(), RowError>;
    type SerializeTuple = Impossible<(), RowError>;
    type SerializeTupleStruct = Impossible<(), RowError>;
    type SerializeTupleVariant = Impossible<(), RowError>;
    type SerializeMap = FieldsSerializer<'r, 's>;
    type SerializeStruct = FieldsSerializer<'r, 's>;
    type SerializeStructVariant = Impossible<(), RowError>;

    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<Self::SerializeStruct, RowError> {
        let expected = &self.reader.shape.info.insert_struct;
        if name != expected {
            return Err(RowError::Row(format!(
                "rows are `{name}` but the table info is for `{}` (rows of type `{expected}`); pass the TABLE_INFO of the rows' own struct",
                self.reader.shape.info.table
            )));
        }
        self.reader.begin_struct();
        Ok(FieldsSerializer { reader: self.reader, next: 0, map: None, calls: 0 })
    }

    /// A map keyed by field name (a `serde_json` object, a `HashMap`) is a
    /// row too; fields it leaves out are `None`.
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, RowError> {
        let fields = self.reader.shape.fields.len();
        Ok(FieldsSerializer { reader: self.reader, next: 0, map: Some(MapState { key: String::new(), seen: vec![false; fields] }), calls: 0 })
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<(), RowError> {
        value.serialize(self)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), RowError> {
        value.serialize(self)
    }

    refuse! {
        serialize_bool(bool) -> "a bool";
        serialize_i8(i8) -> "an integer";
        serialize_i16(i16) -> "an integer";
        serialize_i32(i32) -> "an integer";
        serialize_i64(i64) -> "an integer";
        serialize_u8(u8) -> "an integer";
        serialize_u16(u16) -> "an integer";
        serialize_u32(u32) -> "an integer";
        serialize_u64(u64) -> "an integer";
        serialize_f32(f32) -> "a float";
        serialize_f64(f64) -> "a float";
        serialize_char(char) -> "a char";
        serialize_str(&str) -> "a string";
        serialize_bytes(&[u8]) -> "bytes";
        serialize_none() -> "None";
        serialize_unit() -> "()";
        serialize_unit_struct(&'static str) -> "a unit struct";
        serialize_unit_variant(&'static str, u32, &'static str) -> "an enum";
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(self, _: &'static str, _: u32, _: &'static str, _: &T) -> Result<(), RowError> {
        Err(not_a_struct("an enum"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, RowError> {
        Err(not_a_struct("a sequence"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, RowError> {
        Err(not_a_struct("a tuple"))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, RowError> {
        Err(not_a_struct("a tuple struct"))
    }
    fn serialize_tuple_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self::SerializeTupleVariant, RowError> {
        Err(not_a_struct("an enum"))
    }
    fn serialize_struct_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self::SerializeStructVariant, RowError> {
        Err(not_a_struct("an enum"))
    }
}

pub(crate) struct FieldsSerializer<'r, 's> {
    reader: &'r mut RowReader<'s>,
    /// The field serde should visit next; derive visits them in order, so
    /// the lookup by name is a single comparison.
    next: usize,
    /// Set when the row is a map.
    map: Option<MapState>,
    /// How many fields serde has passed so far in this row.
    calls: usize,
}

pub(crate) struct MapState {
    key: String,
    seen: Vec<bool>,
}

impl FieldsSerializer<'_, '_> {
    #[inline]
    fn field_position(&mut self, key: &str) -> Result<usize, RowError> {
        // A struct's Serialize passes the same `&'static str` names in the
        // same order every row: the n-th name's address finds its field
        // without comparing names.
        let call = self.calls;
        self.calls += 1;
        if self.map.is_none() {
            if let Some(&(cached, field)) = self.reader.key_addresses.get(call) {
                if cached == key.as_ptr() as usize {
                    return Ok(field);
                }
            }
        }
        self.find_field(call, key)
    }

    /// The field named `key` (the first row of a struct, or a map's key), by name.
    #[cold]
    #[inline(never)]
    fn find_field(&mut self, call: usize, key: &str) -> Result<usize, RowError> {
        let address = key.as_ptr() as usize;
        let fields = &self.reader.shape.fields;
        let position = if fields.get(self.next).is_some_and(|f| f.serde_name == key) {
            Some(self.next)
        } else {
            fields.iter().position(|f| f.serde_name == key)
        };
        let position = position.ok_or_else(|| {
            RowError::Row(format!(
                "field `{key}` is not a column of `{}`; the table info and the rows' struct come from different schema versions (run `make gen`)",
                self.reader.shape.info.table
            ))
        })?;
        if self.map.is_none() {
            if let Some(slot) = self.reader.key_addresses.get_mut(call) {
                *slot = (address, position);
            }
        }
        Ok(position)
    }
}

impl ser::SerializeMap for FieldsSerializer<'_, '_> {
    type Ok = ();
    type Error = RowError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), RowError> {
        let name = serde_json::to_value(key).map_err(|e| RowError::Row(format!("a row's keys must be field names: {e}")))?;
        let name = name.as_str().ok_or_else(|| RowError::Row(format!("a row's keys must be field names, found {name}")))?.to_string();
        if let Some(map) = &mut self.map {
            map.key = name;
        }
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), RowError> {
        let key = self.map.as_mut().map(|map| std::mem::take(&mut map.key)).unwrap_or_default();
        let field = self.field_position(&key)?;
        if let Some(map) = &mut self.map {
            map.seen[field] = true;
        }
        self.capture(field, value)
    }

    fn end(self) -> Result<(), RowError> {
        if let Some(map) = &self.map {
            for field in 0..map.seen.len() {
                if !map.seen[field] && self.reader.keeps(field) {
                    self.reader.none_field(field)?;
                }
            }
        }
        Ok(())
    }
}

impl SerializeStruct for FieldsSerializer<'_, '_> {
    type Ok = ();
    type Error = RowError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), RowError> {
        let field = self.field_position(key)?;
        self.capture(field, value)
    }

    fn end(self) -> Result<(), RowError> {
        Ok(())
    }
}

impl FieldsSerializer<'_, '_> {
    fn capture<T: Serialize + ?Sized>(&mut self, field: usize, value: &T) -> Result<(), RowError> {
        self.next = field + 1;
        let shape = self.reader.shape;
        // Merge's common case first: a streamed row, and a hashed field that
        // nothing else keeps, of a type hashed as serde hands it over.
        if self.reader.streaming_row && !self.reader.wanted[field] {
            if let Some(direct) = &shape.direct[field] {
                self.check_rank(field)?;
                return value.serialize(DirectSerializer { direct, column: shape.column_of(field), field, reader: &mut *self.reader });
            }
        }
        let column = shape.column_of(field);
        let keep = self.reader.keeps(field);
        let hash_now = self.reader.streaming_row && shape.hash_rank[field].is_some();
        if hash_now {
            self.check_rank(field)?;
        } else if !keep {
            return Ok(());
        }
        let captured = match &column.ty {
            // JSON, bytes and arrays are rare in hashed columns; serde_json
            // already knows how to take any serde value apart.
            SpecType::Json | SpecType::Bytes | SpecType::Array(_) => {
                let json = serde_json::to_value(value).map_err(|e| RowError::column(&column.name, e.to_string()))?;
                if json.is_null() {
                    None
                } else {
                    Some(slot_from_json(column, &column.ty, &json, &mut self.reader.values)?)
                }
            }
            _ => value.serialize(FieldSerializer { column, field, reader: &mut *self.reader, hash_direct: hash_now && !keep })?,
        };
        self.reader.store(field, captured, hash_now)
    }
}

impl FieldsSerializer<'_, '_> {
    /// A streamed row's hashed field must be the next in hash order.
    #[inline]
    fn check_rank(&mut self, field: usize) -> Result<(), RowError> {
        let shape = self.reader.shape;
        // Derive visits fields in declaration order, which the generator made the hash order.
        if shape.hash_rank[field] != Some(self.reader.next_rank) {
            return Err(RowError::column(&shape.column_of(field).name, "fields arrive out of column-name order; the table info says they are sorted (regenerate with `make gen`)"));
        }
        self.reader.next_rank += 1;
        Ok(())
    }
}

impl RowReader<'_> {
    /// Keeps what a field's serializer captured (`None`: the field was
    /// `None`), hashing it first if the row streams.
    fn store(&mut self, field: usize, captured: Option<Slot>, hash_now: bool) -> Result<(), RowError> {
        match captured {
            Some(Slot::Hashed) => {}
            Some(slot) => {
                if hash_now {
                    self.hash_slot(field, &slot);
                }
                self.values.slots[field] = slot;
            }
            None => {
                self.none_field(field)?;
                if hash_now {
                    let slot = self.values.slots[field].clone();
                    self.hash_slot(field, &slot);
                }
            }
        }
        Ok(())
    }
}

/// Hashes one field of a streamed row straight from what serde hands over,
/// for the column types of [`DirectKind`]: an integer, a `&str`, a bool or
/// a `None` goes into the canonical text at once, without a [`Slot`] or a
/// [`HashValue`] between. Whatever else arrives (a type the column can't
/// hold, a timestamp text of another shape) takes the long way, through
/// [`FieldSerializer`], which hashes it or says what is wrong; either way
/// the text is the one the long way would write.
struct DirectSerializer<'c, 'r, 's> {
    direct: &'c DirectHash,
    column: &'c ColumnInfo,
    field: usize,
    reader: &'r mut RowReader<'s>,
}

impl<'c, 'r, 's> DirectSerializer<'c, 'r, 's> {
    /// Hands the value to [`FieldSerializer`], and keeps or hashes what it captured.
    fn long_way(self, serialize: impl FnOnce(FieldSerializer<'_, '_, 's>) -> Result<Option<Slot>, RowError>) -> Result<(), RowError> {
        let captured = serialize(FieldSerializer { column: self.column, field: self.field, reader: &mut *self.reader, hash_direct: true })?;
        self.reader.store(self.field, captured, true)
    }

    fn key(&self) -> &'s HashKey {
        &self.reader.shape.hash_keys[self.field]
    }

    fn integer(self, value: i64) -> Result<(), RowError> {
        if self.direct.kind != DirectKind::Integer {
            return self.long_way(|mut field| field.int(value));
        }
        let key = self.key();
        self.reader.hasher.keyed_int(key, value);
        Ok(())
    }
}

/// Methods that always take the long way.
macro_rules! long_way {
    ($($method:ident($($arg:ident: $type:ty),*);)*) => {$(
        fn $method(self, $($arg: $type),*) -> Result<(), RowError> {
            self.long_way(|field| field.$method($($arg),*))
        }
    )*};
}

/// Compound values: no column type that a field serializer reads holds one
/// (JSON, bytes and array columns go through `serde_json` instead).
macro_rules! refuse_compound {
    () => {
        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, RowError> {
            Err(cannot_hold(self.column, "a sequence"))
        }
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, RowError> {
            Err(cannot_hold(self.column, "a tuple"))
        }
        fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, RowError> {
            Err(cannot_hold(self.column, "a tuple struct"))
        }
        fn serialize_tuple_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self::SerializeTupleVariant, RowError> {
            Err(cannot_hold(self.column, "an enum variant with data"))
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, RowError> {
            Err(cannot_hold(self.column, "a map"))
        }
        fn serialize_struct(self, name: &'static str, _: usize) -> Result<Self::SerializeStruct, RowError> {
            Err(cannot_hold(self.column, format_args!("the struct `{name}`")))
        }
        fn serialize_struct_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self::SerializeStructVariant, RowError> {
            Err(cannot_hold(self.column, "an enum variant with data"))
        }
    };
}

impl ser::Serializer for DirectSerializer<'_, '_, '_> {
    type Ok = ();
    type Error = RowError;
    type SerializeSeq = Impossible<(), RowError>;
    type SerializeTuple = Impossible<(), RowError>;
    type SerializeTupleStruct = Impossible<(), RowError>;
    type SerializeTupleVariant = Impossible<(), RowError>;
    type SerializeMap = Impossible<(), RowError>;
    type SerializeStruct = Impossible<(), RowError>;
    type SerializeStructVariant = Impossible<(), RowError>;

    fn serialize_bool(self, value: bool) -> Result<(), RowError> {
        if self.direct.kind != DirectKind::Bool {
            return self.long_way(|field| field.serialize_bool(value));
        }
        let key = self.key();
        self.reader.hasher.keyed_value_text(key, if value { "true" } else { "false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), RowError> {
        self.integer(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), RowError> {
        self.integer(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), RowError> {
        self.integer(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), RowError> {
        self.integer(v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), RowError> {
        self.integer(i64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), RowError> {
        self.integer(i64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), RowError> {
        self.integer(i64::from(v))
    }
    fn serialize_str(self, v: &str) -> Result<(), RowError> {
        let key = self.key();
        match self.direct.kind {
            DirectKind::Text => self.reader.hasher.keyed_text(key, v),
            DirectKind::Timestamp if self.reader.hasher.keyed_iso_timestamp(key, v) => {}
            _ => return self.long_way(|field| field.serialize_str(v)),
        }
        Ok(())
    }
    fn serialize_none(self) -> Result<(), RowError> {
        let Some(text) = &self.direct.none_text else {
            return self.long_way(|field| field.serialize_none());
        };
        let key = self.key();
        self.reader.hasher.keyed_value_text(key, text);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), RowError> {
        value.serialize(self)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<(), RowError> {
        value.serialize(self)
    }
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<(), RowError> {
        self.long_way(|field| field.collect_str(value))
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(self, name: &'static str, index: u32, variant: &'static str, value: &T) -> Result<(), RowError> {
        self.long_way(|field| field.serialize_newtype_variant(name, index, variant, value))
    }
    long_way! {
        serialize_u64(v: u64);
        serialize_f32(v: f32);
        serialize_f64(v: f64);
        serialize_char(v: char);
        serialize_bytes(v: &[u8]);
        serialize_unit();
        serialize_unit_struct(name: &'static str);
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str);
    }
    refuse_compound!();
}

fn cannot_hold(column: &ColumnInfo, found: impl Display) -> RowError {
    RowError::column(&column.name, format!("a {} column cannot hold {found}", column.ty))
}

/// Serializes one field's value; `Ok(None)` means the field was `None`.
struct FieldSerializer<'c, 'r, 's> {
    column: &'c ColumnInfo,
    field: usize,
    reader: &'r mut RowReader<'s>,
    /// Hash the value as it is read (text straight from serde's `&str`)
    /// instead of keeping it: the row streams and nothing else needs it.
    hash_direct: bool,
}

impl FieldSerializer<'_, '_, '_> {
    /// A value read: hashed now when `hash_direct`, else handed back to keep.
    fn read(&mut self, slot: Slot) -> Result<Option<Slot>, RowError> {
        if !self.hash_direct {
            return Ok(Some(slot));
        }
        let RowReader { shape, values, hasher, .. } = &mut *self.reader;
        // Lists come through `slot_from_json`, never here.
        hasher.keyed_field(&shape.hash_keys[self.field], &values.hash_value(&slot, &[]));
        Ok(Some(Slot::Hashed))
    }

    fn wrong(&self, found: impl Display) -> RowError {
        cannot_hold(self.column, found)
    }

    fn int(&mut self, value: i64) -> Result<Option<Slot>, RowError> {
        match self.column.ty {
            SpecType::SmallInt | SpecType::Int | SpecType::BigInt => self.read(Slot::Int(value)),
            SpecType::Double => self.read(Slot::Float(value as f64)),
            SpecType::Float => self.read(Slot::Real(value as f32)),
            SpecType::Decimal => {
                let values = &mut self.reader.values;
                let start = values.text.len();
                values.text.push_str(itoa::Buffer::new().format(value));
                let slot = Slot::Decimal(start..values.text.len());
                self.read(slot)
            }
            _ if !self.column.enum_values.is_empty() => self.enum_stored_int(value),
            _ => Err(self.wrong(format_args!("the integer {value}"))),
        }
    }

    fn enum_stored_int(&mut self, value: i64) -> Result<Option<Slot>, RowError> {
        let known = self.column.enum_values.iter().any(|(_, stored)| *stored == crate::table::EnumStored::Int(value));
        if known {
            self.read(Slot::Int(value))
        } else {
            Err(RowError::column(&self.column.name, format!("{value} is not a value of enum {}", self.column.enum_name.as_deref().unwrap_or("?"))))
        }
    }

    fn text(&mut self, text: &str) -> Result<Option<Slot>, RowError> {
        let column = self.column;
        let bad = |what: &str| RowError::column(&column.name, format!("`{text}` is not {what}"));
        if !column.enum_values.is_empty() {
            // Generated enums serialize as their spec key; a stored string value is accepted too.
            let stored = column
                .enum_value_of(text)
                .or_else(|| column.enum_values.iter().map(|(_, v)| v).find(|v| matches!(v, crate::table::EnumStored::Text(t) if t == text)))
                .ok_or_else(|| bad(&format!("a value of enum {}", column.enum_name.as_deref().unwrap_or("?"))))?;
            let slot = enum_slot(stored, &mut self.reader.values);
            return self.read(slot);
        }
        if self.hash_direct && column.ty.is_text() {
            self.reader.hasher.keyed_field(&self.reader.shape.hash_keys[self.field], &HashValue::Text(text));
            return Ok(Some(Slot::Hashed));
        }
        let values = &mut self.reader.values;
        let slot = match column.ty {
            SpecType::String | SpecType::Text => {
                let start = values.text.len();
                values.text.push_str(text);
                Slot::Text(start..values.text.len())
            }
            SpecType::Decimal => {
                if !valid_decimal_text(text) {
                    return Err(bad("a decimal number"));
                }
                let start = values.text.len();
                values.text.push_str(text);
                Slot::Decimal(start..values.text.len())
            }
            SpecType::DateTime => Slot::Timestamp(parse_timestamp(text).ok_or_else(|| bad("an ISO 8601 timestamp"))?),
            SpecType::DateTimeTz => {
                Slot::TimestampTz(parse_timestamp_tz(text).ok_or_else(|| bad("an ISO 8601 timestamp with an offset"))?)
            }
            SpecType::Date => Slot::Date(parse_date(text).ok_or_else(|| bad("an ISO 8601 date"))?),
            SpecType::Time => Slot::Time(parse_time(text).ok_or_else(|| bad("an ISO 8601 time"))?),
            SpecType::Uuid => Slot::Uuid(uuid::Uuid::parse_str(text).map_err(|_| bad("a UUID"))?),
            _ => return Err(self.wrong("text")),
        };
        self.read(slot)
    }
}

impl ser::Serializer for FieldSerializer<'_, '_, '_> {
    type Ok = Option<Slot>;
    type Error = RowError;
    type SerializeSeq = Impossible<Option<Slot>, RowError>;
    type SerializeTuple = Impossible<Option<Slot>, RowError>;
    type SerializeTupleStruct = Impossible<Option<Slot>, RowError>;
    type SerializeTupleVariant = Impossible<Option<Slot>, RowError>;
    type SerializeMap = Impossible<Option<Slot>, RowError>;
    type SerializeStruct = Impossible<Option<Slot>, RowError>;
    type SerializeStructVariant = Impossible<Option<Slot>, RowError>;

    fn serialize_bool(mut self, value: bool) -> Result<Option<Slot>, RowError> {
        match self.column.ty {
            SpecType::Bool => self.read(Slot::Bool(value)),
            _ => Err(self.wrong(format_args!("the bool {value}"))),
        }
    }
    fn serialize_i8(mut self, v: i8) -> Result<Option<Slot>, RowError> {
        self.int(i64::from(v))
    }
    fn serialize_i16(mut self, v: i16) -> Result<Option<Slot>, RowError> {
        self.int(i64::from(v))
    }
    fn serialize_i32(mut self, v: i32) -> Result<Option<Slot>, RowError> {
        self.int(i64::from(v))
    }
    fn serialize_i64(mut self, v: i64) -> Result<Option<Slot>, RowError> {
        self.int(v)
    }
    fn serialize_u8(mut self, v: u8) -> Result<Option<Slot>, RowError> {
        self.int(i64::from(v))
    }
    fn serialize_u16(mut self, v: u16) -> Result<Option<Slot>, RowError> {
        self.int(i64::from(v))
    }
    fn serialize_u32(mut self, v: u32) -> Result<Option<Slot>, RowError> {
        self.int(i64::from(v))
    }
    fn serialize_u64(mut self, v: u64) -> Result<Option<Slot>, RowError> {
        match i64::try_from(v) {
            Ok(v) => self.int(v),
            Err(_) => match self.column.ty {
                SpecType::Decimal => self.text(itoa::Buffer::new().format(v)),
                _ => Err(self.wrong(format_args!("the integer {v}, which is beyond bigint"))),
            },
        }
    }
    fn serialize_f32(mut self, v: f32) -> Result<Option<Slot>, RowError> {
        match self.column.ty {
            SpecType::Float => self.read(Slot::Real(v)),
            SpecType::Double => self.read(Slot::Float(f64::from(v))),
            _ => Err(self.wrong(format_args!("the float {v}"))),
        }
    }
    fn serialize_f64(mut self, v: f64) -> Result<Option<Slot>, RowError> {
        match self.column.ty {
            SpecType::Double => self.read(Slot::Float(v)),
            // What PostgreSQL would store in a real.
            SpecType::Float => self.read(Slot::Real(v as f32)),
            _ => Err(self.wrong(format_args!("the float {v}"))),
        }
    }
    fn serialize_char(mut self, v: char) -> Result<Option<Slot>, RowError> {
        self.text(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(mut self, v: &str) -> Result<Option<Slot>, RowError> {
        self.text(v)
    }
    fn collect_str<T: Display + ?Sized>(mut self, value: &T) -> Result<Option<Slot>, RowError> {
        // chrono and bigdecimal serialize through Display, one char at a
        // time: format onto the stack, and only long values (big decimals)
        // into the reused heap buffer.
        let mut stack = StackText { bytes: [0; 64], len: 0 };
        if write!(stack, "{value}").is_ok() {
            let text = std::str::from_utf8(&stack.bytes[..stack.len]).map_err(|e| RowError::column(&self.column.name, e.to_string()))?;
            return self.text(text);
        }
        let mut buffer = std::mem::take(&mut self.reader.values.format);
        buffer.clear();
        let _ = write!(buffer, "{value}");
        let result = self.text(&buffer);
        self.reader.values.format = buffer;
        result
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Option<Slot>, RowError> {
        match self.column.ty {
            SpecType::Bytes => {
                let values = &mut self.reader.values;
                let start = values.bytes.len();
                values.bytes.extend_from_slice(v);
                Ok(Some(Slot::Bytes(start..values.bytes.len())))
            }
            _ => Err(self.wrong("bytes")),
        }
    }
    fn serialize_none(self) -> Result<Option<Slot>, RowError> {
        Ok(None)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Option<Slot>, RowError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Option<Slot>, RowError> {
        Ok(None)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Option<Slot>, RowError> {
        Ok(None)
    }
    fn serialize_unit_variant(mut self, _: &'static str, _: u32, variant: &'static str) -> Result<Option<Slot>, RowError> {
        if self.column.enum_values.is_empty() {
            return Err(self.wrong(format_args!("the enum variant `{variant}`")));
        }
        self.text(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<Option<Slot>, RowError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(self, _: &'static str, _: u32, variant: &'static str, _: &T) -> Result<Option<Slot>, RowError> {
        Err(self.wrong(format_args!("the enum variant `{variant}` with data")))
    }
    refuse_compound!();
}

/// A short formatted value on the stack; writing past its end fails.
struct StackText {
    bytes: [u8; 64],
    len: usize,
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let end = self.len + text.len();
        self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }

    fn write_char(&mut self, c: char) -> std::fmt::Result {
        if c.is_ascii() && self.len < self.bytes.len() {
            self.bytes[self.len] = c as u8;
            self.len += 1;
            Ok(())
        } else {
            self.write_str(c.encode_utf8(&mut [0; 4]))
        }
    }
}
