//! `sync_codebooks`: every codebook table made equal to its enum, through merge.
//!
//! Per codebook, the truth is the enum's current values (value and
//! description). A keyed merge (key: the `enum_value` column) in archive
//! mode inserts new values, updates changed descriptions in place and
//! archives values the spec deprecated; nothing is ever deleted, since rows
//! elsewhere point at codebook ids. A deprecated value the table never had
//! is added already archived, as the migration seeds it. The seeds carry the
//! sha merge computes, so syncing a freshly migrated database changes
//! nothing, and syncing twice changes nothing the second time.

use diesel::connection::Connection;
use diesel::pg::PgConnection;
use diesel::sql_types::{Integer, Text};
use diesel::RunQueryDsl;
use serde_json::{Map, Value};

use crate::merge::{Merge, MergeError, MergeReport, Mode};
use crate::row::{RowReader, RowShape};
use crate::table::{Role, TableInfo};

/// What syncing one codebook did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodebookReport {
    pub table: String,
    /// The merge of the current values.
    pub merge: MergeReport,
    /// Deprecated values added (archived) because the table lacked them.
    pub added_deprecated: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CodebookError {
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error("codebook `{table}`: {problem}; regenerate the schema crate with `make gen`")]
    Shape { table: String, problem: String },
    #[error("codebook `{table}`: {error}")]
    Database { table: String, error: diesel::result::Error },
    #[error("codebook sync (rolled back): {0}")]
    Transaction(#[from] diesel::result::Error),
}

/// Syncs every codebook among `tables` (the schema crate's `tables::ALL`), in one transaction.
pub fn sync_codebooks(conn: &mut PgConnection, tables: &[&str]) -> Result<Vec<CodebookReport>, CodebookError> {
    let mut infos = Vec::new();
    for json in tables {
        let info = TableInfo::parse(json).map_err(MergeError::from)?;
        if info.codebook.is_some() {
            infos.push(info);
        }
    }
    conn.transaction(|conn| infos.into_iter().map(|info| sync_one(conn, info)).collect())
}

fn sync_one(conn: &mut PgConnection, info: TableInfo) -> Result<CodebookReport, CodebookError> {
    let table = info.table.clone();
    let shape_error = |problem: &str| CodebookError::Shape { table: table.clone(), problem: problem.to_string() };
    let value_column = info.role(Role::EnumValue).ok_or_else(|| shape_error("no column with `role: enum_value`"))?.clone();
    let description_column = info.role(Role::EnumDescription).ok_or_else(|| shape_error("no column with `role: enum_description`"))?.clone();
    let sha_column = info.role(Role::Hash).ok_or_else(|| shape_error("no column with `role: hash`"))?.clone();
    let archive_column = info.role(Role::Archive).ok_or_else(|| shape_error("no column with `role: archive`"))?.clone();
    let (Some(value_field), Some(description_field)) = (&value_column.field, &description_column.field) else {
        return Err(shape_error("the value and description columns must be in the insert struct"));
    };
    let codebook = info.codebook.clone().ok_or_else(|| shape_error("not a codebook"))?;
    let row = |value: &Value, description: &str| {
        let mut row = Map::new();
        row.insert(value_field.clone(), value.clone());
        row.insert(description_field.clone(), Value::from(description));
        Value::Object(row)
    };
    let current: Vec<Value> = codebook.values.iter().filter(|v| !v.deprecated).map(|v| row(&v.value, &v.description)).collect();
    let merge = Merge::<Value>::from_info(info.clone())?.mode(Mode::Archive).compare_key(&[value_column.name.as_str()])?.run(conn, &current)?;

    // Deprecated values the table never had: added archived, like the seed.
    let shape = RowShape::new(info.clone()).map_err(|error| shape_error(&error.to_string()))?;
    let mut reader = RowReader::for_hashing(&shape);
    let insert = crate::merge::sql::insert_archived_codebook_value(
        &info,
        &value_column.name,
        &description_column.name,
        &sha_column.name,
        (&archive_column.name, &archive_column.ty),
    );
    let database = |error| CodebookError::Database { table: table.clone(), error };
    let mut added_deprecated = 0;
    for value in codebook.values.iter().filter(|v| v.deprecated) {
        let sha = reader.sha_hex(&row(&value.value, &value.description)).map_err(|error| shape_error(&format!("deprecated value `{}`: {error}", value.key)))?;
        let query = diesel::sql_query(insert.clone()).into_boxed();
        let query = match &value.value {
            Value::Number(n) => query.bind::<Integer, _>(n.as_i64().and_then(|n| i32::try_from(n).ok()).unwrap_or_default()),
            other => query.bind::<Text, _>(other.as_str().unwrap_or_default().to_string()),
        };
        added_deprecated += query.bind::<Text, _>(value.description.clone()).bind::<Text, _>(sha).execute(conn).map_err(database)? as u64;
    }
    Ok(CodebookReport { table, merge, added_deprecated })
}
