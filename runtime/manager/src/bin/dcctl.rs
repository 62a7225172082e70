//! `dcctl`: the manager's command line: status, start|stop|restart|enable|disable APP, runs APP, register MANIFEST, progress.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use clap::{Parser, Subcommand};
use dc_manager::store::{self, Progress};
use dc_runtime::db::DatabaseUrl;
use dc_schema::enums::{CmdFlag, CmdName};

#[derive(Parser)]
#[command(name = "dcctl", version, about = "Control the apps dc-manager runs")]
struct Cli {
    /// PostgreSQL URL (the password is never printed).
    #[arg(long, global = true, env = "DC_DB_MAIN_URL", hide_env_values = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A table of apps: state, schedule, last and next run, consecutive failures.
    Status,
    /// Run the app now (refused if disabled, or running with overlap forbid).
    Start(Target),
    /// Stop the app's running runs (SIGTERM to the process group, SIGKILL after its stop timeout).
    Stop(Target),
    /// Stop the running runs, then start again.
    Restart(Target),
    /// Enable the app (clears a fatal state); its schedule resumes from now.
    Enable(Target),
    /// Disable the app, stopping its runs.
    Disable(Target),
    /// Recent runs of an app, newest first.
    Runs {
        app: String,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Register (add or update) the apps of a manifest.
    Register { manifest: PathBuf },
    /// From inside an app started by dc-manager: report progress on its row.
    Progress {
        #[arg(long)]
        task_size: Option<i32>,
        #[arg(long)]
        progress: Option<i32>,
        #[arg(long)]
        solved: Option<i32>,
        #[arg(long)]
        failed: Option<i32>,
        /// Estimated completion, `YYYY-MM-DD HH:MM:SS` in UTC.
        #[arg(long)]
        eta: Option<String>,
    },
}

#[derive(clap::Args)]
struct Target {
    /// GROUP/PARENT/NAME, the app's id, or its name if unique.
    app: String,
    /// Who issues the command (default: $USER).
    #[arg(long)]
    by: Option<String>,
    /// Return once the command is written, without waiting for a manager to execute it.
    #[arg(long)]
    no_wait: bool,
    /// Seconds to wait for a manager to execute the command.
    #[arg(long, default_value_t = 10)]
    wait_s: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("dcctl: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("dcctl: {error}");
            ExitCode::FAILURE
        }
    }
}

fn url(cli_url: &Option<String>) -> Result<DatabaseUrl, String> {
    match cli_url {
        Some(url) => Ok(DatabaseUrl::new(url.clone())),
        None => DatabaseUrl::from_env().map_err(|e| e.to_string()),
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let url = url(&cli.database_url)?;
    if let Command::Register { manifest } = &cli.command {
        let apps = dc_manager::manifest::load(manifest).map_err(|errors| format!("{} is not a valid manifest:\n{errors}", manifest.display()))?;
        let url = url.clone();
        let report = tokio::task::spawn_blocking(move || {
            dc_manager::register::prepare_database(&url)?;
            dc_manager::register::register(&url, &apps)
        })
        .await
        .map_err(|e| e.to_string())??;
        println!("registered: {report}");
        return Ok(());
    }
    let client = store::connect(&url).await?;
    let db = |e: store::StoreError| url.redact(&e.to_string());
    match cli.command {
        Command::Register { .. } => unreachable!("handled above"),
        Command::Status => {
            let rows = store::app_statuses(&client).await.map_err(db)?;
            let table: Vec<[String; 7]> = rows
                .iter()
                .map(|r| {
                    [
                        r.label.clone(),
                        r.state.clone(),
                        r.schedule.clone().unwrap_or_else(|| "on command".into()),
                        time(r.last_run),
                        time(r.next_run),
                        r.failures.to_string(),
                        r.fatal.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            print_table(&["APP", "STATE", "SCHEDULE", "LAST RUN (UTC)", "NEXT RUN (UTC)", "FAILURES", "FATAL"], &table);
        }
        Command::Runs { app, limit } => {
            let app = store::find_app(&client, &app).await?;
            let runs = store::recent_runs(&client, &app.app_id, limit).await.map_err(db)?;
            let table: Vec<[String; 7]> = runs
                .iter()
                .map(|r| {
                    [
                        time(Some(r.scheduled_time)),
                        r.kind.clone(),
                        r.state.clone(),
                        time(r.start_time),
                        time(r.end_time),
                        r.exit_code.clone().map(|c| format!("{c}{}", r.process_status.map(|s| format!(" ({s})")).unwrap_or_default())).unwrap_or_default(),
                        r.reason.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            println!("{}", app.label);
            print_table(&["SCHEDULED (UTC)", "KIND", "STATE", "STARTED", "ENDED", "EXIT", "REASON"], &table);
        }
        Command::Start(target) => command(&client, target, CmdName::Start, &db).await?,
        Command::Stop(target) => command(&client, target, CmdName::Stop, &db).await?,
        Command::Restart(target) => command(&client, target, CmdName::Restart, &db).await?,
        Command::Enable(target) => command(&client, target, CmdName::Enable, &db).await?,
        Command::Disable(target) => command(&client, target, CmdName::Disable, &db).await?,
        Command::Progress { task_size, progress, solved, failed, eta } => {
            let eta = eta
                .map(|text| NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S").map_err(|e| format!("--eta `{text}`: {e}; write YYYY-MM-DD HH:MM:SS (UTC)")))
                .transpose()?;
            let run = dc_manager::app_api::AppRun::from_env().await?;
            if !run.report(&Progress { task_size, progress, solved, failed, eta }).await? {
                return Err("this run is no longer the app's current run; nothing written".into());
            }
        }
    }
    Ok(())
}

async fn command(client: &tokio_postgres::Client, target: Target, name: CmdName, db: &dyn Fn(store::StoreError) -> String) -> Result<(), String> {
    let app = store::find_app(client, &target.app).await?;
    let by = target.by.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "dcctl".into());
    let issued = store::issue_command(client, &app.app_id, name, &by).await.map_err(db)?;
    if target.no_wait {
        println!("{} {}: pending", name.key(), app.label);
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs(target.wait_s);
    while Instant::now() < deadline {
        if let Some((flag, reason)) = store::command_outcome(client, &app.app_id, issued).await.map_err(db)? {
            let reason = reason.unwrap_or_default();
            return match flag {
                CmdFlag::Executed => {
                    println!("{} {}: executed ({reason})", name.key(), app.label);
                    Ok(())
                }
                _ => Err(format!("{} {}: not executed: {reason}", name.key(), app.label)),
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("{} {}: written, but no manager executed it within {} s; is a dc-manager running against this database?", name.key(), app.label, target.wait_s))
}

fn time(value: Option<NaiveDateTime>) -> String {
    value.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| "-".into())
}

fn print_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}
