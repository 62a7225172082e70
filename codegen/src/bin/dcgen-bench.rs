//! `make bench-gen`: generation time of the framework spec and of a synthetic spec of
//! 1,000 tables (20 columns each, foreign keys, enums), median of several runs, release
//! build. Ends with one line `gen-bench: framework_ms=<n> tables1000_ms=<n>`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

const RUNS: usize = 7;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf();
    let synthetic = tempfile::tempdir().expect("tempdir");
    std::fs::write(synthetic.path().join("spec.yaml"), synthetic_spec(1000, 20)).expect("write synthetic spec");

    let framework = median(|| generate(&root.join("spec")));
    let tables1000 = median(|| generate(synthetic.path()));
    println!("framework: median {:.1} ms over {RUNS} runs", ms(framework));
    println!("1,000 tables x 20 columns: median {:.1} ms over {RUNS} runs", ms(tables1000));
    println!("gen-bench: framework_ms={:.0} tables1000_ms={:.0}", ms(framework), ms(tables1000));
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
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

fn median(mut run: impl FnMut() -> Duration) -> Duration {
    run(); // warm-up: page cache and template compilation
    let mut times: Vec<Duration> = (0..RUNS).map(|_| run()).collect();
    times.sort();
    times[RUNS / 2]
}

/// One file, like a large real spec: a mixin, three enums (one with a codebook), and
/// tables whose columns cycle through the types, each table referencing the previous.
fn synthetic_spec(tables: usize, columns: usize) -> String {
    let mut spec = String::from(
        "project: { name: synthetic }\n\
         mixins:\n  data_table:\n    head:\n      id: { type: bigint, identity: true, primary_key: true }\n    tail:\n      sha: { type: string(64), nullable: true, index: true, role: hash }\n      archive: { type: datetime, nullable: true, role: archive }\n      date_created: { type: datetime, default: now, role: created }\n      date_modified: { type: datetime, nullable: true, on_update: now, role: modified }\n\
         \x20 codebook:\n    head:\n      id: { type: int, primary_key: true, role: enum_value }\n      description: { type: string(128), role: enum_description }\n    tail:\n      sha: { type: string(64), nullable: true, role: hash }\n      archive: { type: datetime, nullable: true, role: archive }\n      date_created: { type: datetime, default: now, role: created }\n\
         enums:\n  Status:\n    codebook: c_status\n    values:\n      idle: { value: 0, description: Idle }\n      busy: { value: 1, description: Busy }\n      gone: { value: 2, description: Gone, deprecated: true }\n\
         \x20 Kind:\n    type: string\n    values:\n      small: { value: small }\n      large: { value: large }\n\
         tables:\n",
    );
    let types = ["string(64)", "text", "int", "bigint", "bool", "double", "\"decimal(18,4)\"", "datetime", "date", "uuid", "json"];
    for t in 0..tables {
        let _ = writeln!(spec, "  table_{t:04}:\n    mixin: data_table\n    comment: Synthetic table {t}.\n    columns:");
        for c in 0..columns.saturating_sub(3) {
            let ty = types[(t + c) % types.len()];
            let _ = writeln!(spec, "      column_{c:02}: {{ type: {ty}, nullable: true, comment: Column {c} }}");
        }
        let _ = writeln!(spec, "      status: {{ type: enum(Status), default: idle }}");
        let _ = writeln!(spec, "      kind: {{ type: enum(Kind), nullable: true }}");
        if t > 0 {
            let _ = writeln!(spec, "      parent_id: {{ type: bigint, nullable: true, references: table_{:04}.id, index: true }}", t - 1);
        } else {
            let _ = writeln!(spec, "      parent_id: {{ type: bigint, nullable: true }}");
        }
    }
    spec
}
