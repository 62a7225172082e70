//! [`TableInfo`]: what the runtime knows about a generated table, read from the facts dcgen emits as JSON.
//!
//! The generated crate depends only on registry crates, so it cannot
//! implement a trait of ours. Instead dcgen writes, for every table, a
//! `TABLE_INFO: &str` constant (format [`FORMAT`]) holding the table's
//! columns with their spec types, roles, defaults and which columns the row
//! hash covers; insert structs derive `serde::Serialize`. The runtime reads
//! both: this module parses the facts, `row` walks a row through serde.
//! `dcgen hash` builds the same JSON from its model, so the command line and
//! merge hash through one code path.

use std::fmt;

use serde::Deserialize;

/// The version of the JSON layout; dcgen and the runtime must agree on it.
pub const FORMAT: u32 = 1;

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

/// What a column means to the runtime (the spec's `role`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnumStored {
    Int(i64),
    Text(String),
}

/// A column's default, as far as the runtime can know it before insert.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnDefault {
    /// A literal (number, bool, text, an enum's stored value), as JSON.
    Literal(serde_json::Value),
    /// Computed by the database (`now`, raw SQL): unknown until the row is written.
    Computed,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ColumnInfo {
    pub name: String,
    /// The insert struct's serde field name; `None` when the insert struct
    /// leaves the column out (identity and role-managed columns).
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

/// One value of the enum a codebook table holds.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CodebookValue {
    pub key: String,
    pub value: serde_json::Value,
    pub description: String,
    #[serde(default)]
    pub deprecated: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Codebook {
    pub enum_name: String,
    pub values: Vec<CodebookValue>,
}

/// Everything the runtime needs about one table.
#[derive(Clone, Debug, PartialEq)]
pub struct TableInfo {
    pub schema: String,
    pub table: String,
    /// The serde name of the insert struct (`NewApps`), checked against the rows.
    pub insert_struct: String,
    pub columns: Vec<ColumnInfo>,
    pub primary_key: Vec<String>,
    pub codebook: Option<Codebook>,
    /// The insert struct serializes its fields sorted by column name (what
    /// the row hash needs), so a row can be hashed while serde walks it.
    pub sorted_fields: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TableInfoError {
    #[error("table info is not valid JSON ({0}); regenerate the schema crate with `make gen`")]
    Json(#[from] serde_json::Error),
    #[error("table info has format {found}, this runtime reads format {FORMAT}; regenerate the schema crate with the dcgen of this runtime's version")]
    Format { found: u32 },
    #[error("table info for `{table}`: column `{column}` has type `{ty}`, which this runtime does not know; regenerate with a matching dcgen")]
    UnknownType { table: String, column: String, ty: String },
    #[error("table info for `{table}`: {problem}; regenerate the schema crate with `make gen`")]
    Inconsistent { table: String, problem: String },
}

#[derive(Deserialize)]
struct RawTable {
    format: u32,
    schema: String,
    table: String,
    insert_struct: String,
    columns: Vec<RawColumn>,
    #[serde(default)]
    primary_key: Vec<String>,
    #[serde(default)]
    codebook: Option<RawCodebook>,
    #[serde(default)]
    sorted_fields: bool,
}

#[derive(Deserialize)]
struct RawColumn {
    name: String,
    #[serde(default)]
    field: Option<String>,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    nullable: bool,
    #[serde(default)]
    identity: bool,
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    hashed: bool,
    #[serde(default)]
    default: Option<serde_json::Value>,
    #[serde(default)]
    default_computed: bool,
    #[serde(default, rename = "enum")]
    enum_: Option<RawEnum>,
}

#[derive(Deserialize)]
struct RawEnum {
    name: String,
    /// `[key, stored value]` pairs in spec order.
    values: Vec<(String, serde_json::Value)>,
}

#[derive(Deserialize)]
struct RawCodebook {
    #[serde(rename = "enum")]
    enum_name: String,
    values: Vec<CodebookValue>,
}

impl TableInfo {
    /// Reads the facts dcgen wrote (`NewApps::TABLE_INFO`).
    pub fn parse(json: &str) -> Result<TableInfo, TableInfoError> {
        let raw: RawTable = serde_json::from_str(json)?;
        if raw.format != FORMAT {
            return Err(TableInfoError::Format { found: raw.format });
        }
        let mut columns = Vec::with_capacity(raw.columns.len());
        for column in raw.columns {
            let ty = SpecType::parse(&column.ty).ok_or_else(|| TableInfoError::UnknownType {
                table: raw.table.clone(),
                column: column.name.clone(),
                ty: column.ty.clone(),
            })?;
            let mut enum_values = Vec::new();
            let enum_name = match column.enum_ {
                Some(raw_enum) => {
                    for (key, value) in raw_enum.values {
                        let stored = match value {
                            serde_json::Value::Number(n) if n.as_i64().is_some() => EnumStored::Int(n.as_i64().unwrap_or_default()),
                            serde_json::Value::String(s) => EnumStored::Text(s),
                            other => {
                                return Err(TableInfoError::Inconsistent {
                                    table: raw.table.clone(),
                                    problem: format!("enum value `{other}` of `{}` is neither an integer nor a string", raw_enum.name),
                                })
                            }
                        };
                        enum_values.push((key, stored));
                    }
                    Some(raw_enum.name)
                }
                None => None,
            };
            let default = match (column.default, column.default_computed) {
                (_, true) => Some(ColumnDefault::Computed),
                (Some(value), false) => Some(ColumnDefault::Literal(value)),
                (None, false) => None,
            };
            columns.push(ColumnInfo {
                name: column.name,
                field: column.field,
                ty,
                nullable: column.nullable,
                identity: column.identity,
                role: column.role,
                hashed: column.hashed,
                default,
                enum_name,
                enum_values,
            });
        }
        let info = TableInfo {
            schema: raw.schema,
            table: raw.table,
            insert_struct: raw.insert_struct,
            columns,
            primary_key: raw.primary_key,
            codebook: raw.codebook.map(|c| Codebook { enum_name: c.enum_name, values: c.values }),
            sorted_fields: raw.sorted_fields,
        };
        info.check()?;
        Ok(info)
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
        }
        for key in &self.primary_key {
            if self.column(key).is_none() {
                return Err(problem(format!("primary key column `{key}` is not a column")));
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

    /// `"schema"."table"`, quoted for PostgreSQL.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.table))
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
        let error = TableInfo::parse(r#"{"format": 99, "schema": "s", "table": "t", "insert_struct": "NewT", "columns": []}"#).unwrap_err();
        assert!(error.to_string().contains("format 99"), "{error}");
    }

    #[test]
    fn a_hashed_column_outside_the_insert_struct_is_refused() {
        let json = r#"{"format": 1, "schema": "s", "table": "t", "insert_struct": "NewT",
            "columns": [{"name": "a", "type": "int", "hashed": true}]}"#;
        let error = TableInfo::parse(json).unwrap_err();
        assert!(error.to_string().contains("not in the insert struct"), "{error}");
    }

    #[test]
    fn quote_ident_doubles_quotes() {
        assert_eq!(quote_ident(r#"we"ird"#), r#""we""ird""#);
    }
}
