//! `make bench-logging`: dc-logging against tracing-appender and plain COPY, on a throwaway PostgreSQL.
//!
//! - app-thread cost of `info!` with three fields, our layer (database sink)
//!   against tracing-appender's non-blocking writer to a file, each call
//!   timed on its own (median, p99); queues large enough that neither blocks;
//! - sustained events/s into PostgreSQL through the layer (emit as fast as
//!   the queue takes them, until the last row committed), against one
//!   binary COPY of the same rows into an empty `logs` table; the layer once
//!   more with the second database connection off (one connection, as COPY);
//! - lost: records accepted minus rows in `logs`;
//! - peak RSS of a process of its own that logs EVENTS events while its
//!   database is down (everything goes to the spill file).
//!
//! EVENTS (default 200,000) sets the size of the throughput and outage runs.

use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use dc_logging::{AppIdentity, LogSettings, Logging};
use dc_runtime::db::{self, DatabaseUrl};
use dc_schema::enums::{LogLevel, RuntimeExitCode};
use dc_schema::schema::logs;
use diesel::prelude::*;
use diesel::ExecuteCopyFromDsl;
use pg_harness::Cluster;
use tracing::info;
use tracing_subscriber::layer::SubscriberExt;

const APP_CALLS: usize = 100_000;

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--outage-child") {
        return outage_child();
    }
    let events: usize = std::env::var("EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let cluster = Cluster::start().expect("start PostgreSQL");

    // 1. App-thread cost, side by side.
    let database = migrated(&cluster, "bench_app");
    let app_spill = tempfile::tempdir().unwrap();
    let (ours, accepted_app) = app_thread_cost_ours(&cluster, &database, app_spill.path());
    let appender = app_thread_cost_appender();
    println!(
        "app thread, info! with three fields ({APP_CALLS} calls): ours median {} ns p99 {} ns; tracing-appender median {} ns p99 {} ns",
        ours.0, ours.1, appender.0, appender.1
    );
    let lost_app = accepted_app as i64 - count_logs(&cluster, &database) as i64;

    // 2. Throughput into PostgreSQL against COPY of the same rows.
    let database = migrated(&cluster, "bench_db");
    let db_spill = tempfile::tempdir().unwrap();
    let (events_per_s, accepted_db) = throughput_ours(&cluster, &database, db_spill.path(), events, true);
    let in_logs = count_logs(&cluster, &database);
    let lost_db = accepted_db as i64 - in_logs as i64;
    let (copy_per_s, copy_fewer_checks_per_s) = copy_same_rows(&cluster, &database);
    let one_connection = migrated(&cluster, "bench_db_one");
    let (one_connection_per_s, _) = throughput_ours(&cluster, &one_connection, db_spill.path(), events, false);
    println!(
        "into PostgreSQL ({events} events): ours {events_per_s:.0} events/s (with the second connection off: {one_connection_per_s:.0}); plain binary COPY of the same rows into the same table {copy_per_s:.0} rows/s (ratio {:.2}); without the app_id and runtime foreign-key checks {copy_fewer_checks_per_s:.0} rows/s (ratio {:.2})",
        events_per_s / copy_per_s,
        events_per_s / copy_fewer_checks_per_s
    );

    // 3. Peak RSS during an outage, in a process of its own.
    let peak_rss_mb = outage_peak_rss(events);
    let lost = lost_app.max(0) + lost_db.max(0);
    println!(
        "logging-bench: app_ns_median={} app_ns_p99={} appender_ns_median={} db_events_per_s={:.0} db_vs_copy={:.2} lost={lost} peak_rss_mb={peak_rss_mb}",
        ours.0,
        ours.1,
        appender.0,
        events_per_s,
        events_per_s / copy_per_s
    );
}

fn migrated(cluster: &Cluster, prefix: &str) -> String {
    let name = cluster.create_database(prefix).expect("create database");
    let url = DatabaseUrl::new(cluster.url(&name));
    let mut conn = url.establish().expect("connect");
    db::run_migrations(&mut conn, dc_schema::MIGRATIONS, &url).expect("migrations");
    name
}

fn count_logs(cluster: &Cluster, database: &str) -> u64 {
    cluster.query(database, "SELECT count(*) FROM logs").unwrap()[0][0].parse().unwrap()
}

fn settings(spill: &std::path::Path) -> LogSettings {
    LogSettings { console: false, spill_dir: spill.to_path_buf(), handle_sigterm: false, ..LogSettings::default() }
}

fn percentiles(mut samples: Vec<u64>) -> (u64, u64) {
    samples.sort_unstable();
    (samples[samples.len() / 2], samples[samples.len() * 99 / 100])
}

/// Minor page faults of the process so far (fresh heap pages touched).
fn minor_faults() -> i64 {
    // SAFETY: getrusage writes into the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage.ru_minflt
}

/// Times each call on its own; `emit` is one `info!` with three fields.
/// Prints the minor page faults taken meanwhile: a queue that grows touches
/// fresh heap pages, and each first touch is a fault in some call's time.
fn time_calls(what: &str, emit: impl Fn(usize)) -> Vec<u64> {
    // Warm-up: callsite registration, first allocations.
    for n in 0..1000 {
        emit(n);
    }
    let mut samples = vec![0_u64; APP_CALLS];
    let faults = minor_faults();
    for (n, sample) in samples.iter_mut().enumerate() {
        let started = Instant::now();
        emit(n);
        *sample = started.elapsed().as_nanos() as u64;
    }
    println!("{what}: {} minor page faults during the {APP_CALLS} calls", minor_faults() - faults);
    samples
}

fn emit_three_fields(n: usize) {
    info!(shop = "zagreb", price = n as u64, fresh = true, "price checked");
}

fn app_thread_cost_ours(cluster: &Cluster, database: &str, spill: &std::path::Path) -> ((u64, u64), u64) {
    let mut settings = settings(spill);
    settings.queue_size = APP_CALLS + 2000;
    let (layer, guard) = Logging::new(settings)
        .app(AppIdentity::new("bench", "logging", "app_thread"))
        .database(DatabaseUrl::new(cluster.url(database)))
        .build()
        .unwrap();
    let samples = tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || time_calls("ours", emit_three_fields));
    // Everything written before the count is taken.
    while !guard.flush() || guard.stats().sinks.iter().any(|s| s.backlog) {}
    let stats = guard.finish(RuntimeExitCode::Finished);
    // Less the runtime's start and end records, which write no logs row.
    (percentiles(samples), stats.accepted - 2)
}

fn app_thread_cost_appender() -> (u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let file = std::fs::File::create(dir.path().join("appender.log")).unwrap();
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default().buffered_lines_limit(APP_CALLS + 2000).finish(file);
    let subscriber = tracing_subscriber::registry().with(tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(false));
    let samples = tracing::subscriber::with_default(subscriber, || time_calls("tracing-appender", emit_three_fields));
    drop(guard);
    percentiles(samples)
}

/// Emits `events` as fast as the queue takes them; the clock stops when the last row committed.
fn throughput_ours(cluster: &Cluster, database: &str, spill: &std::path::Path, events: usize, second_connection: bool) -> (f64, u64) {
    let mut settings = settings(spill);
    settings.database_second_connection = second_connection;
    // A full queue makes the app wait, never spill, so this measures the database sink.
    settings.queue_wait = Duration::from_secs(60);
    settings.batch_size = 5000;
    let (layer, guard) = Logging::new(settings)
        .app(AppIdentity::new("bench", "logging", "throughput"))
        .database(DatabaseUrl::new(cluster.url(database)))
        .build()
        .unwrap();
    let started = Instant::now();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for n in 0..events {
            emit_three_fields(n);
        }
    });
    let stats = guard.finish(RuntimeExitCode::Finished);
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(stats.spilled(), stats.sink("database").map_or(0, |s| s.replayed), "{stats:?}");
    // Less the runtime's start and end records, which write no logs row.
    ((events as f64) / elapsed, stats.accepted - 2)
}

#[derive(Insertable)]
#[diesel(table_name = logs)]
#[diesel(treat_none_as_default_value = false)]
struct LogRow {
    app_id: Option<String>,
    module_name: Option<String>,
    module_path: Option<String>,
    function_name: Option<String>,
    function_id: Option<String>,
    call_chain: Option<String>,
    instance_id: Option<i32>,
    lineno: Option<i32>,
    log_level: Option<LogLevel>,
    msg: Option<String>,
    context_json: Option<String>,
    runtime: Option<String>,
    date_created: NaiveDateTime,
}

/// Reads back the rows the layer wrote and COPYs them, in one statement, twice:
/// into a copy of the layer's database (`CREATE DATABASE … TEMPLATE`, `logs`
/// emptied: the same table, constraints and referenced app and runtime rows,
/// so the same rows with the same foreign-key checks), and, as the first
/// version of this bench did, into a fresh database without the `app_id`
/// foreign key and with `runtime` NULL (two of the three checks skipped).
/// Returns rows/s of each.
fn copy_same_rows(cluster: &Cluster, from: &str) -> (f64, f64) {
    let mut source = PgConnection::establish(&cluster.url(from)).unwrap();
    let rows: Vec<dc_schema::models::Logs> = logs::table.select(dc_schema::models::Logs::as_select()).load(&mut source).unwrap();
    drop(source);
    let rows: Vec<LogRow> = rows
        .into_iter()
        .map(|r| LogRow {
            app_id: r.app_id,
            module_name: r.module_name,
            module_path: r.module_path,
            function_name: r.function_name,
            function_id: r.function_id,
            call_chain: r.call_chain,
            instance_id: r.instance_id,
            lineno: r.lineno,
            log_level: r.log_level,
            msg: r.msg,
            context_json: r.context_json,
            runtime: r.runtime,
            date_created: r.date_created,
        })
        .collect();
    let copy_into = |conn: &mut PgConnection, rows: &[LogRow]| {
        let started = Instant::now();
        let copied = diesel::copy_from(logs::table).from_insertable(rows).execute(conn).unwrap();
        let elapsed = started.elapsed().as_secs_f64();
        assert_eq!(copied, rows.len());
        rows.len() as f64 / elapsed
    };
    let same = format!("{from}_copy");
    cluster.psql("postgres", &format!("CREATE DATABASE \"{same}\" TEMPLATE \"{from}\"")).unwrap();
    let mut conn = PgConnection::establish(&cluster.url(&same)).unwrap();
    diesel::sql_query("TRUNCATE logs").execute(&mut conn).unwrap();
    let same_rows_per_s = copy_into(&mut conn, &rows);

    let rows: Vec<LogRow> = rows.into_iter().map(|row| LogRow { runtime: None, ..row }).collect();
    let target = migrated(cluster, "bench_copy");
    let mut conn = PgConnection::establish(&cluster.url(&target)).unwrap();
    // No app row there: the app_id foreign key goes.
    diesel::sql_query("ALTER TABLE logs DROP CONSTRAINT fk_logs_app_id_apps").execute(&mut conn).unwrap();
    let fewer_checks_rows_per_s = copy_into(&mut conn, &rows);
    (same_rows_per_s, fewer_checks_rows_per_s)
}

/// Starts this benchmark again as a child that logs with its database down.
fn outage_peak_rss(events: usize) -> u64 {
    let output = std::process::Command::new(std::env::current_exe().unwrap()).arg("--outage-child").env("EVENTS", events.to_string()).output().expect("run the outage child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    let line = stdout.lines().find(|l| l.starts_with("outage:")).expect("the child's report");
    println!("{line}");
    line.split_whitespace().find_map(|w| w.strip_prefix("peak_rss_mb=")).unwrap().parse().unwrap()
}

/// The child: a database on a stopped server, EVENTS events, everything spilled.
fn outage_child() {
    let events: usize = std::env::var("EVENTS").unwrap().parse().unwrap();
    let cluster = Cluster::start().expect("start PostgreSQL");
    let database = migrated(&cluster, "bench_outage");
    cluster.stop_server().expect("stop the server");
    let spill = tempfile::tempdir().unwrap();
    let (layer, guard) = Logging::new(settings(spill.path()))
        .app(AppIdentity::new("bench", "logging", "outage"))
        .database(DatabaseUrl::new(cluster.url(&database)))
        .build()
        .unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for n in 0..events {
            emit_three_fields(n);
        }
    });
    let stats = guard.finish(RuntimeExitCode::Finished);
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let peak_kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).unwrap().trim().trim_end_matches(" kB").parse().unwrap();
    let in_spill: usize = std::fs::read_dir(spill.path().join("database"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
        // Less each file's header line (its id and destination).
        .map(|e| std::fs::read_to_string(e.path()).unwrap().lines().filter(|l| !l.starts_with("{\"spill_file\"")).count())
        .sum();
    println!("outage: events={events} accepted={} in_spill_file={in_spill} peak_rss_mb={}", stats.accepted, peak_kb / 1024);
    assert_eq!(in_spill as u64, stats.accepted, "every accepted record is in the spill file");
    cluster.start_server().ok();
}
