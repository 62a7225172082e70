//! Faults, for real: managers killed with SIGKILL, PostgreSQL restarted mid-run, three managers with random kills over hundreds of due runs.

mod support;

use std::time::{Duration, Instant};

use pg_harness::Cluster;
use rand::{Rng, SeedableRng};
use support::*;

fn app(name: &str, command: &str, more: &str) -> String {
    format!("  - {{ group: fault, parent: mgr, name: {name}, command: {command:?}{more} }}\n")
}

/// Starts `sleep 600` under manager A, kills A with SIGKILL, and measures how
/// long manager B takes to record the run as an orphan and end its processes.
fn rescue(db: &TestDb, name: &str, a_extra: &[&str]) -> Duration {
    db.register(&format!("apps:\n{}", app(name, "sleep 600 & sleep 600 & wait", "")));
    let id = db.app_id("fault", "mgr", name);
    let mut a = db.manager(a_extra);
    let started = db.dcctl(&["start", &format!("fault/mgr/{name}")]);
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    wait_for(Duration::from_secs(10), "the run's pid", || {
        db.count(&format!("SELECT count(*) FROM scheduled_runs WHERE app_id = '{id}' AND state = 'running' AND pid IS NOT NULL")) == 1
    });
    let runtime_id = db.value(&format!("SELECT runtime_id FROM scheduled_runs WHERE app_id = '{id}' AND state = 'running'"));
    wait_for(Duration::from_secs(5), "the app's processes", || processes_of_run(&runtime_id).len() >= 3);
    let _b = db.manager(&[]);
    // B is up and idle (it sees A alive) before A dies.
    std::thread::sleep(Duration::from_millis(800));
    a.sigkill();
    let killed = Instant::now();
    wait_for(Duration::from_secs(15), "the orphan recorded", || {
        db.count(&format!("SELECT count(*) FROM runtime WHERE runtime = '{runtime_id}' AND exit_code = 2 AND end_time IS NOT NULL")) == 1
    });
    let rescued = killed.elapsed();
    wait_for(Duration::from_secs(2), "the orphan's processes to end", || processes_of_run(&runtime_id).is_empty());
    assert_eq!(db.count(&format!("SELECT count(*) FROM scheduled_runs WHERE app_id = '{id}' AND state IN ('running', 'claimed')")), 0, "nothing stays running");
    assert_eq!(db.query(&format!("SELECT run_status, app_pids IS NULL FROM apps WHERE app = '{id}'"))[0], ["0", "t"]);
    rescued
}

#[test]
fn a_manager_killed_on_this_host_is_rescued_at_once() {
    let db = TestDb::new("rescue_host");
    let rescued = rescue(&db, "local", &[]);
    // Its process is gone on this host: no need to wait for the 2 s lease.
    assert!(rescued < Duration::from_secs(2), "rescued after {rescued:?}");
}

#[test]
fn a_manager_killed_elsewhere_is_rescued_within_one_lease() {
    let db = TestDb::new("rescue_lease");
    // An id naming another host: B cannot see its process, so the lease (2 s) must expire.
    let rescued = rescue(&db, "remote", &["--manager-id", "elsewhere:1:deadbeef"]);
    assert!(rescued >= Duration::from_millis(1000), "rescued after {rescued:?}: before the lease could expire");
    assert!(rescued < Duration::from_secs(2) + Duration::from_millis(1500), "rescued after {rescued:?}: more than one lease (2 s) and a poll");
}

/// The only manager dies with SIGKILL while its app runs; a manager started
/// afterwards on this host reconciles at start-up: the run is recorded as an
/// orphan at its first pass (the dead owner's process is gone; no lease to
/// wait for) and the app's processes are killed.
#[test]
fn a_manager_started_after_a_crash_reconciles_at_start_up() {
    let db = TestDb::new("startup_reconcile");
    db.register(&format!("apps:\n{}", app("left", "sleep 600 & sleep 600 & wait", "")));
    let id = db.app_id("fault", "mgr", "left");
    // A long lease: only the start-up reconciliation can explain a quick rescue.
    let mut a = db.manager(&["--lease-s", "60"]);
    assert!(db.dcctl(&["start", "fault/mgr/left"]).status.success());
    wait_for(Duration::from_secs(10), "the run's pid", || {
        db.count(&format!("SELECT count(*) FROM scheduled_runs WHERE app_id = '{id}' AND state = 'running' AND pid IS NOT NULL")) == 1
    });
    let runtime_id = db.value(&format!("SELECT runtime_id FROM scheduled_runs WHERE app_id = '{id}' AND state = 'running'"));
    wait_for(Duration::from_secs(5), "the app's processes", || processes_of_run(&runtime_id).len() >= 3);
    a.sigkill();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(db.count(&format!("SELECT count(*) FROM scheduled_runs WHERE app_id = '{id}' AND state = 'running'")), 1, "the row still says running");
    assert!(!processes_of_run(&runtime_id).is_empty(), "the app outlived its manager");
    let b = db.manager(&["--lease-s", "60"]);
    wait_for(Duration::from_secs(15), "the orphan recorded at start-up", || {
        db.count(&format!("SELECT count(*) FROM runtime WHERE runtime = '{runtime_id}' AND exit_code = 2 AND end_time IS NOT NULL")) == 1
    });
    wait_for(Duration::from_secs(2), "the orphan's processes to end", || processes_of_run(&runtime_id).is_empty());
    assert_eq!(db.query(&format!("SELECT state, reason LIKE 'orphan: its manager % is gone (% process(es) killed here)' FROM scheduled_runs WHERE app_id = '{id}'"))[0], ["done", "t"], "{}", b.log_text());
    assert_eq!(db.query(&format!("SELECT run_status, app_pids IS NULL FROM apps WHERE app = '{id}'"))[0], ["0", "t"]);
}

/// PostgreSQL stops for longer than a lease while runs are in flight and
/// some end: when it is back, each owner records its runs' real ends
/// (nothing lost, nothing taken as an orphan by the other manager), and
/// both go on, commands included.
#[test]
fn postgres_restarted_mid_run_managers_reconnect_record_every_end_and_go_on() {
    // A cluster of its own: restarting the shared one would break the other tests.
    let cluster: &'static Cluster = Box::leak(Box::new(Cluster::start().expect("cluster")));
    let db = TestDb::on(cluster, "pg_restart");
    // The harness runs with synchronous_commit off (speed), so an immediate
    // stop would lose the last commits; a production server keeps them.
    db.execute("ALTER SYSTEM SET synchronous_commit = on");
    db.execute("SELECT pg_reload_conf()");
    db.register(&format!("apps:\n{}{}", app("steady", "sleep 1.5", ", schedule: \"every 1s\""), app("long", "sleep 5", ", schedule: \"every 1s\"")));
    let steady = db.app_id("fault", "mgr", "steady");
    let long = db.app_id("fault", "mgr", "long");
    // A 2 s lease: the outage below is twice as long.
    let managers = [db.manager(&["--lease-s", "2"]), db.manager(&["--lease-s", "2"])];
    let running = |id: &str| db.count(&format!("SELECT count(*) FROM scheduled_runs WHERE app_id = '{id}' AND state = 'running'")) == 1;
    wait_for(Duration::from_secs(20), "runs in flight", || running(&steady) && running(&long));
    let in_flight = db.query("SELECT runtime_id FROM scheduled_runs WHERE state = 'running'");
    cluster.stop_keeping_data().expect("stop");
    // "steady" ends while the database is down; "long" goes on past the outage.
    std::thread::sleep(Duration::from_secs(4));
    cluster.start_again().expect("start");
    let back = epoch(&db.value("SELECT timezone('utc', now())::text"));
    wait_for(Duration::from_secs(20), "runs started after the restart", || {
        db.count(&format!("SELECT count(*) FROM runtime WHERE app_id = '{steady}' AND end_time IS NOT NULL AND start_time > to_timestamp({back})::timestamp AT TIME ZONE 'UTC'")) >= 2
    });
    let recorded = || in_flight.iter().all(|row| db.count(&format!("SELECT count(*) FROM runtime WHERE runtime = '{}' AND end_time IS NOT NULL", row[0])) == 1);
    let waited = Instant::now();
    while !recorded() {
        if waited.elapsed() > Duration::from_secs(10) {
            let rows = db.query("SELECT r.id, r.state, r.lease_owner, r.lease_expires::text, r.fencing_token, r.reason, t.exit_code, t.end_time::text FROM scheduled_runs r LEFT JOIN runtime t ON t.runtime = r.runtime_id ORDER BY r.id");
            panic!("runs in flight {in_flight:?} not recorded; runs: {rows:#?}\nlog A:\n{}\nlog B:\n{}", managers[0].log_text(), managers[1].log_text());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for row in &in_flight {
        let ended = db.query(&format!("SELECT exit_code, process_status FROM runtime WHERE runtime = '{}'", row[0]));
        assert_eq!(ended[0], ["0", "0"], "run {} in flight during the outage: its real end is recorded; logs:\n{}\n{}", row[0], managers[0].log_text(), managers[1].log_text());
    }
    assert_eq!(db.count("SELECT count(*) FROM runtime WHERE exit_code = 2"), 0, "no run of a live manager was taken as an orphan");
    // A command by plain SQL is picked up on the new LISTEN connection.
    db.execute(&format!("UPDATE apps SET cmd_name = 5, cmd_by = 'psql', cmd_time = timezone('utc', now()), cmd_flag = 0 WHERE app = '{steady}'"));
    wait_for(Duration::from_secs(5), "the disable command", || db.value(&format!("SELECT cmd_flag FROM apps WHERE app = '{steady}'")) == "1");
    drop(managers);
}

/// Three managers, apps due every second, a manager killed with SIGKILL and
/// started again every ~1.5 s (fixed seed): every occurrence runs exactly once.
/// `DC_MANAGER_SOAK_S` and `DC_MANAGER_SOAK_APPS` size it (make soak-manager).
#[test]
fn three_managers_with_random_sigkills_run_every_occurrence_exactly_once() {
    let seconds: u64 = std::env::var("DC_MANAGER_SOAK_S").ok().and_then(|s| s.parse().ok()).unwrap_or(24);
    let apps: usize = std::env::var("DC_MANAGER_SOAK_APPS").ok().and_then(|s| s.parse().ok()).unwrap_or(25);
    let db = TestDb::new("soak");
    let mut manifest = String::from("apps:\n");
    for n in 0..apps {
        // run_all with a long deadline and overlap allow: a late run still runs, so "none missed" is strict.
        manifest.push_str(&app(&format!("a{n}"), "true", ", schedule: \"every 1s\", missed_run: run_all, overlap: allow, run_all_deadline_s: 3600"));
    }
    db.register(&manifest);
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261202);
    let mut managers: Vec<ManagerProcess> = (0..3).map(|_| db.manager(&[])).collect();
    let started = Instant::now();
    let mut kills = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_millis(rng.random_range(700..2300)));
        let victim = rng.random_range(0..managers.len());
        managers[victim].sigkill();
        kills += 1;
        if rng.random_bool(0.5) {
            std::thread::sleep(Duration::from_millis(rng.random_range(0..1500)));
        }
        managers[victim] = db.manager(&[]);
    }
    let end = epoch(&db.value("SELECT timezone('utc', now())::text"));
    // Let the survivors catch up, then stop them gracefully.
    std::thread::sleep(Duration::from_secs(4));
    for manager in &mut managers {
        assert!(manager.sigterm(Duration::from_secs(15)).success());
    }
    let window = format!("scheduled_time <= to_timestamp({end})::timestamp AT TIME ZONE 'UTC'");
    let occurrences = db.count(&format!("SELECT count(*) FROM scheduled_runs WHERE {window}"));
    let per_app = db.query(&format!(
        "SELECT app_id, count(*), extract(epoch FROM max(scheduled_time) - min(scheduled_time))::bigint + 1 FROM scheduled_runs WHERE {window} GROUP BY app_id"
    ));
    assert_eq!(per_app.len(), apps);
    for row in &per_app {
        assert_eq!(row[1], row[2], "app {}: occurrences missing from the 1 s grid", row[0]);
    }
    let not_done = db.query(&format!("SELECT state, count(*) FROM scheduled_runs WHERE {window} AND state <> 'done' GROUP BY state"));
    assert!(not_done.is_empty(), "runs not done: {not_done:?}");
    let runtime_rows = db.count(&format!("SELECT count(*) FROM runtime t JOIN scheduled_runs r ON r.runtime_id = t.runtime WHERE r.{window}"));
    let duplicates = db.count("SELECT count(*) FROM (SELECT runtime FROM runtime GROUP BY runtime HAVING count(*) > 1) d")
        + db.count("SELECT count(*) FROM runtime t WHERE NOT EXISTS (SELECT 1 FROM scheduled_runs r WHERE r.runtime_id = t.runtime)");
    let orphans = db.count(&format!("SELECT count(*) FROM runtime t JOIN scheduled_runs r ON r.runtime_id = t.runtime WHERE r.{window} AND t.exit_code = 2"));
    eprintln!("soak: {occurrences} occurrences, {runtime_rows} runtime rows, {kills} SIGKILLs, {orphans} orphans rescued, {duplicates} duplicates");
    assert!(occurrences >= 500 || seconds < 24, "only {occurrences} due runs");
    assert_eq!(runtime_rows, occurrences, "every occurrence has exactly one runtime row");
    assert_eq!(duplicates, 0);
}
