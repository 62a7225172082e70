//! The database sink: each batch in one transaction — runtime rows, app_functions upserts, logs and function_log by binary COPY, runtime ends, app_db_objects.
//!
//! Tables and columns come from the generated crate (`dc_schema::schema`,
//! `dc_schema::models`), so a spec change that breaks a column this sink
//! writes breaks the build, not a running app. `logs` rows are encoded
//! straight from the records (`sink::copy`, the hot path); `function_log`
//! goes through a COPY row struct below, which exists because Diesel's
//! `copy_from(..).from_insertable` needs every column given
//! (`treat_none_as_default_value = false`), which the generated insert
//! structs leave to the database. Both set `date_created` to the event's
//! time, so a replayed record keeps it.
//!
//! A replayed chunk of a spill file commits with the file's position in
//! `log_spill_replay`; records up to the position already there are skipped.
//!
//! A batch whose transaction fails on bad data (a foreign key, a check) is
//! written again record by record under savepoints: the rows that fail are
//! refused (kept in the rejected file) and the rest commit. Any other error
//! (the server gone, say) fails the batch as a whole, which then waits in
//! the spill file.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDateTime;
use dc_runtime::db::DatabaseUrl;
use dc_runtime::row::{RowReader, RowShape};
use dc_runtime::table::TableInfo;
use dc_schema::models::{NewAppDbObjects, NewAppFunctions, NewAppGroups, NewAppParents, NewApps, NewFunctionLog, NewRuntime, RuntimeChangeset};
use dc_schema::schema::{app_db_objects, app_functions, app_groups, app_parents, apps, function_log, log_spill_replay, runtime};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::upsert::excluded;
use diesel::ExecuteCopyFromDsl;
use serde::Serialize;

use super::copy::{copy_logs, LogToWrite};
use super::{Deadline, Delivered, Replayed, Sink, SinkError};
use crate::ids::{app_id, function_id, parent_id};
use crate::record::{local, totals, AppRegistration, Context, DbObject, FunctionCall, LogRecord, Record, RuntimeEnded};

#[derive(Insertable)]
#[diesel(table_name = function_log)]
#[diesel(treat_none_as_default_value = false)]
struct FunctionLogRow {
    function_hash: Option<String>,
    function_no: Option<i32>,
    main_app: Option<String>,
    app_id: Option<String>,
    thread_id: Option<i32>,
    task_size: Option<i64>,
    solved: Option<i32>,
    failed: Option<i32>,
    start_time: Option<NaiveDateTime>,
    end_time: Option<NaiveDateTime>,
    totals: Option<i32>,
    totalm: Option<i32>,
    totalh: Option<i32>,
    runtime: Option<String>,
    sha: Option<String>,
    date_created: NaiveDateTime,
}

/// The `sha` of a framework row, as merge computes it.
struct Sha {
    shape: RowShape,
}

impl Sha {
    fn of_table(table_info: &str) -> Sha {
        let info = TableInfo::parse(table_info).expect("the generated TABLE_INFO parses");
        Sha { shape: RowShape::new(info).expect("the generated TABLE_INFO has a row shape") }
    }

    fn hex<T: Serialize>(&self, row: &T) -> Option<String> {
        RowReader::for_hashing(&self.shape).sha_hex(row).ok()
    }
}

struct Hashers {
    app_groups: Sha,
    app_parents: Sha,
    apps: Sha,
    runtime: Sha,
    app_functions: Sha,
    function_log: Sha,
    app_db_objects: Sha,
}

pub(crate) struct DatabaseSink {
    url: DatabaseUrl,
    conn: Option<PgConnection>,
    /// Whether a large batch's `logs` rows go over two connections (see [`split`]).
    use_second: bool,
    /// The connection that COPYs the second half of a large batch's `logs` rows.
    second: Option<PgConnection>,
    /// Functions whose app_functions row this process wrote.
    functions_seen: HashSet<String>,
    /// `app \x1f module \x1f function` → function id.
    function_ids: HashMap<String, String>,
    /// Runtimes whose app and runtime rows this sink made sure of.
    runtimes_ensured: HashSet<String>,
    hashers: Arc<Hashers>,
}

/// The app and runtime of a process, made sure of before its records are written.
struct ContextRows {
    /// The app to register, when the process runs one.
    app: Option<AppRegistration>,
    /// The runtime's start row and its sha, when the process is a runtime.
    runtime_start: Option<(NewRuntime, Option<String>)>,
}

/// One batch turned into rows, in the order they are written.
#[derive(Default)]
struct Rows {
    /// Runtimes (with their apps) to make sure of before the other rows.
    contexts: Vec<ContextRows>,
    new_functions: Vec<(NewAppFunctions, Option<String>)>,
    /// Known functions and the latest end seen in the batch.
    seen_functions: Vec<(String, NaiveDateTime)>,
    logs: Vec<LogToWrite>,
    calls: Vec<FunctionLogRow>,
    ends: Vec<(String, RuntimeChangeset)>,
    objects: Vec<(NewAppDbObjects, Option<String>)>,
}

impl DatabaseSink {
    pub fn new(url: DatabaseUrl, use_second: bool) -> DatabaseSink {
        DatabaseSink {
            url,
            conn: None,
            use_second,
            second: None,
            functions_seen: HashSet::new(),
            function_ids: HashMap::new(),
            runtimes_ensured: HashSet::new(),
            hashers: Arc::new(Hashers {
                app_groups: Sha::of_table(NewAppGroups::TABLE_INFO),
                app_parents: Sha::of_table(NewAppParents::TABLE_INFO),
                apps: Sha::of_table(NewApps::TABLE_INFO),
                runtime: Sha::of_table(NewRuntime::TABLE_INFO),
                app_functions: Sha::of_table(NewAppFunctions::TABLE_INFO),
                function_log: Sha::of_table(NewFunctionLog::TABLE_INFO),
                app_db_objects: Sha::of_table(NewAppDbObjects::TABLE_INFO),
            }),
        }
    }

    fn function_id(&mut self, app_id: Option<&str>, module: &str, function: &str) -> String {
        let app_id = app_id.unwrap_or("");
        let key = format!("{app_id}\u{1f}{module}\u{1f}{function}");
        self.function_ids.entry(key).or_insert_with(|| function_id(app_id, module, function)).clone()
    }

    fn rows(&mut self, batch: &[Arc<Record>], new_in_batch: &mut HashSet<String>, runtimes: &mut HashSet<String>) -> Rows {
        let mut rows = Rows::default();
        let mut seen_latest: HashMap<String, NaiveDateTime> = HashMap::new();
        // Records of one process share their context: checked once per run of equal contexts.
        let mut last_context: Option<&Arc<Context>> = None;
        for record in batch {
            if let Some(context) = record.context().filter(|context| !last_context.is_some_and(|last| Arc::ptr_eq(last, context))) {
                last_context = Some(context);
                let key = context.runtime.clone().unwrap_or_default();
                if !self.runtimes_ensured.contains(&key) && runtimes.insert(key) {
                    let start = context.runtime.as_ref().map(|_| {
                        let row = runtime_start(context);
                        let sha = self.hashers.runtime.hex(&row);
                        (row, sha)
                    });
                    rows.contexts.push(ContextRows { app: context.app.clone(), runtime_start: start });
                }
            }
            match &**record {
                Record::Log(log) => {
                    let function_id = self.log_function_id(log);
                    rows.logs.push(LogToWrite { record: record.clone(), function_id, id: None });
                }
                Record::FunctionCall(call) => {
                    let (row, function) = self.call_row(call);
                    let hash = row.function_hash.clone().unwrap_or_default();
                    let end = row.end_time.unwrap_or_default();
                    if self.functions_seen.contains(&hash) || new_in_batch.contains(&hash) {
                        let latest = seen_latest.entry(hash).or_insert(end);
                        *latest = (*latest).max(end);
                    } else {
                        new_in_batch.insert(hash);
                        let sha = self.hashers.app_functions.hex(&function);
                        rows.new_functions.push((function, sha));
                    }
                    rows.calls.push(row);
                }
                // Written from its context, above.
                Record::RuntimeStarted(_) => {}
                Record::RuntimeEnded(end) => rows.ends.push((end.runtime.clone(), runtime_end(end))),
                Record::DbObject(object) => {
                    let row = db_object(object);
                    let sha = self.hashers.app_db_objects.hex(&row);
                    rows.objects.push((row, sha));
                }
            }
        }
        // Newly seen functions take the latest end of the batch as last_seen too.
        for (function, _) in &mut rows.new_functions {
            if let Some(latest) = function.function_hash.as_ref().and_then(|h| seen_latest.remove(h)) {
                function.last_seen = function.last_seen.max(Some(latest));
            }
        }
        rows.seen_functions = seen_latest.into_iter().collect();
        rows
    }

    fn log_function_id(&mut self, log: &LogRecord) -> Option<String> {
        let app_id = log.context.app_id.as_deref();
        log.function.as_deref().map(|function| self.function_id(app_id, log.module.as_deref().unwrap_or(""), function))
    }

    fn call_row(&mut self, call: &FunctionCall) -> (FunctionLogRow, NewAppFunctions) {
        let app_id = call.context.app_id.as_deref();
        let module = call.module.as_deref().unwrap_or("");
        let hash = self.function_id(app_id, module, &call.function);
        let (start, end) = (local(call.start), local(call.end));
        let (seconds, minutes, hours) = totals(call.start, call.end);
        let clamp = |n: Option<i64>| n.map(|n| n.clamp(i32::MIN as i64, i32::MAX as i64) as i32);
        let mut row = FunctionLogRow {
            function_hash: Some(hash.clone()),
            function_no: Some(call.function_no),
            main_app: call.context.app_id.clone(),
            app_id: call.context.app_id.clone(),
            thread_id: Some(call.thread_id),
            task_size: call.task_size,
            solved: clamp(call.solved).or(Some(0)),
            failed: clamp(call.failed).or(Some(0)),
            start_time: Some(start),
            end_time: Some(end),
            totals: Some(seconds),
            totalm: Some(minutes),
            totalh: Some(hours),
            runtime: call.context.runtime.clone(),
            sha: None,
            date_created: end,
        };
        row.sha = self.hashers.function_log.hex(&NewFunctionLog {
            function_hash: row.function_hash.clone(),
            function_no: row.function_no,
            main_app: row.main_app.clone(),
            app_id: row.app_id.clone(),
            thread_id: row.thread_id,
            task_size: row.task_size,
            solved: row.solved,
            failed: row.failed,
            start_time: row.start_time,
            end_time: row.end_time,
            totals: row.totals,
            totalm: row.totalm,
            totalh: row.totalh,
            runtime: row.runtime.clone(),
        });
        let filepath = match (&call.module, &call.file) {
            (Some(module), _) => Some(module.to_string()),
            (None, file) => file.as_deref().map(str::to_string),
        };
        let function = NewAppFunctions {
            function_hash: Some(hash),
            function_name: Some(call.function.chars().take(125).collect()),
            filepath,
            app_id: call.context.app_id.clone(),
            first_seen: Some(start),
            last_seen: Some(end),
        };
        (row, function)
    }

    fn connection(&mut self) -> Result<&mut PgConnection, SinkError> {
        if self.conn.is_none() {
            let conn = self.url.establish().map_err(|error| SinkError::new(error.to_string()))?;
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }

    fn error(&mut self, error: &DieselError) -> SinkError {
        // Whatever happened, the next batch starts on a fresh connection.
        self.conn = None;
        SinkError::new(format!("writing to {}: {}", self.url, self.url.redact(&error.to_string())))
    }
}

fn is_data_error(error: &DieselError) -> bool {
    matches!(
        error,
        DieselError::DatabaseError(
            DatabaseErrorKind::ForeignKeyViolation | DatabaseErrorKind::UniqueViolation | DatabaseErrorKind::CheckViolation | DatabaseErrorKind::NotNullViolation,
            _
        )
    )
}

fn runtime_start(context: &Context) -> NewRuntime {
    NewRuntime {
        runtime_: context.runtime.clone(),
        app_id: context.app_id.clone(),
        task_size: None,
        start_time: context.started.map(local),
        end_time: None,
        totals: None,
        totalm: None,
        totalh: None,
        except_cnt: Some(0),
        exit_code: None,
        request_count: None,
        avg_response_ms: None,
        p95_response_ms: None,
        error_rate: None,
        // Written by the manager that started this process (dc-manager), when one did.
        manager_id: None,
        process_status: None,
    }
}

fn runtime_end(end: &RuntimeEnded) -> RuntimeChangeset {
    let clamp = |n: i64| n.clamp(0, i32::MAX as i64) as i32;
    if end.context.managed {
        // The manager's row: it records end time, totals and exit code from
        // the process's exit; the app adds what only it knows.
        return RuntimeChangeset {
            except_cnt: Some(Some(clamp(end.except_cnt))),
            request_count: end.http.as_ref().map(|h| Some(clamp(h.request_count))),
            avg_response_ms: end.http.as_ref().map(|h| Some(clamp(h.avg_response_ms))),
            p95_response_ms: end.http.as_ref().map(|h| Some(clamp(h.p95_response_ms))),
            error_rate: end.http.as_ref().map(|h| Some(h.error_rate)),
            ..Default::default()
        };
    }
    let (seconds, minutes, hours) = totals(end.start, end.end);
    RuntimeChangeset {
        end_time: Some(Some(local(end.end))),
        totals: Some(Some(seconds)),
        totalm: Some(Some(minutes)),
        totalh: Some(Some(hours)),
        except_cnt: Some(Some(clamp(end.except_cnt))),
        exit_code: Some(end.exit_code),
        request_count: end.http.as_ref().map(|h| Some(clamp(h.request_count))),
        avg_response_ms: end.http.as_ref().map(|h| Some(clamp(h.avg_response_ms))),
        p95_response_ms: end.http.as_ref().map(|h| Some(clamp(h.p95_response_ms))),
        error_rate: end.http.as_ref().map(|h| Some(h.error_rate)),
        ..Default::default()
    }
}

fn db_object(object: &DbObject) -> NewAppDbObjects {
    let cut = |text: &Option<String>, max: usize| text.as_ref().map(|t| t.chars().take(max).collect::<String>());
    NewAppDbObjects {
        app_id: object.app_id.clone(),
        server_type: cut(&object.server_type, 50),
        server_name: cut(&object.server_name, 50),
        server_ip: cut(&object.server_ip, 50),
        database_name: cut(&object.database_name, 50),
        database_schema: cut(&object.database_schema, 50),
        object_name: Some(object.object_name.chars().take(75).collect()),
        object_type: Some(object.object_type.chars().take(20).collect()),
        last_use_date: Some(local(object.used)),
    }
}

impl Hashers {
    /// The app's group, parent and app rows, inserted when missing.
    fn register_app(&self, conn: &mut PgConnection, app: &AppRegistration) -> QueryResult<()> {
        let group = NewAppGroups { name: Some(app.group.clone()) };
        let sha = self.app_groups.hex(&group);
        diesel::insert_into(app_groups::table).values((&group, app_groups::sha.eq(sha))).on_conflict_do_nothing().execute(conn)?;
        let parent = NewAppParents { parent: Some(parent_id(&app.group, &app.parent)), name: app.parent.clone(), group_name: app.group.clone() };
        let sha = self.app_parents.hex(&parent);
        diesel::insert_into(app_parents::table).values((&parent, app_parents::sha.eq(sha))).on_conflict_do_nothing().execute(conn)?;
        // Every other column keeps its default: missing Option fields deserialize as None.
        let new_app: NewApps = serde_json::from_value(serde_json::json!({
            "app": app_id(&app.group, &app.parent, &app.name),
            "group_name": app.group,
            "parent_name": app.parent,
            "app_name": app.name,
            "parent_id": parent_id(&app.group, &app.parent),
        }))
        .expect("NewApps from its own column names");
        let sha = self.apps.hex(&new_app);
        diesel::insert_into(apps::table).values((&new_app, apps::sha.eq(sha))).on_conflict_do_nothing().execute(conn)?;
        Ok(())
    }
}

/// How far a spill file is committed in this database (`log_spill_replay`), 0 when never.
fn replayed_to(conn: &mut PgConnection, file_id: &str) -> QueryResult<u64> {
    let position = log_spill_replay::table.filter(log_spill_replay::spill_file.eq(file_id)).select(log_spill_replay::replayed_to).first::<i64>(conn).optional()?;
    Ok(position.unwrap_or(0).max(0) as u64)
}

/// Moves a spill file's committed position, in the transaction of its rows.
fn record_position(conn: &mut PgConnection, file_id: &str, end: u64) -> QueryResult<()> {
    let end = end.min(i64::MAX as u64) as i64;
    diesel::insert_into(log_spill_replay::table)
        .values((log_spill_replay::spill_file.eq(file_id), log_spill_replay::replayed_to.eq(end)))
        .on_conflict(log_spill_replay::spill_file)
        .do_update()
        .set(log_spill_replay::replayed_to.eq(excluded(log_spill_replay::replayed_to)))
        .execute(conn)?;
    Ok(())
}

fn write(conn: &mut PgConnection, hashers: &Hashers, rows: &Rows) -> QueryResult<()> {
    for ContextRows { app, runtime_start } in &rows.contexts {
        if let Some(app) = app {
            hashers.register_app(conn, app)?;
        }
        if let Some((start, sha)) = runtime_start {
            diesel::insert_into(runtime::table).values((start, runtime::sha.eq(sha))).on_conflict_do_nothing().execute(conn)?;
        }
    }
    if !rows.new_functions.is_empty() {
        let values: Vec<_> = rows.new_functions.iter().map(|(function, sha)| (function, app_functions::sha.eq(sha))).collect();
        diesel::insert_into(app_functions::table)
            .values(values)
            .on_conflict(app_functions::function_hash)
            .do_update()
            .set((app_functions::last_seen.eq(excluded(app_functions::last_seen)), app_functions::archive.eq(None::<NaiveDateTime>)))
            .execute(conn)?;
    }
    for (hash, last_seen) in &rows.seen_functions {
        diesel::update(app_functions::table.filter(app_functions::function_hash.eq(hash)).filter(app_functions::last_seen.lt(last_seen)))
            .set(app_functions::last_seen.eq(last_seen))
            .execute(conn)?;
    }
    if !rows.logs.is_empty() {
        copy_logs(conn, &rows.logs)?;
    }
    if !rows.calls.is_empty() {
        diesel::copy_from(function_log::table).from_insertable(&rows.calls).execute(conn)?;
    }
    for (id, end) in &rows.ends {
        diesel::update(runtime::table.filter(runtime::runtime_.eq(id))).set(end).execute(conn)?;
    }
    for (object, sha) in &rows.objects {
        let touched = diesel::update(
            app_db_objects::table.filter(app_db_objects::app_id.is_not_distinct_from(&object.app_id)).filter(app_db_objects::sha.eq(sha)).filter(app_db_objects::archive.is_null()),
        )
        .set(app_db_objects::last_use_date.eq(object.last_use_date))
        .execute(conn)?;
        if touched == 0 {
            diesel::insert_into(app_db_objects::table).values((object, app_db_objects::sha.eq(sha))).execute(conn)?;
        }
    }
    Ok(())
}

impl Sink for DatabaseSink {
    fn name(&self) -> &'static str {
        "database"
    }

    fn destination(&self) -> String {
        database_destination(&self.url)
    }

    fn deliver(&mut self, batch: &[Arc<Record>], _deadline: &Deadline) -> Result<Delivered, SinkError> {
        self.deliver_at(batch, None)
    }

    /// The rows and the file's new position commit together; records up to
    /// the position this database already holds are skipped.
    fn deliver_replayed(&mut self, chunk: &Replayed<'_>, _deadline: &Deadline) -> Result<Delivered, SinkError> {
        let committed = match replayed_to(self.connection()?, chunk.file_id) {
            Ok(committed) => committed,
            Err(error) => return Err(self.error(&error)),
        };
        let already = chunk.ends.iter().take_while(|end| **end <= committed).count();
        if already == chunk.records.len() && chunk.end <= committed {
            return Ok(Delivered { already, ..Delivered::default() });
        }
        let mut delivered = self.deliver_at(&chunk.records[already..], Some((chunk.file_id, chunk.end)))?;
        for (index, _) in &mut delivered.rejected {
            *index += already;
        }
        delivered.already = already;
        Ok(delivered)
    }
}

/// `postgresql://host:port/database` from the URL (its redacted form: no
/// user, password or parameters), the same for every spelling of one database.
fn database_destination(url: &DatabaseUrl) -> String {
    let shown = url.to_string();
    let Ok(parsed) = url::Url::parse(&shown) else {
        return shown;
    };
    let query = |key: &str| parsed.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned());
    let host = parsed.host_str().filter(|h| !h.is_empty()).map(str::to_string).or_else(|| query("host")).unwrap_or_else(|| "localhost".into());
    let port = parsed.port().map(|p| p.to_string()).or_else(|| query("port")).unwrap_or_else(|| "5432".into());
    let database = Some(parsed.path().trim_start_matches('/').to_string()).filter(|d| !d.is_empty()).or_else(|| query("dbname")).unwrap_or_else(|| parsed.username().to_string());
    format!("postgresql://{host}:{port}/{database}")
}

impl DatabaseSink {
    /// One transaction: the batch's rows, and the replay position when given.
    fn deliver_at(&mut self, batch: &[Arc<Record>], position: Option<(&str, u64)>) -> Result<Delivered, SinkError> {
        if position.is_none() && self.use_second {
            if let Some(at) = split(batch, &self.runtimes_ensured) {
                if let Some(delivered) = self.deliver_split(batch, at)? {
                    return Ok(delivered);
                }
            }
        }
        let mut new_functions = HashSet::new();
        let mut runtimes = HashSet::new();
        let rows = self.rows(batch, &mut new_functions, &mut runtimes);
        let hashers = self.hashers.clone();
        let result = self.connection()?.transaction(|conn| {
            write(conn, &hashers, &rows)?;
            match position {
                Some((file_id, end)) => record_position(conn, file_id, end),
                None => Ok(()),
            }
        });
        match result {
            Ok(()) => {
                self.functions_seen.extend(new_functions);
                self.runtimes_ensured.extend(runtimes);
                Ok(Delivered::default())
            }
            Err(error) if is_data_error(&error) => self.deliver_one_by_one(batch, &hashers, position),
            Err(error) => Err(self.error(&error)),
        }
    }

    /// After a data error: each record under its own savepoint in one
    /// transaction, refusing the records that fail.
    fn deliver_one_by_one(&mut self, batch: &[Arc<Record>], hashers: &Hashers, position: Option<(&str, u64)>) -> Result<Delivered, SinkError> {
        let mut per_record = Vec::with_capacity(batch.len());
        let mut new_functions = HashSet::new();
        let mut runtimes = HashSet::new();
        for record in batch {
            // Each record makes sure of its own runtime: an earlier one may be refused.
            let mut own_runtime = HashSet::new();
            per_record.push(self.rows(std::slice::from_ref(record), &mut new_functions, &mut own_runtime));
            runtimes.extend(own_runtime);
        }
        let mut rejected = Vec::new();
        let url = self.url.clone();
        let conn = self.connection()?;
        let result = conn.transaction(|conn| {
            for (index, rows) in per_record.iter().enumerate() {
                match conn.transaction(|conn| write(conn, hashers, rows)) {
                    Ok(()) => {}
                    Err(error) if is_data_error(&error) => rejected.push((index, url.redact(&error.to_string()))),
                    Err(error) => return Err(error),
                }
            }
            match position {
                Some((file_id, end)) => record_position(conn, file_id, end),
                None => Ok(()),
            }
        });
        match result {
            Ok(()) => {
                self.functions_seen.extend(new_functions);
                self.runtimes_ensured.extend(runtimes);
                Ok(Delivered { rejected, already: 0 })
            }
            Err(error) => Err(self.error(&error)),
        }
    }
}

/// `logs` rows at the end of a batch that a second connection COPYs at least:
/// fewer are not worth a thread and a second transaction.
const SPLIT_MIN_ROWS: usize = 200;

/// Where to split a live batch so that a second connection COPYs the rest
/// while the first writes the start, or `None`. Checking a `logs` row's three
/// foreign keys is most of PostgreSQL's work per row, and one backend does it
/// on one core; two backends use two. The rest must be log records of
/// runtimes already committed (a runtime or app row the first connection
/// inserts is not visible to the second before it commits), about half of
/// the batch's log records, and at least [`SPLIT_MIN_ROWS`].
fn split(batch: &[Arc<Record>], runtimes_ensured: &HashSet<String>) -> Option<usize> {
    let logs = batch.iter().filter(|record| record.is_log()).count();
    let wanted = logs / 2;
    if wanted < SPLIT_MIN_ROWS {
        return None;
    }
    let eligible = |record: &Arc<Record>| match &**record {
        Record::Log(log) => runtimes_ensured.contains(log.context.runtime.as_deref().unwrap_or_default()),
        _ => false,
    };
    let tail = batch.iter().rev().take(wanted).take_while(|record| eligible(record)).count();
    (tail >= SPLIT_MIN_ROWS).then(|| batch.len() - tail)
}

#[derive(QueryableByName)]
struct ReservedId {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// `n` values of `logs.id`'s sequence, ascending.
fn reserve_log_ids(conn: &mut PgConnection, n: usize) -> QueryResult<Vec<i64>> {
    let ids: Vec<ReservedId> = diesel::sql_query("SELECT nextval(pg_get_serial_sequence('logs', 'id')) AS id FROM generate_series(1, $1)")
        .bind::<diesel::sql_types::BigInt, _>(n as i64)
        .load(conn)?;
    Ok(ids.into_iter().map(|reserved| reserved.id).collect())
}

impl DatabaseSink {
    /// The batch over two connections: `batch[..at]` as [`write`] does on the
    /// first, the `logs` rows of `batch[at..]` by COPY on the second, at the
    /// same time, each in its transaction. The first commits first, and the
    /// second only after it, so what is committed is always a prefix of the
    /// batch: the whole batch, or `batch[..at]` (then the error says `done:
    /// at`, and the rest is spilled and replayed like any failed batch), or
    /// nothing. Ids are taken from `logs.id`'s sequence first, so they follow
    /// the records' order as on one connection. `Ok(None)`: no second
    /// connection could be opened; the caller writes the batch on one.
    fn deliver_split(&mut self, batch: &[Arc<Record>], at: usize) -> Result<Option<Delivered>, SinkError> {
        // The first connection first: when the server is down, its error is the one to report.
        self.connection()?;
        if self.second.is_none() {
            match self.url.establish() {
                Ok(conn) => self.second = Some(conn),
                Err(_) => return Ok(None),
            }
        }
        let mut new_functions = HashSet::new();
        let mut runtimes = HashSet::new();
        let mut head = self.rows(&batch[..at], &mut new_functions, &mut runtimes);
        let mut tail: Vec<LogToWrite> = batch[at..]
            .iter()
            .map(|record| {
                let function_id = match &**record {
                    Record::Log(log) => self.log_function_id(log),
                    _ => None,
                };
                LogToWrite { record: record.clone(), function_id, id: None }
            })
            .collect();
        let ids = match reserve_log_ids(self.connection()?, head.logs.len() + tail.len()) {
            Ok(ids) => ids,
            Err(error) => return Err(self.error(&error)),
        };
        for (row, id) in head.logs.iter_mut().chain(tail.iter_mut()).zip(ids) {
            row.id = Some(id);
        }
        let hashers = self.hashers.clone();
        let (Some(first), Some(second)) = (self.conn.as_mut(), self.second.as_mut()) else {
            return Ok(None);
        };
        let (head_result, tail_result) = std::thread::scope(|scope| {
            let tail_copy = scope.spawn(|| {
                crate::pipeline::mark_pipeline_thread();
                second.batch_execute("BEGIN")?;
                copy_logs(second, &tail)
            });
            let head_result = first.transaction(|conn| write(conn, &hashers, &head));
            let tail_result = tail_copy.join().unwrap_or_else(|_| Err(DieselError::BrokenTransactionManager));
            (head_result, tail_result)
        });
        let tail_result = match (&head_result, tail_result) {
            (Ok(()), Ok(_)) => second.batch_execute("COMMIT"),
            (_, tail_result) => {
                // Not committed: roll back (a failed COPY has aborted the transaction already).
                let _ = second.batch_execute("ROLLBACK");
                tail_result.map(|_| ())
            }
        };
        match head_result {
            Ok(()) => {
                self.functions_seen.extend(new_functions);
                self.runtimes_ensured.extend(runtimes);
            }
            // The head alone, record by record, as on one connection; the tail is not committed.
            Err(error) if is_data_error(&error) => {
                let mut delivered = self.deliver_one_by_one(&batch[..at], &hashers, None)?;
                return match self.deliver_at(&batch[at..], None) {
                    Ok(rest) => {
                        delivered.rejected.extend(rest.rejected.into_iter().map(|(index, answer)| (index + at, answer)));
                        Ok(Some(delivered))
                    }
                    Err(mut error) => {
                        error.done += at;
                        Err(error)
                    }
                };
            }
            Err(error) => {
                self.second = None;
                return Err(self.error(&error));
            }
        }
        match tail_result {
            Ok(()) => Ok(Some(Delivered::default())),
            Err(error) => {
                self.second = None;
                let mut error = self.error(&error);
                error.done = at;
                Err(error)
            }
        }
    }
}
