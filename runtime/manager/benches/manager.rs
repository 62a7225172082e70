//! `make bench-manager`: one scheduling tick over 10,000 apps with 1% due; command latency from a SQL UPDATE to the app's process running; orphan rescue time; exactly-once under SIGKILLs. Ends with one `manager-bench:` line.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dc_manager::manager::{Config, Manager};
use dc_manager::manifest::AppSpec;
use dc_runtime::db::DatabaseUrl;
use dc_schema::enums::{MissedRunPolicy, OverlapPolicy};
use pg_harness::Cluster;

const APPS: usize = 10_000;
const DUE: usize = APPS / 100;
const TICKS: usize = 20;
const COMMANDS: usize = 200;

fn spec(group: &str, name: String, command: &str, schedule: Option<&str>, overlap: OverlapPolicy, missed_run: MissedRunPolicy) -> AppSpec {
    AppSpec {
        group: group.into(),
        parent: "bench".into(),
        name,
        command: command.into(),
        working_dir: None,
        schedule: schedule.map(str::to_string),
        time_zone: "UTC".into(),
        overlap,
        missed_run,
        run_all_deadline_s: 3600,
        failure_threshold: 3,
        stop_timeout_s: 1,
        enabled: true,
    }
}

fn manager(url: &str, extra: &[&str], log: &Path) -> Child {
    let file = std::fs::File::create(log).unwrap();
    Command::new(env!("CARGO_BIN_EXE_dc-manager"))
        .args(extra)
        .env("DC_DB_MAIN_URL", url)
        .env("RUST_LOG", std::env::var("DC_MANAGER_BENCH_LOG").unwrap_or_else(|_| "warn".into()))
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("dc-manager")
}

fn now_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos()
}

/// Live processes on this host whose environment holds `DC_RUNTIME_ID=<id>` (a run's whole tree).
fn processes_of_run(runtime_id: &str) -> usize {
    let needle = format!("DC_RUNTIME_ID={runtime_id}");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|pid| std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == needle.as_bytes())))
        .filter(|pid| dc_manager::process::pid_alive(*pid))
        .count()
}

/// From the SIGKILL of a run's manager until the run is recorded as an
/// orphan and none of its processes is left, in seconds (polled every 2 ms
/// on an open connection, so the figure is not rounded up by psql start-ups).
fn wait_for_rescue(runtime: &tokio::runtime::Runtime, client: &tokio_postgres::Client, runtime_id: &str, killed: Instant) -> f64 {
    loop {
        let recorded = runtime
            .block_on(client.query_one("SELECT count(*) FROM runtime WHERE runtime = $1 AND exit_code = 2", &[&runtime_id]))
            .unwrap()
            .get::<_, i64>(0)
            == 1;
        if recorded && processes_of_run(runtime_id) == 0 {
            return killed.elapsed().as_secs_f64();
        }
        assert!(killed.elapsed() < Duration::from_secs(60), "no rescue within 60 s");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let cluster = Cluster::start().expect("cluster");
    let name = cluster.create_database("manager_bench").unwrap();
    let url = cluster.url(&name);
    let database_url = DatabaseUrl::new(url.clone());
    dc_manager::register::prepare_database(&database_url).unwrap();
    let sql = |text: &str| cluster.psql(&name, text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let value = |text: &str| cluster.query(&name, text).unwrap()[0][0].clone();
    let work = tempfile::tempdir().unwrap();

    // 1. One tick over 10,000 apps, 1% due.
    let mut apps: Vec<AppSpec> = (0..APPS)
        .map(|n| {
            let schedule = if n < DUE { "* * * * * *" } else { "0 0 1 1 *" };
            spec("tick", format!("app{n:05}"), "true", Some(schedule), OverlapPolicy::Forbid, MissedRunPolicy::RunOnce)
        })
        .collect();
    apps.push(spec("cmd", "latency".into(), &format!("date +%s%N > {}/$DC_RUNTIME_ID", work.path().display()), None, OverlapPolicy::Forbid, MissedRunPolicy::RunOnce));
    apps.push(spec("cmd", "sleeper".into(), "sleep 600 & wait", None, OverlapPolicy::Forbid, MissedRunPolicy::RunOnce));
    apps.push(spec("cmd", "sleeper2".into(), "sleep 600 & wait", None, OverlapPolicy::Forbid, MissedRunPolicy::RunOnce));
    let started = Instant::now();
    dc_manager::register::register(&database_url, &apps).unwrap();
    println!("registered {} apps in {:.2} s", apps.len(), started.elapsed().as_secs_f64());
    // Statistics as autovacuum keeps them on a database in use (it would analyze
    // these tables within a minute of the registration), and every statement of
    // 5 ms or more in the cluster's log, to say where a slow tick spends its time.
    sql("UPDATE apps SET next_run = timezone('utc', now()) + interval '100 days' WHERE group_name = 'tick'; ANALYZE;");
    sql(&format!("ALTER DATABASE {name} SET log_min_duration_statement = 5"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut tick_ms: Vec<f64> = runtime.block_on(async {
        let mut client = dc_manager::store::connect(&database_url).await.unwrap();
        let mut config = Config::new(database_url.clone());
        config.manager_id = "bench:0:0".into();
        let (mut manager, _exits) = Manager::new(config);
        let mut times = Vec::new();
        for _ in 0..TICKS {
            client
                .batch_execute(&format!(
                    "DELETE FROM scheduled_runs;
                     UPDATE apps SET next_run = timezone('utc', now()) + interval '100 days' WHERE group_name = 'tick';
                     UPDATE apps SET next_run = date_trunc('second', timezone('utc', now())) WHERE group_name = 'tick' AND app_name < 'app{DUE:05}';"
                ))
                .await
                .unwrap();
            let started = Instant::now();
            let claimed = manager.schedule(&mut client).await.unwrap();
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            if claimed.len() != DUE {
                let states = client.query("SELECT state, kind, count(*)::bigint, min(scheduled_time)::text, max(reason) FROM scheduled_runs GROUP BY 1, 2", &[]).await.unwrap();
                let states: Vec<String> = states.iter().map(|r| format!("{} {} {} {} {:?}", r.get::<_, String>(0), r.get::<_, String>(1), r.get::<_, i64>(2), r.get::<_, String>(3), r.get::<_, Option<String>>(4))).collect();
                let apps = client.query("SELECT count(*)::bigint, min(next_run)::text, max(next_run)::text, bool_or(disable)::text FROM apps WHERE group_name = 'tick' AND app_name < 'app00100'", &[]).await.unwrap();
                panic!("{} of {DUE} due apps claimed; scheduled_runs: {states:?}; due apps: {} next_run {:?}..{:?} disabled {:?}", claimed.len(), apps[0].get::<_, i64>(0), apps[0].get::<_, Option<String>>(1), apps[0].get::<_, Option<String>>(2), apps[0].get::<_, Option<String>>(3));
            }
        }
        client.batch_execute("DELETE FROM scheduled_runs; UPDATE apps SET disable = true, next_run = NULL WHERE group_name = 'tick';").await.unwrap();
        times
    });
    let slow: Vec<String> = std::fs::read_to_string(cluster.log_path())
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains("duration:"))
        .map(|line| line.chars().take(220).collect())
        .collect();
    if !slow.is_empty() {
        println!("statements of 5 ms or more during the ticks ({}):", slow.len());
        for line in slow.iter().take(15) {
            println!("  {line}");
        }
    }
    sql(&format!("ALTER DATABASE {name} RESET log_min_duration_statement"));
    tick_ms.sort_by(f64::total_cmp);
    let tick = percentile(&tick_ms, 0.5);
    println!("tick over {APPS} apps, {DUE} due: median {tick:.1} ms, max {:.1} ms ({TICKS} ticks)", tick_ms[tick_ms.len() - 1]);

    // 2. Command latency: UPDATE by SQL -> the app's own first instruction (sh startup and `date` included).
    let a = manager(&url, &["--lease-s", "5"], &work.path().join("a.log"));
    let latency_id = dc_manager::ids::app_id("cmd", "bench", "latency");
    let mut cmd_ms = runtime.block_on(async {
        let client = dc_manager::store::connect(&database_url).await.unwrap();
        let wait_trigger = Instant::now();
        while client.query_one("SELECT count(*) FROM pg_trigger WHERE tgname = 'dc_manager_command'", &[]).await.unwrap().get::<_, i64>(0) == 0 {
            assert!(wait_trigger.elapsed() < Duration::from_secs(30), "manager did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut latencies = Vec::new();
        let mut split = Vec::new();
        let mut trips = Vec::new();
        for _ in 0..COMMANDS {
            // The UPDATE as psql sends it: one simple-protocol statement (no prepare round trip of the bench's own).
            let update = format!("UPDATE apps SET cmd_name = 1, cmd_by = 'bench', cmd_time = timezone('utc', now()), cmd_flag = 0 WHERE app = '{latency_id}'");
            let issued = now_ns();
            client.batch_execute(&update).await.unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            // Each run writes its own file (named by its runtime id) with the time it began.
            let (spawned, runtime_id): (u128, String) = loop {
                let newest = std::fs::read_dir(work.path())
                    .unwrap()
                    .flatten()
                    .filter(|e| !e.file_name().to_string_lossy().ends_with(".log"))
                    .filter_map(|f| Some((std::fs::read_to_string(f.path()).ok()?.trim().parse::<u128>().ok()?, f.file_name().to_string_lossy().into_owned())))
                    .filter(|(t, _)| *t >= issued)
                    .max();
                if let Some(at) = newest {
                    break at;
                }
                assert!(Instant::now() < deadline, "no run within 10 s of the command");
                tokio::time::sleep(Duration::from_micros(200)).await;
            };
            latencies.push((spawned - issued) as f64 / 1e6);
            // A bare round trip on the same connection at the same moment: the
            // unit the latency is made of on this (loaded) machine.
            let trip = Instant::now();
            client.batch_execute("SELECT 1").await.unwrap();
            trips.push(trip.elapsed().as_secs_f64() * 1000.0);
            // Where it went: until the runtime row's start_time (written by the
            // command's transaction, the server's clock on this same host), and
            // from there to the app's first instruction (commit, spawn, sh, date).
            let row_written: f64 = client
                .query_one("SELECT (extract(epoch FROM start_time) * 1e9)::float8 FROM runtime WHERE runtime = $1", &[&runtime_id])
                .await
                .unwrap()
                .get(0);
            split.push(((row_written - issued as f64) / 1e6, (spawned as f64 - row_written) / 1e6));
            // Wait for the run to end so the next start is not refused (overlap forbid).
            loop {
                let running: i64 = client.query_one("SELECT count(*) FROM scheduled_runs WHERE app_id = $1 AND state <> 'done'", &[&latency_id]).await.unwrap().get(0);
                if running == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        trips.sort_by(f64::total_cmp);
        let mut sorted = latencies.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "round trip (SELECT 1) beside the commands: median {:.2} ms, p99 {:.2} ms; command latency median = {:.1} median round trips",
            percentile(&trips, 0.5),
            percentile(&trips, 0.99),
            percentile(&sorted, 0.5) / percentile(&trips, 0.5)
        );
        let (mut to_row, mut to_app): (Vec<f64>, Vec<f64>) = split.into_iter().unzip();
        to_row.sort_by(f64::total_cmp);
        to_app.sort_by(f64::total_cmp);
        println!(
            "command latency split (medians): UPDATE to the runtime row written {:.2} ms, runtime row to the app's first instruction {:.2} ms",
            percentile(&to_row, 0.5),
            percentile(&to_app, 0.5)
        );
        latencies
    });
    if std::env::var("DC_MANAGER_BENCH_LOG").is_ok() {
        // Diagnosis (DC_MANAGER_BENCH_LOG=warn,dc_manager=debug): the manager's own steps of the last commands.
        let log = std::fs::read_to_string(work.path().join("a.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        for line in &lines[lines.len().saturating_sub(30)..] {
            println!("  a.log: {line}");
        }
    }
    cmd_ms.sort_by(f64::total_cmp);
    let (median, p99) = (percentile(&cmd_ms, 0.5), percentile(&cmd_ms, 0.99));
    println!("command latency over {COMMANDS} starts: median {median:.2} ms, p99 {p99:.2} ms, max {:.2} ms", cmd_ms[cmd_ms.len() - 1]);

    // 3. Orphan rescue: a manager with an app running is killed with SIGKILL.
    let poll_client = runtime.block_on(dc_manager::store::connect(&database_url)).unwrap();
    // Either manager may take the start command: the one that owns the run (its id is host:pid:nonce) is killed.
    let rescue = |managers: &mut Vec<Child>, app: &str, lease_note: &str| -> f64 {
        let id = dc_manager::ids::app_id("cmd", "bench", app);
        sql(&format!("UPDATE apps SET cmd_name = 1, cmd_by = 'bench', cmd_time = timezone('utc', now()), cmd_flag = 0 WHERE app = '{id}'"));
        let wait = Instant::now();
        while value(&format!("SELECT count(*) FROM scheduled_runs WHERE app_id = '{id}' AND state = 'running' AND pid IS NOT NULL")) != "1" {
            assert!(wait.elapsed() < Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(10));
        }
        let runtime_id = value(&format!("SELECT runtime_id FROM scheduled_runs WHERE app_id = '{id}' AND state = 'running'"));
        assert!(processes_of_run(&runtime_id) > 0, "the run's processes are up before its manager dies");
        let owner = value(&format!("SELECT lease_owner FROM scheduled_runs WHERE app_id = '{id}' AND state = 'running'"));
        let pid: u32 = owner.rsplit(':').nth(1).and_then(|p| p.parse().ok()).expect("lease owner host:pid:nonce");
        let at = managers.iter().position(|m| m.id() == pid).expect("the owner is one of ours");
        let mut victim = managers.remove(at);
        victim.kill().unwrap();
        let _ = victim.wait();
        let killed = Instant::now();
        let seconds = wait_for_rescue(&runtime, &poll_client, &runtime_id, killed);
        println!("orphan rescue ({lease_note}): {seconds:.2} s");
        seconds
    };
    let b = manager(&url, &["--lease-s", "5"], &work.path().join("b.log"));
    std::thread::sleep(Duration::from_secs(1));
    let mut pair = vec![a, b];
    let local = rescue(&mut pair, "sleeper", "same host: the dead manager's process is gone");
    // Then the lease path: only a manager that names another host runs the app, and dies.
    for mut survivor in pair {
        let _ = survivor.kill();
        let _ = survivor.wait();
    }
    let mut remote = manager(&url, &["--lease-s", "5", "--manager-id", "otherhost:1:bench"], &work.path().join("remote.log"));
    std::thread::sleep(Duration::from_secs(1));
    let lease_rescue = {
        // The remote manager takes the start, then dies; a fresh manager here must wait for its 5 s lease.
        let id = dc_manager::ids::app_id("cmd", "bench", "sleeper2");
        sql(&format!("UPDATE apps SET cmd_name = 1, cmd_by = 'bench', cmd_time = timezone('utc', now()), cmd_flag = 0 WHERE app = '{id}'"));
        let wait = Instant::now();
        while value(&format!("SELECT count(*) FROM scheduled_runs WHERE app_id = '{id}' AND state = 'running' AND pid IS NOT NULL")) != "1" {
            assert!(wait.elapsed() < Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(10));
        }
        let runtime_id = value(&format!("SELECT runtime_id FROM scheduled_runs WHERE app_id = '{id}' AND state = 'running'"));
        let mut rescuer = manager(&url, &["--lease-s", "5"], &work.path().join("rescuer.log"));
        std::thread::sleep(Duration::from_secs(1));
        remote.kill().unwrap();
        let _ = remote.wait();
        let killed = Instant::now();
        let seconds = wait_for_rescue(&runtime, &poll_client, &runtime_id, killed);
        println!("orphan rescue (another host: the 5 s lease must expire): {seconds:.2} s");
        let _ = rescuer.kill();
        let _ = rescuer.wait();
        seconds
    };

    // 4. Exactly once: three managers, 50 apps every second, a SIGKILL every 2 s.
    sql("DELETE FROM scheduled_runs; DELETE FROM runtime;");
    let soak: Vec<AppSpec> =
        (0..50).map(|n| spec("soak", format!("s{n:02}"), "true", Some("every 1s"), OverlapPolicy::Allow, MissedRunPolicy::RunAll)).collect();
    dc_manager::register::register(&database_url, &soak).unwrap();
    let mut managers: Vec<Child> = (0..3).map(|n| manager(&url, &["--lease-s", "2", "--poll-ms", "200"], &work.path().join(format!("soak{n}.log")))).collect();
    let soak_started = Instant::now();
    let mut round = 0;
    while soak_started.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_secs(2));
        let victim = round % 3;
        let _ = managers[victim].kill();
        let _ = managers[victim].wait();
        managers[victim] = manager(&url, &["--lease-s", "2", "--poll-ms", "200"], &work.path().join(format!("soak{victim}-{round}.log")));
        round += 1;
    }
    let end = value("SELECT timezone('utc', now())::text");
    std::thread::sleep(Duration::from_secs(4));
    for manager in &mut managers {
        unsafe { libc::kill(manager.id() as i32, libc::SIGTERM) };
        let _ = manager.wait();
    }
    let window = format!("scheduled_time <= '{end}' AND scheduled_runs.app_id IN (SELECT app FROM apps WHERE group_name = 'soak')");
    let occurrences: i64 = value(&format!("SELECT count(*) FROM scheduled_runs WHERE {window}")).parse().unwrap();
    let grid: i64 = value(&format!(
        "SELECT COALESCE(sum(extract(epoch FROM max_t - min_t)::bigint + 1), 0) FROM (SELECT max(scheduled_time) AS max_t, min(scheduled_time) AS min_t FROM scheduled_runs WHERE {window} GROUP BY app_id) g"
    ))
    .parse()
    .unwrap();
    let ran: i64 = value(&format!("SELECT count(*) FROM scheduled_runs JOIN runtime t ON t.runtime = scheduled_runs.runtime_id WHERE {window}")).parse().unwrap();
    let duplicates: i64 = value("SELECT count(*) FROM runtime t WHERE (SELECT count(*) FROM scheduled_runs r WHERE r.runtime_id = t.runtime) <> 1").parse().unwrap();
    let missed = (grid - ran).max(0) + (grid - occurrences).max(0);
    println!("exactly once: {occurrences} occurrences ({grid} on the grid), {ran} ran, {round} SIGKILLs");

    println!(
        "manager-bench: tick_ms={tick:.1} cmd_ms_median={median:.2} cmd_ms_p99={p99:.2} rescue_s={:.2} duplicates={duplicates} missed={missed}",
        lease_rescue.max(local)
    );
}
