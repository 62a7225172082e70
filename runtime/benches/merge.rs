//! `make bench-merge`: merge against a plain binary COPY and against the Python framework's SQL pattern, on a throwaway PostgreSQL.
//!
//! The table is the framework's `function_log` (data_table mixin: identity
//! id, 14 business columns of text, integer and timestamp types, `sha`
//! indexed, archive, created, modified with its trigger, four more indexes),
//! created by the generated migrations. `ROWS` (default 1,000,000) sets the
//! size. In one run:
//!
//! - (a) binary COPY (Diesel's `copy_from(...).from_insertable`) of ROWS rows,
//!   sha included, into the empty table: the reference;
//! - (b') merge of ROWS all-new rows into the empty table;
//! - (b) merge of ROWS incoming rows against ROWS existing, 1% new and 1% gone,
//!   with the peak RSS of the process during it (VmHWM, reset before);
//! - (c) the Python Data Collector's SQL pattern replayed from Rust on the data
//!   of (b): select every column of the active rows, hash and diff in memory,
//!   one UPDATE per archived row, INSERTs in batches of 1000;
//! - (d) hashing alone (serde walk, canonical text, SHA3-256) against SHA3-256
//!   alone over the same canonical bytes, and against the Python rule of
//!   HASHING.md (`python_hash.py`) on the same rows, in CPU time
//!   (`row_hashing`).
//!
//! The timed merges take their truth as a slice, as (a) and (c) do. The
//! peak RSS is that of (b) run again, in a process of its own, on a third
//! copy of the table with its truth streamed (`run_iter`), as an app
//! reading a source would; the materialized truth's own size is printed
//! beside it.

mod row_hashing;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use dc_runtime::db::{self, DatabaseUrl};
use dc_runtime::merge::Merge;
use dc_runtime::row::{RowReader, RowShape};
use dc_runtime::table::TableInfo;
use dc_schema::models::{FunctionLog, NewFunctionLog};
use dc_schema::schema::function_log;
use diesel::prelude::*;
use diesel::ExecuteCopyFromDsl;

/// A `function_log` row with its sha, for the COPY reference and the Python pattern.
#[derive(Insertable, Clone)]
#[diesel(table_name = function_log)]
#[diesel(treat_none_as_default_value = false)]
struct RowWithSha {
    function_hash: Option<String>,
    function_no: Option<i32>,
    main_app: Option<String>,
    app_id: Option<String>,
    thread_id: Option<i32>,
    task_size: Option<i64>,
    solved: Option<i32>,
    failed: Option<i32>,
    start_time: Option<NaiveDateTime>,
    end_time: Option<NaiveDateTime>,
    totals: Option<i32>,
    totalm: Option<i32>,
    totalh: Option<i32>,
    runtime: Option<String>,
    sha: Option<String>,
}

/// Row `i` of the synthetic truth (shared with the hash benchmark).
fn row(i: u64) -> NewFunctionLog {
    row_hashing::function_log_row(i)
}

fn with_sha(row: &NewFunctionLog, reader: &mut RowReader<'_>) -> RowWithSha {
    RowWithSha {
        function_hash: row.function_hash.clone(),
        function_no: row.function_no,
        main_app: row.main_app.clone(),
        app_id: row.app_id.clone(),
        thread_id: row.thread_id,
        task_size: row.task_size,
        solved: row.solved,
        failed: row.failed,
        start_time: row.start_time,
        end_time: row.end_time,
        totals: row.totals,
        totalm: row.totalm,
        totalh: row.totalh,
        runtime: row.runtime.clone(),
        sha: Some(reader.sha_hex(row).expect("bench rows hash")),
    }
}

fn vm_hwm_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0.0);
    kb / 1024.0
}

fn vm_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0.0);
    kb / 1024.0
}

/// Hands freed heap back to the system, then resets the peak RSS to the
/// current RSS (Linux `clear_refs`), so the next peak is the next step's.
fn reset_peak() {
    // SAFETY: malloc_trim only returns free heap pages; it takes no pointers.
    unsafe { libc::malloc_trim(0) };
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// RSS growth from materializing the truth of (b).
fn truth_mb(rows: usize, churn: usize) -> f64 {
    reset_peak();
    let before = vm_rss_mb();
    let truth: Vec<NewFunctionLog> = (churn as u64..(rows + churn) as u64).map(row).collect();
    let grown = vm_rss_mb() - before;
    drop(truth);
    grown
}

fn per_second(rows: usize, elapsed: Duration) -> f64 {
    rows as f64 / elapsed.as_secs_f64()
}

/// Set in the child process that runs only the streamed (b): the database URL.
const CHILD_URL: &str = "MERGE_BENCH_STREAM_URL";

/// The child: merge the truth of (b), streamed, and print the peak RSS in MB.
fn streamed_merge(url: &str, rows: usize, churn: usize) {
    let mut conn = PgConnection::establish(url).expect("connect");
    let merge = Merge::new(NewFunctionLog::TABLE).unwrap();
    let report = merge.run_iter(&mut conn, || (churn as u64..(rows + churn) as u64).map(row)).expect("streamed merge");
    assert_eq!((report.inserted as usize, report.archived as usize), (churn, churn));
    eprintln!("{:.2} s, {:?}", report.elapsed.as_secs_f64(), report.phases);
    println!("{:.0}", vm_hwm_mb());
}

fn main() {
    // `cargo bench` passes `--bench`; this harness has no options of its own.
    let rows: usize = std::env::var("ROWS").ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(1_000_000);
    let churn = (rows / 100).max(1);
    if let Ok(url) = std::env::var(CHILD_URL) {
        return streamed_merge(&url, rows, churn);
    }
    let cluster = pg_harness::Cluster::start().expect("start a throwaway PostgreSQL");
    let open = |prefix: &str| {
        let name = cluster.create_database(prefix).expect("create database");
        let url = DatabaseUrl::new(cluster.url(&name));
        let mut conn = url.establish().expect("connect");
        db::run_migrations(&mut conn, dc_schema::MIGRATIONS, &url).expect("migrations");
        conn
    };
    let mut copy_db = open("bench_copy");
    let mut merge_db = open("bench_merge");
    let stream_name = cluster.create_database("bench_stream").expect("create database");
    let mut stream_db = PgConnection::establish(&cluster.url(&stream_name)).expect("connect");
    db::run_migrations(&mut stream_db, dc_schema::MIGRATIONS, &DatabaseUrl::new(cluster.url(&stream_name))).expect("migrations");
    let info = TableInfo::parse(NewFunctionLog::TABLE_INFO).unwrap();
    let shape = RowShape::new(info).unwrap();
    let merge = Merge::new(NewFunctionLog::TABLE).unwrap();
    eprintln!("merge-bench: {rows} rows, {churn} new and {churn} gone in (b); PostgreSQL at {}", cluster.data_dir().display());

    // (d) Hashing alone against raw SHA3-256 over the same bytes, and Python's rule on the same rows.
    let hashing = row_hashing::measure(rows.min(100_000), &std::env::temp_dir());
    let hash_ratio = hashing.hash_vs_raw_sha3();
    eprintln!("(d) {}", hashing.describe());
    let mut reader = RowReader::for_hashing(&shape);

    // (a) Plain binary COPY of the rows with their sha.
    let first: Vec<NewFunctionLog> = (0..rows as u64).map(row).collect();
    let copy_rows: Vec<RowWithSha> = first.iter().map(|r| with_sha(r, &mut reader)).collect();
    let started = Instant::now();
    let copied = diesel::copy_from(function_log::table).from_insertable(&copy_rows).execute(&mut copy_db).expect("COPY");
    let copy_time = started.elapsed();
    assert_eq!(copied, rows);
    drop(copy_rows);
    eprintln!("(a) COPY {rows} rows: {:.2} s, {:.0} rows/s", copy_time.as_secs_f64(), per_second(rows, copy_time));

    // (b') Merge of all-new rows into the empty table.
    let report = merge.run(&mut merge_db, &first).expect("merge all new");
    assert_eq!(report.inserted as usize, rows);
    let all_new_time = report.elapsed;
    eprintln!(
        "(b') merge {rows} new rows into the empty table: {:.2} s, {:.0} rows/s; {:?}",
        all_new_time.as_secs_f64(),
        per_second(rows, all_new_time),
        report.phases
    );
    // The third copy of the start state, for the streamed run of (b).
    merge.run(&mut stream_db, &first).expect("load the third copy");
    drop(first);

    // (b) Merge with 1% new and 1% gone.
    let truth = || (churn as u64..(rows + churn) as u64).map(row);
    let incoming: Vec<NewFunctionLog> = truth().collect();
    let report = merge.run(&mut merge_db, &incoming).expect("merge");
    assert_eq!((report.inserted as usize, report.archived as usize, report.unchanged as usize), (churn, churn, rows - churn));
    let merge_time = report.elapsed;
    eprintln!("(b) merge {rows} rows against {rows}: {:.2} s, {:.0} rows/s; {:?}", merge_time.as_secs_f64(), per_second(rows, merge_time), report.phases);

    // (c) The Python framework's pattern on the data of (b), in the COPY database (same start state).
    let started = Instant::now();
    let (inserted, archived) = copy_db
        .transaction::<_, diesel::result::Error, _>(|conn| {
            use function_log::dsl;
            let existing: Vec<FunctionLog> = dsl::function_log.filter(dsl::archive.is_null()).load(conn)?;
            let mut reader = RowReader::for_hashing(&shape);
            let new_rows: Vec<RowWithSha> = incoming.iter().map(|r| with_sha(r, &mut reader)).collect();
            let incoming_shas: HashSet<&str> = new_rows.iter().filter_map(|r| r.sha.as_deref()).collect();
            let existing_shas: HashSet<&str> = existing.iter().filter_map(|r| r.sha.as_deref()).collect();
            let to_insert: Vec<RowWithSha> = new_rows.iter().filter(|r| !existing_shas.contains(r.sha.as_deref().unwrap_or_default())).cloned().collect();
            let to_archive: Vec<i64> = existing.iter().filter(|r| !incoming_shas.contains(r.sha.as_deref().unwrap_or_default())).map(|r| r.id).collect();
            let now = chrono::Utc::now().naive_utc();
            for id in &to_archive {
                diesel::update(dsl::function_log.find(*id)).set(dsl::archive.eq(Some(now))).execute(conn)?;
            }
            for batch in to_insert.chunks(1000) {
                diesel::insert_into(dsl::function_log).values(batch).execute(conn)?;
            }
            Ok((to_insert.len(), to_archive.len()))
        })
        .expect("python pattern");
    let python_time = started.elapsed();
    assert_eq!((inserted, archived), (churn, churn));
    eprintln!("(c) Python pattern on the data of (b): {:.2} s, {:.0} rows/s", python_time.as_secs_f64(), per_second(rows, python_time));

    drop(incoming);

    // Peak RSS of (b), its truth streamed, in a process of its own: what
    // this one allocated for the phases before would count otherwise.
    let child = std::process::Command::new(std::env::current_exe().expect("own path"))
        .env(CHILD_URL, cluster.url(&stream_name))
        .env("ROWS", rows.to_string())
        .output()
        .expect("run the streamed merge");
    let child_out = String::from_utf8_lossy(&child.stdout).into_owned();
    assert!(child.status.success(), "streamed merge failed: {}", String::from_utf8_lossy(&child.stderr));
    let peak_mb: f64 = child_out.trim().parse().expect("child prints its peak RSS");
    eprintln!("(b) streamed, own process: peak RSS {peak_mb:.0} MB; {}", String::from_utf8_lossy(&child.stderr).trim());
    eprintln!("    the truth of (b) as a Vec would add {:.0} MB", truth_mb(rows, churn));

    let merge_vs_copy = copy_time.as_secs_f64() / merge_time.as_secs_f64();
    let all_new_vs_copy = copy_time.as_secs_f64() / all_new_time.as_secs_f64();
    let vs_python = python_time.as_secs_f64() / merge_time.as_secs_f64();
    eprintln!(
        "goals: (b) ≥ 3× (a): {merge_vs_copy:.2}×; (b') ≥ 0.8× (a): {all_new_vs_copy:.2}×; (b) ≥ 3× (c): {vs_python:.2}×; hashing ≥ 60% of sha3: {:.0}%; peak RSS of (b) ≤ 300 MB: {peak_mb:.0} MB",
        hash_ratio * 100.0
    );
    println!(
        "merge-bench: rows={rows} copy_rows_per_s={:.0} merge_rows_per_s={:.0} merge_vs_copy={merge_vs_copy:.2} merge_all_new_vs_copy={all_new_vs_copy:.2} merge_vs_python_pattern={vs_python:.2} hash_vs_raw_sha3={hash_ratio:.2} hash_vs_python={:.1} merge_peak_rss_mb={peak_mb:.0} hash_rows_per_s={:.0} raw_sha3_rows_per_s={:.0}",
        per_second(rows, copy_time),
        per_second(rows, merge_time),
        hashing.hash_vs_python(),
        hashing.hash_rows_per_s,
        hashing.raw_sha3_rows_per_s
    );
}
