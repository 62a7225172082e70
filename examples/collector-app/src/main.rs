//! An example app on the framework, written as an app author would: settings from the environment, migrations, logging, an instrumented function, a merge and a runtime row.
//!
//! It registers the documents found in a directory as `pipeline_task` rows
//! (one per file, keyed by the file's hash), the way a watched-directory
//! entry point would. Run it from the README:
//!
//! ```sh
//! DC_DB_MAIN_URL=postgres://user:password@localhost/collector \
//! DC_APP_GROUP=examples DC_APP_PARENT=documents DC_APP_NAME=inbox \
//! DC_EXAMPLE_INBOX=./inbox cargo run -p dc-example-collector
//! ```

use std::path::{Path, PathBuf};

use dc_logging::ids::hash_id;
use dc_runtime::{Database, Merge};
use dc_schema::enums::RuntimeExitCode;
use dc_schema::models::NewPipelineTask;
use tracing::{info, warn};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Settings: DC_DB_MAIN_URL (or DATABASE_URL), DC_LOG_*, DC_APP_*.
    // The pool's URL is redacted wherever it is shown.
    let database = Database::from_env()?;
    database.run_migrations(dc_schema::MIGRATIONS)?;
    let mut conn = database.get()?;

    // One layer: console, the logs table, Splunk when DC_LOG_SPLUNK_URL is
    // set, the spill file; the runtime row starts here.
    let logging = dc_logging::Logging::from_env()?.install()?;
    let inbox = PathBuf::from(std::env::var("DC_EXAMPLE_INBOX").unwrap_or_else(|_| ".".into()));
    info!(inbox = %inbox.display(), "collecting documents");

    let tasks = collect(&inbox, logging.app_id());
    let mut merge = Merge::new(NewPipelineTask::TABLE)?;
    if let Some(app_id) = logging.app_id() {
        merge = merge.scope("app_id", app_id)?; // only this app's tasks
    }
    // Recorded in app_db_objects (the dependency map) once per process.
    let report = dc_logging::dependency::merge(&merge, &mut conn, &tasks)?;
    info!(new = report.inserted, gone = report.archived, unchanged = report.unchanged, "pipeline tasks merged");

    // Ends the runtime row (totals, errors, exit code) and drains every sink.
    let stats = logging.finish(RuntimeExitCode::Finished);
    println!("{} records logged, {} waiting in the spill file", stats.accepted, stats.sinks.iter().filter(|s| s.backlog).count());
    Ok(())
}

/// One task per file in `inbox`; a span with `task_size`, `solved` and
/// `failed` becomes a `function_log` row when it closes.
#[tracing::instrument(skip_all, fields(task_size, solved = 0, failed = 0))]
fn collect(inbox: &Path, app_id: Option<&str>) -> Vec<NewPipelineTask> {
    let entries: Vec<_> = match std::fs::read_dir(inbox) {
        Ok(entries) => entries.flatten().filter(|e| e.path().is_file()).collect(),
        Err(error) => {
            warn!(%error, "cannot read the inbox");
            Vec::new()
        }
    };
    let span = tracing::Span::current();
    span.record("task_size", entries.len());
    let mut tasks = Vec::new();
    let mut failed = 0;
    for entry in entries {
        let path = entry.path();
        match std::fs::read(&path) {
            Ok(bytes) => tasks.push(NewPipelineTask {
                // Path and content: the same file unchanged is the same task on every run.
                task_id: Some(hash_id(&[&path.display().to_string(), &String::from_utf8_lossy(&bytes)])),
                document_type: path.extension().map(|e| e.to_string_lossy().to_lowercase()),
                source_path: Some(path.display().to_string()),
                current_stage: Some("registered".into()),
                status: Some("new".into()),
                stage_history: None,
                error_message: None,
                error_stage: None,
                retry_count: None,
                worker_id: None,
                app_id: app_id.map(str::to_string),
                // Left empty: a column that changes every run would make every task look new.
                runtime: None,
                start_time: None,
                end_time: None,
            }),
            Err(error) => {
                failed += 1;
                tracing::error!(path = %path.display(), %error, "cannot read a document");
            }
        }
    }
    span.record("solved", tasks.len()).record("failed", failed);
    tasks
}
