//! PostgreSQL: quoting, type names, defaults, triggers and comments, and the view of a
//! plan that `templates/postgres/*.sql.tera` lay out. The only module that writes
//! PostgreSQL SQL.

use serde::Serialize;

use crate::model::*;
use crate::plan::{ConstraintKind, Direction, Operation, Plan};

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

/// Render a plan's `up.sql` (from `before` to `after`) and `down.sql` (the inverse
/// plan, rendered with the models swapped).
pub fn migration(before: &Model, after: &Model, plan: &Plan, title: &str) -> Result<(String, String), crate::Error> {
    let up = MigrationView { notice: super::GENERATED_NOTICE, title, statements: plan.up.iter().filter_map(|op| statement(before, after, op, Direction::Up)).collect() };
    let down = MigrationView { notice: super::GENERATED_NOTICE, title, statements: plan.down.iter().filter_map(|op| statement(after, before, op, Direction::Down)).collect() };
    Ok((super::render("postgres/migration.sql", &up)?, super::render("postgres/migration.sql", &down)?))
}

/// The statement for one operation; `before`/`after` are the models the operation's
/// indices point into. `None` for operations PostgreSQL has nothing to do for.
fn statement(before: &Model, after: &Model, operation: &Operation, direction: Direction) -> Option<Statement> {
    if let Some(statement) = change_statement(before, after, operation, direction) {
        return statement;
    }
    let model = if operation.reads_before() { before } else { after };
    Some(match *operation {
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
        _ => unreachable!("change_statement handles every other operation"),
    })
}

/// Statements for the operations of incremental migrations. `Some(None)`: nothing to do
/// on PostgreSQL; `None`: not one of these operations.
fn change_statement(before: &Model, after: &Model, operation: &Operation, direction: Direction) -> Option<Option<Statement>> {
    let table_of = |model: &Model, t: TableId| qualified(model, &model.table(t).name);
    // A kept table under the name it has when the operation runs.
    let current = |tb: TableId, ta: TableId| qualified(after, &direction.current_table(before, after, tb, ta).name);
    Some(Some(match operation {
        Operation::RenameTable { before: b, after: a } => {
            let (old, new) = (&before.table(*b).name, &after.table(*a).name);
            let partition = after.table(*a).partition.as_ref().filter(|p| p.by != PartitionBy::Hash).map(|_| (qualified(before, &format!("{old}_default")), quote(&format!("{new}_default"))));
            Statement::RenameTable { from: qualified(before, old), to: quote(new), partition }
        }
        Operation::AddColumn((t, c)) => {
            let column = after.table(*t).column(*c);
            Statement::AddColumn { table: table_of(after, *t), column: column_view(after, column) }
        }
        Operation::DropColumn((t, c)) => Statement::DropColumn { table: table_of(before, *t), column: quote(&before.table(*t).column(*c).name) },
        Operation::RenameColumn { before: (tb, cb), after: (ta, ca) } => Statement::RenameColumn {
            table: current(*tb, *ta),
            from: quote(&before.table(*tb).column(*cb).name),
            to: quote(&after.table(*ta).column(*ca).name),
        },
        Operation::AlterColumn { before: (tb, cb), after: (ta, ca) } => {
            let (old, new) = (before.table(*tb).column(*cb), after.table(*ta).column(*ca));
            let (steps, backfill, final_steps) = alter_steps(before, after, old, new);
            Statement::AlterColumn { table: current(*tb, *ta), column: quote(&new.name), steps, backfill, final_steps }
        }
        Operation::AddPrimaryKey(t) => {
            let table = after.table(*t);
            Statement::AddConstraint { table: table_of(after, *t), name: quote(&table.primary_key.name), definition: format!("PRIMARY KEY ({})", column_list(table, &table.primary_key.columns)) }
        }
        Operation::DropPrimaryKey(t) => Statement::DropConstraint { table: table_of(before, *t), name: quote(&before.table(*t).primary_key.name) },
        Operation::AddUnique(t, i) => {
            let table = after.table(*t);
            let unique = &table.uniques[*i];
            Statement::AddConstraint { table: table_of(after, *t), name: quote(&unique.name), definition: format!("UNIQUE ({})", column_list(table, &unique.columns)) }
        }
        Operation::DropUnique(t, i) => Statement::DropConstraint { table: table_of(before, *t), name: quote(&before.table(*t).uniques[*i].name) },
        Operation::AddCheck(t, i) => {
            let check = &after.table(*t).checks[*i];
            let Some(expression) = super::expr_postgres::check_sql(after, after.table(*t), check) else { return Some(None) };
            Statement::AddConstraint { table: table_of(after, *t), name: quote(&check.name), definition: format!("CHECK ({expression})") }
        }
        Operation::DropCheck(t, i) => {
            let check = &before.table(*t).checks[*i];
            if !check.kind.exists_on(Dialect::Postgres) {
                return Some(None);
            }
            Statement::DropConstraint { table: table_of(before, *t), name: quote(&check.name) }
        }
        Operation::RenameConstraint { table: (tb, ta), kind, before: from, after: to } => match kind {
            ConstraintKind::Default => return Some(None),
            ConstraintKind::Index => Statement::RenameIndex { from: qualified(after, from), to: quote(to) },
            _ => Statement::RenameConstraint { table: current(*tb, *ta), from: quote(from), to: quote(to) },
        },
        Operation::ChangeTableComment { before: b, after: a } => {
            let table = after.table(*a);
            Statement::Comments { comments: vec![CommentView { target: format!("TABLE {}", current(*b, *a)), text: table.comment.as_ref().map(|c| string_literal(c)) }] }
        }
        Operation::ChangeColumnComment { before: b, after: a } => {
            // Without an `after` column the comment went with the dropped column.
            let Some((ta, c)) = *a else { return Some(None) };
            let table_name = match b {
                Some((tb, _)) => current(*tb, ta),
                None => table_of(after, ta),
            };
            let column = after.table(ta).column(c);
            Statement::Comments { comments: vec![CommentView { target: format!("COLUMN {table_name}.{}", quote(&column.name)), text: column.comment.as_ref().map(|c| string_literal(c)) }] }
        }
        Operation::InsertCodebookRow(t, v) => {
            let table = after.table(*t);
            let rows = super::codebook_rows(after, table);
            Statement::SeedCodebook { table: table_of(after, *t), columns: rows.columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", "), rows: vec![seed_values(&rows, &rows.rows[*v])] }
        }
        Operation::DeleteCodebookRow(t, v) => {
            let table = before.table(*t);
            let (key_column, _) = codebook_keys(before, table);
            let value = &before.enum_(table.codebook_of?).values[*v].value;
            Statement::UnseedCodebook { table: table_of(before, *t), key_column, keys: enum_literal(value) }
        }
        Operation::UpdateCodebookRow { before: (tb, vb), after: (ta, va) } => {
            let table = after.table(*ta);
            let rows = super::codebook_rows(after, table);
            let row = &rows.rows[*va];
            let was_deprecated = before.enum_(before.table(*tb).codebook_of?).values[*vb].deprecated;
            let mut assignments = vec![format!("{} = {}", quote(&rows.columns[1]), string_literal(&row.description))];
            if rows.has_hash {
                assignments.push(format!("{} = {}", quote(&rows.columns[2]), string_literal(&row.sha)));
            }
            if rows.has_archive && was_deprecated != row.deprecated {
                let archive = quote(rows.columns.last().expect("archive column"));
                assignments.push(format!("{archive} = {}", if row.deprecated { "timezone('utc', now())" } else { "NULL" }));
            }
            Statement::UpdateCodebookRow { table: current(*tb, *ta), assignments: assignments.join(", "), key_column: quote(&rows.columns[0]), key: enum_literal(&row.value) }
        }
        _ => return None,
    }))
}

/// `ALTER COLUMN` clauses, in an order PostgreSQL accepts: the default goes before a
/// type change (an old default may not cast), NULLs are filled before NOT NULL.
fn alter_steps(before: &Model, after: &Model, old: &Column, new: &Column) -> (Vec<String>, Option<String>, Vec<String>) {
    let mut steps = Vec::new();
    let mut backfill = None;
    let mut final_steps = Vec::new();
    let (old_type, new_type) = (type_name(before, &old.ty), type_name(after, &new.ty));
    let (old_default, new_default) = (default_sql(before, old), default_sql(after, new));
    if old_default.is_some() && (old_default != new_default || old_type != new_type) {
        steps.push(format!("ALTER COLUMN {} DROP DEFAULT", quote(&new.name)));
    }
    if old.identity && !new.identity {
        steps.push(format!("ALTER COLUMN {} DROP IDENTITY IF EXISTS", quote(&new.name)));
    }
    if old_type != new_type {
        steps.push(format!("ALTER COLUMN {c} TYPE {new_type} USING {c}::{new_type}", c = quote(&new.name)));
    }
    if new_default.is_some() && (old_default != new_default || old_type != new_type) {
        steps.push(format!("ALTER COLUMN {} SET DEFAULT {}", quote(&new.name), new_default.clone().unwrap_or_default()));
    }
    if old.nullable && !new.nullable {
        // Rows that are NULL now take the default before NOT NULL is checked.
        backfill = new_default.clone();
        final_steps.push(format!("ALTER COLUMN {} SET NOT NULL", quote(&new.name)));
    } else if !old.nullable && new.nullable {
        steps.push(format!("ALTER COLUMN {} DROP NOT NULL", quote(&new.name)));
    }
    if !old.identity && new.identity {
        final_steps.push(format!("ALTER COLUMN {} ADD GENERATED BY DEFAULT AS IDENTITY", quote(&new.name)));
    }
    (steps, backfill, final_steps)
}

fn column_view(model: &Model, c: &Column) -> ColumnView {
    ColumnView { name: quote(&c.name), sql_type: type_name(model, &c.ty), identity: c.identity, not_null: !c.nullable, default: default_sql(model, c) }
}

fn create_table(model: &Model, table: &Table) -> Statement {
    let columns = table
        .columns
        .iter()
        .map(|c| column_view(model, c))
        .collect();
    let named = |key: &Key| NamedColumns { name: quote(&key.name), columns: column_list(table, &key.columns) };
    let checks = table
        .checks
        .iter()
        .filter_map(|c| super::expr_postgres::check_sql(model, table, c).map(|expression| CheckView { name: quote(&c.name), expression }))
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
    let rows = rows.rows.iter().map(|row| seed_values(&rows, row)).collect();
    Statement::SeedCodebook { table: qualified(model, &table.name), columns, rows }
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
