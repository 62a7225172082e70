//! PostgreSQL: quoting, type names, defaults, triggers and comments, and the view of a
//! plan that `templates/postgres/*.sql.tera` lay out. The only module that writes
//! PostgreSQL SQL.

use serde::Serialize;

use crate::model::*;
use super::migration::{statements, SqlDialect};
use crate::plan::{ConstraintKind, Current, Plan};

/// `"name"`, with embedded quotes doubled.
pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// `'text'`, with embedded quotes doubled (standard_conforming_strings is on since 9.1,
/// so backslashes are plain characters).
pub fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

pub fn qualified(model: &Model, table: &str) -> String {
    format!("{}.{}", quote(&model.project.schema_postgres), quote(table))
}

/// The PostgreSQL type of a spec type (enums as their storage type).
pub fn type_name(model: &Model, ty: &ColumnType) -> String {
    match ty.storage(model) {
        ColumnType::SmallInt => "smallint".into(),
        ColumnType::Int => "integer".into(),
        ColumnType::BigInt => "bigint".into(),
        ColumnType::Bool => "boolean".into(),
        ColumnType::Float => "real".into(),
        ColumnType::Double => "double precision".into(),
        ColumnType::Decimal { precision, scale } => format!("numeric({precision},{scale})"),
        ColumnType::String { length } => format!("varchar({length})"),
        ColumnType::Text => "text".into(),
        ColumnType::DateTime => "timestamp".into(),
        ColumnType::DateTimeTz => "timestamptz".into(),
        ColumnType::Date => "date".into(),
        ColumnType::Time => "time".into(),
        ColumnType::Uuid => "uuid".into(),
        ColumnType::Json => "jsonb".into(),
        ColumnType::Bytes => "bytea".into(),
        ColumnType::Array(inner) => format!("{}[]", type_name(model, inner)),
        ColumnType::Enum(_) => unreachable!("storage() resolves enums"),
    }
}

fn now_for(ty: &ColumnType) -> &'static str {
    match ty {
        ColumnType::DateTimeTz => "now()",
        _ => "timezone('utc', now())",
    }
}

pub fn default_sql(model: &Model, column: &Column) -> Option<String> {
    let default = column.default.as_ref()?;
    Some(match default {
        DefaultValue::Int(i) => i.to_string(),
        DefaultValue::Float(f) => format!("{f:?}"),
        DefaultValue::Bool(b) => b.to_string(),
        DefaultValue::Str(s) => string_literal(s),
        DefaultValue::Now => now_for(&column.ty).to_string(),
        DefaultValue::EnumValue(id, index) => enum_literal(&model.enum_(*id).values[*index].value),
        DefaultValue::Raw(sql) => sql.postgres.clone(),
    })
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
        Literal::Bool(b) => b.to_string(),
        Literal::Int(i) => i.to_string(),
        Literal::Float(f) => format!("{f:?}"),
        Literal::Str(s) => string_literal(s),
    }
}

/// A partial index's WHERE clause, with the model's column names.
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
        Predicate::Raw(sql) => sql.postgres.clone(),
    }
}

fn column_list(names: &[&str]) -> String {
    names.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ")
}

#[derive(Serialize)]
struct ColumnView {
    name: String,
    sql_type: String,
    identity: bool,
    not_null: bool,
    default: Option<String>,
}

#[derive(Serialize)]
struct NamedColumns {
    name: String,
    columns: String,
}

#[derive(Serialize)]
struct CheckView {
    name: String,
    expression: String,
}

#[derive(Serialize)]
struct CommentView {
    target: String,
    text: Option<String>,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Statement {
    CreateSchema { name: String },
    CreateTable {
        table: String,
        columns: Vec<ColumnView>,
        primary_key: NamedColumns,
        uniques: Vec<NamedColumns>,
        checks: Vec<CheckView>,
        partition: Option<String>,
        default_partition: Option<String>,
    },
    /// The table, then its trigger functions (which are not part of it).
    DropTable { table: String, functions: Vec<String> },
    CreateIndex { name: String, table: String, unique: bool, columns: String, predicate: Option<String> },
    DropIndex { name: String },
    AddForeignKey { table: String, name: String, columns: String, referenced_table: String, referenced_columns: String, on_delete: Option<String> },
    CreateTrigger { table: String, name: String, function: String, column: String, now: String },
    DropTrigger { table: String, name: String, function: String },
    Comments { comments: Vec<CommentView> },
    SeedCodebook { table: String, columns: String, rows: Vec<String> },
    DeleteCodebookRows { table: String, key_column: String, keys: String },
    RenameTable { from: String, to: String, partition: Option<(String, String)> },
    AddColumn { table: String, column: ColumnView },
    DropColumn { table: String, column: String },
    RenameColumn { table: String, from: String, to: String },
    /// `steps` (ALTER COLUMN clauses), then, when NULLs must take the new default before
    /// NOT NULL, an UPDATE setting them to `backfill`, then `final_steps`.
    AlterColumn { table: String, column: String, steps: Vec<String>, backfill: Option<String>, final_steps: Vec<String> },
    AddConstraint { table: String, name: String, definition: String },
    DropConstraint { table: String, name: String },
    RenameConstraint { table: String, from: String, to: String },
    RenameIndex { from: String, to: String },
    UpdateCodebookRow { table: String, assignments: String, key_column: String, key: String },
}

#[derive(Serialize)]
struct MigrationView<'a> {
    notice: &'a str,
    title: &'a str,
    statements: Vec<Statement>,
}

/// Render a plan's `up.sql` (from `before` to `after`) and `down.sql` (its down
/// operations, which refer into the models the other way round).
pub fn migration(before: &Model, after: &Model, plan: &Plan, title: &str) -> Result<(String, String), crate::Error> {
    let up = MigrationView { notice: super::GENERATED_NOTICE, title, statements: statements(&Postgres, before, after, &plan.up) };
    let down = MigrationView { notice: super::GENERATED_NOTICE, title, statements: statements(&Postgres, after, before, &plan.down) };
    Ok((super::render("postgres/migration.sql", &up)?, super::render("postgres/migration.sql", &down)?))
}

/// PostgreSQL's words for each operation.
struct Postgres;

/// Schemas every database has (`pg_temp` is where `dcgen verify` builds its copy).
const SCHEMAS_THAT_EXIST: [&str; 2] = ["public", "pg_temp"];

impl SqlDialect for Postgres {
    type Statement = Statement;

    fn create_schema(&self, model: &Model) -> Option<Statement> {
        let schema = &model.project.schema_postgres;
        (!SCHEMAS_THAT_EXIST.contains(&schema.as_str())).then(|| Statement::CreateSchema { name: quote(schema) })
    }

    fn create_table(&self, t: &Current) -> Statement {
        let (model, table) = (t.model, t.table);
        let columns = table.columns.iter().map(|c| column_view(model, c)).collect();
        let named = |key: &Key| NamedColumns { name: quote(&key.name), columns: column_list(&t.columns(&key.columns)) };
        let checks = table
            .checks
            .iter()
            .filter_map(|c| super::expr_postgres::check_sql_named(model, table, c, &|id| t.column(id).to_string()).map(|expression| CheckView { name: quote(&c.name), expression }))
            .collect();
        let partition = table.partition.as_ref().map(|p| format!("{} ({})", p.by.sql(), quote(t.column(p.column))));
        // Rows outside every explicit partition land here instead of failing the insert;
        // partitions per interval are created by operations, not by the schema.
        // PostgreSQL allows no default partition for HASH partitioning.
        let default_partition = table.partition.as_ref().filter(|p| p.by != PartitionBy::Hash).map(|_| qualified(model, &format!("{}_default", t.name)));
        Statement::CreateTable {
            table: qualified(model, t.name),
            columns,
            primary_key: named(&table.primary_key),
            uniques: table.uniques.iter().map(named).collect(),
            checks,
            partition,
            default_partition,
        }
    }

    fn drop_table(&self, t: &Current) -> Statement {
        // Indexes, triggers, comments and partitions go with the table; a trigger's
        // function does not.
        let functions = t.table.triggers.iter().map(|trigger| qualified(t.model, t.constraint(&trigger.name))).collect();
        Statement::DropTable { table: qualified(t.model, t.name), functions }
    }

    fn rename_table(&self, t: &Current, renamed: &Current) -> Statement {
        let partition = renamed
            .table
            .partition
            .as_ref()
            .filter(|p| p.by != PartitionBy::Hash)
            .map(|_| (qualified(t.model, &format!("{}_default", t.name)), quote(&format!("{}_default", renamed.name))));
        Statement::RenameTable { from: qualified(t.model, t.name), to: quote(renamed.name), partition }
    }

    fn add_column(&self, t: &Current, column: ColumnId) -> Statement {
        Statement::AddColumn { table: qualified(t.model, t.name), column: column_view(t.model, t.table.column(column)) }
    }

    fn drop_column(&self, t: &Current, column: ColumnId) -> Statement {
        Statement::DropColumn { table: qualified(t.model, t.name), column: quote(t.column(column)) }
    }

    fn rename_column(&self, t: &Current, from: &str, to: &str) -> Statement {
        Statement::RenameColumn { table: qualified(t.model, t.name), from: quote(from), to: quote(to) }
    }

    fn alter_column(&self, t: &Current, column: ColumnId, was: &Current, was_column: ColumnId) -> Statement {
        let name = t.column(column);
        let (steps, backfill, final_steps) = alter_steps(was.model, t.model, was.table.column(was_column), t.table.column(column), name);
        Statement::AlterColumn { table: qualified(t.model, t.name), column: quote(name), steps, backfill, final_steps }
    }

    fn add_primary_key(&self, t: &Current) -> Statement {
        let key = &t.table.primary_key;
        Statement::AddConstraint { table: qualified(t.model, t.name), name: quote(&key.name), definition: format!("PRIMARY KEY ({})", column_list(&t.columns(&key.columns))) }
    }

    fn add_unique(&self, t: &Current, unique: usize) -> Statement {
        let unique = &t.table.uniques[unique];
        Statement::AddConstraint { table: qualified(t.model, t.name), name: quote(&unique.name), definition: format!("UNIQUE ({})", column_list(&t.columns(&unique.columns))) }
    }

    fn add_check(&self, t: &Current, check: usize) -> Option<Statement> {
        let check = &t.table.checks[check];
        let expression = super::expr_postgres::check_sql_named(t.model, t.table, check, &|id| t.column(id).to_string())?;
        Some(Statement::AddConstraint { table: qualified(t.model, t.name), name: quote(&check.name), definition: format!("CHECK ({expression})") })
    }

    fn drop_check(&self, t: &Current, check: usize) -> Option<Statement> {
        let check = &t.table.checks[check];
        check.kind.exists_on(Dialect::Postgres).then(|| self.drop_constraint(t, t.constraint(&check.name)))
    }

    fn create_index(&self, t: &Current, index: usize) -> Statement {
        let index = &t.table.indexes[index];
        let columns = index.columns.iter().map(|c| format!("{}{}", quote(t.column(c.column)), if c.descending { " DESC" } else { "" })).collect::<Vec<_>>().join(", ");
        Statement::CreateIndex {
            name: quote(&index.name),
            table: qualified(t.model, t.name),
            unique: index.unique,
            columns,
            predicate: index.predicate.as_ref().map(|p| predicate_with(p, &|c| t.column(c))),
        }
    }

    fn drop_index(&self, t: &Current, index: usize) -> Statement {
        Statement::DropIndex { name: qualified(t.model, t.constraint(&t.table.indexes[index].name)) }
    }

    fn add_foreign_key(&self, t: &Current, foreign_key: usize, target: &Current) -> Statement {
        let fk = &t.table.foreign_keys[foreign_key];
        Statement::AddForeignKey {
            table: qualified(t.model, t.name),
            name: quote(&fk.name),
            columns: column_list(&t.columns(&fk.columns)),
            referenced_table: qualified(target.model, target.name),
            referenced_columns: column_list(&target.columns(&fk.referenced_columns)),
            on_delete: (fk.on_delete != OnDelete::NoAction).then(|| fk.on_delete.sql().to_string()),
        }
    }

    fn drop_constraint(&self, t: &Current, name: &str) -> Statement {
        Statement::DropConstraint { table: qualified(t.model, t.name), name: quote(name) }
    }

    fn rename_constraint(&self, t: &Current, kind: ConstraintKind, from: &str, to: &str) -> Option<Statement> {
        match kind {
            ConstraintKind::Default => None,
            ConstraintKind::Index => Some(Statement::RenameIndex { from: qualified(t.model, from), to: quote(to) }),
            _ => Some(Statement::RenameConstraint { table: qualified(t.model, t.name), from: quote(from), to: quote(to) }),
        }
    }

    fn create_trigger(&self, t: &Current, trigger: usize) -> Statement {
        let trigger = &t.table.triggers[trigger];
        let column = t.table.column(trigger.column);
        Statement::CreateTrigger {
            table: qualified(t.model, t.name),
            name: quote(&trigger.name),
            function: qualified(t.model, &trigger.name),
            column: quote(t.column(trigger.column)),
            now: now_for(&column.ty).to_string(),
        }
    }

    fn drop_trigger(&self, t: &Current, trigger: usize) -> Statement {
        let name = t.constraint(&t.table.triggers[trigger].name);
        Statement::DropTrigger { table: qualified(t.model, t.name), name: quote(name), function: qualified(t.model, name) }
    }

    fn set_comments(&self, t: &Current) -> Statement {
        let mut comments = Vec::new();
        if let Some(text) = &t.table.comment {
            comments.push(CommentView { target: format!("TABLE {}", qualified(t.model, t.name)), text: Some(string_literal(text)) });
        }
        for (index, column) in t.table.columns.iter().enumerate() {
            if let Some(text) = &column.comment {
                comments.push(CommentView { target: format!("COLUMN {}.{}", qualified(t.model, t.name), quote(t.column(ColumnId(index)))), text: Some(string_literal(text)) });
            }
        }
        Statement::Comments { comments }
    }

    fn set_table_comment(&self, t: &Current) -> Statement {
        let comment = CommentView { target: format!("TABLE {}", qualified(t.model, t.name)), text: t.table.comment.as_deref().map(string_literal) };
        Statement::Comments { comments: vec![comment] }
    }

    fn set_column_comment(&self, t: &Current, column: ColumnId) -> Statement {
        let comment = CommentView {
            target: format!("COLUMN {}.{}", qualified(t.model, t.name), quote(t.column(column))),
            text: t.table.column(column).comment.as_deref().map(string_literal),
        };
        Statement::Comments { comments: vec![comment] }
    }

    fn seed_codebook(&self, t: &Current) -> Statement {
        let rows = super::codebook_rows(t.model, t.table);
        let values = rows.rows.iter().map(|row| seed_values(&rows, row)).collect();
        Statement::SeedCodebook { table: qualified(t.model, t.name), columns: codebook_columns(t, &rows), rows: values }
    }

    fn insert_codebook_row(&self, t: &Current, value: usize) -> Statement {
        let rows = super::codebook_rows(t.model, t.table);
        Statement::SeedCodebook { table: qualified(t.model, t.name), columns: codebook_columns(t, &rows), rows: vec![seed_values(&rows, &rows.rows[value])] }
    }

    fn delete_codebook_row(&self, t: &Current, value: usize) -> Statement {
        let key_column = t.table.role(Role::EnumValue).map(|c| quote(t.column(c))).unwrap_or_default();
        let keys = t.table.codebook_of.map(|e| enum_literal(&t.model.enum_(e).values[value].value)).unwrap_or_default();
        Statement::DeleteCodebookRows { table: qualified(t.model, t.name), key_column, keys }
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
            assignments.push(format!("{archive} = {}", if row.deprecated { "timezone('utc', now())" } else { "NULL" }));
        }
        Statement::UpdateCodebookRow { table: qualified(t.model, t.name), assignments: assignments.join(", "), key_column: column(Role::EnumValue).unwrap_or_default(), key: enum_literal(&row.value) }
    }
}

/// `ALTER COLUMN` clauses, in an order PostgreSQL accepts: the default goes before a
/// type change (an old default may not cast), NULLs are filled before NOT NULL.
fn alter_steps(before: &Model, after: &Model, old: &Column, new: &Column, name: &str) -> (Vec<String>, Option<String>, Vec<String>) {
    let column = quote(name);
    let mut steps = Vec::new();
    let mut backfill = None;
    let mut final_steps = Vec::new();
    let (old_type, new_type) = (type_name(before, &old.ty), type_name(after, &new.ty));
    let (old_default, new_default) = (default_sql(before, old), default_sql(after, new));
    if old_default.is_some() && (old_default != new_default || old_type != new_type) {
        steps.push(format!("ALTER COLUMN {column} DROP DEFAULT"));
    }
    if old.identity && !new.identity {
        steps.push(format!("ALTER COLUMN {column} DROP IDENTITY IF EXISTS"));
    }
    if old_type != new_type {
        steps.push(format!("ALTER COLUMN {column} TYPE {new_type} USING {column}::{new_type}"));
    }
    if new_default.is_some() && (old_default != new_default || old_type != new_type) {
        steps.push(format!("ALTER COLUMN {column} SET DEFAULT {}", new_default.clone().unwrap_or_default()));
    }
    if old.nullable && !new.nullable {
        // Rows that are NULL now take the default before NOT NULL is checked.
        backfill = new_default.clone();
        final_steps.push(format!("ALTER COLUMN {column} SET NOT NULL"));
    } else if !old.nullable && new.nullable {
        steps.push(format!("ALTER COLUMN {column} DROP NOT NULL"));
    }
    if !old.identity && new.identity {
        final_steps.push(format!("ALTER COLUMN {column} ADD GENERATED BY DEFAULT AS IDENTITY"));
    }
    (steps, backfill, final_steps)
}

fn column_view(model: &Model, c: &Column) -> ColumnView {
    ColumnView { name: quote(&c.name), sql_type: type_name(model, &c.ty), identity: c.identity, not_null: !c.nullable, default: default_sql(model, c) }
}

/// A codebook's insert columns, quoted, under their current names.
fn codebook_columns(t: &Current, rows: &super::CodebookRows) -> String {
    rows.columns.iter().map(|name| quote(t.table.column_by_name(name).map(|c| t.column(c)).unwrap_or(name))).collect::<Vec<_>>().join(", ")
}

/// One codebook row as an SQL tuple, in the order of `rows.columns`.
fn seed_values(rows: &super::CodebookRows, row: &super::CodebookRow) -> String {
    let mut values = vec![enum_literal(&row.value), string_literal(&row.description)];
    if rows.has_hash {
        values.push(string_literal(&row.sha));
    }
    if rows.has_archive {
        values.push(if row.deprecated { "timezone('utc', now())".to_string() } else { "NULL".to_string() });
    }
    format!("({})", values.join(", "))
}
