//! `make bench-gen`: generation time of the framework spec and of a synthetic spec of
//! 1,000 tables (20 columns each, foreign keys, enums), median of several runs, release
//! build. Prints where one generation of the 1,000-table spec spends its CPU (each
//! stage alone, so the figures add up to the CPU time), then the whole `dcgen gen`
//! command on the same spec as a fresh process each time (files written, allocator
//! and page faults of a real run included), and ends with one line
//! `gen-bench: framework_ms=<n> tables1000_cpu_ms=<n> tables1000_ms=<n> tables1000_process_ms=<n>`.

use std::path::Path;

use dcgen::model::Dialect;
use std::time::{Duration, Instant};

#[path = "bench_support/synthetic.rs"]
mod synthetic;
#[path = "bench_support/timing.rs"]
mod timing;

use timing::{median, ms};

const RUNS: usize = 7;

/// The allocator of every dcgen binary: generation builds and drops millions of small
/// strings and syntax nodes on several threads, where glibc's malloc spent about a
/// third of the CPU in its free lists (BENCHMARKS.md, "Generation").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), String> {
    dcgen::keep_freed_memory();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf();
    let synthetic = tempfile::tempdir().expect("tempdir");
    std::fs::write(synthetic.path().join("spec.yaml"), synthetic::spec(1000, 20, 0)).expect("write synthetic spec");

    let framework = median(RUNS, || Ok(generate(&root.join("spec"))))?;
    let cpu_before = process_cpu_ms();
    let tables1000 = median(RUNS, || Ok(generate(synthetic.path())))?;
    // CPU time of the process per run (warm-up included, so RUNS + 1): on a machine
    // shared with other work, wall time stretches but this stays near the work done.
    let tables1000_cpu = (process_cpu_ms() - cpu_before) / (RUNS as f64 + 1.0);
    stages(synthetic.path());
    let process = median(RUNS, || gen_process(synthetic.path()))?;
    println!("framework: median {:.1} ms over {RUNS} runs", ms(framework));
    println!("1,000 tables x 20 columns: median {:.1} ms over {RUNS} runs, {tables1000_cpu:.0} ms of CPU per run", ms(tables1000));
    println!("1,000 tables, `dcgen gen` as a fresh process writing its files: median {:.1} ms over {RUNS} runs", ms(process));
    println!(
        "gen-bench: framework_ms={:.0} tables1000_cpu_ms={tables1000_cpu:.0} tables1000_ms={:.0} tables1000_process_ms={:.0}",
        ms(framework),
        ms(tables1000),
        ms(process)
    );
    Ok(())
}

/// `dcgen gen` (the binary built beside this one) on `spec` into an empty directory.
fn gen_process(spec: &Path) -> Result<Duration, String> {
    let dcgen = std::env::current_exe().map_err(|e| e.to_string())?.with_file_name("dcgen");
    let out = tempfile::tempdir().map_err(|e| e.to_string())?;
    let start = Instant::now();
    let output = std::process::Command::new(&dcgen)
        .args(["gen", "--spec"])
        .arg(spec)
        .arg("--out")
        .arg(out.path())
        .output()
        .map_err(|e| format!("cannot run {} (build it with `cargo build --release -p dcgen --bins`): {e}", dcgen.display()))?;
    let elapsed = start.elapsed();
    if !output.status.success() {
        return Err(format!("dcgen gen failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok(elapsed)
}

/// Load, resolve, plan and render everything into memory (writing files would time the
/// disk, not the generator).
fn generate(spec: &Path) -> Duration {
    let start = Instant::now();
    let checked = dcgen::check(spec);
    assert!(!checked.diagnostics.has_errors(), "{}", checked.diagnostics.render(&checked.sources));
    let model = checked.model.expect("valid");
    let empty = tempfile::tempdir().expect("tempdir");
    let options = dcgen::GenOptions { version: Some("20260101000000".into()), ..Default::default() };
    let tree = dcgen::generate(&model, empty.path(), &options).expect("generation succeeds");
    assert!(!tree.files.is_empty());
    start.elapsed()
}


/// Each stage of one generation of `spec` run alone, timed by the CPU it takes (all its
/// threads), which a machine shared with other work stretches far less than wall time.
fn stages(spec: &Path) {
    let mut timed = Vec::new();
    let mut time = |name: &str, run: &mut dyn FnMut()| {
        let start = process_cpu_ms();
        run();
        timed.push(format!("{name}={:.0}", process_cpu_ms() - start));
    };
    let mut checked = None;
    time("load_resolve", &mut || checked = Some(dcgen::check(spec)));
    let model = checked.and_then(|c| c.model).expect("valid");
    let mut pending = None;
    time("plan", &mut || pending = Some(dcgen::migration::pending(&model, Path::new("/nonexistent")).expect("plan")));
    let pending = pending.expect("planned");
    let mut tree = dcgen::write::FileTree::default();
    time("rust_crate", &mut || dcgen::emit::rust::crate_files(&model, &mut tree).expect("rust"));
    time("docs", &mut || dcgen::emit::docs::files(&model, &mut tree).expect("docs"));
    time("mssql_schema", &mut || {
        dcgen::emit::mssql::declarative_schema(&model).expect("mssql schema");
    });
    time("migration_postgres", &mut || {
        dcgen::emit::postgres::migration(&pending.before, &model, &pending.plan, "bench").expect("postgres");
    });
    time("migration_mssql", &mut || {
        dcgen::emit::mssql::migration(&pending.before, &model, &pending.plan, "bench").expect("mssql");
    });
    assert!(model.has_dialect(Dialect::Mssql));
    println!("1,000 tables, stages alone in CPU ms: {}", timed.join(" "));
}

/// User + system CPU time of this process so far, from `/proc/self/stat` (clock ticks of
/// 10 ms, USER_HZ); 0 where there is no procfs.
fn process_cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesized command name; utime and stime are the 14th and 15th.
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) * 10.0
}
