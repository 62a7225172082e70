//! `make bench-migrations`: diff and render (both dialects) from a 1,000-table spec to
//! the same spec with 10% of its tables changed (a column added, one widened, one
//! renamed), median of several runs, release build; and `dcgen verify` on the
//! framework schema against a migrated throwaway database (run under `pg-harness run`,
//! which sets DATABASE_URL). Ends with `migrate-bench: diff1000_ms=<n> verify_ms=<n>`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

#[path = "bench_support/synthetic.rs"]
mod synthetic;

#[path = "bench_support/timing.rs"]
mod timing;

use timing::ms;

const RUNS: usize = 7;

/// The allocator of every dcgen binary: generation builds and drops millions of small
/// strings and syntax nodes on several threads, where glibc's malloc spent about a
/// third of the CPU in its free lists (BENCHMARKS.md, "Generation").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    dcgen::keep_freed_memory();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("migrate-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

fn model_of(dir: &Path) -> Result<dcgen::model::Model, String> {
    let checked = dcgen::check(dir);
    checked.model.ok_or_else(|| checked.diagnostics.render(&checked.sources))
}

fn run() -> Result<(), String> {
    let before_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let after_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::write(before_dir.path().join("spec.yaml"), synthetic::spec(1000, 20, 0)).map_err(|e| e.to_string())?;
    std::fs::write(after_dir.path().join("spec.yaml"), synthetic::spec(1000, 20, 10)).map_err(|e| e.to_string())?;
    let before = model_of(before_dir.path())?;
    let after = model_of(after_dir.path())?;

    let diff = timing::median(RUNS, || {
        // `Pending` owns its `before` model; cloning it is setup, outside the timing.
        let owned_before = before.clone();
        let start = Instant::now();
        let plan = dcgen::plan::diff(&owned_before, &after);
        let pending = dcgen::Pending { before: owned_before, plan };
        let scripts = dcgen::render_migration(&after, &pending, "bench").map_err(|e| e.to_string())?;
        let elapsed = start.elapsed();
        // The plan is what the benchmark claims: 100 tables changed, each with an added
        // and a renamed column.
        let count = |want: fn(&dcgen::plan::Operation) -> bool| pending.plan.up.iter().filter(|op| want(op)).count();
        let added = count(|op| matches!(op, dcgen::plan::Operation::AddColumn(_)));
        let renamed = count(|op| matches!(op, dcgen::plan::Operation::RenameColumn { .. }));
        if added != 100 || renamed != 100 || scripts.len() != 2 {
            return Err(format!("expected 100 added and 100 renamed columns in 2 dialects, got {added}, {renamed}, {}", scripts.len()));
        }
        Ok(elapsed)
    })?;

    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set; run me under `pg-harness run --`".to_string())?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().ok_or("no repository root")?.to_path_buf();
    let framework = model_of(&root.join("spec"))?;
    let up = root.join("generated/migrations/postgres");
    let mut connection = PgConnection::establish(&url).map_err(|e| e.to_string())?;
    for entry in std::fs::read_dir(&up).map_err(|e| e.to_string())? {
        let sql = std::fs::read_to_string(entry.map_err(|e| e.to_string())?.path().join("up.sql")).map_err(|e| e.to_string())?;
        connection.batch_execute(&sql).map_err(|e| e.to_string())?;
    }
    let verify = timing::median(RUNS, || {
        let start = Instant::now();
        let report = dcgen::verify::verify(&framework, &url, &dcgen::verify::Options::default()).map_err(|e| e.to_string())?;
        if report.has_drift() {
            return Err(format!("unexpected drift:\n{report}"));
        }
        Ok(start.elapsed())
    })?;

    println!("diff + render of 1,000 tables, 10% changed: median {:.1} ms over {RUNS} runs", ms(diff));
    println!("dcgen verify, framework schema (in process): median {:.1} ms over {RUNS} runs", ms(verify));
    println!("migrate-bench: diff1000_ms={:.0} verify_ms={:.0}", ms(diff), ms(verify));
    Ok(())
}


