//! PostgreSQL: quoting, type names, defaults, triggers and comments, and the view of a
//! plan that `templates/postgres/*.sql.tera` lay out. The only module that writes
//! PostgreSQL SQL.

use serde::Serialize;

use crate::model::*;
use crate::plan::{Operation, Plan};

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

pub fn predicate_sql(table: &Table, predicate: &Predicate) -> String {
    match predicate {
        Predicate::Equals(pairs) => pairs
            .iter()
            .map(|(column, value)| match value {
                Literal::Null => format!("{} IS NULL", quote(&table.column(*column).name)),
                other => format!("{} = {}", quote(&table.column(*column).name), literal(other)),
            })
            .collect::<Vec<_>>()
            .join(" AND "),
        Predicate::Raw(sql) => sql.postgres.clone(),
    }
}

fn column_list(table: &Table, columns: &[ColumnId]) -> String {
    columns.iter().map(|c| quote(&table.column(*c).name)).collect::<Vec<_>>().join(", ")
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
    CreateTable {
        table: String,
        columns: Vec<ColumnView>,
        primary_key: NamedColumns,
        uniques: Vec<NamedColumns>,
        checks: Vec<CheckView>,
        partition: Option<String>,
        default_partition: Option<String>,
    },
    DropTable { table: String },
    CreateIndex { name: String, table: String, unique: bool, columns: String, predicate: Option<String> },
    DropIndex { name: String },
    AddForeignKey { table: String, name: String, columns: String, referenced_table: String, referenced_columns: String, on_delete: Option<String> },
    DropForeignKey { table: String, name: String },
    CreateTrigger { table: String, name: String, function: String, column: String, now: String },
    DropTrigger { table: String, name: String, function: String },
    Comments { comments: Vec<CommentView> },
    SeedCodebook { table: String, columns: String, rows: Vec<String> },
    UnseedCodebook { table: String, key_column: String, keys: String },
}

#[derive(Serialize)]
struct MigrationView<'a> {
    notice: &'a str,
    title: &'a str,
    statements: Vec<Statement>,
}

/// Render a plan's `up.sql` and `down.sql`.
pub fn migration(model: &Model, plan: &Plan, title: &str) -> Result<(String, String), crate::Error> {
    let up = MigrationView { notice: super::GENERATED_NOTICE, title, statements: plan.up.iter().map(|op| statement(model, op)).collect() };
    let down = MigrationView { notice: super::GENERATED_NOTICE, title, statements: plan.down.iter().map(|op| statement(model, op)).collect() };
    Ok((super::render("postgres/migration.sql", &up)?, super::render("postgres/migration.sql", &down)?))
}

fn statement(model: &Model, operation: &Operation) -> Statement {
    match *operation {
        Operation::CreateTable(t) => create_table(model, model.table(t)),
        Operation::DropTable(t) => Statement::DropTable { table: qualified(model, &model.table(t).name) },
        Operation::CreateIndex(t, i) => {
            let table = model.table(t);
            let index = &table.indexes[i];
            let columns = index
                .columns
                .iter()
                .map(|c| format!("{}{}", quote(&table.column(c.column).name), if c.descending { " DESC" } else { "" }))
                .collect::<Vec<_>>()
                .join(", ");
            Statement::CreateIndex {
                name: quote(&index.name),
                table: qualified(model, &table.name),
                unique: index.unique,
                columns,
                predicate: index.predicate.as_ref().map(|p| predicate_sql(table, p)),
            }
        }
        Operation::DropIndex(t, i) => Statement::DropIndex { name: qualified(model, &model.table(t).indexes[i].name) },
        Operation::AddForeignKey(t, i) => {
            let table = model.table(t);
            let fk = &table.foreign_keys[i];
            let target = model.table(fk.referenced_table);
            Statement::AddForeignKey {
                table: qualified(model, &table.name),
                name: quote(&fk.name),
                columns: column_list(table, &fk.columns),
                referenced_table: qualified(model, &target.name),
                referenced_columns: column_list(target, &fk.referenced_columns),
                on_delete: (fk.on_delete != OnDelete::NoAction).then(|| fk.on_delete.sql().to_string()),
            }
        }
        Operation::DropForeignKey(t, i) => {
            let table = model.table(t);
            Statement::DropForeignKey { table: qualified(model, &table.name), name: quote(&table.foreign_keys[i].name) }
        }
        Operation::CreateTrigger(t, i) => {
            let table = model.table(t);
            let trigger = &table.triggers[i];
            let column = table.column(trigger.column);
            Statement::CreateTrigger {
                table: qualified(model, &table.name),
                name: quote(&trigger.name),
                function: qualified(model, &trigger.name),
                column: quote(&column.name),
                now: now_for(&column.ty).to_string(),
            }
        }
        Operation::DropTrigger(t, i) => {
            let table = model.table(t);
            let trigger = &table.triggers[i];
            Statement::DropTrigger { table: qualified(model, &table.name), name: quote(&trigger.name), function: qualified(model, &trigger.name) }
        }
        Operation::SetComments(t) => Statement::Comments { comments: comments(model, model.table(t), true) },
        Operation::RemoveComments(t) => Statement::Comments { comments: comments(model, model.table(t), false) },
        Operation::SeedCodebook(t) => seed(model, model.table(t)),
        Operation::UnseedCodebook(t) => {
            let table = model.table(t);
            let (key_column, keys) = codebook_keys(model, table);
            Statement::UnseedCodebook { table: qualified(model, &table.name), key_column, keys }
        }
    }
}

fn create_table(model: &Model, table: &Table) -> Statement {
    let columns = table
        .columns
        .iter()
        .map(|c| ColumnView {
            name: quote(&c.name),
            sql_type: type_name(model, &c.ty),
            identity: c.identity,
            not_null: !c.nullable,
            default: default_sql(model, c),
        })
        .collect();
    let named = |key: &Key| NamedColumns { name: quote(&key.name), columns: column_list(table, &key.columns) };
    let checks = table
        .checks
        .iter()
        .filter(|c| c.origin != CheckOrigin::MssqlJson)
        .map(|c| CheckView { name: quote(&c.name), expression: c.expression.postgres.clone() })
        .collect();
    let partition = table.partition.as_ref().map(|p| format!("{} ({})", p.by.sql(), quote(&table.column(p.column).name)));
    // Rows outside every explicit partition land here instead of failing the insert;
    // partitions per interval are created by operations, not by the schema.
    // PostgreSQL allows no default partition for HASH partitioning.
    let default_partition = table
        .partition
        .as_ref()
        .filter(|p| p.by != PartitionBy::Hash)
        .map(|_| qualified(model, &format!("{}_default", table.name)));
    Statement::CreateTable {
        table: qualified(model, &table.name),
        columns,
        primary_key: named(&table.primary_key),
        uniques: table.uniques.iter().map(named).collect(),
        checks,
        partition,
        default_partition,
    }
}

fn comments(model: &Model, table: &Table, set: bool) -> Vec<CommentView> {
    let text = |comment: &Option<String>| if set { comment.as_ref().map(|c| string_literal(c)) } else { None };
    let mut out = Vec::new();
    if table.comment.is_some() {
        out.push(CommentView { target: format!("TABLE {}", qualified(model, &table.name)), text: text(&table.comment) });
    }
    for column in table.columns.iter().filter(|c| c.comment.is_some()) {
        out.push(CommentView { target: format!("COLUMN {}.{}", qualified(model, &table.name), quote(&column.name)), text: text(&column.comment) });
    }
    out
}

/// The codebook's key column and its values as an SQL list.
fn codebook_keys(model: &Model, table: &Table) -> (String, String) {
    let value_column = table.role(Role::EnumValue).map(|c| quote(&table.column(c).name)).unwrap_or_default();
    let enum_ = table.codebook_of.map(|e| model.enum_(e));
    let keys = enum_.map(|e| e.values.iter().map(|v| enum_literal(&v.value)).collect::<Vec<_>>().join(", ")).unwrap_or_default();
    (value_column, keys)
}

fn seed(model: &Model, table: &Table) -> Statement {
    let rows = super::codebook_rows(model, table);
    let columns = rows.columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
    let rows = rows
        .rows
        .iter()
        .map(|row| {
            let mut values = vec![enum_literal(&row.value), string_literal(&row.description)];
            if rows.has_hash {
                values.push(string_literal(&row.sha));
            }
            if rows.has_archive {
                values.push(if row.deprecated { "timezone('utc', now())".to_string() } else { "NULL".to_string() });
            }
            format!("({})", values.join(", "))
        })
        .collect();
    Statement::SeedCodebook { table: qualified(model, &table.name), columns, rows }
}
