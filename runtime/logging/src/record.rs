//! What travels from the app to the sinks (and into spill files): log events, function calls, runtime starts and ends, database objects.
//!
//! Records serialize to JSON for the spill file, so a record spilled by one
//! process is replayed by the next exactly as it was built.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, Local, NaiveDateTime, Utc};
use dc_schema::enums::{LogLevel, RuntimeExitCode};
use serde::{Deserialize, Serialize};

/// What every record of one process shares: app, runtime and instance.
///
/// It carries what the runtime row needs (the app's names, the start), so
/// the database sink can make sure the app and runtime rows exist before
/// any row that refers to them, whatever order records arrive in.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    pub app_id: Option<String>,
    pub runtime: Option<String>,
    pub instance_id: Option<i32>,
    /// The app's group, parent and name, registered in `apps` if missing.
    pub app: Option<AppRegistration>,
    pub started: Option<DateTime<Utc>>,
    /// The runtime row belongs to the process that started this one
    /// (dc-manager, through `DC_RUNTIME_ID`): it wrote the row and records
    /// its end time, totals and exit code; this process only adds the
    /// exception count and HTTP metrics.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub managed: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    Log(LogRecord),
    FunctionCall(FunctionCall),
    RuntimeStarted(RuntimeStarted),
    RuntimeEnded(RuntimeEnded),
    DbObject(DbObject),
}

impl Record {
    pub fn is_log(&self) -> bool {
        matches!(self, Record::Log(_))
    }

    /// The process the record comes from (`None` for a dependency-map entry).
    pub fn context(&self) -> Option<&Arc<Context>> {
        match self {
            Record::Log(log) => Some(&log.context),
            Record::FunctionCall(call) => Some(&call.context),
            Record::RuntimeStarted(start) => Some(&start.context),
            Record::RuntimeEnded(end) => Some(&end.context),
            Record::DbObject(_) => None,
        }
    }
}

/// One `tracing` event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    pub context: Arc<Context>,
    pub time: DateTime<Utc>,
    pub level: LogLevel,
    /// The event's target (module path unless set).
    pub target: Cow<'static, str>,
    /// Rust module path of the call site (`logs.module_name`).
    pub module: Option<Cow<'static, str>>,
    /// Source file of the call site (`logs.module_path`).
    pub file: Option<Cow<'static, str>>,
    pub line: Option<u32>,
    /// The innermost span's name (`logs.function_name`).
    pub function: Option<Cow<'static, str>>,
    /// Span names from the root to the innermost, joined by ` -> `.
    pub call_chain: Option<Arc<str>>,
    pub message: String,
    /// The event's other fields, in the order written.
    pub fields: Vec<(Cow<'static, str>, serde_json::Value)>,
}

impl LogRecord {
    /// `context_json`: the fields as a JSON object, `None` when there are none.
    pub fn context_json(&self) -> Option<String> {
        if self.fields.is_empty() {
            return None;
        }
        let map: serde_json::Map<String, serde_json::Value> = self.fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        Some(serde_json::Value::Object(map).to_string())
    }
}

/// A closed span that carried `task_size`, `solved` or `failed`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    pub context: Arc<Context>,
    pub function: Cow<'static, str>,
    pub module: Option<Cow<'static, str>>,
    pub file: Option<Cow<'static, str>>,
    pub thread_id: i32,
    /// Order of the call among function spans opened on its thread.
    pub function_no: i32,
    pub task_size: Option<i64>,
    pub solved: Option<i64>,
    pub failed: Option<i64>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppRegistration {
    pub group: String,
    pub parent: String,
    pub name: String,
}

/// The runtime began: its row is written (from the context) even if nothing is logged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuntimeStarted {
    pub context: Arc<Context>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuntimeEnded {
    pub context: Arc<Context>,
    pub runtime: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub except_cnt: i64,
    /// `None` when no `RuntimeExitCode` says what happened (a panic).
    pub exit_code: Option<RuntimeExitCode>,
    pub http: Option<HttpSummary>,
}

/// The runtime row's HTTP columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HttpSummary {
    pub request_count: i64,
    pub avg_response_ms: i64,
    pub p95_response_ms: i64,
    /// Percent of requests that failed (transport error or status ≥ 400).
    pub error_rate: f64,
}

/// A database object an app used (`app_db_objects`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DbObject {
    pub app_id: Option<String>,
    pub server_type: Option<String>,
    pub server_name: Option<String>,
    pub server_ip: Option<String>,
    pub database_name: Option<String>,
    pub database_schema: Option<String>,
    pub object_name: String,
    pub object_type: String,
    pub used: DateTime<Utc>,
}

/// A moment as the tables store it: local wall-clock time without a zone,
/// like Python's `datetime.now()`.
pub fn local(time: DateTime<Utc>) -> NaiveDateTime {
    time.with_timezone(&Local).naive_local()
}

/// Whole seconds, minutes and hours between two moments (truncated), as `totals`, `totalm`, `totalh`.
pub fn totals(start: DateTime<Utc>, end: DateTime<Utc>) -> (i32, i32, i32) {
    let seconds = (end - start).num_seconds().max(0);
    let clamp = |n: i64| n.min(i32::MAX as i64) as i32;
    (clamp(seconds), clamp(seconds / 60), clamp(seconds / 3600))
}

/// `tracing`'s level as the `LogLevel` codebook has it; TRACE has no row of
/// its own and is stored as DEBUG.
pub fn log_level(level: &tracing::Level) -> LogLevel {
    match *level {
        tracing::Level::ERROR => LogLevel::Error,
        tracing::Level::WARN => LogLevel::Warning,
        tracing::Level::INFO => LogLevel::Info,
        _ => LogLevel::Debug,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_survives_its_spill_form() {
        let record = Record::Log(LogRecord {
            context: Arc::new(Context { app_id: Some("a".into()), runtime: Some("r".into()), instance_id: Some(3), ..Context::default() }),
            time: Utc::now(),
            level: LogLevel::Warning,
            target: "t".into(),
            module: Some("m".into()),
            file: Some("f.rs".into()),
            line: Some(7),
            function: Some("work".into()),
            call_chain: Some("main -> work".into()),
            message: "hello \"world\"".into(),
            fields: vec![("n".into(), serde_json::json!(1)), ("s".into(), serde_json::json!("x"))],
        });
        let text = serde_json::to_string(&record).unwrap();
        let back: Record = serde_json::from_str(&text).unwrap();
        assert_eq!(back, record);
        let Record::Log(log) = back else { unreachable!() };
        assert_eq!(log.context_json().unwrap(), r#"{"n":1,"s":"x"}"#);
    }

    #[test]
    fn totals_truncate() {
        let start = Utc::now();
        assert_eq!(totals(start, start + chrono::Duration::seconds(7322)), (7322, 122, 2));
        assert_eq!(totals(start, start - chrono::Duration::seconds(5)), (0, 0, 0));
    }
}
