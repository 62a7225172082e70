//! SQL Server (2019+): quoting, type names, named defaults, triggers, extended
//! properties, and the view of a plan that `templates/mssql/*.sql.tera` lay out. The
//! only module that writes T-SQL.
//!
//! Migrations are re-runnable: every CREATE is guarded by a catalog lookup and every
//! DROP is `IF EXISTS`, so a half-applied script can be run again. The declarative
//! schema is the same objects as plain CREATEs, for DacFx to validate as a model.

use serde::Serialize;

use crate::model::*;
use crate::plan::{ConstraintKind, Direction, Operation, Plan};

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

/// A filtered index's WHERE clause.
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

fn column_list(table: &Table, columns: &[ColumnId]) -> String {
    columns.iter().map(|c| quote(&table.column(*c).name)).collect::<Vec<_>>().join(", ")
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
    CreateTable {
        table: String,
        table_literal: String,
        columns: Vec<ColumnView>,
        primary_key: PrimaryKeyView,
        uniques: Vec<NamedColumns>,
        checks: Vec<CheckView>,
    },
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
    DropForeignKey {
        table: String,
        table_literal: String,
        name: String,
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
    UnseedCodebook {
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
    /// The schema to create first, when it is not `dbo` (which every database has).
    /// Only `up` creates it; `down` leaves it, since other objects may live there.
    create_schema: Option<SchemaView>,
    statements: Vec<Statement>,
}

#[derive(Serialize)]
struct SchemaView {
    name: String,
    name_literal: String,
    /// `CREATE SCHEMA` must be alone in its batch, so a guarded one runs through EXEC.
    create_literal: String,
}

fn schema_to_create(model: &Model) -> Option<SchemaView> {
    let schema = &model.project.schema_mssql;
    (schema != "dbo").then(|| SchemaView {
        name: quote(schema),
        name_literal: string_literal(schema),
        create_literal: string_literal(&format!("CREATE SCHEMA {}", quote(schema))),
    })
}

/// Render a plan's `up.sql` (from `before` to `after`) and `down.sql` (the inverse
/// plan, rendered with the models swapped).
pub fn migration(before: &Model, after: &Model, plan: &Plan, title: &str) -> Result<(String, String), crate::Error> {
    let up = ScriptView {
        notice: super::GENERATED_NOTICE,
        title,
        create_schema: schema_to_create(after).filter(|_| before.tables.is_empty()),
        statements: plan.up.iter().filter_map(|op| statement(before, after, op, Direction::Up)).collect(),
    };
    let down = ScriptView {
        notice: super::GENERATED_NOTICE,
        title,
        create_schema: None,
        statements: plan.down.iter().filter_map(|op| statement(after, before, op, Direction::Down)).collect(),
    };
    Ok((super::render("mssql/migration.sql", &up)?, super::render("mssql/migration.sql", &down)?))
}

/// The whole schema as one CREATE-only script (no guards, drops or seed rows): what
/// the migrations build, in a form DacFx can load and validate as a database model.
pub fn declarative_schema(model: &Model) -> Result<String, crate::Error> {
    let title = format!(
        "The {} schema for SQL Server 2019+, declaratively: every object, created once. For review and validation; databases are built by the migrations.",
        model.project.name
    );
    let statements = crate::plan::initial(model)
        .up
        .iter()
        .filter(|op| !matches!(op, Operation::SeedCodebook(_)))
        .filter_map(|op| statement(model, model, op, Direction::Up))
        .collect();
    super::render("mssql/schema.sql", &ScriptView { notice: super::GENERATED_NOTICE, title: &title, create_schema: schema_to_create(model), statements })
}

/// The statement for one operation; `before`/`after` are the models the operation's
/// indices point into. `None` for operations SQL Server has nothing to do for.
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
            let table_name = qualified(model, &table.name);
            Statement::CreateIndex {
                name: quote(&index.name),
                name_literal: string_literal(&index.name),
                table_literal: string_literal(&table_name),
                table: table_name,
                unique: index.unique,
                columns,
                predicate: index.predicate.as_ref().map(|p| predicate_sql(table, p)),
            }
        }
        Operation::DropIndex(t, i) => {
            let table = model.table(t);
            let table_name = qualified(model, &table.name);
            Statement::DropIndex { name: quote(&table.indexes[i].name), table_literal: string_literal(&table_name), table: table_name }
        }
        Operation::AddForeignKey(t, i) => {
            let table = model.table(t);
            let fk = &table.foreign_keys[i];
            let target = model.table(fk.referenced_table);
            Statement::AddForeignKey {
                table: qualified(model, &table.name),
                name: quote(&fk.name),
                // Constraints are schema objects in SQL Server, so OBJECT_ID finds them.
                name_literal: string_literal(&qualified(model, &fk.name)),
                columns: column_list(table, &fk.columns),
                referenced_table: qualified(model, &target.name),
                referenced_columns: column_list(target, &fk.referenced_columns),
                on_delete: on_delete_sql(fk.on_delete),
            }
        }
        Operation::DropForeignKey(t, i) => {
            let table = model.table(t);
            let table_name = qualified(model, &table.name);
            Statement::DropForeignKey { name: quote(&table.foreign_keys[i].name), table_literal: string_literal(&table_name), table: table_name }
        }
        Operation::CreateTrigger(t, i) => {
            let table = model.table(t);
            let trigger = &table.triggers[i];
            let column = table.column(trigger.column);
            let join = table
                .primary_key
                .columns
                .iter()
                .map(|c| {
                    let name = quote(&table.column(*c).name);
                    format!("[t].{name} = [i].{name}")
                })
                .collect::<Vec<_>>()
                .join(" AND ");
            Statement::CreateTrigger {
                name: qualified(model, &trigger.name),
                table: qualified(model, &table.name),
                column: quote(&column.name),
                now: now_for(column.ty.storage(model)),
                join,
            }
        }
        Operation::DropTrigger(t, i) => Statement::DropTrigger { name: qualified(model, &model.table(t).triggers[i].name) },
        Operation::SetComments(t) => Statement::SetComments { comments: comments(model, model.table(t)) },
        Operation::RemoveComments(t) => Statement::RemoveComments { comments: comments(model, model.table(t)) },
        Operation::SeedCodebook(t) => seed(model, model.table(t)),
        Operation::UnseedCodebook(t) => {
            let table = model.table(t);
            let (key_column, keys) = codebook_keys(model, table);
            let table_name = qualified(model, &table.name);
            Statement::UnseedCodebook { table_literal: string_literal(&table_name), table: table_name, key_column, keys }
        }
        _ => unreachable!("change_statement handles every other operation"),
    })
}

/// Statements for the operations of incremental migrations. `Some(None)`: nothing to do
/// on SQL Server; `None`: not one of these operations.
fn change_statement(before: &Model, after: &Model, operation: &Operation, direction: Direction) -> Option<Option<Statement>> {
    let table_of = |model: &Model, t: TableId| qualified(model, &model.table(t).name);
    // A kept table under the name it has when the operation runs.
    let current = |tb: TableId, ta: TableId| qualified(after, &direction.current_table(before, after, tb, ta).name);
    Some(Some(match operation {
        Operation::RenameTable { before: b, after: a } => {
            let new_name = &after.table(*a).name;
            Statement::RenameTable {
                from_literal: string_literal(&table_of(before, *b)),
                to_object_literal: string_literal(&table_of(after, *a)),
                to_literal: string_literal(new_name),
            }
        }
        Operation::AddColumn((t, c)) => {
            let table = after.table(*t);
            let column = table.column(*c);
            Statement::AddColumn {
                table: table_of(after, *t),
                table_literal: string_literal(&table_of(after, *t)),
                column_literal: string_literal(&column.name),
                column: column_view(after, column),
            }
        }
        Operation::DropColumn((t, c)) => {
            let column = before.table(*t).column(*c);
            Statement::DropColumn {
                table: table_of(before, *t),
                table_literal: string_literal(&table_of(before, *t)),
                column: quote(&column.name),
                column_literal: string_literal(&column.name),
                default_name: column.default_constraint.as_ref().map(|d| quote(d)),
            }
        }
        Operation::RenameColumn { before: (tb, cb), after: (ta, ca) } => {
            let table = current(*tb, *ta);
            let old = &before.table(*tb).column(*cb).name;
            Statement::RenameColumn {
                table_literal: string_literal(&table),
                from_literal: string_literal(old),
                from_object_literal: string_literal(&format!("{table}.{}", quote(old))),
                to_literal: string_literal(&after.table(*ta).column(*ca).name),
            }
        }
        Operation::AlterColumn { before: (tb, cb), after: (ta, ca) } => {
            let (old, new) = (before.table(*tb).column(*cb), after.table(*ta).column(*ca));
            let (old_type, new_type) = (type_name(before, &old.ty), type_name(after, &new.ty));
            let definition = (old_type != new_type || old.nullable != new.nullable)
                .then(|| format!("{} {new_type} {}", quote(&new.name), if new.nullable { "NULL" } else { "NOT NULL" }));
            // SQL Server refuses to alter a column its default depends on: drop it first
            // and add it back under its (possibly new) name.
            Statement::AlterColumn {
                table: current(*tb, *ta),
                column: quote(&new.name),
                drop_default: old.default_constraint.as_ref().filter(|_| old.default.is_some()).map(|d| quote(d)),
                backfill: (old.nullable && !new.nullable).then(|| default_sql(after, new)).flatten(),
                definition,
                add_default: default_sql(after, new).map(|expression| DefaultView { name: quote(new.default_constraint.as_deref().unwrap_or_default()), expression }),
            }
        }
        Operation::AddPrimaryKey(t) => {
            let table = after.table(*t);
            let key = &table.primary_key;
            add_constraint(after, *t, &key.name, format!("PRIMARY KEY {} ({})", primary_key_clustering(after, table), column_list(table, &key.columns)))
        }
        Operation::DropPrimaryKey(t) => drop_constraint(before, *t, &before.table(*t).primary_key.name),
        Operation::AddUnique(t, i) => {
            let table = after.table(*t);
            let unique = &table.uniques[*i];
            add_constraint(after, *t, &unique.name, format!("UNIQUE NONCLUSTERED ({})", column_list(table, &unique.columns)))
        }
        Operation::DropUnique(t, i) => drop_constraint(before, *t, &before.table(*t).uniques[*i].name),
        Operation::AddCheck(t, i) => {
            let check = &after.table(*t).checks[*i];
            add_constraint(after, *t, &check.name, format!("CHECK ({})", super::expr_mssql::check_sql(after, after.table(*t), check)))
        }
        Operation::DropCheck(t, i) => drop_constraint(before, *t, &before.table(*t).checks[*i].name),
        Operation::RenameConstraint { table: (tb, ta), kind, before: from, after: to } => match kind {
            ConstraintKind::Index => {
                let table = current(*tb, *ta);
                Statement::RenameIndex {
                    table_literal: string_literal(&table),
                    from_literal: string_literal(from),
                    from_object_literal: string_literal(&format!("{table}.{}", quote(from))),
                    to_literal: string_literal(to),
                }
            }
            _ => Statement::RenameObject { from_literal: string_literal(&qualified(after, from)), to_literal: string_literal(to) },
        },
        Operation::ChangeTableComment { before: b, after: a } => {
            let table = after.table(*a);
            comment_statement(after, &direction.current_table(before, after, *b, *a).name, None, table.comment.as_deref())
        }
        Operation::ChangeColumnComment { before: b, after: a } => {
            let Some((ta, c)) = *a else { return Some(None) };
            let name = match (direction, b) {
                (Direction::Down, Some((tb, _))) => before.table(*tb).name.clone(),
                _ => after.table(ta).name.clone(),
            };
            let column = after.table(ta).column(c);
            comment_statement(after, &name, Some(&column.name), column.comment.as_deref())
        }
        Operation::InsertCodebookRow(t, v) => {
            let Statement::SeedCodebook { table, columns, key_column, mut rows } = seed(after, after.table(*t)) else { return Some(None) };
            let row = rows.swap_remove(*v);
            Statement::SeedCodebook { table, columns, key_column, rows: vec![row] }
        }
        Operation::DeleteCodebookRow(t, v) => {
            let table = before.table(*t);
            let (key_column, _) = codebook_keys(before, table);
            let value = &before.enum_(table.codebook_of?).values[*v].value;
            Statement::UnseedCodebook { table: table_of(before, *t), table_literal: string_literal(&table_of(before, *t)), key_column, keys: enum_literal(value) }
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
                let archive = rows.columns.last().expect("archive column");
                let now = table.role(Role::Archive).map(|c| now_for(table.column(c).ty.storage(after))).unwrap_or("SYSUTCDATETIME()");
                assignments.push(format!("{} = {}", quote(archive), if row.deprecated { now } else { "NULL" }));
            }
            Statement::UpdateCodebookRow { table: current(*tb, *ta), assignments: assignments.join(", "), key_column: quote(&rows.columns[0]), key: enum_literal(&row.value) }
        }
        _ => return None,
    }))
}

fn add_constraint(model: &Model, table: TableId, name: &str, definition: String) -> Statement {
    Statement::AddConstraint {
        table: qualified(model, &model.table(table).name),
        name: quote(name),
        name_literal: string_literal(&qualified(model, name)),
        definition,
    }
}

fn drop_constraint(model: &Model, table: TableId, name: &str) -> Statement {
    let table_name = qualified(model, &model.table(table).name);
    Statement::DropConstraint { table_literal: string_literal(&table_name), table: table_name, name: quote(name) }
}

/// Set (or, with no text, remove) one `MS_Description`.
fn comment_statement(model: &Model, table: &str, column: Option<&str>, text: Option<&str>) -> Statement {
    let view = CommentView {
        schema: string_literal(&model.project.schema_mssql),
        table: string_literal(table),
        column: column.map(string_literal),
        text: text.map(string_literal).unwrap_or_default(),
    };
    match text {
        Some(_) => Statement::SetComments { comments: vec![view] },
        None => Statement::RemoveComments { comments: vec![view] },
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

fn create_table(model: &Model, table: &Table) -> Statement {
    let columns = table
        .columns
        .iter()
        .map(|c| column_view(model, c))
        .collect();
    let named = |key: &Key| NamedColumns { name: quote(&key.name), columns: column_list(table, &key.columns) };
    // Every check, the ISJSON ones for json and array columns included; partitioning
    // is PostgreSQL's only and is left out.
    let checks = table.checks.iter().map(|c| CheckView { name: quote(&c.name), expression: super::expr_mssql::check_sql(model, table, c) }).collect();
    let table_name = qualified(model, &table.name);
    Statement::CreateTable {
        table_literal: string_literal(&table_name),
        table: table_name,
        columns,
        primary_key: PrimaryKeyView {
            name: quote(&table.primary_key.name),
            clustering: primary_key_clustering(model, table),
            columns: column_list(table, &table.primary_key.columns),
        },
        uniques: table.uniques.iter().map(named).collect(),
        checks,
    }
}

/// The table's and its columns' comments, as `MS_Description` extended properties.
fn comments(model: &Model, table: &Table) -> Vec<CommentView> {
    let schema = string_literal(&model.project.schema_mssql);
    let table_literal = string_literal(&table.name);
    let mut out = Vec::new();
    if let Some(text) = &table.comment {
        out.push(CommentView { schema: schema.clone(), table: table_literal.clone(), column: None, text: string_literal(text) });
    }
    for column in &table.columns {
        if let Some(text) = &column.comment {
            out.push(CommentView {
                schema: schema.clone(),
                table: table_literal.clone(),
                column: Some(string_literal(&column.name)),
                text: string_literal(text),
            });
        }
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

/// One guarded INSERT per value (a MERGE over VALUES would type an all-NULL column as
/// int, which does not convert to datetime2).
fn seed(model: &Model, table: &Table) -> Statement {
    let rows = super::codebook_rows(model, table);
    let columns = rows.columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
    let archive_now = table.role(Role::Archive).map(|c| now_for(table.column(c).ty.storage(model))).unwrap_or("SYSUTCDATETIME()");
    let key_column = rows.columns.first().map(|c| quote(c)).unwrap_or_default();
    let rows = rows
        .rows
        .iter()
        .map(|row| {
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
    Statement::SeedCodebook { table: qualified(model, &table.name), columns, key_column, rows }
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

