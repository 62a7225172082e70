//! `dc-manager`: the manager process. Configuration from flags or environment; SIGTERM (or Ctrl-C) shuts it down gracefully.
//!
//! Logging: every event goes to the console (stdout, `RUST_LOG`, default
//! info); the apps' stdout and stderr lines (target [`output::TARGET`]) also go
//! through dc-logging into the `logs` table of the same database, under each
//! child's app and runtime ids (`DC_LOG_*` settings apply: spill directory,
//! level, `DC_LOG_DATABASE=false` to turn the table off). The manager's own
//! events stay on the console: it is no app run and has no runtime row.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use dc_manager::manager::{self, Config};
use dc_manager::notify::{Notifier, Webhook};
use dc_manager::output;
use dc_runtime::db::DatabaseUrl;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

#[derive(Parser)]
#[command(name = "dc-manager", version, about = "Runs registered apps on their schedules and on commands; many managers may share one database")]
struct Args {
    /// PostgreSQL URL (the password is never printed).
    #[arg(long, env = "DC_DB_MAIN_URL", hide_env_values = true)]
    database_url: String,
    /// Seconds a claimed run stays this manager's without renewal; another manager takes over after it.
    #[arg(long, env = "DC_MANAGER_LEASE_S", default_value_t = 30.0)]
    lease_s: f64,
    /// Milliseconds between polls when no notification arrives.
    #[arg(long, env = "DC_MANAGER_POLL_MS", default_value_t = 1000)]
    poll_ms: u64,
    /// Seconds a run may start late and still count as on time (missed-run policies).
    #[arg(long, env = "DC_MANAGER_GRACE_S", default_value_t = 60.0)]
    grace_s: f64,
    /// Seconds running apps get to finish on SIGTERM before they are stopped.
    #[arg(long, env = "DC_MANAGER_SHUTDOWN_S", default_value_t = 30.0)]
    shutdown_s: f64,
    /// Fatal-app alerts: FORMAT=URL with FORMAT json, slack, teams or telegram:CHAT_ID (repeatable).
    #[arg(long = "alert-webhook", env = "DC_MANAGER_ALERT_WEBHOOKS", value_delimiter = ',', hide_env_values = true)]
    alert_webhooks: Vec<String>,
    /// This manager's id (default host:pid:nonce).
    #[arg(long)]
    manager_id: Option<String>,
}

fn seconds(value: f64, name: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value).ok().filter(|d| !d.is_zero()).ok_or_else(|| format!("--{name} must be a positive number of seconds, not {value}"))
}

/// dc-logging for the apps' output: the `logs` table of `url`, no runtime row
/// of the manager's own; console, SIGTERM and the app's ids are the manager's business.
fn app_output_logging(url: &DatabaseUrl) -> Result<dc_logging::Logging, dc_logging::LoggingError> {
    let settings = dc_logging::LogSettings { console: false, handle_sigterm: false, app: None, app_id: None, runtime_id: None, ..dc_logging::LogSettings::from_env()? };
    let database = settings.database;
    let logging = dc_logging::Logging::new(settings).no_runtime();
    Ok(if database { logging.database(url.clone()) } else { logging })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let url = DatabaseUrl::new(args.database_url.clone());
    let (app_output, logging_guard) = match app_output_logging(&url).and_then(|logging| logging.build()) {
        Ok(built) => built,
        Err(error) => {
            eprintln!("dc-manager: logging: {error}");
            return ExitCode::from(2);
        }
    };
    // Colours only on a terminal: a log file or a collector gets plain `key="value"` fields.
    let console = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()));
    tracing_subscriber::registry().with(console).with(app_output.with_filter(tracing_subscriber::filter::filter_fn(|metadata| metadata.target() == output::TARGET))).init();
    let code = run(args, url);
    // Every line the apps wrote before they ended reaches the table (or the spill file) before the process exits.
    let stats = logging_guard.finish(dc_schema::enums::RuntimeExitCode::Finished);
    if let Some(sink) = stats.sinks.iter().find(|sink| sink.backlog || sink.last_error.is_some()) {
        eprintln!("dc-manager: app output not all written to {}: it waits in the spill file for the next start ({sink:?})", sink.name);
    }
    code
}

fn run(args: Args, url: DatabaseUrl) -> ExitCode {
    let mut config = Config::new(url);
    let settings = (|| -> Result<(), String> {
        config.lease = seconds(args.lease_s, "lease-s")?;
        config.grace = seconds(args.grace_s, "grace-s")?;
        config.shutdown_timeout = seconds(args.shutdown_s, "shutdown-s")?;
        config.poll = Duration::from_millis(args.poll_ms.max(1));
        for webhook in &args.alert_webhooks {
            config.notifiers.push(Box::new(Webhook::from_arg(webhook)?) as Box<dyn Notifier>);
        }
        Ok(())
    })();
    if let Err(error) = settings {
        eprintln!("dc-manager: {error}");
        return ExitCode::from(2);
    }
    if let Some(id) = args.manager_id {
        config.manager_id = id;
    }
    config.sink = Arc::new(output::TracingSink);
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("dc-manager: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        let signals = shutdown.clone();
        tokio::spawn(async move {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            signals.cancel();
        });
        match manager::run(config, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("dc-manager: {error}");
                ExitCode::FAILURE
            }
        }
    })
}
