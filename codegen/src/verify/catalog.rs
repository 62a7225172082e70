//! The only part of dcgen that talks to a database: reads a schema's catalog into a
//! [`Catalog`], and builds the schema the spec expects as temporary tables, inside a
//! transaction that is always rolled back.
//!
//! Both sides are printed by the server's own deparsers, with a `search_path` that
//! makes each side's tables visible unqualified, so the same definition prints the
//! same text on both sides (`timezone('utc'::text, now())`, `CHECK (amount >= 0::numeric)`,
//! `REFERENCES "order"(id)`), and the comparison can be exact.

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sql_types::{Bool, Nullable, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};

use super::snapshot::{Catalog, CodebookRow, Column, Constraint, ConstraintKind, Table, Trigger};
use crate::emit::postgres::quote;

/// A codebook table and its columns by role, to read its rows on both sides.
#[derive(Clone, Debug)]
pub struct CodebookColumns {
    pub table: String,
    pub value: String,
    pub description: String,
    pub sha: Option<String>,
    pub archive: Option<String>,
}

/// What went wrong, with the server's or libpq's message (not yet scrubbed of secrets).
#[derive(Debug)]
pub enum Failure {
    Connect(String),
    /// Building the expected schema failed.
    Expected(String),
    /// Reading the catalog failed while doing the named step.
    Read(&'static str, String),
}

/// Everything read in one transaction.
pub struct Snapshots {
    pub expected: Catalog,
    pub found: Catalog,
    /// Versions in `__diesel_schema_migrations`; `None` when the table does not exist.
    pub applied_migrations: Option<Vec<String>>,
}

/// Connect, read the live schema, build the expected one in the session's temporary
/// schema and read it, then roll everything back.
pub fn read(url: &str, schema: &str, expected_sql: &str, codebooks: &[CodebookColumns]) -> Result<Snapshots, Failure> {
    let mut connection = PgConnection::establish(url).map_err(|e| Failure::Connect(e.to_string()))?;
    let result = read_in_transaction(&mut connection, schema, expected_sql, codebooks);
    // Nothing of the temporary schema may outlive the check, whatever happened.
    let rollback = connection.batch_execute("ROLLBACK");
    let snapshots = result?;
    rollback.map_err(|e| Failure::Read("rolling back", e.to_string()))?;
    Ok(snapshots)
}

fn read_in_transaction(connection: &mut PgConnection, schema: &str, expected_sql: &str, codebooks: &[CodebookColumns]) -> Result<Snapshots, Failure> {
    // Never wait long behind a migration holding a lock; a stuck drift check in CI is
    // worse than a failed one.
    execute(connection, "BEGIN; SET LOCAL lock_timeout = '10s';", "starting a transaction")?;
    // With the session's own search_path, as Diesel sees it when it runs migrations.
    let applied_migrations = applied_migrations(connection)?;

    // pg_catalog first, so a table named like a built-in type cannot change how the
    // queries below read; then the live schema, so its tables print unqualified.
    let live_path = format!("SET LOCAL search_path TO pg_catalog, {}, pg_temp;", quote(schema));
    execute(connection, &live_path, "setting search_path")?;
    let mut found = snapshot(connection, schema)?;
    read_codebooks(connection, schema, codebooks, &mut found)?;

    connection.batch_execute(expected_sql).map_err(|e| Failure::Expected(e.to_string()))?;
    let temp_schema: Vec<NameRow> = query(connection, "SELECT nspname::text AS name FROM pg_namespace WHERE oid = pg_my_temp_schema()", "finding the temporary schema")?;
    let temp_schema = temp_schema.into_iter().next().map(|row| row.name).unwrap_or_else(|| "pg_temp".into());
    // Now the temporary tables come first and print unqualified; functions and types
    // of the live schema (which a raw default may call) still resolve as before.
    let expected_path = format!("SET LOCAL search_path TO pg_catalog, pg_temp, {};", quote(schema));
    execute(connection, &expected_path, "setting search_path")?;
    let mut expected = snapshot(connection, &temp_schema)?;
    read_codebooks(connection, &temp_schema, codebooks, &mut expected)?;
    Ok(Snapshots { expected, found, applied_migrations })
}

fn execute(connection: &mut PgConnection, sql: &str, step: &'static str) -> Result<(), Failure> {
    connection.batch_execute(sql).map_err(|e| Failure::Read(step, e.to_string()))
}

fn query<T: QueryableByName<diesel::pg::Pg> + 'static>(connection: &mut PgConnection, sql: &str, step: &'static str) -> Result<Vec<T>, Failure> {
    diesel::sql_query(sql).load(connection).map_err(|e| Failure::Read(step, e.to_string()))
}

fn query_in_schema<T: QueryableByName<diesel::pg::Pg> + 'static>(connection: &mut PgConnection, sql: &str, schema: &str, step: &'static str) -> Result<Vec<T>, Failure> {
    diesel::sql_query(sql).bind::<Text, _>(schema).load(connection).map_err(|e| Failure::Read(step, e.to_string()))
}

#[derive(QueryableByName)]
struct NameRow {
    #[diesel(sql_type = Text)]
    name: String,
}

fn applied_migrations(connection: &mut PgConnection) -> Result<Option<Vec<String>>, Failure> {
    let table: Vec<NameRow> = query(
        connection,
        "SELECT to_regclass('__diesel_schema_migrations')::text AS name WHERE to_regclass('__diesel_schema_migrations') IS NOT NULL",
        "looking for __diesel_schema_migrations",
    )?;
    let Some(table) = table.into_iter().next() else { return Ok(None) };
    // `table` is the server's own regclass text, already quoted as needed.
    let versions: Vec<NameRow> = query(connection, &format!("SELECT version::text AS name FROM {} ORDER BY 1", table.name), "reading applied migrations")?;
    Ok(Some(versions.into_iter().map(|row| row.name).collect()))
}

/// Tables of the schema named `$1`, plain and partitioned; the predicate every query
/// below shares.
const SCHEMA_TABLES: &str = "c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) AND c.relkind IN ('r', 'p')";

#[derive(QueryableByName)]
struct TableRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Bool)]
    is_partition: bool,
    #[diesel(sql_type = Nullable<Text>)]
    parent: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    partition_bound: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    partition_key: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    comment: Option<String>,
}

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    type_name: String,
    #[diesel(sql_type = Bool)]
    not_null: bool,
    #[diesel(sql_type = Nullable<Text>)]
    default_expression: Option<String>,
    #[diesel(sql_type = Text)]
    identity: String,
    #[diesel(sql_type = Text)]
    generated: String,
    #[diesel(sql_type = Nullable<Text>)]
    comment: Option<String>,
}

#[derive(QueryableByName)]
struct ConstraintRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    definition: String,
}

#[derive(QueryableByName)]
struct IndexRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    definition: String,
}

#[derive(QueryableByName)]
struct TriggerRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    definition: String,
    #[diesel(sql_type = Text)]
    enabled: String,
    #[diesel(sql_type = Text)]
    function_name: String,
    #[diesel(sql_type = Text)]
    function_qualified: String,
    #[diesel(sql_type = Text)]
    function_body: String,
}

#[derive(QueryableByName)]
struct RowRow {
    #[diesel(sql_type = Text)]
    value: String,
    #[diesel(sql_type = Nullable<Text>)]
    description: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    sha: Option<String>,
    #[diesel(sql_type = Bool)]
    archived: bool,
}

/// One schema's tables, columns, constraints, indexes, triggers and partitions.
fn snapshot(connection: &mut PgConnection, schema: &str) -> Result<Catalog, Failure> {
    let tables: Vec<TableRow> = query_in_schema(
        connection,
        &format!(
            "SELECT c.relname::text AS name, c.relispartition AS is_partition, parent.relname::text AS parent,
                    CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid, true) END AS partition_bound,
                    CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
                    obj_description(c.oid, 'pg_class') AS comment
             FROM pg_class c
             LEFT JOIN pg_inherits i ON c.relispartition AND i.inhrelid = c.oid
             LEFT JOIN pg_class parent ON parent.oid = i.inhparent AND parent.relnamespace = c.relnamespace
             WHERE {SCHEMA_TABLES}"
        ),
        schema,
        "reading tables",
    )?;
    let mut catalog = Catalog::default();
    let mut partitions = Vec::new();
    for row in tables {
        if row.is_partition {
            partitions.push(row);
        } else {
            catalog.tables.insert(row.name, Table { comment: row.comment, partition_key: row.partition_key, ..Table::default() });
        }
    }
    // A partition of a table outside this schema, or of a partition, belongs to no
    // table compared here.
    for partition in partitions {
        if let Some(parent) = partition.parent.as_ref().and_then(|p| catalog.tables.get_mut(p)) {
            parent.partitions.insert(partition.name, partition.partition_bound.unwrap_or_default());
        }
    }

    let columns: Vec<ColumnRow> = query_in_schema(
        connection,
        &format!(
            "SELECT c.relname::text AS table_name, a.attname::text AS name,
                    format_type(a.atttypid, a.atttypmod)
                      || CASE WHEN a.attcollation <> t.typcollation THEN ' COLLATE ' || quote_ident(co.collname) ELSE '' END AS type_name,
                    a.attnotnull AS not_null,
                    pg_get_expr(d.adbin, d.adrelid, true) AS default_expression,
                    a.attidentity::text AS identity, a.attgenerated::text AS generated,
                    col_description(c.oid, a.attnum) AS comment
             FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_type t ON t.oid = a.atttypid
             LEFT JOIN pg_collation co ON co.oid = a.attcollation
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE {SCHEMA_TABLES} AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY c.relname, a.attnum"
        ),
        schema,
        "reading columns",
    )?;
    for row in columns {
        let Some(table) = catalog.tables.get_mut(&row.table_name) else { continue };
        let (generated, default) = match (row.identity.as_str(), row.generated.as_str()) {
            ("d", _) => (Some("GENERATED BY DEFAULT AS IDENTITY".to_string()), row.default_expression),
            ("a", _) => (Some("GENERATED ALWAYS AS IDENTITY".to_string()), row.default_expression),
            (_, "s") => (Some(format!("GENERATED ALWAYS AS ({}) STORED", row.default_expression.unwrap_or_default())), None),
            _ => (None, row.default_expression),
        };
        table.columns.push(Column { name: row.name, type_name: row.type_name, not_null: row.not_null, default, generated, comment: row.comment });
    }

    // Constraints cloned onto partitions, and the per-partition copies of a foreign key
    // that points at a partitioned table, have a parent constraint: only that one counts.
    let constraints: Vec<ConstraintRow> = query_in_schema(
        connection,
        &format!(
            "SELECT c.relname::text AS table_name, con.conname::text AS name, con.contype::text AS kind,
                    pg_get_constraintdef(con.oid, true) AS definition
             FROM pg_constraint con
             JOIN pg_class c ON c.oid = con.conrelid
             WHERE {SCHEMA_TABLES} AND NOT c.relispartition AND con.conparentid = 0 AND con.contype IN ('p', 'u', 'f', 'c', 'x')"
        ),
        schema,
        "reading constraints",
    )?;
    for row in constraints {
        let (Some(table), Some(kind)) = (catalog.tables.get_mut(&row.table_name), ConstraintKind::from_contype(&row.kind)) else { continue };
        table.constraints.insert(row.name, Constraint { kind, definition: row.definition });
    }

    // Indexes behind primary keys, unique and exclusion constraints are compared as
    // those constraints.
    let indexes: Vec<IndexRow> = query_in_schema(
        connection,
        &format!(
            "SELECT c.relname::text AS table_name, ic.relname::text AS name,
                    pg_get_indexdef(i.indexrelid, 0, true) || CASE WHEN i.indisvalid THEN '' ELSE ' (INVALID)' END AS definition
             FROM pg_index i
             JOIN pg_class c ON c.oid = i.indrelid
             JOIN pg_class ic ON ic.oid = i.indexrelid
             WHERE {SCHEMA_TABLES} AND NOT c.relispartition
               AND NOT EXISTS (SELECT 1 FROM pg_constraint con
                               WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x'))"
        ),
        schema,
        "reading indexes",
    )?;
    for row in indexes {
        if let Some(table) = catalog.tables.get_mut(&row.table_name) {
            table.indexes.insert(row.name, row.definition);
        }
    }

    // Functions are never looked up in the temporary schema, so the expected trigger
    // names its function `pg_temp.f()` where the live one says `f()`; both are
    // normalized to the bare name, and the function's body is compared on its own.
    let triggers: Vec<TriggerRow> = query_in_schema(
        connection,
        &format!(
            "SELECT c.relname::text AS table_name, t.tgname::text AS name, pg_get_triggerdef(t.oid, true) AS definition,
                    t.tgenabled::text AS enabled, quote_ident(p.proname) AS function_name,
                    quote_ident(CASE WHEN p.pronamespace = pg_my_temp_schema() THEN 'pg_temp' ELSE n.nspname::text END)
                      || '.' || quote_ident(p.proname) AS function_qualified,
                    coalesce(p.prosrc, '') AS function_body
             FROM pg_trigger t
             JOIN pg_class c ON c.oid = t.tgrelid
             JOIN pg_proc p ON p.oid = t.tgfoid
             JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE {SCHEMA_TABLES} AND NOT c.relispartition AND NOT t.tgisinternal"
        ),
        schema,
        "reading triggers",
    )?;
    for row in triggers {
        let Some(table) = catalog.tables.get_mut(&row.table_name) else { continue };
        let definition = unqualify_function(&row.definition, &row.function_qualified, &row.function_name);
        table.triggers.insert(row.name, Trigger { definition, enabled: row.enabled, function: row.function_name, function_body: row.function_body });
    }
    Ok(catalog)
}

/// `… EXECUTE FUNCTION s.f()` → `… EXECUTE FUNCTION f()`, only where the text is
/// exactly the trigger's own function under its schema.
fn unqualify_function(definition: &str, qualified: &str, name: &str) -> String {
    const EXECUTE: &str = " EXECUTE FUNCTION ";
    let Some(at) = definition.rfind(EXECUTE) else { return definition.to_string() };
    let call = &definition[at + EXECUTE.len()..];
    match call.strip_prefix(qualified) {
        Some(arguments) if arguments.starts_with('(') => format!("{}{EXECUTE}{name}{arguments}", &definition[..at]),
        _ => definition.to_string(),
    }
}

/// Rows of each codebook that exists with its role columns in `catalog`; a missing
/// table or column is reported as such, not as every row missing.
fn read_codebooks(connection: &mut PgConnection, schema: &str, codebooks: &[CodebookColumns], catalog: &mut Catalog) -> Result<(), Failure> {
    for codebook in codebooks {
        let Some(table) = catalog.tables.get_mut(&codebook.table) else { continue };
        let has = |column: &Option<String>| column.as_ref().is_none_or(|c| table.column(c).is_some());
        if table.column(&codebook.value).is_none() || table.column(&codebook.description).is_none() || !has(&codebook.sha) || !has(&codebook.archive) {
            continue;
        }
        let sha = codebook.sha.as_ref().map(|c| format!("{}::text", quote(c))).unwrap_or_else(|| "NULL::text".into());
        let archived = codebook.archive.as_ref().map(|c| format!("{} IS NOT NULL", quote(c))).unwrap_or_else(|| "false".into());
        let sql = format!(
            "SELECT {}::text AS value, {}::text AS description, {sha} AS sha, {archived} AS archived FROM {}.{}",
            quote(&codebook.value),
            quote(&codebook.description),
            quote(schema),
            quote(&codebook.table),
        );
        let rows: Vec<RowRow> = query(connection, &sql, "reading codebook rows")?;
        let mut rows: Vec<CodebookRow> = rows.into_iter().map(|r| CodebookRow { value: r.value, description: r.description, sha: r.sha, archived: r.archived }).collect();
        rows.sort_by(|a, b| a.value.cmp(&b.value));
        table.rows = Some(rows);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_functions_lose_exactly_their_schema() {
        let expected = "CREATE TRIGGER t BEFORE UPDATE ON \"order\" FOR EACH ROW EXECUTE FUNCTION pg_temp.t()";
        assert_eq!(unqualify_function(expected, "pg_temp.t", "t"), "CREATE TRIGGER t BEFORE UPDATE ON \"order\" FOR EACH ROW EXECUTE FUNCTION t()");
        let live = "CREATE TRIGGER t BEFORE UPDATE ON \"order\" FOR EACH ROW EXECUTE FUNCTION t()";
        assert_eq!(unqualify_function(live, "public.t", "t"), live);
        // Another function whose name starts like this one stays as printed.
        let other = "CREATE TRIGGER t BEFORE UPDATE ON x FOR EACH ROW EXECUTE FUNCTION public.t2()";
        assert_eq!(unqualify_function(other, "public.t", "t"), other);
    }
}
