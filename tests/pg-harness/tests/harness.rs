//! Tests of the harness against a real PostgreSQL it starts itself.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use pg_harness::{Cluster, HarnessError};

/// Set in the child process that `shared_cluster_is_removed_when_the_process_exits` spawns.
const CHILD_MARKER: &str = "PG_HARNESS_TEST_CHILD";

fn rows(expected: &[&[&str]]) -> Vec<Vec<String>> {
    expected
        .iter()
        .map(|row| row.iter().map(|value| value.to_string()).collect())
        .collect()
}

/// Running means neither gone nor a zombie (this sandbox's init reaps orphans a little late).
fn process_is_running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next());
            !matches!(state, Some('Z' | 'X') | None)
        }
        Err(_) => false,
    }
}

#[test]
fn two_databases_hold_separate_tables() {
    let cluster = Cluster::shared();
    let first = cluster
        .create_database("harness test")
        .expect("create first database");
    let second = cluster
        .create_database("harness test")
        .expect("create second database");
    assert_ne!(first, second, "database names must be unique");
    assert!(
        first.starts_with("harness_test_"),
        "prefix is made identifier-safe: {first}"
    );

    let output = cluster
        .psql(&first, "CREATE TABLE fruit (id int PRIMARY KEY, name text NOT NULL);\nINSERT INTO fruit VALUES (1, 'apple'), (2, 'pear');\nSELECT name FROM fruit ORDER BY id;")
        .expect("script in first database");
    assert!(
        output.contains("CREATE TABLE"),
        "psql output shows the command tags: {output}"
    );
    assert!(output.contains("INSERT 0 2"), "{output}");
    assert!(
        output.contains("apple") && output.contains("pear"),
        "{output}"
    );

    cluster
        .psql(
            &second,
            "CREATE TABLE fruit (id int, name text); INSERT INTO fruit VALUES (7, 'fig');",
        )
        .expect("script in second database");

    assert_eq!(
        cluster
            .query(&first, "SELECT id, name FROM fruit ORDER BY id")
            .unwrap(),
        rows(&[&["1", "apple"], &["2", "pear"]])
    );
    assert_eq!(
        cluster
            .query(&second, "SELECT id, name FROM fruit")
            .unwrap(),
        rows(&[&["7", "fig"]])
    );

    let databases = cluster
        .query(
            "postgres",
            "SELECT datname FROM pg_database ORDER BY datname",
        )
        .unwrap();
    for name in [&first, &second] {
        assert!(
            databases.contains(&vec![name.clone()]),
            "{name} missing from {databases:?}"
        );
    }
}

#[test]
fn query_keeps_nulls_empty_strings_newlines_and_empty_results_apart() {
    let cluster = Cluster::shared();
    let database = cluster.create_database("query_shapes").unwrap();

    assert_eq!(
        cluster.query(&database, "SELECT 1 WHERE false").unwrap(),
        Vec::<Vec<String>>::new()
    );
    assert_eq!(
        cluster.query(&database, "SELECT ''").unwrap(),
        rows(&[&[""]])
    );
    assert_eq!(
        cluster.query(&database, "SELECT NULL::text, 'x'").unwrap(),
        rows(&[&["", "x"]])
    );
    assert_eq!(
        cluster
            .query(&database, "SELECT E'two\\nlines', 'tab\there'")
            .unwrap(),
        rows(&[&["two\nlines", "tab\there"]])
    );
    assert_eq!(
        cluster
            .query(&database, "SELECT 'ü€', 42::bigint, true")
            .unwrap(),
        rows(&[&["ü€", "42", "t"]])
    );
    // Statements without results (and their command tags) add no rows.
    assert_eq!(
        cluster
            .query(
                &database,
                "CREATE TABLE t (v int); INSERT INTO t VALUES (3); SELECT v FROM t;"
            )
            .unwrap(),
        rows(&[&["3"]])
    );
}

#[test]
fn psql_file_runs_a_script_file() {
    let cluster = Cluster::shared();
    let database = cluster.create_database("psql_file").unwrap();
    let script_dir = tempfile::tempdir().unwrap();
    let script = script_dir.path().join("schema.sql");
    std::fs::write(&script, "CREATE TABLE item (id serial PRIMARY KEY, label text);\nINSERT INTO item (label) VALUES ('a'), ('b'), ('c');\n").unwrap();

    let output = cluster
        .psql_file(&database, &script)
        .expect("script file runs");
    assert!(output.contains("INSERT 0 3"), "{output}");
    assert_eq!(
        cluster
            .query(&database, "SELECT count(*), max(id) FROM item")
            .unwrap(),
        rows(&[&["3", "3"]])
    );
}

#[test]
fn sql_errors_carry_the_server_message() {
    let cluster = Cluster::shared();
    let database = cluster.create_database("sql_error").unwrap();

    let error = cluster
        .psql(&database, "SELECT * FROM no_such_table;")
        .expect_err("missing table must fail");
    match &error {
        HarnessError::Sql {
            database: failed_in,
            stderr,
        } => {
            assert_eq!(failed_in, &database);
            assert!(
                stderr.contains(r#"relation "no_such_table" does not exist"#),
                "{stderr}"
            );
        }
        other => panic!("expected HarnessError::Sql, got {other:?}"),
    }
    assert!(error.to_string().contains("no_such_table"), "{error}");

    // ON_ERROR_STOP: nothing after the failing statement runs.
    let script = "CREATE TABLE kept (v int); SELECT 1/0; CREATE TABLE never_created (v int);";
    let error = cluster
        .psql(&database, script)
        .expect_err("division by zero must fail");
    assert!(error.to_string().contains("division by zero"), "{error}");
    assert_eq!(
        cluster
            .query(
                &database,
                "SELECT to_regclass('kept') IS NOT NULL, to_regclass('never_created') IS NOT NULL"
            )
            .unwrap(),
        rows(&[&["t", "f"]])
    );

    let error = cluster
        .query(&database, "SELEKT 1")
        .expect_err("syntax error must fail");
    assert!(error.to_string().contains("syntax error"), "{error}");

    let error = cluster
        .query("no_such_database", "SELECT 1")
        .expect_err("missing database must fail");
    assert!(
        error
            .to_string()
            .contains(r#"database "no_such_database" does not exist"#),
        "{error}"
    );
}

#[test]
fn url_names_the_port_and_database_and_works_with_psql() {
    let cluster = Cluster::shared();
    let database = cluster.create_database("url").unwrap();
    let url = cluster.url(&database);
    assert_eq!(
        url,
        format!(
            "postgres://postgres@127.0.0.1:{}/{database}",
            cluster.port()
        )
    );

    let output = Command::new(cluster.bin_dir().join("psql"))
        .args(["-X", "-At", "-c", "SELECT current_database(), current_user"])
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("{database}|postgres")
    );
}

#[test]
fn dropping_a_cluster_stops_the_server_and_deletes_its_directory() {
    let started_at = Instant::now();
    let cluster = Cluster::start().expect("cluster starts");
    let start_time = started_at.elapsed();
    eprintln!("Cluster::start() took {start_time:?}");

    let data_dir = cluster.data_dir().to_path_buf();
    let cluster_root = data_dir.parent().unwrap().to_path_buf();
    let postmaster_pid = cluster
        .postmaster_pid()
        .expect("running server has a postmaster.pid");
    assert!(
        process_is_running(postmaster_pid),
        "postmaster {postmaster_pid} should run"
    );
    assert!(
        cluster.socket_dir().starts_with(&cluster_root),
        "socket dir is private to the cluster"
    );
    assert_eq!(
        cluster.query("postgres", "SHOW fsync").unwrap(),
        rows(&[&["off"]])
    );
    assert_eq!(
        cluster.query("postgres", "SHOW listen_addresses").unwrap(),
        rows(&[&["127.0.0.1"]])
    );
    assert_eq!(cluster.query("postgres", "SELECT pg_encoding_to_char(encoding), datcollate FROM pg_database WHERE datname = 'postgres'").unwrap(), rows(&[&["UTF8", "C"]]));

    drop(cluster);
    assert!(
        !cluster_root.exists(),
        "{} should be deleted",
        cluster_root.display()
    );
    assert!(
        !process_is_running(postmaster_pid),
        "postmaster {postmaster_pid} should be gone"
    );
}

#[test]
fn stop_also_stops_the_server_and_deletes_its_directory() {
    let cluster = Cluster::start().expect("cluster starts");
    let cluster_root = cluster.data_dir().parent().unwrap().to_path_buf();
    let postmaster_pid = cluster.postmaster_pid().unwrap();
    cluster.stop();
    assert!(!cluster_root.exists());
    assert!(!process_is_running(postmaster_pid));
}

/// Runs in a child process only; prints where its shared cluster lives for the parent to check.
#[test]
#[ignore = "helper: run by shared_cluster_is_removed_when_the_process_exits in a child process"]
fn child_process_uses_shared_cluster() {
    if std::env::var_os(CHILD_MARKER).is_none() {
        return;
    }
    let cluster = Cluster::shared();
    assert_eq!(
        cluster.query("postgres", "SELECT 1").unwrap(),
        rows(&[&["1"]])
    );
    println!(
        "CLUSTER_ROOT={}",
        cluster.data_dir().parent().unwrap().display()
    );
    println!("POSTMASTER_PID={}", cluster.postmaster_pid().unwrap());
}

#[test]
fn shared_cluster_is_removed_when_the_process_exits() {
    let test_binary = std::env::current_exe().unwrap();
    let output = Command::new(test_binary)
        .args([
            "--exact",
            "child_process_uses_shared_cluster",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_MARKER, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let value_of = |key: &str| {
        stdout
            .lines()
            .find_map(|line| line.split_once(key).map(|(_, value)| value))
            .unwrap_or_else(|| panic!("{key} not printed by child:\n{stdout}"))
            .to_string()
    };
    let cluster_root = PathBuf::from(value_of("CLUSTER_ROOT="));
    let postmaster_pid: i32 = value_of("POSTMASTER_PID=").parse().unwrap();
    assert!(
        !cluster_root.exists(),
        "{} survived the process",
        cluster_root.display()
    );
    assert!(
        !process_is_running(postmaster_pid),
        "postmaster {postmaster_pid} survived the process"
    );
}

#[test]
fn run_command_gets_a_database_and_its_exit_code_is_passed_on() {
    let harness = Path::new(env!("CARGO_BIN_EXE_pg-harness"));
    let script = r#"psql -X -w -At -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "CREATE TABLE t (v int); INSERT INTO t VALUES (5); SELECT v, inet_server_port() FROM t" && echo "port=$PG_HARNESS_PORT" && exit 7"#;
    let output = Command::new(harness)
        .args(["run", "--", "sh", "-c", script])
        .env("PATH", psql_path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(7),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let port = stdout
        .lines()
        .find_map(|line| line.strip_prefix("port="))
        .expect("port printed");
    assert!(
        stdout.contains(&format!("5|{port}")),
        "query ran on the exported port: {stdout}"
    );

    let usage = Command::new(harness).output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("usage: pg-harness run -- CMD"));
}

/// PATH with the harness's psql first, so the child script uses the same PostgreSQL.
fn psql_path() -> String {
    let bin_dir = Cluster::shared().bin_dir().display().to_string();
    format!("{bin_dir}:{}", std::env::var("PATH").unwrap_or_default())
}

#[test]
fn a_failed_start_reports_the_server_log() {
    // A PG_BIN whose pg_ctl adds an invalid setting, so the server really starts and then dies.
    let fake_bin = tempfile::tempdir().unwrap();
    let real_bin = Cluster::shared().bin_dir().to_path_buf();
    for program in ["initdb", "postgres", "psql"] {
        std::os::unix::fs::symlink(real_bin.join(program), fake_bin.path().join(program)).unwrap();
    }
    let pg_ctl = fake_bin.path().join("pg_ctl");
    std::fs::write(
        &pg_ctl,
        format!(
            "#!/bin/sh\nexec {} \"$@\" -o '-c shared_buffers=bogus'\n",
            real_bin.join("pg_ctl").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&pg_ctl, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // Root's server user must be able to read the wrapper directory.
    std::fs::set_permissions(
        fake_bin.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    // In a child process: PG_BIN is process-wide, and other tests here start clusters too.
    let output = Command::new(env!("CARGO_BIN_EXE_pg-harness"))
        .args(["run", "--", "true"])
        .env("PG_BIN", fake_bin.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the PostgreSQL server did not start"),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"invalid value for parameter "shared_buffers": "bogus""#),
        "log tail included: {stderr}"
    );

    let log_path = stderr
        .lines()
        .find_map(|line| line.strip_prefix("server log "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("log path named");
    let kept_cluster_root = Path::new(log_path).parent().unwrap();
    assert!(
        Path::new(log_path).is_file(),
        "the named log file is kept for inspection: {log_path}"
    );
    std::fs::remove_dir_all(kept_cluster_root).unwrap();
}

#[test]
fn a_stopped_server_starts_again_on_the_same_port_with_its_data() {
    let cluster = Cluster::start().expect("start a cluster");
    let database = cluster.create_database("restart").expect("create database");
    cluster
        .psql(&database, "CREATE TABLE kept (id int); INSERT INTO kept VALUES (7);")
        .expect("create a table");
    let port = cluster.port();
    cluster.stop_server().expect("stop the server");
    assert!(cluster.postmaster_pid().is_none(), "the server is down");
    assert!(
        cluster.query(&database, "SELECT 1").is_err(),
        "no connection while stopped"
    );
    cluster.start_server().expect("start the server again");
    assert_eq!(cluster.port(), port);
    assert_eq!(
        cluster.query(&database, "SELECT id FROM kept").expect("query"),
        rows(&[&["7"]])
    );
}
