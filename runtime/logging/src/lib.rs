//! Logging for apps on a dcgen schema: one `tracing` layer feeds the console, the `logs` table, Splunk HEC and a spill file that is replayed; spans become function timings; the runtime row, HTTP metrics and the dependency map come along.
//!
//! ```no_run
//! let guard = dc_logging::Logging::from_env()?.install()?;   // DC_LOG_*, DC_APP_*, DC_DB_MAIN_URL
//! tracing::info!(rows = 3, "collected");
//! guard.finish(dc_schema::enums::RuntimeExitCode::Finished); // or drop it
//! # Ok::<(), dc_logging::LoggingError>(())
//! ```
//!
//! The road: [`layer`] builds records on the app thread → [`pipeline`]
//! queues and routes them → each sink in [`sink`] batches, delivers, and
//! spills what it cannot deliver to [`spill`], which it replays later.
//! [`ids`] names apps, runtimes and functions; [`record`] is what travels;
//! [`http`] counts an app's requests; [`dependency`] records merged tables.

pub mod dependency;
pub mod http;
pub mod ids;
pub mod layer;
mod pipeline;
mod pool;
pub mod record;
pub mod settings;
mod sink;
mod spill;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use dc_runtime::db::{DatabaseUrl, DbError};
use dc_schema::enums::RuntimeExitCode;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

pub use ids::AppIdentity;
pub use layer::DcLayer;
pub use pipeline::{SinkStats, Stats};
pub use settings::{HecSettings, LogSettings, Secret};

use pipeline::{PipelineOptions, Shared, SinkSetup};
use record::{AppRegistration, Context, Record, RuntimeStarted};

#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("{name} {problem}")]
    Setting { name: &'static str, problem: String },
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("cannot use the spill directory: {0}; set DC_LOG_SPILL_DIR to a writable directory")]
    Spill(String),
    #[error("Splunk sink: {0}")]
    Splunk(String),
    #[error("a global tracing subscriber is already set; use Logging::build and add the layer to yours")]
    AlreadyInstalled,
}

/// Chooses sinks and settings, then [`install`](Logging::install)s the layer or [`build`](Logging::build)s it.
#[derive(Debug, Clone)]
pub struct Logging {
    settings: LogSettings,
    database_url: Option<DatabaseUrl>,
    /// False for a process that is not an app run ([`Logging::no_runtime`]).
    own_runtime: bool,
}

impl Logging {
    /// Settings from `DC_LOG_*` and `DC_APP_*`; the database from
    /// `DC_DB_MAIN_URL` (or `DATABASE_URL`) when `DC_LOG_DATABASE` is on.
    pub fn from_env() -> Result<Logging, LoggingError> {
        let settings = LogSettings::from_env()?;
        let database_url = if settings.database { Some(DatabaseUrl::from_env()?) } else { None };
        Ok(Logging { settings, database_url, own_runtime: true })
    }

    /// The given settings; the database sink only with [`database`](Logging::database).
    pub fn new(settings: LogSettings) -> Logging {
        Logging { settings, database_url: None, own_runtime: true }
    }

    pub fn settings(&self) -> &LogSettings {
        &self.settings
    }

    /// Writes to this database (and turns the database sink on).
    pub fn database(mut self, url: DatabaseUrl) -> Self {
        self.settings.database = true;
        self.database_url = Some(url);
        self
    }

    pub fn no_database(mut self) -> Self {
        self.settings.database = false;
        self.database_url = None;
        self
    }

    pub fn app(mut self, app: AppIdentity) -> Self {
        self.settings.app = Some(app);
        self
    }

    /// Logs under a runtime row another process (dc-manager) wrote and ends:
    /// as `DC_APP_ID` and `DC_RUNTIME_ID` do.
    pub fn managed_run(mut self, app_id: impl Into<String>, runtime_id: impl Into<String>) -> Self {
        self.settings.app_id = Some(app_id.into());
        self.settings.runtime_id = Some(runtime_id.into());
        self
    }

    /// For a process that is no app run (dc-manager): it writes no runtime
    /// row of its own, and its own events have no app and no runtime
    /// (`logs.app_id` and `logs.runtime` NULL). Events that name their owner
    /// ([`layer::OWNER_APP_FIELD`]) still go under the owner's ids. Ignored
    /// with [`managed_run`](Logging::managed_run) or `DC_RUNTIME_ID`.
    pub fn no_runtime(mut self) -> Self {
        self.own_runtime = false;
        self
    }

    pub fn splunk(mut self, hec: HecSettings) -> Self {
        self.settings.splunk = Some(hec);
        self
    }

    pub fn console(mut self, on: bool) -> Self {
        self.settings.console = on;
        self
    }

    pub fn spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.settings.spill_dir = dir.into();
        self
    }

    pub fn level(mut self, level: LevelFilter) -> Self {
        self.settings.level = level;
        self
    }

    pub fn queue_size(mut self, size: usize) -> Self {
        self.settings.queue_size = size.max(1);
        self
    }

    pub fn queue_wait(mut self, wait: Duration) -> Self {
        self.settings.queue_wait = wait;
        self
    }

    pub fn batch_size(mut self, size: usize) -> Self {
        self.settings.batch_size = size.max(1);
        self
    }

    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.settings.flush_interval = interval;
        self
    }

    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.settings.shutdown_timeout = timeout;
        self
    }

    pub fn handle_sigterm(mut self, on: bool) -> Self {
        self.settings.handle_sigterm = on;
        self
    }

    /// Starts the pipeline and returns the layer (console included when
    /// on, filtered at the configured level) for a subscriber of your own,
    /// with the guard that ends it. Installs no global hooks.
    pub fn build<S>(self) -> Result<(impl Layer<S> + Send + Sync + 'static, LoggingGuard), LoggingError>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        let (layer, console, guard) = self.start()?;
        let level = guard.level;
        let console_layer = console.map(|writer| tracing_subscriber::fmt::layer().with_writer(writer));
        Ok((layer.and_then(console_layer).with_filter(level), guard))
    }

    /// Builds the layer and sets it as the global subscriber; on SIGTERM
    /// (unless turned off) drains and ends the runtime row; a panic is
    /// logged as an ERROR event before it unwinds.
    pub fn install(self) -> Result<LoggingGuard, LoggingError> {
        let handle_sigterm = self.settings.handle_sigterm;
        let (layer, guard) = self.build::<tracing_subscriber::Registry>()?;
        tracing_subscriber::registry().with(layer).try_init().map_err(|_| LoggingError::AlreadyInstalled)?;
        install_panic_hook();
        *installed().lock().unwrap_or_else(|p| p.into_inner()) = Arc::downgrade(&guard.shared);
        if handle_sigterm {
            install_sigterm_handler();
        }
        Ok(guard)
    }

    fn start(self) -> Result<(DcLayer, Option<sink::console::ConsoleWriter>, LoggingGuard), LoggingError> {
        let settings = self.settings;
        let started = chrono::Utc::now();
        settings.check_ids()?;
        let app_id = settings.app_id.clone().or_else(|| settings.app.as_ref().map(AppIdentity::app_id));
        let database = settings.database.then_some(self.database_url).flatten();
        // The manager's runtime row when it started this process; else one of
        // our own, which needs somewhere to go: the database.
        let managed = settings.runtime_id.is_some();
        let runtime = match &settings.runtime_id {
            Some(id) => Some(id.clone()),
            None if !self.own_runtime => None,
            None => database.as_ref().map(|_| ids::runtime_id(app_id.as_deref().unwrap_or(""), record::local(started), std::process::id())),
        };
        let context = Arc::new(Context {
            app_id: app_id.clone(),
            runtime: runtime.clone(),
            instance_id: Some(settings.instance_id.unwrap_or(std::process::id() as i32)),
            app: settings.app.as_ref().map(|app| AppRegistration { group: app.group.clone(), parent: app.parent.clone(), name: app.name.clone() }),
            started: Some(started),
            managed,
        });
        let database_on = database.is_some();
        let mut sinks = Vec::new();
        let open_spill = |sink: &dyn sink::Sink| spill::Spill::open(&settings.spill_dir, sink.name(), &sink.destination()).map(Arc::new).map_err(LoggingError::Spill);
        if let Some(url) = database {
            let database_sink = sink::database::DatabaseSink::new(url, settings.database_second_connection);
            let spill = open_spill(&database_sink)?;
            sinks.push(SinkSetup { sink: Box::new(database_sink), accepts: sink::every_record, spill });
        }
        if let Some(hec) = settings.splunk.clone() {
            let hec_sink = sink::hec::HecSink::new(hec).map_err(LoggingError::Splunk)?;
            let spill = open_spill(&hec_sink)?;
            sinks.push(SinkSetup { sink: Box::new(hec_sink), accepts: sink::log_records, spill });
        }
        let (console, console_writer) = if settings.console {
            let (console, writer) = sink::console::Console::start(settings.queue_size);
            (Some(console), Some(writer))
        } else {
            (None, None)
        };
        let options = PipelineOptions {
            queue_size: settings.queue_size,
            queue_wait: settings.queue_wait,
            batch_size: settings.batch_size,
            flush_interval: settings.flush_interval,
            shutdown_timeout: settings.shutdown_timeout,
        };
        let shared = Shared::start(context.clone(), options, sinks, console, started);
        if runtime.is_some() && database_on {
            shared.submit(Record::RuntimeStarted(RuntimeStarted { context }));
        }
        let guard = LoggingGuard { shared: shared.clone(), level: settings.level, shutdown_timeout: settings.shutdown_timeout };
        Ok((DcLayer::new(shared), console_writer, guard))
    }
}

/// Ends logging when dropped: the runtime row is closed (`finished`, or no
/// exit code when dropped by a panic), every accepted record is delivered
/// or spilled within the shutdown timeout.
pub struct LoggingGuard {
    shared: Arc<Shared>,
    level: LevelFilter,
    shutdown_timeout: Duration,
}

impl LoggingGuard {
    /// Waits until every sink has written (or spilled) what it was given so
    /// far, at most the shutdown timeout; false if it had to stop waiting.
    pub fn flush(&self) -> bool {
        self.shared.flush(self.shutdown_timeout)
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// `runtime.runtime` of this run (`None` without the database sink).
    pub fn runtime_id(&self) -> Option<&str> {
        self.shared.context.runtime.as_deref()
    }

    pub fn app_id(&self) -> Option<&str> {
        self.shared.context.app_id.as_deref()
    }

    /// Ends the runtime with `exit_code` and drains; returns the final counts.
    pub fn finish(self, exit_code: RuntimeExitCode) -> Stats {
        self.shared.shutdown(Some(exit_code));
        self.shared.stats()
    }
}

impl Drop for LoggingGuard {
    fn drop(&mut self) {
        // No RuntimeExitCode describes a crash; a panic leaves exit_code empty.
        let exit_code = if std::thread::panicking() { None } else { Some(RuntimeExitCode::Finished) };
        self.shared.shutdown(exit_code);
    }
}

/// The pipeline [`Logging::install`] set up, for the SIGTERM handler.
fn installed() -> &'static Mutex<Weak<Shared>> {
    static INSTALLED: OnceLock<Mutex<Weak<Shared>>> = OnceLock::new();
    INSTALLED.get_or_init(|| Mutex::new(Weak::new()))
}

fn install_panic_hook() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
            let payload = info.payload().downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| info.payload().downcast_ref::<String>().cloned()).unwrap_or_default();
            tracing::error!(panic.location = %location, "panic: {payload}");
            previous(info);
        }));
    });
}

/// On SIGTERM: drain (the runtime row ends with `manager_exit`: the manager
/// stops apps this way), then die of the signal as if unhandled.
fn install_sigterm_handler() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let Ok(mut signals) = signal_hook::iterator::Signals::new([signal_hook::consts::SIGTERM]) else {
            eprintln!("dc-logging: could not install the SIGTERM handler; SIGTERM will not drain the logs");
            return;
        };
        let spawned = std::thread::Builder::new().name("dc-log-sigterm".into()).spawn(move || {
            if signals.forever().next().is_some() {
                let shared = installed().lock().unwrap_or_else(|p| p.into_inner()).upgrade();
                if let Some(shared) = shared {
                    shared.shutdown(Some(RuntimeExitCode::ManagerExit));
                }
                let _ = signal_hook::low_level::emulate_default_handler(signal_hook::consts::SIGTERM);
                std::process::exit(128 + signal_hook::consts::SIGTERM);
            }
        });
        if spawned.is_err() {
            eprintln!("dc-logging: could not start the SIGTERM thread; SIGTERM will not drain the logs");
        }
    });
}
