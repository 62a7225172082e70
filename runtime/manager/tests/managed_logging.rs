//! A real manager runs a real app that logs through dc-logging: the app adopts the run the manager wrote (`DC_APP_ID`, `DC_RUNTIME_ID`), its logs carry the manager's ids, and each run has one runtime row with the manager's exit code and the app's exception count.

mod support;

use std::time::Duration;

use support::*;

/// Set (to the spill directory) in the app's command: this test binary, run by the manager, is the app.
const APP_ROLE: &str = "DC_TEST_MANAGED_APP_SPILL";
/// Events per run, and ERROR events among them.
const EVENTS: i64 = 50;
const ERRORS: i64 = 2;
/// The app's own exit status: the manager records it (`failed`, process_status 3), whatever the app's logging thinks.
const APP_STATUS: i32 = 3;

/// The app: logging from the environment the manager set, some events, two errors, then exit 3.
#[test]
#[ignore = "helper: the app the manager runs in the test below"]
fn managed_app() {
    let spill = std::env::var(APP_ROLE).expect("run by the manager in managed_logging only");
    let settings = dc_logging::LogSettings { console: false, handle_sigterm: false, spill_dir: spill.into(), ..dc_logging::LogSettings::from_env().expect("settings from the manager's environment") };
    let guard = dc_logging::Logging::new(settings).database(dc_runtime::db::DatabaseUrl::from_env().expect("DC_DB_MAIN_URL from the manager")).install().expect("install the layer");
    for seq in 0..EVENTS - ERRORS {
        tracing::info!(seq, "managed event");
    }
    for seq in EVENTS - ERRORS..EVENTS {
        tracing::error!(seq, "managed event");
    }
    // The app thinks it finished; the manager sees status 3 and records the run as failed.
    let stats = guard.finish(dc_schema::enums::RuntimeExitCode::Finished);
    assert!(stats.sinks.iter().all(|sink| !sink.backlog && sink.last_error.is_none()), "every record reached the database: {stats:?}");
    std::process::exit(APP_STATUS);
}

#[test]
fn an_app_run_by_the_manager_logs_under_the_managers_app_and_runtime_ids() {
    let db = TestDb::new("managed_logging");
    let spill = db.dir.path().join("spill");
    let exe = std::env::current_exe().unwrap();
    let command = format!("{APP_ROLE}={} exec {} --ignored --exact managed_app --nocapture --test-threads=1", spill.display(), exe.display());
    db.register(&format!("apps:\n  - {{ group: test, parent: mgr, name: logging, command: {command:?}, schedule: \"every 1s\", failure_threshold: 100 }}\n"));
    let id = db.app_id("test", "mgr", "logging");
    let manager = db.manager(&[]);
    wait_for(Duration::from_secs(60), "two finished runs", || db.count(&format!("SELECT count(*) FROM scheduled_runs WHERE app_id = '{id}' AND state = 'done'")) >= 2);

    let runs = db.query(&format!(
        "SELECT s.runtime_id, t.exit_code, t.process_status, t.except_cnt, t.manager_id IS NOT NULL, t.end_time IS NOT NULL, t.app_id
         FROM scheduled_runs s JOIN runtime t ON t.runtime = s.runtime_id WHERE s.app_id = '{id}' AND s.state = 'done'"
    ));
    assert!(runs.len() >= 2, "{runs:?}");
    for run in &runs {
        let runtime = &run[0];
        // The manager's exit code and status, the app's exception count, the manager's app id.
        assert_eq!(run[1..], ["7", &APP_STATUS.to_string(), &ERRORS.to_string(), "t", "t", &id], "runtime row of {runtime}; the manager's log:\n{}", manager.log_text());
        let logs = db.query(&format!("SELECT count(*), count(*) FILTER (WHERE app_id = '{id}'), count(*) FILTER (WHERE log_level = 40) FROM logs WHERE runtime = '{runtime}' AND msg = 'managed event'"));
        assert_eq!(logs[0], [EVENTS.to_string(), EVENTS.to_string(), ERRORS.to_string()], "logs of run {runtime}: all under the manager's app id");
    }
    // One runtime row per run: the app made none of its own, under any id.
    let per_run = db.query(&format!(
        "SELECT (SELECT count(*) FROM runtime WHERE app_id = '{id}'), (SELECT count(*) FROM scheduled_runs WHERE app_id = '{id}' AND runtime_id IS NOT NULL), (SELECT count(*) FROM runtime WHERE app_id IS DISTINCT FROM '{id}')"
    ));
    assert_eq!(per_run[0][0], per_run[0][1], "one runtime row per run: {per_run:?}");
    assert_eq!(per_run[0][2], "0", "no runtime row outside the manager's runs");
    // Every app log row belongs to a run the manager started.
    assert_eq!(db.count("SELECT count(*) FROM logs l WHERE msg = 'managed event' AND NOT EXISTS (SELECT 1 FROM scheduled_runs s WHERE s.runtime_id = l.runtime)"), 0);
}
