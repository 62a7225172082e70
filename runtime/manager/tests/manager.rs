//! The manager against a real PostgreSQL, with real manager processes, real app processes and signals, and a real webhook receiver.

mod support;

use std::time::{Duration, Instant};

use support::*;

fn app(name: &str, command: &str, more: &str) -> String {
    format!("  - {{ group: test, parent: mgr, name: {name}, command: {command:?}{more} }}\n")
}

#[test]
fn due_apps_start_and_their_runtime_rows_are_written() {
    let db = TestDb::new("due_apps");
    let report = format!("{DCCTL} progress --task-size 10 --solved 7 --progress 70; echo out; echo err >&2");
    db.register(&format!("apps:\n{}", app("ticker", &report, ", schedule: \"every 1s\"")));
    let id = db.app_id("test", "mgr", "ticker");
    let _manager = db.manager(&[]);
    wait_for(Duration::from_secs(20), "two finished runs", || {
        db.count(&format!("SELECT count(*) FROM runtime WHERE app_id = '{id}' AND end_time IS NOT NULL AND exit_code = 0")) >= 2
    });
    // Every finished run has its scheduled row done, one runtime row each, the progress the app reported.
    let rows = db.query(&format!(
        "SELECT r.state, t.exit_code, t.task_size, t.process_status, t.manager_id IS NOT NULL, t.totals IS NOT NULL
         FROM scheduled_runs r JOIN runtime t ON t.runtime = r.runtime_id WHERE r.app_id = '{id}' AND t.end_time IS NOT NULL"
    ));
    assert!(rows.len() >= 2);
    for row in &rows {
        assert_eq!(row, &["done", "0", "10", "0", "t", "t"]);
    }
    assert_eq!(db.count(&format!("SELECT count(*) FROM (SELECT runtime_id FROM scheduled_runs WHERE app_id = '{id}' AND runtime_id IS NOT NULL GROUP BY runtime_id HAVING count(*) > 1) d")), 0);
    let app = db.query(&format!("SELECT last_run IS NOT NULL, next_run > last_run, solved, progress FROM apps WHERE app = '{id}'"));
    assert_eq!(app[0][0..2], ["t", "t"]);
    let status = db.dcctl(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert!(text.contains("test/mgr/ticker") && text.contains("every 1s (UTC)"), "{text}");
    let runs = db.dcctl(&["runs", "test/mgr/ticker"]);
    assert!(String::from_utf8_lossy(&runs.stdout).contains("App finished jobs and exited (0)"), "{}", String::from_utf8_lossy(&runs.stdout));
}

/// The ids of the app's latest run: (runtime id, pid).
fn latest_run(db: &TestDb, id: &str) -> (String, i32) {
    let row = db.query(&format!("SELECT runtime_id, pid FROM scheduled_runs WHERE app_id = '{id}' AND state = 'running' ORDER BY id DESC LIMIT 1"));
    (row[0][0].clone(), row[0][1].parse().unwrap_or(0))
}

#[test]
fn a_plain_sql_update_starts_and_stops_the_whole_process_group() {
    let db = TestDb::new("sql_commands");
    // Two background sleeps: the group outlives the shell unless the whole group is stopped.
    db.register(&format!("apps:\n{}", app("worker", "sleep 60 & sleep 60 & wait", ", stop_timeout_s: 1")));
    let id = db.app_id("test", "mgr", "worker");
    let _manager = db.manager(&[]);
    wait_for(Duration::from_secs(20), "the manager's trigger", || db.count("SELECT count(*) FROM pg_trigger WHERE tgname = 'dc_manager_command'") == 1);
    let issued = Instant::now();
    db.execute(&format!("UPDATE apps SET cmd_name = 1, cmd_by = 'psql', cmd_time = timezone('utc', now()), cmd_flag = 0 WHERE app = '{id}'"));
    let latency = wait_for(Duration::from_secs(10), "the started run", || {
        db.count(&format!("SELECT count(*) FROM scheduled_runs WHERE app_id = '{id}' AND state = 'running' AND pid IS NOT NULL")) == 1
    });
    eprintln!("command latency (psql UPDATE to the run's pid recorded, psql startup included): {:?}", issued.elapsed().min(latency + Duration::from_secs(1)));
    wait_for(Duration::from_secs(5), "the app's processes", || processes_of_run(&latest_run(&db, &id).0).len() >= 3);
    let (runtime_id, _) = latest_run(&db, &id);
    assert_eq!(db.query(&format!("SELECT run_status, cmd_flag FROM apps WHERE app = '{id}'"))[0], ["1", "1"]);

    db.execute(&format!("UPDATE apps SET cmd_name = 2, cmd_by = 'psql', cmd_time = timezone('utc', now()), cmd_flag = 0 WHERE app = '{id}'"));
    wait_for(Duration::from_secs(10), "the stopped run recorded", || {
        db.count(&format!("SELECT count(*) FROM runtime WHERE runtime = '{runtime_id}' AND exit_code = 5 AND end_time IS NOT NULL")) == 1
    });
    assert!(processes_of_run(&runtime_id).is_empty(), "processes of the stopped run remain");
    assert_eq!(db.query(&format!("SELECT run_status, app_pids IS NULL FROM apps WHERE app = '{id}'"))[0], ["2", "t"]);
    // A stop of a stopped app is not executed, and says why.
    let output = db.dcctl(&["stop", "test/mgr/worker"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not executed: the app is not running"), "{}", String::from_utf8_lossy(&output.stderr));
    let log = db.query(&format!("SELECT cmd_name, cmd_by, cmd_flag, cmd_exec IS NOT NULL FROM command_log WHERE app_id = '{id}' ORDER BY id"));
    assert_eq!(log, [["start", "psql", "1", "t"], ["stop", "psql", "1", "t"], ["stop", "tester", "2", "t"]]);
}

#[test]
fn restart_ends_the_group_and_starts_again_and_start_respects_forbid() {
    let db = TestDb::new("restart");
    db.register(&format!("apps:\n{}", app("worker", "sleep 60 & wait", ", stop_timeout_s: 1")));
    let id = db.app_id("test", "mgr", "worker");
    let _manager = db.manager(&[]);
    let started = db.dcctl(&["start", "worker"]);
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    wait_for(Duration::from_secs(5), "the first run's processes", || {
        db.count(&format!("SELECT count(*) FROM scheduled_runs WHERE app_id = '{id}' AND state = 'running' AND pid IS NOT NULL")) == 1
    });
    let (first, _) = latest_run(&db, &id);
    wait_for(Duration::from_secs(5), "the first run's sleep", || processes_of_run(&first).len() >= 2);
    let again = db.dcctl(&["start", "worker"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already running"), "{}", String::from_utf8_lossy(&again.stderr));
    let restarted = db.dcctl(&["restart", "test/mgr/worker"]);
    assert!(restarted.status.success(), "{}", String::from_utf8_lossy(&restarted.stderr));
    wait_for(Duration::from_secs(10), "the second run", || {
        db.count(&format!("SELECT count(*) FROM scheduled_runs WHERE app_id = '{id}' AND state = 'running' AND runtime_id <> '{first}' AND pid IS NOT NULL")) == 1
    });
    assert_eq!(db.value(&format!("SELECT exit_code FROM runtime WHERE runtime = '{first}'")), "4");
    assert!(processes_of_run(&first).is_empty());
    let disabled = db.dcctl(&["disable", "worker"]);
    assert!(disabled.status.success());
    wait_for(Duration::from_secs(10), "the disabled app's run to end", || db.count(&format!("SELECT count(*) FROM runtime WHERE app_id = '{id}' AND exit_code = 3")) == 1);
    let unknown = db.dcctl(&["start", "nope"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no app `nope`"), "{}", String::from_utf8_lossy(&unknown.stderr));
}

#[test]
fn a_failing_app_becomes_fatal_after_three_runs_and_one_alert_is_sent() {
    let db = TestDb::new("fatal");
    let receiver = Receiver::start(200);
    db.register(&format!("apps:\n{}", app("broken", "echo failing >&2; exit 3", ", schedule: \"every 1s\"")));
    let id = db.app_id("test", "mgr", "broken");
    let hook = format!("slack={}", receiver.url);
    let _manager = db.manager(&["--alert-webhook", &hook]);
    wait_for(Duration::from_secs(20), "the alert", || !receiver.received().is_empty());
    wait_for(Duration::from_secs(5), "fatal_flag alert sent", || db.value(&format!("SELECT fatal_flag FROM apps WHERE app = '{id}'")) == "2");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(receiver.received().len(), 1, "exactly one alert");
    let body: serde_json::Value = serde_json::from_str(&receiver.received()[0]).unwrap();
    assert!(body["text"].as_str().unwrap().contains("test/mgr/broken disabled"), "{body}");
    assert_eq!(db.count(&format!("SELECT count(*) FROM runtime WHERE app_id = '{id}' AND exit_code = 7 AND process_status = 3")), 3);
    assert_eq!(db.count(&format!("SELECT count(*) FROM runtime WHERE app_id = '{id}'")), 3, "no run after the app became fatal");
    assert_eq!(db.query(&format!("SELECT disable, fatal_msg LIKE '3 consecutive failed runs%' FROM apps WHERE app = '{id}'"))[0], ["t", "t"]);
    let enabled = db.dcctl(&["enable", "broken"]);
    assert!(enabled.status.success());
    assert_eq!(db.query(&format!("SELECT disable, fatal_flag IS NULL, fatal_msg IS NULL FROM apps WHERE app = '{id}'"))[0], ["f", "t", "t"]);
    // After re-enabling, the streak starts again: three more failures, one more alert.
    wait_for(Duration::from_secs(20), "the second alert", || receiver.received().len() == 2);
    assert_eq!(db.count(&format!("SELECT count(*) FROM runtime WHERE app_id = '{id}' AND exit_code = 7")), 6);
}

#[test]
fn missed_runs_after_a_manager_was_down_follow_each_policy() {
    let db = TestDb::new("missed");
    let every = ", schedule: \"every 1s\", run_all_deadline_s: 3";
    db.register(&format!(
        "apps:\n{}{}{}",
        app("skip", "true", &format!("{every}, missed_run: skip")),
        app("once", "true", &format!("{every}, missed_run: run_once")),
        app("all", "true", &format!("{every}, missed_run: run_all, overlap: allow"))
    ));
    let mut first = db.manager(&["--grace-s", "0.5"]);
    let states = || db.query("SELECT a.app_name, r.state, left(COALESCE(r.reason, ''), 60), count(*) FROM scheduled_runs r JOIN apps a ON a.app = r.app_id GROUP BY 1, 2, 3 ORDER BY 1, 2");
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for(Duration::from_secs(20), "runs of each app", || db.count("SELECT count(DISTINCT app_id) FROM scheduled_runs WHERE state = 'done'") == 3)
    }))
    .is_err()
    {
        panic!("no runs of each app: {:?}\n{}", states(), first.log_text());
    }
    assert!(first.sigterm(Duration::from_secs(10)).success());
    let down_from = epoch(&db.value("SELECT timezone('utc', now())::text"));
    std::thread::sleep(Duration::from_secs(6));
    let down_until = epoch(&db.value("SELECT timezone('utc', now())::text"));
    let _second = db.manager(&["--grace-s", "0.5"]);
    std::thread::sleep(Duration::from_secs(3));
    let rows_of = |name: &str| -> Vec<(f64, String, String)> {
        let id = db.app_id("test", "mgr", name);
        db.query(&format!("SELECT scheduled_time::text, state, COALESCE(reason, '') FROM scheduled_runs WHERE app_id = '{id}' ORDER BY scheduled_time"))
            .into_iter()
            .map(|r| (epoch(&r[0]), r[1].clone(), r[2].clone()))
            .collect()
    };
    for name in ["skip", "once", "all"] {
        let rows = rows_of(name);
        // Every occurrence is recorded, none twice, no gap in the 1 s grid.
        assert!(rows.windows(2).all(|w| (w[1].0 - w[0].0 - 1.0).abs() < 1e-6), "{name}: gap or repeat in {rows:?}");
        assert!(rows.iter().all(|r| ["done", "skipped", "running", "claimed", "due"].contains(&r.1.as_str())));
    }
    let missed = |rows: &[(f64, String, String)]| -> Vec<(f64, String, String)> {
        rows.iter().filter(|r| r.0 > down_from + 0.5 && r.0 < down_until - 0.5).cloned().collect()
    };
    let skip = missed(&rows_of("skip"));
    assert!(skip.len() >= 4, "{skip:?}");
    assert!(skip.iter().all(|r| r.1 == "skipped" && r.2.contains("policy skip")), "skip: {skip:?}");
    let once = missed(&rows_of("once"));
    assert!(once.iter().filter(|r| r.1 == "done").count() <= 1, "run_once: {once:?}");
    assert!(once.iter().filter(|r| r.1 == "skipped" && r.2.contains("run_once")).count() >= once.len() - 1, "run_once: {once:?}");
    let all = missed(&rows_of("all"));
    // The deadline counts from when the returning manager decided: older runs skipped, younger ones ran.
    let (ran, skipped): (Vec<_>, Vec<_>) = all.iter().partition(|r| r.1 == "done");
    assert!(!ran.is_empty() && !skipped.is_empty(), "run_all: {all:?}");
    assert!(skipped.iter().all(|r| r.2.contains("past the run_all deadline of 3s")), "run_all: {all:?}");
    assert!(skipped.iter().all(|old| ran.iter().all(|young| old.0 < young.0)), "run_all skipped a younger run than one it ran: {all:?}");
    assert!(ran.iter().all(|r| down_until - r.0 < 3.0 + 2.0), "run_all ran a run past the deadline: {all:?}");
}

#[test]
fn overlap_policies_forbid_allow_and_replace() {
    let db = TestDb::new("overlap");
    let every = ", schedule: \"every 1s\", stop_timeout_s: 1";
    db.register(&format!(
        "apps:\n{}{}{}",
        app("forbid", "sleep 2.5", &format!("{every}, overlap: forbid")),
        app("allow", "sleep 2.5", &format!("{every}, overlap: allow, missed_run: run_all")),
        app("replace", "sleep 2.5", &format!("{every}, overlap: replace"))
    ));
    let _manager = db.manager(&[]);
    std::thread::sleep(Duration::from_secs(7));
    let intervals = |name: &str| -> Vec<(f64, f64, String)> {
        let id = db.app_id("test", "mgr", name);
        db.query(&format!(
            "SELECT start_time::text, COALESCE(end_time, timezone('utc', now()))::text, COALESCE(exit_code::text, 'running') FROM runtime WHERE app_id = '{id}' ORDER BY start_time"
        ))
        .into_iter()
        .map(|r| (epoch(&r[0]), epoch(&r[1]), r[2].clone()))
        .collect()
    };
    let overlapping = |runs: &[(f64, f64, String)]| runs.windows(2).any(|w| w[1].0 < w[0].1 - 0.01);
    let forbid = intervals("forbid");
    assert!(forbid.len() >= 2 && !overlapping(&forbid), "forbid: {forbid:?}");
    let allow = intervals("allow");
    assert!(allow.len() >= 4 && overlapping(&allow), "allow: {allow:?}");
    let replace = intervals("replace");
    assert!(!overlapping(&replace), "replace: {replace:?}");
    assert!(replace.iter().filter(|r| r.2 == "8").count() >= 2, "replace: {replace:?}");
}

#[test]
fn sigterm_lets_runs_finish_until_the_timeout_then_stops_and_records_them() {
    let db = TestDb::new("shutdown");
    db.register(&format!("apps:\n{}{}", app("quick", "sleep 0.5", ", stop_timeout_s: 1"), app("slow", "sleep 60 & wait", ", stop_timeout_s: 1")));
    let quick = db.app_id("test", "mgr", "quick");
    let slow = db.app_id("test", "mgr", "slow");
    let mut manager = db.manager(&["--shutdown-s", "1.5"]);
    for name in ["quick", "slow"] {
        let output = db.dcctl(&["start", name]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    wait_for(Duration::from_secs(5), "both runs", || db.count("SELECT count(*) FROM scheduled_runs WHERE pid IS NOT NULL") == 2);
    let slow_runtime = db.value(&format!("SELECT runtime_id FROM scheduled_runs WHERE app_id = '{slow}'"));
    let stopping = Instant::now();
    assert!(manager.sigterm(Duration::from_secs(10)).success(), "{}", manager.log_text());
    let took = stopping.elapsed();
    // The quick run finished on its own; the slow one was stopped after the 1.5 s timeout.
    assert_eq!(db.value(&format!("SELECT exit_code FROM runtime WHERE app_id = '{quick}'")), "0");
    assert_eq!(db.value(&format!("SELECT exit_code FROM runtime WHERE app_id = '{slow}'")), "1");
    assert!(took >= Duration::from_millis(1500) && took < Duration::from_secs(5), "shutdown took {took:?}");
    assert!(processes_of_run(&slow_runtime).is_empty());
    assert_eq!(db.count("SELECT count(*) FROM scheduled_runs WHERE state <> 'done'"), 0);
}

#[test]
fn dcctl_register_names_every_problem_of_a_bad_manifest_and_registers_a_good_one() {
    let db = TestDb::new("register_cli");
    let bad = db.dir.path().join("bad.yaml");
    std::fs::write(&bad, "apps:\n  - { group: g, parent: p, name: a, command: x, schedule: \"* * *\" }\n  - { group: g, parent: p, name: b, command: x, missed_run: maybe }\n").unwrap();
    let output = db.dcctl(&["register", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("bad.yaml:2:59: `* * *` is not a cron expression"), "{stderr}");
    assert!(stderr.contains("bad.yaml:3:61: missed_run `maybe` is unknown; use skip, run_once (the default) or run_all"), "{stderr}");
    assert_eq!(db.count("SELECT count(*) FROM apps"), 0, "nothing registered from a bad manifest");
    let good = db.dir.path().join("good.yaml");
    std::fs::write(&good, "apps:\n  - { group: g, parent: p, name: a, command: x, schedule: \"0 2 * * *\", time_zone: Europe/Berlin }\n").unwrap();
    for expected in ["apps: 1 new, 0 changed", "apps: 0 new, 0 changed"] {
        let output = db.dcctl(&["register", good.to_str().unwrap()]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert!(String::from_utf8_lossy(&output.stdout).contains(expected), "{}", String::from_utf8_lossy(&output.stdout));
    }
    let id = db.app_id("g", "p", "a");
    assert_eq!(
        db.query("SELECT a.app, a.parent_id, p.parent, s.time_zone, a.disable FROM apps a JOIN app_parents p ON p.name = a.parent_name JOIN app_schedules s ON s.app_id = a.app")[0],
        [id.clone(), dc_manager::ids::parent_id("g", "p"), dc_manager::ids::parent_id("g", "p"), "Europe/Berlin".to_string(), "f".to_string()]
    );
}

#[test]
fn alerts_reach_teams_and_telegram_once_and_a_503_is_retried_until_delivered() {
    let db = TestDb::new("alert_formats");
    let teams = Receiver::start(200);
    let telegram = Receiver::start(200);
    // A webhook that is down for its first two requests.
    let flaky = Receiver::answering(&[503, 503], 200);
    db.register(&format!("apps:\n{}", app("flaky", "exit 1", ", schedule: \"every 1s\", failure_threshold: 1")));
    let id = db.app_id("test", "mgr", "flaky");
    let (teams_hook, telegram_hook, json_hook) = (format!("teams={}", teams.url), format!("telegram:-1001234={}", telegram.url), format!("json={}", flaky.url));
    let _manager = db.manager(&["--alert-webhook", &teams_hook, "--alert-webhook", &telegram_hook, "--alert-webhook", &json_hook]);
    wait_for(Duration::from_secs(20), "the alert marked sent", || db.value(&format!("SELECT fatal_flag FROM apps WHERE app = '{id}'")) == "2");
    // Quiet for a while: nothing more arrives anywhere.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(*flaky.answers.lock().unwrap(), [503, 503, 200], "the JSON webhook was retried after each 503 until it took the alert, then never again");
    let json: Vec<serde_json::Value> = flaky.received().iter().map(|b| serde_json::from_str(b).unwrap()).collect();
    assert!(json.iter().all(|body| body == &json[0]), "each retry carries the same alert: {json:?}");
    assert_eq!(json[0]["event"], "app_fatal");
    assert_eq!(json[0]["app_id"], id.as_str());
    assert!(json[0]["message"].as_str().unwrap().starts_with("1 consecutive failed runs"), "{}", json[0]);
    // The notifiers that delivered on the first try are not sent the alert again while the other one is retried.
    assert_eq!(teams.received().len(), 1, "teams: {:?}", teams.received());
    let card: serde_json::Value = serde_json::from_str(&teams.received()[0]).unwrap();
    assert_eq!(card["@type"], "MessageCard");
    assert_eq!(card["title"], "dc-manager: app test/mgr/flaky disabled");
    assert!(card["text"].as_str().unwrap().contains("dcctl enable test/mgr/flaky"), "{card}");
    assert_eq!(telegram.received().len(), 1, "telegram: {:?}", telegram.received());
    let message: serde_json::Value = serde_json::from_str(&telegram.received()[0]).unwrap();
    assert_eq!(message["chat_id"], "-1001234");
    assert!(message["text"].as_str().unwrap().starts_with("dc-manager: app test/mgr/flaky disabled at "), "{message}");
    assert_eq!(db.count(&format!("SELECT count(*) FROM runtime WHERE app_id = '{id}'")), 1, "one failed run with threshold 1");
}

#[test]
fn start_on_a_running_app_with_overlap_replace_ends_the_run_as_cmd_start() {
    let db = TestDb::new("cmd_start");
    db.register(&format!("apps:\n{}", app("replaced", "sleep 60 & wait", ", overlap: replace, stop_timeout_s: 1")));
    let id = db.app_id("test", "mgr", "replaced");
    let _manager = db.manager(&[]);
    let running = |not: &str| {
        db.count(&format!("SELECT count(*) FROM scheduled_runs WHERE app_id = '{id}' AND state = 'running' AND pid IS NOT NULL AND runtime_id <> '{not}'")) == 1
    };
    let first = db.dcctl(&["start", "replaced"]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    wait_for(Duration::from_secs(10), "the first run", || running(""));
    let (first_run, _) = latest_run(&db, &id);
    wait_for(Duration::from_secs(5), "the first run's sleep", || processes_of_run(&first_run).len() >= 2);
    let second = db.dcctl(&["start", "replaced"]);
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    assert!(String::from_utf8_lossy(&second.stdout).contains("stopping the running run, then starting"), "{}", String::from_utf8_lossy(&second.stdout));
    wait_for(Duration::from_secs(10), "the second run", || running(&first_run));
    assert_eq!(db.value(&format!("SELECT exit_code FROM runtime WHERE runtime = '{first_run}'")), "6", "the replaced run ends as cmd_start");
    assert!(processes_of_run(&first_run).is_empty(), "the replaced run's group is gone");
    assert_eq!(db.count(&format!("SELECT count(*) FROM scheduled_runs WHERE app_id = '{id}' AND state = 'running'")), 1, "replace: never two at once");
}

#[test]
fn re_registering_changes_configuration_and_keeps_every_runtime_column() {
    let db = TestDb::new("reregister");
    let manifest = |enabled: bool, schedule: &str| format!("apps:\n{}", app("kept", "true", &format!(", schedule: \"{schedule}\", enabled: {enabled}")));
    db.register(&manifest(true, "every 1h"));
    let id = db.app_id("test", "mgr", "kept");
    // What a manager and a user left on the row.
    db.execute(&format!(
        "UPDATE apps SET run_status = 1, last_run = '2026-03-01 10:00', next_run = '2030-01-01 00:00', app_pids = '[4242]', task_size = 100, progress = 40,
           solved = 40, failed = 2, fatal_flag = 3, fatal_msg = 'boom', fatal_time = '2026-03-01 11:00', runtime_id = 'r1', cmd_by = 'ops', cmd_name = 2,
           cmd_time = '2026-03-01 09:00', cmd_flag = 1, cmd_exec = '2026-03-01 09:00:01', eta = '2026-03-02 00:00' WHERE app = '{id}'"
    ));
    let runtime_state = || {
        db.query(&format!(
            "SELECT run_status, last_run, app_pids, task_size, progress, solved, failed, fatal_flag, fatal_msg, fatal_time, runtime_id, cmd_by, cmd_name, cmd_time, cmd_flag, cmd_exec, eta
             FROM apps WHERE app = '{id}'"
        ))
    };
    let before = runtime_state();
    let changed = |enabled: bool, schedule: &str| {
        let path = db.dir.path().join("again.yaml");
        std::fs::write(&path, manifest(enabled, schedule)).unwrap();
        let apps = dc_manager::manifest::load(&path).unwrap();
        dc_manager::register::register(&dc_runtime::db::DatabaseUrl::new(db.url.clone()), &apps).unwrap()
    };
    assert_eq!(changed(true, "every 1h").apps, (0, 0), "an unchanged manifest changes nothing");
    assert_eq!(changed(false, "every 1h").apps, (0, 1));
    assert_eq!(db.value(&format!("SELECT disable FROM apps WHERE app = '{id}'")), "t");
    assert_eq!(runtime_state(), before, "registration wrote runtime columns");
    assert_eq!(db.value(&format!("SELECT next_run FROM apps WHERE app = '{id}'")), "2030-01-01 00:00:00", "same schedule: next_run stays");
    // A new schedule: next_run is computed again from it; nothing else of the runtime state moves.
    assert_eq!(changed(false, "every 5m").schedules, (0, 1));
    assert_eq!(db.value(&format!("SELECT schedule FROM app_schedules WHERE app_id = '{id}'")), "every 5m");
    assert_eq!(db.value(&format!("SELECT next_run IS NULL FROM apps WHERE app = '{id}'")), "t");
    assert_eq!(runtime_state(), before);
    // The row hash is the full row's: a merge of NewApps would see nothing to change.
    assert_eq!(db.count(&format!("SELECT count(*) FROM apps WHERE app = '{id}' AND sha IS NOT NULL AND length(sha) = 64")), 1);
}

#[test]
fn output_that_is_not_utf8_or_has_no_newlines_is_drained_and_the_app_finishes() {
    let db = TestDb::new("output");
    // Invalid UTF-8 first, then 300 KB without a newline (more than a pipe holds), then a last line.
    let noisy = "printf 'bad \\377\\376 bytes\\n'; head -c 300000 /dev/zero | tr '\\0' x; printf '\\nlast line\\n'; echo on-stderr >&2";
    db.register(&format!("apps:\n{}", app("noisy", noisy, "")));
    let id = db.app_id("test", "mgr", "noisy");
    let manager = db.manager(&[]);
    let started = db.dcctl(&["start", "noisy"]);
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    wait_for(Duration::from_secs(15), "the run to finish", || db.count(&format!("SELECT count(*) FROM runtime WHERE app_id = '{id}' AND exit_code = 0")) == 1);
    wait_for(Duration::from_secs(5), "the output in the manager's log", || manager.log_text().contains("last line"));
    let log = manager.log_text();
    // Every line carries the app's id and its run's id (what the logging pipeline files it under).
    let runtime_id = db.value(&format!("SELECT runtime FROM runtime WHERE app_id = '{id}'"));
    assert_eq!(runtime_id.len(), 64);
    let line_of = |text: &str| log.lines().find(|l| l.contains(text)).unwrap_or_else(|| panic!("no line `{text}` in:\n{log}")).to_string();
    for (text, stream) in [("last line", "stdout"), ("on-stderr", "stderr")] {
        let line = line_of(text);
        assert!(line.contains(&format!("app_id=\"{id}\"")) && line.contains(&format!("runtime_id=\"{runtime_id}\"")), "a line without its app and runtime ids: {line}");
        assert!(line.contains(&format!("stream=\"{stream}\"")), "{line}");
    }
    assert!(log.contains("bad \u{FFFD}\u{FFFD} bytes"), "invalid bytes are replaced, not the end of the output");
    assert!(log.contains("on-stderr"));
    assert!(log.lines().filter(|l| l.contains(&"x".repeat(1000))).count() >= 4, "the long line arrives in pieces");
}

/// With the notification lost (here: the trigger that sends it is gone),
/// a command written by SQL is still executed, found by the fallback poll.
#[test]
fn a_command_whose_notification_is_lost_is_found_by_the_poll() {
    let db = TestDb::new("lost_notify");
    db.register(&format!("apps:\n{}", app("quiet", "true", "")));
    let id = db.app_id("test", "mgr", "quiet");
    let manager = db.manager(&["--poll-ms", "300"]);
    wait_for(Duration::from_secs(20), "the manager's trigger", || db.count("SELECT count(*) FROM pg_trigger WHERE tgname = 'dc_manager_command'") == 1);
    db.execute("DROP TRIGGER dc_manager_command ON apps");
    db.execute(&format!("UPDATE apps SET cmd_name = 1, cmd_by = 'psql', cmd_time = timezone('utc', now()), cmd_flag = 0 WHERE app = '{id}'"));
    wait_for(Duration::from_secs(10), "the run the command started", || db.count(&format!("SELECT count(*) FROM runtime WHERE app_id = '{id}' AND exit_code = 0")) == 1);
    assert_eq!(db.count("SELECT count(*) FROM pg_trigger WHERE tgname = 'dc_manager_command'"), 0, "no notification could have been sent");
    assert_eq!(db.query(&format!("SELECT cmd_flag, cmd_exec IS NOT NULL FROM apps WHERE app = '{id}'"))[0], ["1", "t"], "{}", manager.log_text());
    assert_eq!(db.count(&format!("SELECT count(*) FROM command_log WHERE app_id = '{id}' AND cmd_name = 'start' AND cmd_flag = 1")), 1);
}

/// Three managers hear the same notifications: every command of a burst
/// (one SQL UPDATE over 20 apps) is executed by exactly one of them, once,
/// and starts exactly one run.
#[test]
fn each_command_is_executed_once_by_one_of_three_managers() {
    let db = TestDb::new("cmd_once");
    let apps = 20;
    let mut manifest = String::from("apps:\n");
    for n in 0..apps {
        manifest.push_str(&app(&format!("c{n}"), "true", ""));
    }
    db.register(&manifest);
    let managers: Vec<ManagerProcess> = (0..3).map(|_| db.manager(&[])).collect();
    wait_for(Duration::from_secs(20), "the managers' trigger", || db.count("SELECT count(*) FROM pg_trigger WHERE tgname = 'dc_manager_command'") == 1);
    std::thread::sleep(Duration::from_millis(500));
    db.execute("UPDATE apps SET cmd_name = 1, cmd_by = 'burst', cmd_time = timezone('utc', now()), cmd_flag = 0 WHERE group_name = 'test'");
    wait_for(Duration::from_secs(20), "every run of the burst", || db.count("SELECT count(*) FROM runtime WHERE exit_code = 0") >= apps);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(db.count("SELECT count(*) FROM runtime"), apps, "one run per command");
    assert_eq!(db.count("SELECT count(*) FROM command_log WHERE cmd_by = 'burst' AND cmd_flag = 1 AND cmd_exec IS NOT NULL"), apps, "one log row per command");
    assert_eq!(db.count("SELECT count(DISTINCT app_id) FROM command_log"), apps);
    assert_eq!(db.count("SELECT count(*) FROM apps WHERE cmd_flag <> 1"), 0);
    assert_eq!(db.count("SELECT count(*) FROM scheduled_runs WHERE kind = 'command' AND state = 'done'"), apps);
    // The burst was shared, or at least taken without waiting on each other: each run names its manager.
    let owners = db.count("SELECT count(DISTINCT manager_id) FROM runtime");
    eprintln!("{apps} commands executed by {owners} manager(s)");
    drop(managers);
}
