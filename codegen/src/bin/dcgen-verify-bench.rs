//! `make bench-verify`: wall time of `dcgen verify` on the framework schema, as CI runs
//! it (a fresh process: load the spec, connect, read both catalogs), median of several
//! runs against a database migrated to the spec. Run under `pg-harness run`, which sets
//! DATABASE_URL; the `dcgen` binary is the one built beside this one. Ends with one line
//! `verify-bench: verify_ms=<n>`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

#[path = "bench_support/timing.rs"]
mod timing;

use timing::ms;

const RUNS: usize = 9;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("verify-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set; run me under `pg-harness run --`".to_string())?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().ok_or("no repository root")?.to_path_buf();
    let spec = root.join("spec");
    let dcgen = std::env::current_exe().map_err(|e| e.to_string())?.with_file_name("dcgen");
    if !dcgen.is_file() {
        return Err(format!("{} is missing; build it first (cargo build --release -p dcgen)", dcgen.display()));
    }

    let model = {
        let checked = dcgen::check(&spec);
        checked.model.ok_or_else(|| checked.diagnostics.render(&checked.sources))?
    };
    let out = tempfile::tempdir().map_err(|e| e.to_string())?;
    let options = dcgen::GenOptions { version: Some("20260101000000".into()), ..Default::default() };
    dcgen::generate(&model, out.path(), &options).map_err(|e| e.to_string())?.write(out.path()).map_err(|e| e.to_string())?;
    let up = up_sql(&out.path().join("migrations/postgres"))?;
    let sql = std::fs::read_to_string(&up).map_err(|e| format!("{}: {e}", up.display()))?;
    let mut connection = PgConnection::establish(&url).map_err(|e| e.to_string())?;
    connection.batch_execute(&sql).map_err(|e| format!("applying {}: {e}", up.display()))?;

    let in_process = timing::median(RUNS, || {
        let start = Instant::now();
        let report = dcgen::verify::verify(&model, &url, &dcgen::verify::Options::default()).map_err(|e| e.to_string())?;
        if report.has_drift() {
            return Err(format!("unexpected drift:\n{report}"));
        }
        Ok(start.elapsed())
    })?;
    let cli = timing::median(RUNS, || {
        let start = Instant::now();
        let output = Command::new(&dcgen).arg("verify").arg("--spec").arg(&spec).arg("--database-url").arg(&url).output().map_err(|e| e.to_string())?;
        let elapsed = start.elapsed();
        if !output.status.success() {
            return Err(format!("dcgen verify failed:\n{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)));
        }
        Ok(elapsed)
    })?;
    println!("framework ({} tables): library call median {:.1} ms, `dcgen verify` process median {:.1} ms, over {RUNS} runs", model.tables.len(), ms(in_process), ms(cli));
    println!("verify-bench: verify_ms={:.0}", ms(cli));
    Ok(())
}

/// The framework has one migration: its `up.sql`.
fn up_sql(folder: &Path) -> Result<PathBuf, String> {
    let entry = std::fs::read_dir(folder).map_err(|e| format!("{}: {e}", folder.display()))?.next().ok_or("no migration generated")?;
    Ok(entry.map_err(|e| e.to_string())?.path().join("up.sql"))
}


