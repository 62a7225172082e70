//! `dc-manager`: the manager process. Configuration from flags or environment; SIGTERM (or Ctrl-C) shuts it down gracefully.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use dc_manager::manager::{self, Config};
use dc_manager::notify::{Notifier, Webhook};
use dc_runtime::db::DatabaseUrl;
use tokio_util::sync::CancellationToken;

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

fn main() -> ExitCode {
    // Colours only on a terminal: a log file or a collector gets plain `key="value"` fields.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let args = Args::parse();
    let mut config = Config::new(DatabaseUrl::new(args.database_url));
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
    config.sink = Arc::new(dc_manager::output::TracingSink);
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
