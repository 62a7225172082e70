//! The dependency map: each table an app merges into is recorded in `app_db_objects`, once per process.
//!
//! The hook is a span: the layer records every span named `merge` that has
//! a `table` field (and optionally `schema`, `database`, `server_ip`,
//! `server_name`, `server_type`). [`merge`] and [`merge_iter`] run a
//! `dc_runtime::Merge` inside such a span, with the connection's database
//! and server filled in; a merge that opens a span of that shape itself is
//! recorded the same way. This module is the only place dc-logging uses
//! the merge API.

use std::sync::Arc;

use chrono::Utc;
use dc_runtime::merge::{Merge, MergeError, MergeReport};
use diesel::sql_types::{Nullable, Text};
use diesel::{PgConnection, QueryableByName, RunQueryDsl};
use serde::Serialize;
use tracing::field::{Field, Visit};
use tracing::span::Attributes;

use crate::pipeline::Shared;
use crate::record::{DbObject, Record};

/// The span name the layer watches for.
pub const MERGE_SPAN: &str = "merge";

/// Runs `merge` on `rows` and records the table in the dependency map.
pub fn merge<R: Serialize + Sync>(merge: &Merge<R>, conn: &mut PgConnection, rows: &[R]) -> Result<MergeReport, MergeError> {
    let span = merge_span(merge, conn);
    let _entered = span.enter();
    merge.run(conn, rows)
}

/// [`merge`] for a truth too large to hold (see `Merge::run_iter`).
pub fn merge_iter<R, I, F>(merge: &Merge<R>, conn: &mut PgConnection, rows: F) -> Result<MergeReport, MergeError>
where
    R: Serialize + Send,
    I: IntoIterator<Item = R>,
    F: Fn() -> I,
{
    let span = merge_span(merge, conn);
    let _entered = span.enter();
    merge.run_iter(conn, rows)
}

#[derive(QueryableByName)]
struct Server {
    #[diesel(sql_type = Text)]
    database: String,
    #[diesel(sql_type = Nullable<Text>)]
    server_ip: Option<String>,
}

fn merge_span<R>(merge: &Merge<R>, conn: &mut PgConnection) -> tracing::Span {
    let info = merge.info();
    // Where the connection points; a failure here only leaves the columns empty.
    let server = diesel::sql_query("SELECT current_database()::text AS database, host(inet_server_addr()) AS server_ip").get_result::<Server>(conn).ok();
    tracing::info_span!(
        MERGE_SPAN,
        table = %info.table,
        schema = %info.schema,
        database = server.as_ref().map(|s| s.database.as_str()),
        server_ip = server.as_ref().and_then(|s| s.server_ip.as_deref()),
        server_type = "postgres",
    )
}

#[derive(Default)]
struct ObjectFields {
    table: Option<String>,
    schema: Option<String>,
    database: Option<String>,
    server_ip: Option<String>,
    server_name: Option<String>,
    server_type: Option<String>,
}

impl Visit for ObjectFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        let slot = match field.name() {
            "table" => &mut self.table,
            "schema" => &mut self.schema,
            "database" => &mut self.database,
            "server_ip" => &mut self.server_ip,
            "server_name" => &mut self.server_name,
            "server_type" => &mut self.server_type,
            _ => return,
        };
        *slot = Some(value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // `table = %name` arrives as Display through Debug.
        let text = format!("{value:?}");
        self.record_str(field, text.trim_matches('"'));
    }
}

/// Called by the layer for every new span.
pub(crate) fn on_new_span(shared: &Arc<Shared>, attrs: &Attributes<'_>) {
    let metadata = attrs.metadata();
    if metadata.name() != MERGE_SPAN || metadata.fields().field("table").is_none() {
        return;
    }
    let mut fields = ObjectFields::default();
    attrs.record(&mut fields);
    let Some(table) = fields.table else {
        return;
    };
    let key = format!("{}\u{1f}{}\u{1f}{table}", fields.database.as_deref().unwrap_or(""), fields.schema.as_deref().unwrap_or(""));
    if !shared.db_objects_seen.lock().unwrap_or_else(|p| p.into_inner()).insert(key) {
        return;
    }
    shared.submit(Record::DbObject(DbObject {
        app_id: shared.context.app_id.clone(),
        server_type: fields.server_type,
        server_name: fields.server_name,
        server_ip: fields.server_ip,
        database_name: fields.database,
        database_schema: fields.schema,
        object_name: table,
        object_type: "table".into(),
        used: Utc::now(),
    }));
}
