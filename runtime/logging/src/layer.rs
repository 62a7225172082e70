//! The `tracing_subscriber::Layer`: events become log records and function spans become function calls, built on the app thread and queued.
//!
//! The app thread does the cheap part only: it copies the event's fields,
//! formats its message and takes the call chain its span computed once when
//! it opened, into a record from the pool whose buffers it reuses (`pool`).
//! Hashing, JSON and I/O happen on the sink threads.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record as SpanValues};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::pipeline::{on_pipeline_thread, Shared};
use crate::pool::{log_mut, unpooled, FieldWriter};
use crate::record::{log_level, FunctionCall, Record};

/// The fields that make a span a timed function (`function_log`).
pub const FUNCTION_FIELDS: [&str; 3] = ["task_size", "solved", "failed"];

/// Joins span names in `logs.call_chain`.
pub const CHAIN_SEPARATOR: &str = " -> ";

/// An event with this field (and [`OWNER_RUNTIME_FIELD`]) is filed under that
/// app instead of this process's: how dc-manager logs a child's stdout and
/// stderr under the child's ids.
///
/// ```
/// # let (app_id, runtime_id) = ("a".repeat(64), "b".repeat(64));
/// tracing::info!(dc.app_id = app_id.as_str(), dc.runtime_id = runtime_id.as_str(), stream = "stdout", "a child's line");
/// ```
///
/// Both must be set, non-empty and at most 64 characters (`logs.app_id`,
/// `logs.runtime`). An owned event's record has that app and runtime, no
/// instance id, and no module, file, line, function or call chain (those
/// would describe the relaying process's code, not the owner's); its other
/// fields go to `context_json`, and it does not count as an exception of
/// this process's runtime. The owner's app and runtime rows are expected to
/// exist (the database sink inserts a missing runtime row without a start).
///
/// An event that names an owner wrongly (one field missing, empty or too
/// long) is not dropped and not guessed at: it is filed under this process's
/// ids as an ordinary event, with both given values and
/// [`OWNER_ERROR_FIELD`], saying what is wrong, in `context_json`.
pub const OWNER_APP_FIELD: &str = "dc.app_id";
/// The owner's `runtime.runtime`; see [`OWNER_APP_FIELD`].
pub const OWNER_RUNTIME_FIELD: &str = "dc.runtime_id";
/// Set in `context_json` when an event named its owner wrongly; see [`OWNER_APP_FIELD`].
pub const OWNER_ERROR_FIELD: &str = "dc.owner_error";

/// Feeds the logging pipeline; get one from [`crate::Logging::build`].
#[derive(Clone)]
pub struct DcLayer {
    shared: Arc<Shared>,
}

impl DcLayer {
    pub(crate) fn new(shared: Arc<Shared>) -> DcLayer {
        DcLayer { shared }
    }
}

/// What the layer keeps in each span.
struct SpanData {
    chain: Arc<str>,
    function: Option<FunctionSpan>,
}

struct FunctionSpan {
    start: DateTime<Utc>,
    started: Instant,
    thread_id: i32,
    function_no: i32,
    counts: Counts,
}

#[derive(Default)]
struct Counts {
    task_size: Option<i64>,
    solved: Option<i64>,
    failed: Option<i64>,
}

impl Visit for Counts {
    fn record_i64(&mut self, field: &Field, value: i64) {
        match field.name() {
            "task_size" => self.task_size = Some(value),
            "solved" => self.solved = Some(value),
            "failed" => self.failed = Some(value),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record_i64(field, value.min(i64::MAX as u64) as i64);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // `task_size = rows.len()` arrives as u64; anything else numeric-looking as text.
        if let Ok(parsed) = format!("{value:?}").parse::<i64>() {
            self.record_i64(field, parsed);
        }
    }
}

thread_local! {
    /// Function spans opened on this thread so far: `function_log.function_no`.
    static FUNCTION_NO: Cell<i32> = const { Cell::new(0) };
    static THREAD_ID: Cell<i32> = const { Cell::new(0) };
}

/// The OS thread id (what `ps -L` shows), cached per thread.
fn thread_id() -> i32 {
    THREAD_ID.with(|cached| {
        if cached.get() == 0 {
            // SAFETY: gettid has no preconditions.
            cached.set(unsafe { libc::syscall(libc::SYS_gettid) } as i32);
        }
        cached.get()
    })
}

/// Collects an event's message and other fields into a (reused) record's buffers.
struct EventFields<'a> {
    message: &'a mut String,
    fields: FieldWriter<'a>,
    /// [`OWNER_APP_FIELD`] and [`OWNER_RUNTIME_FIELD`], when the event has them.
    owner_app: Option<String>,
    owner_runtime: Option<String>,
}

impl EventFields<'_> {
    /// Takes an owner field; false for any other field.
    fn owner(&mut self, field: &Field, value: impl FnOnce() -> String) -> bool {
        match field.name() {
            OWNER_APP_FIELD => self.owner_app = Some(value()),
            OWNER_RUNTIME_FIELD => self.owner_runtime = Some(value()),
            _ => return false,
        }
        true
    }

    /// The owner's context when the event names one correctly. A wrong
    /// owner goes back among the fields with what is wrong with it, and the
    /// event stays this process's ([`OWNER_APP_FIELD`]).
    fn take_owner(&mut self) -> Option<Arc<crate::record::Context>> {
        if self.owner_app.is_none() && self.owner_runtime.is_none() {
            return None;
        }
        let (app, runtime) = (self.owner_app.take(), self.owner_runtime.take());
        let problem = [(OWNER_APP_FIELD, &app), (OWNER_RUNTIME_FIELD, &runtime)].into_iter().find_map(|(name, value)| match value {
            None => Some(format!("{name} is missing")),
            Some(id) if id.is_empty() => Some(format!("{name} is empty")),
            Some(id) if id.chars().count() > 64 => Some(format!("{name} is {} characters long; an id has at most 64", id.chars().count())),
            Some(_) => None,
        });
        match problem {
            None => Some(Arc::new(crate::record::Context { app_id: app, runtime, managed: true, ..crate::record::Context::default() })),
            Some(problem) => {
                for (name, value) in [(OWNER_APP_FIELD, app), (OWNER_RUNTIME_FIELD, runtime)] {
                    if let Some(value) = value {
                        self.fields.value(name, serde_json::Value::String(value));
                    }
                }
                self.fields.value(OWNER_ERROR_FIELD, serde_json::Value::String(format!("{problem}: filed under the logging process's own ids")));
                None
            }
        }
    }
}

impl Visit for EventFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else if !self.owner(field, || value.to_string()) {
            self.fields.text(field.name(), |text| text.push_str(value));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.fields.value(field.name(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.fields.value(field.name(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.fields.value(field.name(), serde_json::Number::from_f64(value).map_or(serde_json::Value::Null, serde_json::Value::Number));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.fields.value(field.name(), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.fields.text(field.name(), |text| {
            let _ = write!(text, "{value}");
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else if !self.owner(field, || format!("{value:?}")) {
            self.fields.text(field.name(), |text| {
                let _ = write!(text, "{value:?}");
            });
        }
    }
}

impl<S> Layer<S> for DcLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let name = attrs.metadata().name();
        let chain: Arc<str> = match span.parent().and_then(|parent| parent.extensions().get::<SpanData>().map(|data| data.chain.clone())) {
            Some(parent) => format!("{parent}{CHAIN_SEPARATOR}{name}").into(),
            None => name.into(),
        };
        let fields = attrs.metadata().fields();
        let function = FUNCTION_FIELDS.iter().any(|f| fields.field(f).is_some()).then(|| {
            let mut counts = Counts::default();
            attrs.record(&mut counts);
            FunctionSpan {
                start: Utc::now(),
                started: Instant::now(),
                thread_id: thread_id(),
                function_no: FUNCTION_NO.with(|n| {
                    n.set(n.get() + 1);
                    n.get()
                }),
                counts,
            }
        });
        // A merge span inside another (dc-runtime's own `merge` span under the one
        // `dependency::merge` opens with the connection's server) is the same use of
        // the same table: only the outermost is recorded.
        let inside_merge = span.parent().is_some_and(|parent| parent.name() == crate::dependency::MERGE_SPAN);
        if !on_pipeline_thread() && !inside_merge {
            crate::dependency::on_new_span(&self.shared, attrs);
        }
        span.extensions_mut().insert(SpanData { chain, function });
    }

    fn on_record(&self, id: &Id, values: &SpanValues<'_>, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(function) = extensions.get_mut::<SpanData>().and_then(|data| data.function.as_mut()) {
            values.record(&mut function.counts);
        }
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        if on_pipeline_thread() {
            return;
        }
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let Some(function) = span.extensions_mut().get_mut::<SpanData>().and_then(|data| data.function.take()) else {
            return;
        };
        let span = span;
        let metadata = span.metadata();
        let end = function.start + chrono::Duration::from_std(function.started.elapsed()).unwrap_or_default();
        self.shared.submit(Record::FunctionCall(FunctionCall {
            context: self.shared.context.clone(),
            function: Cow::Borrowed(metadata.name()),
            module: metadata.module_path().map(Cow::Borrowed),
            file: metadata.file().map(Cow::Borrowed),
            thread_id: function.thread_id,
            function_no: function.function_no,
            task_size: function.counts.task_size,
            solved: function.counts.solved,
            failed: function.counts.failed,
            start: function.start,
            end,
        }));
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        if on_pipeline_thread() {
            return;
        }
        let metadata = event.metadata();
        // A record the sinks gave back, its buffers reused: no fresh memory on this thread (see `pool`).
        let mut record = self.shared.pool.take().unwrap_or_else(|| unpooled(&self.shared.context));
        let log = log_mut(&mut record);
        log.message.clear();
        let mut fields = EventFields { message: &mut log.message, fields: FieldWriter::new(&mut log.fields), owner_app: None, owner_runtime: None };
        event.record(&mut fields);
        let owner = fields.take_owner();
        fields.fields.finish();
        log.time = Utc::now();
        log.level = log_level(metadata.level());
        log.target = Cow::Borrowed(metadata.target());
        match owner {
            // Another app's line, relayed: none of this process's code or counts apply.
            Some(owner) => {
                log.context = owner;
                log.module = None;
                log.file = None;
                log.line = None;
                log.function = None;
                log.call_chain = None;
            }
            None => {
                if *metadata.level() == tracing::Level::ERROR {
                    self.shared.errors.fetch_add(1, Ordering::Relaxed);
                }
                let (function, call_chain) = match ctx.event_span(event) {
                    Some(span) => (Some(Cow::Borrowed(span.name())), span.extensions().get::<SpanData>().map(|data| data.chain.clone())),
                    None => (None, None),
                };
                if !Arc::ptr_eq(&log.context, &self.shared.context) {
                    log.context = self.shared.context.clone();
                }
                log.module = metadata.module_path().map(Cow::Borrowed);
                log.file = metadata.file().map(Cow::Borrowed);
                log.line = metadata.line();
                log.function = function;
                log.call_chain = call_chain;
            }
        }
        self.shared.submit_shared(record);
    }
}
