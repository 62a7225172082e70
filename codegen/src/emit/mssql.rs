//! SQL Server (2019+): quoting, type names, named defaults, triggers, extended
//! properties, and the view of a plan that `templates/mssql/*.sql.tera` lay out. The
//! only module that writes T-SQL.
//!
//! Migrations are re-runnable: every CREATE is guarded by a catalog lookup and every
//! DROP is `IF EXISTS`, so a half-applied script can be run again. The declarative
//! schema is the same objects as plain CREATEs, for DacFx to validate as a model.

use serde::Serialize;

use crate::model::*;
use super::migration::{statements, SqlDialect};
use crate::plan::{ConstraintKind, Current, Operation, Plan};

/// `[name]`, with embedded closing brackets doubled.
pub fn quote(identifier: &str) -> String {
    format!("[{}]", identifier.replace(']', "]]"))
}

/// `N'text'`, with embedded quotes doubled. Always the Unicode form: every text column
/// is nvarchar, and a plain literal would pass through the database's code page.
pub fn string_literal(text: &str) -> String {
    format!("N'{}'", text.replace('\'', "''"))
}

pub fn qualified(model: &Model, name: &str) -> String {
    format!("{}.{}", quote(&model.project.schema_mssql), quote(name))
}

/// The longest `nvarchar(n)`; longer strings are `nvarchar(max)`.
const NVARCHAR_MAX_LENGTH: u32 = 4000;

/// The SQL Server type of a spec type (enums as their storage type).
pub fn type_name(model: &Model, ty: &ColumnType) -> String {
    match ty.storage(model) {
        ColumnType::SmallInt => "smallint".into(),
        ColumnType::Int => "int".into(),
        ColumnType::BigInt => "bigint".into(),
        ColumnType::Bool => "bit".into(),
        ColumnType::Float => "real".into(),
        ColumnType::Double => "float".into(),
        ColumnType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
        ColumnType::String { length } if *length <= NVARCHAR_MAX_LENGTH => format!("nvarchar({length})"),
        ColumnType::String { .. } | ColumnType::Text => "nvarchar(max)".into(),
        ColumnType::DateTime => "datetime2".into(),
        ColumnType::DateTimeTz => "datetimeoffset".into(),
        ColumnType::Date => "date".into(),
        ColumnType::Time => "time".into(),
        ColumnType::Uuid => "uniqueidentifier".into(),
        // JSON text; the model adds the ISJSON check.
        ColumnType::Json | ColumnType::Array(_) => "nvarchar(max)".into(),
        ColumnType::Bytes => "varbinary(max)".into(),
        ColumnType::Enum(_) => unreachable!("storage() resolves enums"),
    }
}

/// The current time in the column's type: UTC for `datetime`, as on PostgreSQL.
fn now_for(ty: &ColumnType) -> &'static str {
    match ty {
        ColumnType::DateTimeTz => "SYSDATETIMEOFFSET()",
        _ => "SYSUTCDATETIME()",
    }
}

/// The expression of a column's default (without the `DEFAULT (...)` around it).
pub fn default_sql(model: &Model, column: &Column) -> Option<String> {
    let default = column.default.as_ref()?;
    Some(match default {
        DefaultValue::Int(i) => i.to_string(),
        DefaultValue::Float(f) => format!("{f:?}"),
        DefaultValue::Bool(b) => bit(*b).to_string(),
        DefaultValue::Str(s) => string_literal(s),
        DefaultValue::Now => now_for(column.ty.storage(model)).to_string(),
        DefaultValue::EnumValue(id, index) => enum_literal(&model.enum_(*id).values[*index].value),
        DefaultValue::Raw(sql) => sql.mssql.clone(),
    })
}

fn bit(value: bool) -> &'static str {
    if value {
        "1"
    } else {
        "0"
    }
}

fn enum_literal(value: &EnumLiteral) -> String {
    match value {
        EnumLiteral::Int(i) => i.to_string(),
        EnumLiteral::Str(s) => string_literal(s),
    }
}

fn literal(value: &Literal) -> String {
    match value {
        Literal::Null => "NULL".into(),
        Literal::Bool(b) => bit(*b).into(),
        Literal::Int(i) => i.to_string(),
        Literal::Float(f) => format!("{f:?}"),
        Literal::Str(s) => string_literal(s),
    }
}

/// A filtered index's WHERE clause, with the model's column names.
pub fn predicate_sql(table: &Table, predicate: &Predicate) -> String {
    predicate_with(predicate, &|c| table.column(c).name.as_str())
}

fn predicate_with<'a>(predicate: &Predicate, name: &dyn Fn(ColumnId) -> &'a str) -> String {
    match predicate {
        Predicate::Equals(pairs) => pairs
            .iter()
            .map(|(column, value)| match value {
                Literal::Null => format!("{} IS NULL", quote(name(*column))),
                other => format!("{} = {}", quote(name(*column)), literal(other)),
            })
            .collect::<Vec<_>>()
            .join(" AND "),
        Predicate::Raw(sql) => sql.mssql.clone(),
    }
}

/// T-SQL has no RESTRICT: its NO ACTION already refuses the delete (checked at the
/// statement, which for a single DELETE is the same as RESTRICT). `None` for no clause.
fn on_delete_sql(on_delete: OnDelete) -> Option<&'static str> {
    match on_delete {
        OnDelete::NoAction | OnDelete::Restrict => None,
        OnDelete::Cascade => Some("CASCADE"),
        OnDelete::SetNull => Some("SET NULL"),
    }
}

/// Widest key a clustered index takes; wider ones only warn at CREATE and then fail
/// the INSERT of a long enough row. Nonclustered keys take 1700 bytes.
const CLUSTERED_KEY_LIMIT: usize = 900;

/// Most bytes a value of the type takes in an index key.
fn key_bytes(model: &Model, ty: &ColumnType) -> usize {
    match ty.storage(model) {
        ColumnType::Bool => 1,
        ColumnType::SmallInt => 2,
        ColumnType::Date => 3,
        ColumnType::Int | ColumnType::Float => 4,
        ColumnType::Time => 5,
        ColumnType::BigInt | ColumnType::Double | ColumnType::DateTime => 8,
        ColumnType::DateTimeTz => 10,
        ColumnType::Uuid => 16,
        ColumnType::Decimal { precision, .. } => match precision {
            0..=9 => 5,
            10..=19 => 9,
            20..=28 => 13,
            _ => 17,
        },
        ColumnType::String { length } if *length <= NVARCHAR_MAX_LENGTH => 2 * *length as usize,
        // (max) types cannot be key columns at all; SQL Server says so at CREATE.
        _ => usize::MAX,
    }
}

/// The primary key is the clustered index unless its key could exceed what a clustered
/// index holds (long composite string keys): then the table is a heap with a
/// nonclustered key, so every row PostgreSQL accepts fits.
fn primary_key_clustering(model: &Model, table: &Table) -> &'static str {
    let width = table.primary_key.columns.iter().map(|c| key_bytes(model, &table.column(*c).ty)).fold(0usize, usize::saturating_add);
    if width <= CLUSTERED_KEY_LIMIT {
        "CLUSTERED"
    } else {
        "NONCLUSTERED"
    }
}

fn column_list(names: &[&str]) -> String {
    names.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ")
}

#[derive(Serialize)]
struct DefaultView {
    name: String,
    expression: String,
}

#[derive(Serialize)]
struct ColumnView {
    name: String,
    sql_type: String,
    identity: bool,
    not_null: bool,
    default: Option<DefaultView>,
}

#[derive(Serialize)]
struct NamedColumns {
    name: String,
    columns: String,
}

#[derive(Serialize)]
struct PrimaryKeyView {
    name: String,
    clustering: &'static str,
    columns: String,
}

#[derive(Serialize)]
struct CheckView {
    name: String,
    expression: String,
}

/// One `MS_Description` extended property; every field is an `N'...'` literal.
#[derive(Serialize)]
struct CommentView {
    schema: String,
    table: String,
    column: Option<String>,
    text: String,
}

#[derive(Serialize)]
struct SeedRow {
    key: String,
    values: String,
}

/// `object` is a name as T-SQL writes it (`[dbo].[apps]`), `object_literal` the same
/// as a string for `OBJECT_ID` (`N'[dbo].[apps]'`).
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Statement {
    /// `CREATE SCHEMA` must be alone in its batch, so a guarded one runs through EXEC.
    CreateSchema {
        name: String,
        name_literal: String,
        create_literal: String,
    },
    CreateTable {
        table: String,
        table_literal: String,
        columns: Vec<ColumnView>,
        primary_key: PrimaryKeyView,
        uniques: Vec<NamedColumns>,
        checks: Vec<CheckView>,
    },
    /// Its indexes, triggers, constraints and extended properties go with it.
    DropTable {
        table: String,
    },
    CreateIndex {
        name: String,
        name_literal: String,
        table: String,
        table_literal: String,
        unique: bool,
        columns: String,
        predicate: Option<String>,
    },
    DropIndex {
        name: String,
        table: String,
        table_literal: String,
    },
    AddForeignKey {
        table: String,
        name: String,
        name_literal: String,
        columns: String,
        referenced_table: String,
        referenced_columns: String,
        on_delete: Option<&'static str>,
    },
    CreateTrigger {
        name: String,
        table: String,
        column: String,
        now: &'static str,
        /// `[t].[pk] = [i].[pk] AND ...`: the updated rows, by primary key.
        join: String,
    },
    DropTrigger {
        name: String,
    },
    SetComments {
        comments: Vec<CommentView>,
    },
    RemoveComments {
        comments: Vec<CommentView>,
    },
    SeedCodebook {
        table: String,
        columns: String,
        key_column: String,
        rows: Vec<SeedRow>,
    },
    DeleteCodebookRows {
        table: String,
        table_literal: String,
        key_column: String,
        keys: String,
    },
    RenameTable {
        from_literal: String,
        to_object_literal: String,
        to_literal: String,
    },
    AddColumn {
        table: String,
        table_literal: String,
        column_literal: String,
        column: ColumnView,
    },
    DropColumn {
        table: String,
        table_literal: String,
        column: String,
        column_literal: String,
        default_name: Option<String>,
    },
    RenameColumn {
        table_literal: String,
        from_literal: String,
        from_object_literal: String,
        to_literal: String,
    },
    /// Drop the named default, fill NULLs, change type/nullability, add the default back.
    AlterColumn {
        table: String,
        column: String,
        drop_default: Option<String>,
        backfill: Option<String>,
        definition: Option<String>,
        add_default: Option<DefaultView>,
    },
    AddConstraint {
        table: String,
        name: String,
        name_literal: String,
        definition: String,
    },
    DropConstraint {
        table: String,
        table_literal: String,
        name: String,
    },
    RenameObject {
        from_literal: String,
        to_literal: String,
    },
    RenameIndex {
        table_literal: String,
        from_literal: String,
        from_object_literal: String,
        to_literal: String,
    },
    UpdateCodebookRow {
        table: String,
        assignments: String,
        key_column: String,
        key: String,
    },
}

#[derive(Serialize)]
struct ScriptView<'a> {
    notice: &'a str,
    title: &'a str,
    statements: Vec<Statement>,
}

/// Render a plan's `up.sql` (from `before` to `after`) and `down.sql` (its down
/// operations, which refer into the models the other way round).
pub fn migration(before: &Model, after: &Model, plan: &Plan, title: &str) -> Result<(String, String), crate::Error> {
    let up = ScriptView { notice: super::GENERATED_NOTICE, title, statements: statements(&Mssql, before, after, &plan.up) };
    let down = ScriptView { notice: super::GENERATED_NOTICE, title, statements: statements(&Mssql, after, before, &plan.down) };
    Ok((super::render("mssql/migration.sql", &up)?, super::render("mssql/migration.sql", &down)?))
}

/// The whole schema as one CREATE-only script (no guards, drops or seed rows): what
/// the migrations build, in a form DacFx can load and validate as a database model.
pub fn declarative_schema(model: &Model) -> Result<String, crate::Error> {
    let title = format!(
        "The {} schema for SQL Server 2019+, declaratively: every object, created once. For review and validation; databases are built by the migrations.",
        model.project.name
    );
    let operations: Vec<Operation> = crate::plan::initial(model).up.into_iter().filter(|op| !matches!(op, Operation::SeedCodebook(_))).collect();
    let empty = Model::empty_like(model);
    super::render("mssql/schema.sql", &ScriptView { notice: super::GENERATED_NOTICE, title: &title, statements: statements(&Mssql, &empty, model, &operations) })
}

/// SQL Server's words for each operation.
struct Mssql;

impl SqlDialect for Mssql {
    type Statement = Statement;

    /// `dbo` exists in every database.
    fn create_schema(&self, model: &Model) -> Option<Statement> {
        let schema = &model.project.schema_mssql;
        (schema != "dbo").then(|| Statement::CreateSchema {
            name: quote(schema),
            name_literal: string_literal(schema),
            create_literal: string_literal(&format!("CREATE SCHEMA {}", quote(schema))),
        })
    }

    fn create_table(&self, t: &Current) -> Statement {
        let (model, table) = (t.model, t.table);
        let columns = table.columns.iter().map(|c| column_view(model, c)).collect();
        let named = |key: &Key| NamedColumns { name: quote(&key.name), columns: column_list(&t.columns(&key.columns)) };
        // Every check, the ISJSON ones for json and array columns included; partitioning
        // is PostgreSQL's only and is left out.
        let checks = table.checks.iter().map(|c| CheckView { name: quote(&c.name), expression: super::expr_mssql::check_sql_named(model, table, c, &|id| t.column(id).to_string()) }).collect();
        let table_name = qualified(model, t.name);
        Statement::CreateTable {
            table_literal: string_literal(&table_name),
            table: table_name,
            columns,
            primary_key: PrimaryKeyView {
                name: quote(&table.primary_key.name),
                clustering: primary_key_clustering(model, table),
                columns: column_list(&t.columns(&table.primary_key.columns)),
            },
            uniques: table.uniques.iter().map(named).collect(),
            checks,
        }
    }

    fn drop_table(&self, t: &Current) -> Statement {
        Statement::DropTable { table: qualified(t.model, t.name) }
    }

    fn rename_table(&self, t: &Current, renamed: &Current) -> Statement {
        Statement::RenameTable {
            from_literal: string_literal(&qualified(t.model, t.name)),
            to_object_literal: string_literal(&qualified(renamed.model, renamed.name)),
            to_literal: string_literal(renamed.name),
        }
    }

    fn add_column(&self, t: &Current, column: ColumnId) -> Statement {
        let column = t.table.column(column);
        let table = qualified(t.model, t.name);
        Statement::AddColumn { table_literal: string_literal(&table), table, column_literal: string_literal(&column.name), column: column_view(t.model, column) }
    }

    fn drop_column(&self, t: &Current, column: ColumnId) -> Statement {
        let name = t.column(column);
        let table = qualified(t.model, t.name);
        Statement::DropColumn {
            table_literal: string_literal(&table),
            table,
            column: quote(name),
            column_literal: string_literal(name),
            default_name: t.table.column(column).default_constraint.as_deref().map(|d| quote(t.constraint(d))),
        }
    }

    fn rename_column(&self, t: &Current, from: &str, to: &str) -> Statement {
        let table = qualified(t.model, t.name);
        Statement::RenameColumn {
            table_literal: string_literal(&table),
            from_literal: string_literal(from),
            from_object_literal: string_literal(&format!("{table}.{}", quote(from))),
            to_literal: string_literal(to),
        }
    }

    fn alter_column(&self, t: &Current, column: ColumnId, was: &Current, was_column: ColumnId) -> Statement {
        let (old, new) = (was.table.column(was_column), t.table.column(column));
        let name = t.column(column);
        let (old_type, new_type) = (type_name(was.model, &old.ty), type_name(t.model, &new.ty));
        let definition = (old_type != new_type || old.nullable != new.nullable).then(|| format!("{} {new_type} {}", quote(name), if new.nullable { "NULL" } else { "NOT NULL" }));
        // SQL Server refuses to alter a column its default depends on: drop it first
        // and add it back under its (possibly new) name.
        Statement::AlterColumn {
            table: qualified(t.model, t.name),
            column: quote(name),
            drop_default: old.default_constraint.as_deref().filter(|_| old.default.is_some()).map(|d| quote(was.constraint(d))),
            backfill: (old.nullable && !new.nullable).then(|| default_sql(t.model, new)).flatten(),
            definition,
            add_default: default_sql(t.model, new).map(|expression| DefaultView { name: quote(new.default_constraint.as_deref().unwrap_or_default()), expression }),
        }
    }

    fn add_primary_key(&self, t: &Current) -> Statement {
        let key = &t.table.primary_key;
        add_constraint(t, &key.name, format!("PRIMARY KEY {} ({})", primary_key_clustering(t.model, t.table), column_list(&t.columns(&key.columns))))
    }

    fn add_unique(&self, t: &Current, unique: usize) -> Statement {
        let unique = &t.table.uniques[unique];
        add_constraint(t, &unique.name, format!("UNIQUE NONCLUSTERED ({})", column_list(&t.columns(&unique.columns))))
    }

    fn add_check(&self, t: &Current, check: usize) -> Option<Statement> {
        let check = &t.table.checks[check];
        Some(add_constraint(t, &check.name, format!("CHECK ({})", super::expr_mssql::check_sql_named(t.model, t.table, check, &|id| t.column(id).to_string()))))
    }

    fn drop_check(&self, t: &Current, check: usize) -> Option<Statement> {
        Some(self.drop_constraint(t, t.constraint(&t.table.checks[check].name)))
    }

    fn create_index(&self, t: &Current, index: usize) -> Statement {
        let index = &t.table.indexes[index];
        let columns = index.columns.iter().map(|c| format!("{}{}", quote(t.column(c.column)), if c.descending { " DESC" } else { "" })).collect::<Vec<_>>().join(", ");
        let table = qualified(t.model, t.name);
        Statement::CreateIndex {
            name: quote(&index.name),
            name_literal: string_literal(&index.name),
            table_literal: string_literal(&table),
            table,
            unique: index.unique,
            columns,
            predicate: index.predicate.as_ref().map(|p| predicate_with(p, &|c| t.column(c))),
        }
    }

    fn drop_index(&self, t: &Current, index: usize) -> Statement {
        let table = qualified(t.model, t.name);
        Statement::DropIndex { name: quote(t.constraint(&t.table.indexes[index].name)), table_literal: string_literal(&table), table }
    }

    fn add_foreign_key(&self, t: &Current, foreign_key: usize, target: &Current) -> Statement {
        let fk = &t.table.foreign_keys[foreign_key];
        Statement::AddForeignKey {
            table: qualified(t.model, t.name),
            name: quote(&fk.name),
            // Constraints are schema objects in SQL Server, so OBJECT_ID finds them.
            name_literal: string_literal(&qualified(t.model, &fk.name)),
            columns: column_list(&t.columns(&fk.columns)),
            referenced_table: qualified(target.model, target.name),
            referenced_columns: column_list(&target.columns(&fk.referenced_columns)),
            on_delete: on_delete_sql(fk.on_delete),
        }
    }

    fn drop_constraint(&self, t: &Current, name: &str) -> Statement {
        let table = qualified(t.model, t.name);
        Statement::DropConstraint { table_literal: string_literal(&table), table, name: quote(name) }
    }

    fn rename_constraint(&self, t: &Current, kind: ConstraintKind, from: &str, to: &str) -> Option<Statement> {
        Some(match kind {
            ConstraintKind::Index => {
                let table = qualified(t.model, t.name);
                Statement::RenameIndex {
                    table_literal: string_literal(&table),
                    from_literal: string_literal(from),
                    from_object_literal: string_literal(&format!("{table}.{}", quote(from))),
                    to_literal: string_literal(to),
                }
            }
            _ => Statement::RenameObject { from_literal: string_literal(&qualified(t.model, from)), to_literal: string_literal(to) },
        })
    }

    fn create_trigger(&self, t: &Current, trigger: usize) -> Statement {
        let trigger = &t.table.triggers[trigger];
        let join = t
            .columns(&t.table.primary_key.columns)
            .iter()
            .map(|name| {
                let name = quote(name);
                format!("[t].{name} = [i].{name}")
            })
            .collect::<Vec<_>>()
            .join(" AND ");
        Statement::CreateTrigger {
            name: qualified(t.model, &trigger.name),
            table: qualified(t.model, t.name),
            column: quote(t.column(trigger.column)),
            now: now_for(t.table.column(trigger.column).ty.storage(t.model)),
            join,
        }
    }

    fn drop_trigger(&self, t: &Current, trigger: usize) -> Statement {
        Statement::DropTrigger { name: qualified(t.model, t.constraint(&t.table.triggers[trigger].name)) }
    }

    fn set_comments(&self, t: &Current) -> Statement {
        let mut comments = Vec::new();
        if let Some(text) = &t.table.comment {
            comments.push(comment_view(t, None, text));
        }
        for (index, column) in t.table.columns.iter().enumerate() {
            if let Some(text) = &column.comment {
                comments.push(comment_view(t, Some(ColumnId(index)), text));
            }
        }
        Statement::SetComments { comments }
    }

    fn set_table_comment(&self, t: &Current) -> Statement {
        set_or_remove_comment(t, None, t.table.comment.as_deref())
    }

    fn set_column_comment(&self, t: &Current, column: ColumnId) -> Statement {
        set_or_remove_comment(t, Some(column), t.table.column(column).comment.as_deref())
    }

    fn seed_codebook(&self, t: &Current) -> Statement {
        seed(t, None)
    }

    fn insert_codebook_row(&self, t: &Current, value: usize) -> Statement {
        seed(t, Some(value))
    }

    fn delete_codebook_row(&self, t: &Current, value: usize) -> Statement {
        let key_column = t.table.role(Role::EnumValue).map(|c| quote(t.column(c))).unwrap_or_default();
        let keys = t.table.codebook_of.map(|e| enum_literal(&t.model.enum_(e).values[value].value)).unwrap_or_default();
        let table = qualified(t.model, t.name);
        Statement::DeleteCodebookRows { table_literal: string_literal(&table), table, key_column, keys }
    }

    fn update_codebook_row(&self, t: &Current, value: usize, was: &Current, was_value: usize) -> Statement {
        let rows = super::codebook_rows(t.model, t.table);
        let row = &rows.rows[value];
        let was_deprecated = was.table.codebook_of.map(|e| was.model.enum_(e).values[was_value].deprecated).unwrap_or(row.deprecated);
        let column = |role: Role| t.table.role(role).map(|c| quote(t.column(c)));
        let mut assignments = vec![format!("{} = {}", column(Role::EnumDescription).unwrap_or_default(), string_literal(&row.description))];
        if let Some(hash) = column(Role::Hash) {
            assignments.push(format!("{hash} = {}", string_literal(&row.sha)));
        }
        if let (Some(archive), true) = (column(Role::Archive), was_deprecated != row.deprecated) {
            let now = t.table.role(Role::Archive).map(|c| now_for(t.table.column(c).ty.storage(t.model))).unwrap_or("SYSUTCDATETIME()");
            assignments.push(format!("{archive} = {}", if row.deprecated { now } else { "NULL" }));
        }
        Statement::UpdateCodebookRow { table: qualified(t.model, t.name), assignments: assignments.join(", "), key_column: column(Role::EnumValue).unwrap_or_default(), key: enum_literal(&row.value) }
    }
}

fn add_constraint(t: &Current, name: &str, definition: String) -> Statement {
    Statement::AddConstraint { table: qualified(t.model, t.name), name: quote(name), name_literal: string_literal(&qualified(t.model, name)), definition }
}

/// One `MS_Description` of the table (`column` `None`) or of a column.
fn comment_view(t: &Current, column: Option<ColumnId>, text: &str) -> CommentView {
    CommentView {
        schema: string_literal(&t.model.project.schema_mssql),
        table: string_literal(t.name),
        column: column.map(|c| string_literal(t.column(c))),
        text: string_literal(text),
    }
}

/// Set (or, with no text, remove) one `MS_Description`.
fn set_or_remove_comment(t: &Current, column: Option<ColumnId>, text: Option<&str>) -> Statement {
    let view = comment_view(t, column, text.unwrap_or_default());
    match text {
        Some(_) => Statement::SetComments { comments: vec![view] },
        None => Statement::RemoveComments { comments: vec![CommentView { text: String::new(), ..view }] },
    }
}

fn column_view(model: &Model, c: &Column) -> ColumnView {
    ColumnView {
        name: quote(&c.name),
        sql_type: type_name(model, &c.ty),
        identity: c.identity,
        not_null: !c.nullable,
        default: default_sql(model, c).map(|expression| DefaultView { name: quote(c.default_constraint.as_deref().unwrap_or_default()), expression }),
    }
}

/// One guarded INSERT per value (a MERGE over VALUES would type an all-NULL column as
/// int, which does not convert to datetime2); `only` one value, or all.
fn seed(t: &Current, only: Option<usize>) -> Statement {
    let rows = super::codebook_rows(t.model, t.table);
    let current = |name: &str| quote(t.table.column_by_name(name).map(|c| t.column(c)).unwrap_or(name));
    let columns = rows.columns.iter().map(|c| current(c)).collect::<Vec<_>>().join(", ");
    let archive_now = t.table.role(Role::Archive).map(|c| now_for(t.table.column(c).ty.storage(t.model))).unwrap_or("SYSUTCDATETIME()");
    let key_column = rows.columns.first().map(|c| current(c)).unwrap_or_default();
    let seed_rows = rows
        .rows
        .iter()
        .enumerate()
        .filter(|(index, _)| only.is_none_or(|v| v == *index))
        .map(|(_, row)| {
            let key = enum_literal(&row.value);
            let mut values = vec![key.clone(), string_literal(&row.description)];
            if rows.has_hash {
                values.push(string_literal(&row.sha));
            }
            if rows.has_archive {
                values.push(if row.deprecated { archive_now.to_string() } else { "NULL".to_string() });
            }
            SeedRow { key, values: values.join(", ") }
        })
        .collect();
    Statement::SeedCodebook { table: qualified(t.model, t.name), columns, key_column, rows: seed_rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framework_model() -> Model {
        let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec");
        crate::check(&spec).model.expect("the framework spec is valid")
    }

    #[test]
    fn identifiers_and_literals_are_escaped() {
        assert_eq!(quote("order"), "[order]");
        assert_eq!(quote("a]b"), "[a]]b]");
        assert_eq!(string_literal("it's"), "N'it''s'");
    }

    #[test]
    fn every_trigger_is_alone_in_its_batch() {
        let model = framework_model();
        let (up, _) = migration(&crate::model::Model::empty_like(&model), &model, &crate::plan::initial(&model), "test").unwrap();
        let schema = declarative_schema(&model).unwrap();
        for script in [&up, &schema] {
            let lines: Vec<&str> = script.lines().collect();
            let mut triggers = 0;
            for (at, line) in lines.iter().enumerate() {
                if line.contains(" TRIGGER ") && line.starts_with("CREATE") {
                    triggers += 1;
                    assert_eq!(lines[..at].iter().rev().find(|l| !l.is_empty()), Some(&"GO"), "no GO before line {}", at + 1);
                    let end = lines[at..].iter().position(|l| *l == "END;").expect("trigger body ends") + at;
                    assert_eq!(lines[end + 1], "GO", "no GO after the trigger at line {}", at + 1);
                }
            }
            assert!(triggers > 0);
        }
    }

    #[test]
    fn wide_primary_keys_are_nonclustered() {
        let model = framework_model();
        let apps = model.table(model.table_by_name("apps").unwrap());
        assert_eq!(primary_key_clustering(&model, apps), "NONCLUSTERED");
        let groups = model.table(model.table_by_name("app_groups").unwrap());
        assert_eq!(primary_key_clustering(&model, groups), "CLUSTERED");
    }
}

