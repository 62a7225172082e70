//! Hashing generated rows, side by side in one run: the runtime's serde path (`RowReader::sha`), SHA3-256 alone over the same canonical bytes, and the Python rule of HASHING.md (`python_hash.py`) on the same rows.
//!
//! Shared by the `merge` benchmark (its part (d) and the `hash_vs_*` keys of
//! `merge-bench:`) and the `hash` benchmark (the same numbers without a
//! database). Every time is CPU time of the thread (Rust) or process
//! (Python) doing the work, best pass of several, so other work on the
//! machine slows neither side; the Rust variants take turns pass by pass.

use std::hint::black_box;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime};
use dc_runtime::row::{hex_of, RowReader, RowShape};
use dc_schema::models::NewFunctionLog;
// The runtime's own SHA3-256, so "raw SHA3" is the same keccak the rows are hashed with.
use dc_runtime::hash::sha3_256;

fn base_time() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default()
}

/// Row `i` of the merge benchmark's synthetic truth: deterministic, every
/// column filled but the two foreign keys (left NULL so no referenced rows
/// are needed).
pub fn function_log_row(i: u64) -> NewFunctionLog {
    let mix = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let start = base_time() + chrono::Duration::seconds(i as i64) + chrono::Duration::microseconds((mix % 1_000_000) as i64);
    NewFunctionLog {
        function_hash: None,
        function_no: Some((i % 977) as i32),
        main_app: Some(format!("app_{:04}", i % 3000)),
        app_id: Some(format!("{:016x}", mix)),
        thread_id: Some((mix % 64) as i32),
        task_size: Some((mix % 100_000) as i64),
        solved: Some((i % 1000) as i32),
        failed: Some((i % 7) as i32),
        start_time: Some(start),
        end_time: Some(start + chrono::Duration::seconds((i % 600) as i64)),
        totals: Some((i % 600) as i32),
        totalm: Some((i % 600 / 60) as i32),
        totalh: Some(0),
        runtime: None,
    }
}

/// What one run measured.
pub struct HashingResult {
    pub rows: usize,
    pub canonical_bytes_per_row: usize,
    /// Rows per CPU second: the serde path (walk, canonical text, SHA3).
    pub hash_rows_per_s: f64,
    /// Rows per CPU second: SHA3-256 alone over the same canonical text.
    pub raw_sha3_rows_per_s: f64,
    /// Rows per CPU second: Python's rule (normalize, json.dumps, hashlib.sha3_256).
    pub python_rows_per_s: f64,
}

impl HashingResult {
    pub fn hash_vs_raw_sha3(&self) -> f64 {
        self.hash_rows_per_s / self.raw_sha3_rows_per_s
    }

    pub fn hash_vs_python(&self) -> f64 {
        self.hash_rows_per_s / self.python_rows_per_s
    }

    /// The share of hashing time spent outside SHA3 (the goal: ≤ 40%).
    pub fn overhead_share(&self) -> f64 {
        1.0 - self.hash_vs_raw_sha3()
    }

    pub fn describe(&self) -> String {
        format!(
            "hashing {} rows ({} B/row canonical), per CPU second: {:.0} rows/s; raw sha3 {:.0} rows/s; Python {:.0} rows/s; \
             ratio to raw sha3 {:.2} (outside SHA3: {:.0}% of the time); to Python {:.1}×",
            self.rows,
            self.canonical_bytes_per_row,
            self.hash_rows_per_s,
            self.raw_sha3_rows_per_s,
            self.python_rows_per_s,
            self.hash_vs_raw_sha3(),
            self.overhead_share() * 100.0,
            self.hash_vs_python()
        )
    }
}

/// Nanoseconds this thread has run on a CPU (Linux schedstat); wall time
/// where that isn't available.
fn cpu_nanos(wall_start: Instant) -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|stat| stat.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| wall_start.elapsed().as_nanos() as u64)
}

/// CPU time of one run of `run`.
pub fn timed<F: FnMut() -> u8>(run: &mut F, clock: Instant) -> Duration {
    let start = cpu_nanos(clock);
    black_box(run());
    Duration::from_nanos(cpu_nanos(clock).saturating_sub(start))
}

// Many short passes: the best of them is the pass no other work got in the way of.
const RUST_PASSES: usize = 15;
const PYTHON_PASSES: usize = 3;

/// Hashes `rows` rows of `function_log` three ways; panics (this is a
/// benchmark) if Python's shas differ from ours.
pub fn measure(rows: usize, scratch: &Path) -> HashingResult {
    let sample: Vec<NewFunctionLog> = (0..rows as u64).map(function_log_row).collect();
    let info = dc_runtime::table::TableInfo::parse(NewFunctionLog::TABLE_INFO).expect("function_log facts");
    let shape = RowShape::new(info).expect("function_log shape");
    let mut reader = RowReader::for_hashing(&shape);
    let canonical: Vec<String> = sample.iter().map(|r| reader.canonical_of(r).expect("bench rows hash").to_string()).collect();
    let shas: String = sample.iter().map(|r| reader.sha_hex(r).expect("bench rows hash")).collect();
    let rust_digest = hex_of(&sha3_256(shas.as_bytes()));

    let mut with_serde = || {
        let mut sink = 0_u8;
        for row in &sample {
            sink ^= reader.sha(row).map(|d| d[0]).unwrap_or(0);
        }
        sink
    };
    let mut raw = || {
        let mut sink = 0_u8;
        for text in &canonical {
            sink ^= sha3_256(black_box(text.as_bytes()))[0];
        }
        sink
    };
    let clock = Instant::now();
    let (mut best_hash, mut best_raw) = (Duration::MAX, Duration::MAX);
    for _ in 0..RUST_PASSES {
        best_raw = best_raw.min(timed(&mut raw, clock));
        best_hash = best_hash.min(timed(&mut with_serde, clock));
    }

    let (python_rows, python_seconds, python_digest) = python_side(&shape, &sample, scratch);
    assert_eq!(python_rows, rows, "python_hash.py read every row");
    assert_eq!(python_digest, rust_digest, "Python and the runtime hash the benchmark's rows alike");

    let per_second = |time: Duration| rows as f64 / time.as_secs_f64();
    HashingResult {
        rows,
        canonical_bytes_per_row: canonical.iter().map(String::len).sum::<usize>() / rows.max(1),
        hash_rows_per_s: per_second(best_hash),
        raw_sha3_rows_per_s: per_second(best_raw),
        python_rows_per_s: rows as f64 / python_seconds,
    }
}

/// Writes the rows as JSON lines and lets python3 hash them; returns rows,
/// best pass in CPU seconds, and the digest of all shas.
fn python_side(shape: &RowShape, sample: &[NewFunctionLog], scratch: &Path) -> (usize, f64, String) {
    let path = scratch.join("hash-bench-rows.jsonl");
    let hashed: serde_json::Map<String, serde_json::Value> = shape
        .info()
        .columns
        .iter()
        .filter(|column| column.hashed && column.field.is_some())
        .map(|column| (column.name.clone(), column.ty.to_string().into()))
        .collect();
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("write the bench rows"));
    serde_json::to_writer(&mut file, &serde_json::json!({ "hashed": hashed })).expect("header");
    for row in sample {
        file.write_all(b"\n").expect("write");
        serde_json::to_writer(&mut file, row).expect("row as JSON");
    }
    file.write_all(b"\n").expect("write");
    drop(file);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python_hash.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(&path)
        .arg(PYTHON_PASSES.to_string())
        .output()
        .expect("run python3 benches/python_hash.py");
    let _ = std::fs::remove_file(&path);
    assert!(output.status.success(), "python_hash.py failed: {}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("python_hash.py prints one JSON line");
    (
        report["rows"].as_u64().unwrap_or(0) as usize,
        report["best_seconds"].as_f64().expect("best_seconds"),
        report["digest"].as_str().unwrap_or_default().to_string(),
    )
}
