//! The raw spec: what the user wrote in YAML, with a span on every value and no meaning
//! attached yet. `resolve` turns this into the checked `model`; nothing after `resolve`
//! looks at these types.

use crate::diagnostics::{FileId, Sp, Span};

/// All files of one spec directory, in path order.
#[derive(Debug, Default)]
pub struct Spec {
    pub files: Vec<SpecFile>,
    /// Files that could not be parsed; their contents are unknown, so rules such as
    /// "no `project` key" must not fire on their account.
    pub unreadable_files: usize,
}

#[derive(Debug)]
pub struct SpecFile {
    pub file: FileId,
    pub project: Option<Sp<ProjectSpec>>,
    pub conventions: Option<Sp<ConventionsSpec>>,
    pub mixins: Vec<(Sp<String>, MixinSpec)>,
    pub enums: Vec<(Sp<String>, EnumSpec)>,
    pub tables: Vec<(Sp<String>, TableSpec)>,
    /// Changes that lose data, acknowledged by the user (`- drop column apps.legacy`).
    pub allow_destructive: Vec<Sp<String>>,
}

#[derive(Debug, Default)]
pub struct ProjectSpec {
    pub name: Option<Sp<String>>,
    pub crate_name: Option<Sp<String>>,
    pub dialects: Option<Vec<Sp<String>>>,
    pub schema_postgres: Option<Sp<String>>,
    pub schema_mssql: Option<Sp<String>>,
}

#[derive(Debug, Default)]
pub struct ConventionsSpec {
    /// Naming templates by kind (`primary_key`, `index`, …), in the order written.
    pub naming: Vec<(Sp<String>, Sp<String>)>,
    pub hashing_algorithm: Option<Sp<String>>,
    pub hashing_encoding: Option<Sp<String>>,
    pub hashing_normalize: Option<Vec<Sp<String>>>,
}

#[derive(Debug, Default)]
pub struct MixinSpec {
    pub span: Span,
    pub head: Vec<(Sp<String>, ColumnSpec)>,
    pub tail: Vec<(Sp<String>, ColumnSpec)>,
}

/// A column, from either the full map or the bare type shorthand.
#[derive(Debug, Clone, Default)]
pub struct ColumnSpec {
    pub span: Span,
    pub type_name: Option<Sp<String>>,
    pub nullable: Option<Sp<bool>>,
    pub primary_key: Option<Sp<bool>>,
    pub identity: Option<Sp<bool>>,
    pub unique: Option<Sp<bool>>,
    pub index: Option<Sp<bool>>,
    pub references: Option<Sp<String>>,
    pub on_delete: Option<Sp<String>>,
    pub default: Option<Sp<DefaultSpec>>,
    pub on_update: Option<Sp<String>>,
    pub check: Option<Sp<ExprSpec>>,
    pub comment: Option<Sp<String>>,
    pub role: Option<Sp<String>>,
    pub renamed_from: Option<Sp<String>>,
    pub hash: Option<Sp<bool>>,
    /// `decimal` written as `{ type: decimal, precision: 18, scale: 4 }`.
    pub precision: Option<Sp<i64>>,
    pub scale: Option<Sp<i64>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DefaultSpec {
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A string: `now`, an enum value name, or a string literal, decided by `resolve`.
    Str(String),
    Raw(RawSql),
}

/// `{ sql: "...", mssql: "..." }`: `sql` is the expression for every dialect, and a
/// dialect key (`mssql`, `postgres`) overrides it for that dialect.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawSql {
    pub sql: Option<Sp<String>>,
    pub postgres: Option<Sp<String>>,
    pub mssql: Option<Sp<String>>,
}

/// A check or `where` expression: portable text, or raw per dialect.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprSpec {
    Portable(String),
    Raw(RawSql),
}

#[derive(Debug, Default)]
pub struct TableSpec {
    pub span: Span,
    pub mixin: Option<Sp<String>>,
    pub comment: Option<Sp<String>>,
    pub primary_key: Option<Sp<Vec<Sp<String>>>>,
    pub columns: Vec<(Sp<String>, ColumnSpec)>,
    pub foreign_keys: Vec<Sp<ForeignKeySpec>>,
    pub indexes: Vec<Sp<IndexSpec>>,
    pub uniques: Vec<Sp<Vec<Sp<String>>>>,
    pub checks: Vec<(Sp<String>, Sp<ExprSpec>)>,
    pub partition: Option<Sp<PartitionSpec>>,
    pub hash: Option<Sp<HashSpec>>,
    pub renamed_from: Option<Sp<String>>,
}

#[derive(Debug, Default)]
pub struct ForeignKeySpec {
    pub columns: Vec<Sp<String>>,
    pub references: Option<Sp<String>>,
    pub to: Vec<Sp<String>>,
    pub on_delete: Option<Sp<String>>,
    pub name: Option<Sp<String>>,
}

#[derive(Debug, Default)]
pub struct IndexSpec {
    /// Column names, each possibly followed by ` asc` / ` desc`.
    pub columns: Vec<Sp<String>>,
    pub unique: Option<Sp<bool>>,
    pub name: Option<Sp<String>>,
    pub where_clause: Option<Sp<WhereSpec>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WhereSpec {
    /// Column = literal pairs joined with AND.
    Equals(Vec<(Sp<String>, Sp<LiteralSpec>)>),
    Raw(RawSql),
}

#[derive(Debug, Clone, PartialEq)]
pub enum LiteralSpec {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

#[derive(Debug, Default)]
pub struct PartitionSpec {
    pub by: Option<Sp<String>>,
    pub column: Option<Sp<String>>,
    pub interval: Option<Sp<String>>,
}

#[derive(Debug, Default)]
pub struct HashSpec {
    pub exclude: Option<Vec<Sp<String>>>,
    pub only: Option<Vec<Sp<String>>>,
}

#[derive(Debug, Default)]
pub struct EnumSpec {
    pub span: Span,
    pub type_name: Option<Sp<String>>,
    pub codebook: Option<Sp<String>>,
    pub comment: Option<Sp<String>>,
    pub values: Vec<(Sp<String>, EnumValueSpec)>,
}

#[derive(Debug, Default)]
pub struct EnumValueSpec {
    pub span: Span,
    pub value: Option<Sp<EnumValueLiteral>>,
    pub description: Option<Sp<String>>,
    pub deprecated: Option<Sp<bool>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EnumValueLiteral {
    Int(i64),
    Str(String),
}

impl Default for Span {
    fn default() -> Self {
        Span::NONE
    }
}
