//! A real manager runs a real app that writes to stdout and stderr: each line becomes one `logs` row under the app's id and the run's runtime id (stdout INFO, stderr WARNING, the stream in `context_json`), written by the manager's dc-logging pipeline, drained when the manager is stopped with SIGTERM.

mod support;

use std::time::Duration;

use support::*;

/// What the app writes, per run: (line as stored, stream, `logs.log_level`).
/// The shell writes byte 0xFF in the third line: not UTF-8, stored with U+FFFD in its place.
const LINES: [(&str, &str, &str); 4] = [("out one", "stdout", "20"), ("out two", "stdout", "20"), ("bad \u{FFFD} byte", "stdout", "20"), ("err one", "stderr", "30")];
const COMMAND: &str = r"printf 'out one\nout two\nbad \377 byte\n'; printf 'err one\n' >&2";

#[test]
fn each_line_an_app_writes_is_one_logs_row_under_its_app_and_runtime_even_when_the_manager_is_stopped() {
    let db = TestDb::new("child_output");
    db.register(&format!("apps:\n  - {{ group: test, parent: mgr, name: printer, command: {COMMAND:?}, schedule: \"every 1s\" }}\n"));
    let id = db.app_id("test", "mgr", "printer");
    // Nothing is written before shutdown (a flush interval of 10 minutes, batches of 10,000):
    // the rows below are there because SIGTERM drained the pipeline.
    let mut manager = db.manager_with_env(&[], &[("DC_LOG_FLUSH_MS", "600000"), ("DC_LOG_BATCH_SIZE", "10000")]);
    wait_for(Duration::from_secs(60), "two finished runs", || db.count(&format!("SELECT count(*) FROM scheduled_runs WHERE app_id = '{id}' AND state = 'done'")) >= 2);
    assert_eq!(db.count("SELECT count(*) FROM logs"), 0, "written before shutdown: the test would not show the drain");
    let status = manager.sigterm(Duration::from_secs(30));
    assert!(status.success(), "{status:?}; log:\n{}", manager.log_text());

    let runs = db.query(&format!("SELECT runtime_id FROM scheduled_runs WHERE app_id = '{id}' AND state = 'done'"));
    assert!(runs.len() >= 2, "{runs:?}");
    for run in &runs {
        let runtime = &run[0];
        let rows = db.query(&format!("SELECT msg, context_json, log_level::text, app_id FROM logs WHERE runtime = '{runtime}' ORDER BY id"));
        let mut got: Vec<(String, String, String)> = rows
            .iter()
            .map(|row| {
                assert_eq!(row[3], id, "app id of {row:?}");
                let context: serde_json::Value = serde_json::from_str(&row[1]).unwrap_or_else(|e| panic!("context_json of {row:?}: {e}"));
                (row[0].clone(), context["stream"].as_str().unwrap_or("").to_string(), row[2].clone())
            })
            .collect();
        got.sort();
        let mut want: Vec<(String, String, String)> = LINES.iter().map(|(line, stream, level)| (line.to_string(), stream.to_string(), level.to_string())).collect();
        want.sort();
        assert_eq!(got, want, "logs of run {runtime}: each line once; manager log:\n{}", manager.log_text());
    }
    // No line lost its ids or went elsewhere: every row is the app's, in one of its runs.
    let stray = db.count(&format!("SELECT count(*) FROM logs WHERE app_id IS DISTINCT FROM '{id}' OR runtime NOT IN (SELECT runtime_id FROM scheduled_runs WHERE app_id = '{id}' AND runtime_id IS NOT NULL)"));
    assert_eq!(stray, 0);
    // The manager wrote no runtime row of its own.
    assert_eq!(db.count(&format!("SELECT count(*) FROM runtime WHERE app_id IS DISTINCT FROM '{id}'")), 0);
}
