//! The example app run as a user runs it: a real process against a real PostgreSQL, settings from the environment.

use std::process::Command;

use pg_harness::Cluster;

#[test]
fn the_example_registers_its_documents_and_logs_its_run() {
    let cluster = Cluster::shared();
    let database = cluster.create_database("example").expect("create database");
    let inbox = tempfile_dir("inbox");
    for (name, text) in [("a.pdf", "first"), ("b.pdf", "second"), ("c.txt", "third")] {
        std::fs::write(inbox.join(name), text).unwrap();
    }
    let spill = tempfile_dir("spill");
    let run = || {
        let output = Command::new(env!("CARGO_BIN_EXE_dc-example-collector"))
            .env("DC_DB_MAIN_URL", cluster.url(&database))
            .env("DC_APP_GROUP", "examples")
            .env("DC_APP_PARENT", "documents")
            .env("DC_APP_NAME", "inbox")
            .env("DC_EXAMPLE_INBOX", &inbox)
            .env("DC_LOG_SPILL_DIR", &spill)
            .output()
            .expect("run the example");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let console = run();
    assert!(console.contains("pipeline tasks merged"), "the console shows the log: {console}");
    run();
    let query = |sql: &str| cluster.query(&database, sql).expect("query");
    // Three tasks, unchanged by the second run.
    assert_eq!(query("SELECT count(*), count(*) FILTER (WHERE archive IS NULL) FROM pipeline_task"), vec![vec!["3".to_string(), "3".into()]]);
    assert_eq!(query("SELECT count(*), bool_and(end_time IS NOT NULL AND exit_code = 0) FROM runtime"), vec![vec!["2".to_string(), "t".into()]]);
    assert_eq!(query("SELECT msg FROM logs WHERE msg = 'pipeline tasks merged'").len(), 2);
    assert_eq!(query("SELECT task_size, solved, failed FROM function_log"), vec![vec!["3".to_string(), "3".into(), "0".into()]; 2]);
    assert_eq!(query("SELECT object_name, object_type FROM app_db_objects"), vec![vec!["pipeline_task".to_string(), "table".into()]]);
    assert_eq!(query("SELECT app_name FROM apps"), vec![vec!["inbox".to_string()]]);
}

fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("dc-example-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
