//! [`TableInfo`]: what the runtime knows about a generated table, the one contract between dcgen and the runtime.
//!
//! The generated crate depends only on registry crates, so it cannot
//! implement a trait of ours or hold one of our types. Instead dcgen builds
//! a [`TableInfo`] from its model and writes it with [`TableInfo::to_json`]
//! into the generated crate (`tables.rs`, one `&str` per table, versioned by
//! [`FORMAT`]); the runtime reads it back with [`TableInfo::parse`]. Both
//! directions are this module's serde derives, so the layout is written
//! once. Each insert struct carries its facts typed by itself
//! (`NewApps::TABLE`, a [`TableOf<NewApps>`]), which is how
//! `Merge::new(NewApps::TABLE)` ties a merge to its row type; `dcgen hash`
//! hashes through the same `TableInfo`.

use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

/// The version of the layout; dcgen and the runtime must agree on it.
/// 2: types without arguments, `default` as `"computed"` or `{"literal": …}`, `unique_keys`.
pub const FORMAT: u32 = 2;

/// A table's facts typed by its insert struct: what the generated crate
/// writes as `NewApps::TABLE`. Made of std types only, so the generated
/// crate can spell it without depending on the runtime.
pub type TableOf<R> = (PhantomData<fn() -> R>, &'static str);

/// Whether a column is left out of the insert struct because the database
/// or merge fills it: identity columns, the hash/archive/created/modified
/// roles, and columns updated to now by a trigger. The one statement of
/// the rule: dcgen's models and these facts both apply it.
pub fn left_out_of_insert(identity: bool, role: Option<Role>, on_update_now: bool) -> bool {
    identity || on_update_now || matches!(role, Some(Role::Hash | Role::Archive | Role::Created | Role::Modified))
}

/// A column's type as the spec names it, with enums already resolved to
/// their storage type (the enum's values ride along in [`ColumnInfo::enum_values`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpecType {
    SmallInt,
    Int,
    BigInt,
    Bool,
    Float,
    Double,
    Decimal,
    String,
    Text,
    DateTime,
    DateTimeTz,
    Date,
    Time,
    Uuid,
    Json,
    Bytes,
    Array(Box<SpecType>),
}

impl SpecType {
    /// Parses the spec's spelling (`int`, `string(64)`, `decimal(18,4)`, `array(int)`).
    pub fn parse(text: &str) -> Option<SpecType> {
        let text = text.trim();
        if let Some(inner) = text.strip_prefix("array(").and_then(|rest| rest.strip_suffix(')')) {
            return SpecType::parse(inner).map(|inner| SpecType::Array(Box::new(inner)));
        }
        let base = text.split('(').next().unwrap_or(text).trim();
        Some(match base {
            "smallint" => SpecType::SmallInt,
            "int" => SpecType::Int,
            "bigint" => SpecType::BigInt,
            "bool" => SpecType::Bool,
            "float" => SpecType::Float,
            "double" => SpecType::Double,
            "decimal" => SpecType::Decimal,
            "string" => SpecType::String,
            "text" => SpecType::Text,
            "datetime" => SpecType::DateTime,
            "datetimetz" => SpecType::DateTimeTz,
            "date" => SpecType::Date,
            "time" => SpecType::Time,
            "uuid" => SpecType::Uuid,
            "json" => SpecType::Json,
            "bytes" => SpecType::Bytes,
            _ => return None,
        })
    }

    /// The PostgreSQL type name, for casts in the statements merge writes.
    pub fn postgres_name(&self) -> String {
        match self {
            SpecType::SmallInt => "smallint".into(),
            SpecType::Int => "integer".into(),
            SpecType::BigInt => "bigint".into(),
            SpecType::Bool => "boolean".into(),
            SpecType::Float => "real".into(),
            SpecType::Double => "double precision".into(),
            SpecType::Decimal => "numeric".into(),
            SpecType::String | SpecType::Text => "text".into(),
            SpecType::DateTime => "timestamp".into(),
            SpecType::DateTimeTz => "timestamptz".into(),
            SpecType::Date => "date".into(),
            SpecType::Time => "time".into(),
            SpecType::Uuid => "uuid".into(),
            SpecType::Json => "jsonb".into(),
            SpecType::Bytes => "bytea".into(),
            SpecType::Array(inner) => format!("{}[]", inner.postgres_name()),
        }
    }

    pub fn is_text(&self) -> bool {
        matches!(self, SpecType::String | SpecType::Text)
    }
}

impl fmt::Display for SpecType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecType::Array(inner) => write!(f, "array({inner})"),
            other => f.write_str(match other {
                SpecType::SmallInt => "smallint",
                SpecType::Int => "int",
                SpecType::BigInt => "bigint",
                SpecType::Bool => "bool",
                SpecType::Float => "float",
                SpecType::Double => "double",
                SpecType::Decimal => "decimal",
                SpecType::String => "string",
                SpecType::Text => "text",
                SpecType::DateTime => "datetime",
                SpecType::DateTimeTz => "datetimetz",
                SpecType::Date => "date",
                SpecType::Time => "time",
                SpecType::Uuid => "uuid",
                SpecType::Json => "json",
                SpecType::Bytes => "bytes",
                SpecType::Array(_) => unreachable!("handled above"),
            }),
        }
    }
}

impl Serialize for SpecType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SpecType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        SpecType::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("unknown column type `{text}`; regenerate the schema crate with the dcgen of this runtime's version")))
    }
}

/// What a column means to the runtime (the spec's `role`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Hash,
    Archive,
    Created,
    Modified,
    EnumValue,
    EnumDescription,
}

/// A stored enum value: what the column holds for one key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EnumStored {
    Int(i64),
    Text(String),
}

/// A column's default, as far as the runtime can know it before insert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnDefault {
    /// A literal (number, bool, text, an enum's stored value), as JSON.
    Literal(serde_json::Value),
    /// Computed by the database (`now`, raw SQL): unknown until the row is written.
    Computed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "ColumnFacts", into = "ColumnFacts")]
pub struct ColumnInfo {
    pub name: String,
    /// The insert struct's serde field name; `None` when the insert struct
    /// leaves the column out ([`left_out_of_insert`]).
    pub field: Option<String>,
    pub ty: SpecType,
    pub nullable: bool,
    pub identity: bool,
    pub role: Option<Role>,
    pub hashed: bool,
    pub default: Option<ColumnDefault>,
    /// For enum columns: the enum's name and its keys with their stored values.
    pub enum_name: Option<String>,
    pub enum_values: Vec<(String, EnumStored)>,
}

impl ColumnInfo {
    /// The stored value for an enum key (how serde writes the generated enums).
    pub fn enum_value_of(&self, key: &str) -> Option<&EnumStored> {
        self.enum_values.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// [`ColumnInfo`] as written: flags left out when false, one line per column.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnFacts {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(rename = "type")]
    ty: SpecType,
    #[serde(default, skip_serializing_if = "is_false")]
    nullable: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    identity: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<Role>,
    #[serde(default, skip_serializing_if = "is_false")]
    hashed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default: Option<ColumnDefault>,
    #[serde(default, rename = "enum", skip_serializing_if = "Option::is_none")]
    enumeration: Option<EnumFacts>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnumFacts {
    name: String,
    /// `[key, stored value]` pairs in spec order.
    values: Vec<(String, EnumStored)>,
}

impl From<ColumnFacts> for ColumnInfo {
    fn from(c: ColumnFacts) -> Self {
        let (enum_name, enum_values) = match c.enumeration {
            Some(e) => (Some(e.name), e.values),
            None => (None, Vec::new()),
        };
        ColumnInfo { name: c.name, field: c.field, ty: c.ty, nullable: c.nullable, identity: c.identity, role: c.role, hashed: c.hashed, default: c.default, enum_name, enum_values }
    }
}

impl From<ColumnInfo> for ColumnFacts {
    fn from(c: ColumnInfo) -> Self {
        let enumeration = c.enum_name.map(|name| EnumFacts { name, values: c.enum_values });
        ColumnFacts { name: c.name, field: c.field, ty: c.ty, nullable: c.nullable, identity: c.identity, role: c.role, hashed: c.hashed, default: c.default, enumeration }
    }
}

/// One value of the enum a codebook table holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodebookValue {
    pub key: String,
    pub value: serde_json::Value,
    pub description: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub deprecated: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Codebook {
    #[serde(rename = "enum")]
    pub enum_name: String,
    pub values: Vec<CodebookValue>,
}

/// A unique constraint or unique index: merge must never write two rows
/// with equal values in these columns (NULLs aside, as PostgreSQL counts them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UniqueKey {
    pub name: String,
    pub columns: Vec<String>,
    /// A partial unique index (`WHERE …`): merge treats it as if it held for every row.
    #[serde(default, skip_serializing_if = "is_false")]
    pub partial: bool,
}

/// Everything the runtime needs about one table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableInfo {
    /// Always [`FORMAT`] once parsed.
    pub format: u32,
    pub schema: String,
    pub table: String,
    /// The serde name of the insert struct (`NewApps`), checked against the rows.
    pub insert_struct: String,
    /// The insert struct serializes its fields sorted by column name (what
    /// the row hash needs), so a row can be hashed while serde walks it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sorted_fields: bool,
    #[serde(default)]
    pub primary_key: Vec<String>,
    /// Unique constraints and unique indexes (not the primary key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unique_keys: Vec<UniqueKey>,
    pub columns: Vec<ColumnInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codebook: Option<Codebook>,
}

#[derive(Debug, thiserror::Error)]
pub enum TableInfoError {
    #[error("table info is not valid ({0}); regenerate the schema crate with `make gen`")]
    Json(#[from] serde_json::Error),
    #[error("table info has format {found}, this runtime reads format {FORMAT}; regenerate the schema crate with the dcgen of this runtime's version")]
    Format { found: u32 },
    #[error("table info for `{table}`: {problem}; regenerate the schema crate with `make gen`")]
    Inconsistent { table: String, problem: String },
}

/// Only the version, read first so a layout from another version is
/// reported as that rather than as a missing field.
#[derive(Deserialize)]
struct Version {
    format: u32,
}

impl TableInfo {
    /// Reads the facts dcgen wrote (`NewApps::TABLE_INFO`).
    pub fn parse(json: &str) -> Result<TableInfo, TableInfoError> {
        let Version { format } = serde_json::from_str(json)?;
        if format != FORMAT {
            return Err(TableInfoError::Format { found: format });
        }
        let info: TableInfo = serde_json::from_str(json)?;
        info.check()?;
        Ok(info)
    }

    /// The facts as dcgen writes them into the generated crate: the top
    /// level and its lists one entry per line, each column on one line.
    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, layout::Layout::default());
        // A TableInfo is strings, numbers and lists: serializing it cannot fail.
        self.serialize(&mut serializer).unwrap_or_else(|error| unreachable!("TableInfo serializes: {error}"));
        String::from_utf8(out).unwrap_or_else(|error| unreachable!("serde_json writes UTF-8: {error}"))
    }

    fn check(&self) -> Result<(), TableInfoError> {
        let problem = |problem: String| TableInfoError::Inconsistent { table: self.table.clone(), problem };
        for (index, column) in self.columns.iter().enumerate() {
            if self.columns[..index].iter().any(|c| c.name == column.name) {
                return Err(problem(format!("column `{}` is listed twice", column.name)));
            }
            if column.hashed && column.field.is_none() {
                return Err(problem(format!("hashed column `{}` is not in the insert struct", column.name)));
            }
            if column.field.is_some() && left_out_of_insert(column.identity, column.role, false) {
                return Err(problem(format!("column `{}` is filled by the database but listed as an insert field", column.name)));
            }
            if let Some((key, value)) = column.enum_values.iter().find(|(_, v)| matches!(v, EnumStored::Text(_)) != column.ty.is_text() && !matches!(column.ty, SpecType::Array(_))) {
                return Err(problem(format!("enum value `{key}` = {value:?} of `{}` does not fit its type {}", column.name, column.ty)));
            }
        }
        for key in self.primary_key.iter().chain(self.unique_keys.iter().flat_map(|k| &k.columns)) {
            if self.column(key).is_none() {
                return Err(problem(format!("key column `{key}` is not a column")));
            }
        }
        Ok(())
    }

    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    pub fn role(&self, role: Role) -> Option<&ColumnInfo> {
        self.columns.iter().find(|c| c.role == Some(role))
    }

    /// Columns of the insert struct, in its field order (the order serde visits them).
    pub fn insert_columns(&self) -> impl Iterator<Item = &ColumnInfo> {
        self.columns.iter().filter(|c| c.field.is_some())
    }

    /// Every unique key, the primary key first (named `primary key`).
    pub fn all_unique_keys(&self) -> impl Iterator<Item = UniqueKey> + '_ {
        let primary = (!self.primary_key.is_empty()).then(|| UniqueKey { name: "primary key".into(), columns: self.primary_key.clone(), partial: false });
        primary.into_iter().chain(self.unique_keys.iter().cloned())
    }

    /// `"schema"."table"`, quoted for PostgreSQL.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.table))
    }
}

mod layout {
    use std::io::{self, Write};

    /// serde_json's compact output with line breaks in the outer levels:
    /// the table's keys, each column, each unique key and each codebook
    /// value on a line of its own (objects break at the first two levels,
    /// lists at the first three).
    #[derive(Default)]
    pub(super) struct Layout {
        /// Per open container, whether its items go on lines of their own.
        open: Vec<bool>,
    }

    impl Layout {
        fn newline<W: ?Sized + Write>(&self, writer: &mut W, depth: usize) -> io::Result<()> {
            writer.write_all(b"\n")?;
            for _ in 0..depth {
                writer.write_all(b"  ")?;
            }
            Ok(())
        }

        fn begin<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8], max_depth: usize) -> io::Result<()> {
            self.open.push(self.open.len() < max_depth);
            writer.write_all(bracket)
        }

        fn end<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
            if self.open.pop().unwrap_or(false) {
                self.newline(writer, self.open.len())?;
            }
            writer.write_all(bracket)
        }

        fn item<W: ?Sized + Write>(&self, writer: &mut W, first: bool) -> io::Result<()> {
            if !first {
                writer.write_all(b",")?;
            }
            if self.open.last().copied().unwrap_or(false) {
                self.newline(writer, self.open.len())?;
            }
            Ok(())
        }
    }

    impl serde_json::ser::Formatter for Layout {
        fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
            self.begin(writer, b"[", 3)
        }
        fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
            self.end(writer, b"]")
        }
        fn begin_array_value<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
            self.item(writer, first)
        }
        fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
            self.begin(writer, b"{", 2)
        }
        fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
            self.end(writer, b"}")
        }
        fn begin_object_key<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
            self.item(writer, first)
        }
        fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
            writer.write_all(if self.open.last().copied().unwrap_or(false) { b": " } else { b":" })
        }
    }
}

/// Quotes a PostgreSQL identifier: every name the runtime puts into SQL goes through here.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_types_parse_as_the_spec_spells_them() {
        assert_eq!(SpecType::parse("string(64)"), Some(SpecType::String));
        assert_eq!(SpecType::parse("decimal(18,4)"), Some(SpecType::Decimal));
        assert_eq!(SpecType::parse("array(int)"), Some(SpecType::Array(Box::new(SpecType::Int))));
        assert_eq!(SpecType::parse("money"), None);
        assert_eq!(SpecType::Array(Box::new(SpecType::Uuid)).postgres_name(), "uuid[]");
    }

    #[test]
    fn a_wrong_format_says_to_regenerate() {
        // Another version's layout is reported as the version, not as a missing field.
        let error = TableInfo::parse(r#"{"format": 99, "something": "else"}"#).unwrap_err();
        assert_eq!(
            error.to_string(),
            "table info has format 99, this runtime reads format 2; regenerate the schema crate with the dcgen of this runtime's version"
        );
    }

    fn sample() -> TableInfo {
        let column = |name: &str, field: bool, ty: SpecType| ColumnInfo {
            name: name.into(),
            field: field.then(|| name.into()),
            ty,
            nullable: false,
            identity: false,
            role: None,
            hashed: field,
            default: None,
            enum_name: None,
            enum_values: Vec::new(),
        };
        let mut kind = column("kind", true, SpecType::String);
        kind.default = Some(ColumnDefault::Literal(serde_json::json!("plain")));
        kind.enum_name = Some("Kind".into());
        kind.enum_values = vec![("plain".into(), EnumStored::Text("plain".into())), ("fancy".into(), EnumStored::Text("f".into()))];
        let mut created = column("date_created", false, SpecType::DateTime);
        created.role = Some(Role::Created);
        created.default = Some(ColumnDefault::Computed);
        let mut id = column("id", false, SpecType::BigInt);
        id.identity = true;
        TableInfo {
            format: FORMAT,
            schema: "public".into(),
            table: "t".into(),
            insert_struct: "NewT".into(),
            sorted_fields: true,
            primary_key: vec!["id".into()],
            unique_keys: vec![UniqueKey { name: "uq_t_kind".into(), columns: vec!["kind".into()], partial: false }],
            columns: vec![id, kind, column("tags", true, SpecType::Array(Box::new(SpecType::Int))), created],
            codebook: None,
        }
    }

    #[test]
    fn facts_round_trip_through_their_written_form() {
        let info = sample();
        let json = info.to_json();
        assert_eq!(TableInfo::parse(&json).unwrap(), info);
        assert_eq!(
            json,
            r#"{
  "format": 2,
  "schema": "public",
  "table": "t",
  "insert_struct": "NewT",
  "sorted_fields": true,
  "primary_key": [
    "id"
  ],
  "unique_keys": [
    {"name":"uq_t_kind","columns":["kind"]}
  ],
  "columns": [
    {"name":"id","type":"bigint","identity":true},
    {"name":"kind","field":"kind","type":"string","hashed":true,"default":{"literal":"plain"},"enum":{"name":"Kind","values":[["plain","plain"],["fancy","f"]]}},
    {"name":"tags","field":"tags","type":"array(int)","hashed":true},
    {"name":"date_created","type":"datetime","role":"created","default":"computed"}
  ]
}"#
        );
    }

    #[test]
    fn a_hashed_column_outside_the_insert_struct_is_refused() {
        let json = r#"{"format": 2, "schema": "s", "table": "t", "insert_struct": "NewT",
            "columns": [{"name": "a", "type": "int", "hashed": true}]}"#;
        let error = TableInfo::parse(json).unwrap_err();
        assert!(error.to_string().contains("not in the insert struct"), "{error}");
        let unknown = r#"{"format": 2, "schema": "s", "table": "t", "insert_struct": "NewT", "columns": [{"name": "a", "type": "money"}]}"#;
        assert!(TableInfo::parse(unknown).unwrap_err().to_string().contains("unknown column type `money`"));
        let managed = r#"{"format": 2, "schema": "s", "table": "t", "insert_struct": "NewT", "columns": [{"name": "sha", "field": "sha", "type": "string", "role": "hash"}]}"#;
        assert!(TableInfo::parse(managed).unwrap_err().to_string().contains("filled by the database"));
    }

    #[test]
    fn quote_ident_doubles_quotes() {
        assert_eq!(quote_ident(r#"we"ird"#), r#""we""ird""#);
    }
}
