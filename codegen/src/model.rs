//! The resolved model: what the rest of the program trusts. Every reference is an
//! index, every default applied, every constraint name rendered. Built only by
//! `resolve`; never looks back at raw YAML.

use serde::{Deserialize, Serialize};

/// Index into [`Model::tables`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TableId(pub usize);

/// Index into [`Table::columns`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ColumnId(pub usize);

/// Index into [`Model::enums`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EnumId(pub usize);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    Postgres,
    Mssql,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Mssql => "mssql",
        }
    }

    /// Longest identifier the dialect accepts, in bytes.
    pub fn identifier_limit(self) -> usize {
        match self {
            Dialect::Postgres => 63,
            Dialect::Mssql => 128,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub project: Project,
    pub hashing: Hashing,
    pub tables: Vec<Table>,
    pub enums: Vec<Enum>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub name: String,
    pub crate_name: String,
    pub dialects: Vec<Dialect>,
    pub schema_postgres: String,
    pub schema_mssql: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hashing {
    pub algorithm: String,
    pub encoding: String,
    pub lowercase: bool,
    pub strip_whitespace: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    pub comment: Option<String>,
    pub columns: Vec<Column>,
    pub primary_key: Key,
    pub uniques: Vec<Key>,
    pub foreign_keys: Vec<ForeignKey>,
    pub indexes: Vec<Index>,
    pub checks: Vec<Check>,
    pub triggers: Vec<Trigger>,
    pub partition: Option<Partition>,
    /// Columns the row hash covers, sorted by name (the canonical form sorts them).
    pub hash_columns: Vec<ColumnId>,
    /// The enum this table is the codebook of.
    pub codebook_of: Option<EnumId>,
    pub renamed_from: Option<String>,
}

impl Table {
    pub fn column(&self, id: ColumnId) -> &Column {
        &self.columns[id.0]
    }

    pub fn column_by_name(&self, name: &str) -> Option<ColumnId> {
        self.columns.iter().position(|c| c.name == name).map(ColumnId)
    }

    pub fn role(&self, role: Role) -> Option<ColumnId> {
        self.columns.iter().position(|c| c.role == Some(role)).map(ColumnId)
    }

    pub fn column_names(&self, ids: &[ColumnId]) -> Vec<&str> {
        ids.iter().map(|id| self.column(*id).name.as_str()).collect()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
    pub nullable: bool,
    pub identity: bool,
    pub default: Option<DefaultValue>,
    /// Name of the default as a constraint (SQL Server names its defaults), rendered
    /// from the `default` naming convention; set whenever `default` is.
    pub default_constraint: Option<String>,
    /// Kept current on every UPDATE by a trigger.
    pub on_update_now: bool,
    pub comment: Option<String>,
    pub role: Option<Role>,
    pub renamed_from: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Hash,
    Archive,
    Created,
    Modified,
    EnumValue,
    EnumDescription,
}

impl Role {
    pub const ALL: [Role; 6] = [Role::Hash, Role::Archive, Role::Created, Role::Modified, Role::EnumValue, Role::EnumDescription];

    pub fn name(self) -> &'static str {
        match self {
            Role::Hash => "hash",
            Role::Archive => "archive",
            Role::Created => "created",
            Role::Modified => "modified",
            Role::EnumValue => "enum_value",
            Role::EnumDescription => "enum_description",
        }
    }
}

/// A column's type as the spec names it; dialects map it to their own words.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    SmallInt,
    Int,
    BigInt,
    Bool,
    Float,
    Double,
    Decimal { precision: u32, scale: u32 },
    String { length: u32 },
    Text,
    DateTime,
    DateTimeTz,
    Date,
    Time,
    Uuid,
    Json,
    Bytes,
    Array(Box<ColumnType>),
    /// Stored as the enum's storage type (see [`Enum::storage`]).
    Enum(EnumId),
}

impl ColumnType {
    /// The type the database stores: an enum column is its enum's storage type.
    pub fn storage<'m>(&'m self, model: &'m Model) -> &'m ColumnType {
        match self {
            ColumnType::Enum(id) => &model.enums[id.0].storage,
            other => other,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    /// The current time (UTC for `datetime`).
    Now,
    /// An enum value: index into the enum's values.
    EnumValue(EnumId, usize),
    Raw(DialectSql),
}

/// Raw SQL written by the user, per dialect.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DialectSql {
    pub postgres: String,
    pub mssql: String,
}

/// A primary key or unique constraint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    pub name: String,
    pub columns: Vec<ColumnId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    pub name: String,
    pub columns: Vec<ColumnId>,
    pub referenced_table: TableId,
    pub referenced_columns: Vec<ColumnId>,
    pub on_delete: OnDelete,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
}

impl OnDelete {
    pub fn sql(self) -> &'static str {
        match self {
            OnDelete::NoAction => "NO ACTION",
            OnDelete::Restrict => "RESTRICT",
            OnDelete::Cascade => "CASCADE",
            OnDelete::SetNull => "SET NULL",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Index {
    pub name: String,
    pub columns: Vec<IndexColumn>,
    pub unique: bool,
    pub predicate: Option<Predicate>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexColumn {
    pub column: ColumnId,
    pub descending: bool,
}

/// A partial-index predicate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Predicate {
    /// `column = literal AND …`, rendered by each dialect.
    Equals(Vec<(ColumnId, Literal)>),
    Raw(DialectSql),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub kind: CheckKind,
}

/// What a CHECK constraint asserts, without any dialect's words: each dialect renders
/// it (`emit::expr_postgres`, `emit::expr_mssql`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// A portable expression from the spec, parsed (see `resolve::expr`).
    Expr(Expr),
    /// Raw SQL per dialect from the spec (`{ sql, postgres, mssql }`), passed through.
    Raw(DialectSql),
    /// The column holds one of the enum's stored values (an enum without a codebook).
    EnumValues { column: ColumnId, enum_id: EnumId },
    /// SQL Server only: a json or array column, stored as text there, holds JSON.
    IsJson { column: ColumnId },
}

impl CheckKind {
    /// Whether the check exists on `dialect` (ISJSON is SQL Server's only).
    pub fn exists_on(&self, dialect: Dialect) -> bool {
        !matches!(self, CheckKind::IsJson { .. }) || dialect == Dialect::Mssql
    }

    /// Replaces every column id with `f(id)`.
    pub fn map_columns(&mut self, f: &mut dyn FnMut(ColumnId) -> ColumnId) {
        match self {
            CheckKind::Expr(expr) => expr.map_columns(f),
            CheckKind::Raw(_) => {}
            CheckKind::EnumValues { column, .. } | CheckKind::IsJson { column } => *column = f(*column),
        }
    }

    /// The columns the check reads. For raw SQL, which is not parsed, every column whose
    /// name appears in its text (a check recreated without need is harmless; one left on
    /// a column SQL Server must alter is not).
    pub fn columns(&self, table: &Table) -> Vec<ColumnId> {
        match self {
            CheckKind::Expr(expr) => {
                let mut columns = Vec::new();
                expr.clone().map_columns(&mut |id| {
                    columns.push(id);
                    id
                });
                columns
            }
            CheckKind::Raw(sql) => (0..table.columns.len())
                .map(ColumnId)
                .filter(|id| sql.postgres.contains(&table.column(*id).name) || sql.mssql.contains(&table.column(*id).name))
                .collect(),
            CheckKind::EnumValues { column, .. } | CheckKind::IsJson { column } => vec![*column],
        }
    }
}

impl Check {
    /// What the check asserts, independent of its name and of column positions: two
    /// checks with the same signature need no migration between them. Columns count by
    /// name (a check over a renamed column is rewritten, as its text was); an enum check
    /// changes when the enum's values do.
    pub fn signature(&self, model: &Model, table: &Table) -> String {
        let mut kind = self.kind.clone();
        let mut names: Vec<String> = Vec::new();
        kind.map_columns(&mut |id| {
            let name = table.column(id).name.clone();
            let position = names.iter().position(|n| *n == name).unwrap_or_else(|| {
                names.push(name);
                names.len() - 1
            });
            ColumnId(position)
        });
        let values = match &self.kind {
            CheckKind::EnumValues { enum_id, .. } => model.enum_(*enum_id).values.iter().map(|v| format!("{:?}", v.value)).collect::<Vec<_>>(),
            _ => Vec::new(),
        };
        let kind = match kind {
            // The enum's position in the model is no part of what the check says.
            CheckKind::EnumValues { column, .. } => CheckKind::EnumValues { column, enum_id: EnumId(0) },
            other => other,
        };
        format!("{kind:?} columns={names:?} values={values:?}")
    }
}

/// A portable SQL expression: the subset that means the same on PostgreSQL and SQL
/// Server (checked when it is parsed). Columns are ids of the check's own table.
/// Parentheses the user wrote are kept (`Nested`), so rendering needs no precedence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    Column(ColumnId),
    Null,
    Bool(bool),
    /// A number as written (`0`, `2.50`, `1e3`): never through a float.
    Number(String),
    String(String),
    Nested(Box<Expr>),
    Not(Box<Expr>),
    /// Unary minus.
    Negative(Box<Expr>),
    Binary { left: Box<Expr>, op: BinaryOp, right: Box<Expr> },
    IsNull { expr: Box<Expr>, negated: bool },
    /// `IS [NOT] TRUE` / `IS [NOT] FALSE` on a `bool` column.
    IsBool { column: ColumnId, value: bool, negated: bool },
    Between { expr: Box<Expr>, low: Box<Expr>, high: Box<Expr>, negated: bool },
    InList { expr: Box<Expr>, list: Vec<Expr>, negated: bool },
    Like { expr: Box<Expr>, pattern: Box<Expr>, escape: Option<String>, negated: bool },
    Case { operand: Option<Box<Expr>>, branches: Vec<CaseBranch>, otherwise: Option<Box<Expr>> },
    Call { function: Function, args: Vec<Expr> },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseBranch {
    pub when: Expr,
    pub then: Expr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinaryOp {
    And,
    Or,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    Plus,
    Minus,
    Multiply,
    Divide,
    Modulo,
}

impl BinaryOp {
    /// Comparisons and logic yield a truth value; arithmetic yields a value.
    pub fn is_predicate(self) -> bool {
        !matches!(self, BinaryOp::Plus | BinaryOp::Minus | BinaryOp::Multiply | BinaryOp::Divide | BinaryOp::Modulo)
    }
}

/// Functions that exist with the same meaning in both dialects (the allow-list; each
/// dialect names them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Function {
    Abs,
    Ceiling,
    Coalesce,
    Floor,
    Lower,
    NullIf,
    Upper,
}

impl Expr {
    /// True for expressions that yield a truth value (a predicate) rather than a value.
    /// T-SQL keeps the two apart: a `bit` value is not a predicate, a predicate is not a
    /// value.
    pub fn is_predicate(&self) -> bool {
        match self {
            Expr::Nested(inner) => inner.is_predicate(),
            Expr::Binary { op, .. } => op.is_predicate(),
            Expr::Not(_) | Expr::IsNull { .. } | Expr::IsBool { .. } | Expr::Between { .. } | Expr::InList { .. } | Expr::Like { .. } => true,
            Expr::Column(_) | Expr::Null | Expr::Bool(_) | Expr::Number(_) | Expr::String(_) | Expr::Negative(_) | Expr::Case { .. } | Expr::Call { .. } => false,
        }
    }

    /// Replaces every column id with `f(id)`.
    pub fn map_columns(&mut self, f: &mut dyn FnMut(ColumnId) -> ColumnId) {
        match self {
            Expr::Column(id) | Expr::IsBool { column: id, .. } => *id = f(*id),
            Expr::Null | Expr::Bool(_) | Expr::Number(_) | Expr::String(_) => {}
            Expr::Nested(e) | Expr::Not(e) | Expr::Negative(e) | Expr::IsNull { expr: e, .. } => e.map_columns(f),
            Expr::Binary { left, right, .. } => {
                left.map_columns(f);
                right.map_columns(f);
            }
            Expr::Between { expr, low, high, .. } => {
                expr.map_columns(f);
                low.map_columns(f);
                high.map_columns(f);
            }
            Expr::InList { expr, list, .. } => {
                expr.map_columns(f);
                list.iter_mut().for_each(|e| e.map_columns(f));
            }
            Expr::Like { expr, pattern, .. } => {
                expr.map_columns(f);
                pattern.map_columns(f);
            }
            Expr::Case { operand, branches, otherwise } => {
                if let Some(operand) = operand {
                    operand.map_columns(f);
                }
                for branch in branches {
                    branch.when.map_columns(f);
                    branch.then.map_columns(f);
                }
                if let Some(otherwise) = otherwise {
                    otherwise.map_columns(f);
                }
            }
            Expr::Call { args, .. } => args.iter_mut().for_each(|e| e.map_columns(f)),
        }
    }
}

/// `on_update: now` on a column: a trigger keeps it current.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    pub name: String,
    pub column: ColumnId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    pub by: PartitionBy,
    pub column: ColumnId,
    pub interval: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionBy {
    Range,
    List,
    Hash,
}

impl PartitionBy {
    pub fn sql(self) -> &'static str {
        match self {
            PartitionBy::Range => "RANGE",
            PartitionBy::List => "LIST",
            PartitionBy::Hash => "HASH",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Enum {
    /// UpperCamelCase, as written.
    pub name: String,
    pub kind: EnumKind,
    /// How a column of this enum is stored: `int`, or `string(n)` for string enums.
    pub storage: ColumnType,
    pub codebook: Option<TableId>,
    pub comment: Option<String>,
    pub values: Vec<EnumValue>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnumKind {
    Int,
    String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnumValue {
    /// snake_case key, as written.
    pub key: String,
    pub value: EnumLiteral,
    pub description: String,
    pub deprecated: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnumLiteral {
    Int(i64),
    Str(String),
}

impl Model {
    pub fn table(&self, id: TableId) -> &Table {
        &self.tables[id.0]
    }

    pub fn table_by_name(&self, name: &str) -> Option<TableId> {
        self.tables.iter().position(|t| t.name == name).map(TableId)
    }

    pub fn enum_(&self, id: EnumId) -> &Enum {
        &self.enums[id.0]
    }

    pub fn has_dialect(&self, dialect: Dialect) -> bool {
        self.project.dialects.contains(&dialect)
    }

    /// Tables in an order where every table comes after the tables its foreign keys
    /// point at (self-references and cycles are broken by name order).
    pub fn tables_in_dependency_order(&self) -> Vec<TableId> {
        let mut order = Vec::with_capacity(self.tables.len());
        let mut state = vec![0u8; self.tables.len()]; // 0 new, 1 visiting, 2 done
        fn visit(model: &Model, id: TableId, state: &mut [u8], order: &mut Vec<TableId>) {
            if state[id.0] != 0 {
                return;
            }
            state[id.0] = 1;
            let mut deps: Vec<TableId> =
                model.tables[id.0].foreign_keys.iter().map(|fk| fk.referenced_table).filter(|t| *t != id).collect();
            deps.sort_by(|a, b| model.tables[a.0].name.cmp(&model.tables[b.0].name));
            for dep in deps {
                visit(model, dep, state, order);
            }
            state[id.0] = 2;
            order.push(id);
        }
        for id in 0..self.tables.len() {
            visit(self, TableId(id), &mut state, &mut order);
        }
        order
    }
}
