//! The `dcgen` command line: check, diff, gen, rebase, rehash, verify, hash.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod hash_cmd;

/// The allocator of every dcgen binary: generation builds and drops millions of small
/// strings and syntax nodes on several threads, where glibc's malloc spent about a
/// third of the CPU in its free lists (BENCHMARKS.md, "Generation").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "dcgen", version, about = "Schema-as-code: YAML spec → Diesel crate, PostgreSQL and SQL Server migrations, docs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a spec directory; print every problem with file:line:column and a fix.
    ///
    /// With OUT holding migrations, also fails when the spec has changes that no
    /// migration covers yet (the "forgot `make gen`" mistake), naming them.
    Check {
        /// The spec directory (every *.yaml / *.yml below it is read).
        #[arg(long, default_value = "spec")]
        spec: PathBuf,
        /// The generated crate whose migrations must cover the spec (`make check`
        /// passes `generated`). Without it only the spec is checked.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the SQL of the pending migration for each dialect, without writing.
    Diff {
        #[arg(long, default_value = "spec")]
        spec: PathBuf,
        #[arg(long, default_value = "generated")]
        out: PathBuf,
    },
    /// Write the generated crate, migrations for every dialect, and docs into OUT.
    ///
    /// Running it twice changes nothing the second time. Once a migration exists, a new
    /// one is written only when the spec changed.
    Gen {
        /// The spec directory.
        #[arg(long, default_value = "spec")]
        spec: PathBuf,
        /// Where the generated crate goes (e.g. `generated`).
        #[arg(long)]
        out: PathBuf,
        /// Name of a new migration (default: derived from the change).
        #[arg(long)]
        name: Option<String>,
        /// Version of a new migration (default: the current UTC time, YYYYMMDDHHMMSS).
        /// Tests pass a fixed version so output is reproducible.
        #[arg(long)]
        version: Option<String>,
        /// Let changes that lose data through (dropped tables and columns, narrowed
        /// types, …). Without it each such change is refused and named.
        #[arg(long)]
        allow_destructive: bool,
    },
    /// Re-plan your migration after the ones a merge brought in beside it.
    ///
    /// When two branches each added a migration, the merged history forks (`dcgen check
    /// --out` says so). Name the version(s) of yours, not yet applied to any shared
    /// database: they are set aside, and one migration with the newest one's name and a
    /// version after every other is planned from the snapshot the other migrations leave
    /// to the spec as it is now. Its files, the snapshots and `migrations.sum` are
    /// rewritten; the sum file may still hold the merge's conflict markers.
    Rebase {
        #[arg(long, default_value = "spec")]
        spec: PathBuf,
        #[arg(long, default_value = "generated")]
        out: PathBuf,
        /// Version of the re-planned migration (default: the current UTC time, after
        /// every other version).
        #[arg(long)]
        version: Option<String>,
        /// Let changes that lose data through, as for `gen`.
        #[arg(long)]
        allow_destructive: bool,
        /// The version(s) of your migration(s) to re-plan.
        #[arg(required = true)]
        versions: Vec<String>,
    },
    /// Record the migrations in OUT as they are in `migrations.sum` (after a deliberate
    /// edit of a migration that never ran, or for migrations written before the sum
    /// file existed). Recorded parents are kept, so a fork stays visible.
    Rehash {
        #[arg(long, default_value = "generated")]
        out: PathBuf,
    },
    /// Compare a live PostgreSQL database with the spec (the drift check for CI and
    /// before deploys).
    ///
    /// Exit 0 when they match; 1 with one line per difference (missing or extra tables,
    /// columns, types, nullability, defaults, constraints, indexes, triggers, comments,
    /// codebook rows); 2 when the database cannot be read. It creates the spec's tables
    /// as temporary tables in a transaction it rolls back, so it needs a primary server
    /// and the TEMPORARY privilege; it changes nothing.
    Verify {
        /// The spec directory.
        #[arg(long, default_value = "spec")]
        spec: PathBuf,
        /// libpq URL or key=value string (sslmode and the PG* variables apply). The
        /// password is never printed.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: String,
        /// The PostgreSQL migrations folder (e.g. generated/migrations/postgres): hints
        /// then say for sure whether migrations are pending.
        #[arg(long)]
        migrations: Option<PathBuf>,
    },
    /// Print the `sha` of each row read as a JSON line on stdin, as merge computes it.
    ///
    /// Values by the column's spec type: timestamps and dates as ISO 8601 text, decimals
    /// and UUIDs as strings, JSON columns as any JSON, enums as key or stored value; a
    /// missing column is NULL. A bad line is reported on stderr with its line number and
    /// column; the others still print (exit 1 if any failed).
    Hash {
        #[arg(long, default_value = "spec")]
        spec: PathBuf,
        /// The table whose rows these are.
        #[arg(long)]
        table: String,
        /// Print the canonical text that is hashed instead of the sha.
        #[arg(long)]
        canonical: bool,
    },
}

fn main() -> ExitCode {
    dcgen::keep_freed_memory();
    let cli = Cli::parse();
    match cli.command {
        Command::Check { spec, out } => {
            let Some((model, acknowledged)) = checked_model(&spec) else { return ExitCode::from(1) };
            let valid = format!("spec `{}` is valid: {} tables, {} enums", spec.display(), model.tables.len(), model.enums.len());
            let Some(out) = out else {
                println!("{valid}");
                return ExitCode::SUCCESS;
            };
            check_migrations(&model, &out, acknowledged, &valid)
        }
        Command::Diff { spec, out } => {
            let Some((model, _)) = checked_model(&spec) else { return ExitCode::from(1) };
            let pending = match dcgen::migration::pending(&model, &out) {
                Ok(pending) => pending,
                Err(error) => {
                    eprintln!("error: {error}");
                    return ExitCode::from(1);
                }
            };
            if pending.plan.is_empty() {
                println!("-- no pending changes: the migrations in `{}` cover the spec", out.display());
                return ExitCode::SUCCESS;
            }
            match dcgen::migration::render(&model, &pending, "Pending migration (not written).") {
                Ok(scripts) => {
                    for (dialect, up, _) in scripts {
                        println!("-- ===== {} =====", dialect.name());
                        print!("{up}");
                    }
                    for change in &pending.plan.destructive {
                        eprintln!("warning: this migration would {}: {}", change.key, change.why);
                    }
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Gen { spec, out, name, version, allow_destructive } => {
            let Some((model, acknowledged)) = checked_model(&spec) else { return ExitCode::from(1) };
            let options = dcgen::GenOptions { name, version, allow_destructive, acknowledged };
            let tree = match dcgen::generate(&model, &out, &options) {
                Ok(tree) => tree,
                Err(error) => {
                    eprintln!("error: {error}");
                    return ExitCode::from(1);
                }
            };
            write_tree(&tree, &out)
        }
        Command::Rebase { spec, out, versions, version, allow_destructive } => {
            let Some((model, acknowledged)) = checked_model(&spec) else { return ExitCode::from(1) };
            let options = dcgen::GenOptions { name: None, version, allow_destructive, acknowledged };
            rebase(&model, &out, &versions, &options)
        }
        Command::Rehash { out } => match dcgen::history::rehash(&out) {
            Ok(tree) => write_tree(&tree, &out),
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(1)
            }
        },
        Command::Verify { spec, database_url, migrations } => verify(&spec, &database_url, migrations),
        Command::Hash { spec, table, canonical } => hash_cmd::main(&spec, &table, canonical),
    }
}

/// `dcgen check --out`: exactly what `gen` would read and refuse (the history, the head
/// snapshot, the pending plan, unsupported and unacknowledged destructive changes), and
/// no change left that no migration covers.
fn check_migrations(model: &dcgen::model::Model, out: &std::path::Path, acknowledged: Vec<String>, valid: &str) -> ExitCode {
    let pending = match dcgen::migration::pending(model, out) {
        Ok(pending) => pending,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(1);
        }
    };
    if pending.plan.is_empty() {
        println!("{valid}; the migrations in `{}` cover it", out.display());
        return ExitCode::SUCCESS;
    }
    eprintln!("error: the spec has changes that no migration in `{}` covers; run `make gen` (or `dcgen gen`):", out.display());
    for line in dcgen::plan::summary(&pending.plan, &pending.before, model) {
        eprintln!("  - {line}");
    }
    let options = dcgen::GenOptions { acknowledged, ..Default::default() };
    if let Err(error) = dcgen::migration::refuse(&pending, &options) {
        eprintln!("and `dcgen gen` would refuse them:\n{error}");
    }
    ExitCode::from(1)
}

/// `dcgen rebase`: write the re-planned migration, then remove the ones it replaces.
fn rebase(model: &dcgen::model::Model, out: &std::path::Path, versions: &[String], options: &dcgen::GenOptions) -> ExitCode {
    let rebased = match dcgen::migration::rebase(model, out, versions, options) {
        Ok(rebased) => rebased,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(1);
        }
    };
    let code = write_tree(&rebased.tree, out);
    if code != ExitCode::SUCCESS {
        return code;
    }
    for path in &rebased.remove {
        let full = out.join(path);
        let removed = if full.is_dir() { std::fs::remove_dir_all(&full) } else if full.exists() { std::fs::remove_file(&full) } else { continue };
        match removed {
            Ok(()) => println!("removed {}", full.display()),
            Err(error) => {
                eprintln!("error: cannot remove `{}`: {error}", full.display());
                return ExitCode::from(1);
            }
        }
    }
    println!("re-planned as `{}`", rebased.folder);
    ExitCode::SUCCESS
}

/// Write a file tree into `out`, naming each file written.
fn write_tree(tree: &dcgen::write::FileTree, out: &std::path::Path) -> ExitCode {
    match tree.write(out) {
        Ok(written) if written.is_empty() => println!("`{}` is up to date", out.display()),
        Ok(written) => {
            for path in &written {
                println!("wrote {}", out.join(path).display());
            }
        }
        Err(error) => {
            eprintln!("error: cannot write into `{}`: {error}", out.display());
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

/// `dcgen verify`: the report on stdout, exit 1 on drift; errors on stderr, exit 2.
fn verify(spec: &std::path::Path, database_url: &str, migrations: Option<PathBuf>) -> ExitCode {
    let checked = dcgen::check(spec);
    if checked.diagnostics.has_errors() {
        eprint!("{}", checked.diagnostics.render(&checked.sources));
        return ExitCode::from(2);
    }
    let Some(model) = checked.model else { return ExitCode::from(2) };
    match dcgen::verify::verify(&model, database_url, &dcgen::verify::Options { migrations }) {
        Ok(report) => {
            print!("{report}");
            ExitCode::from(if report.has_drift() { 1 } else { 0 })
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

/// Load and resolve a spec, printing its diagnostics; the model and the acknowledged
/// destructive changes when it is valid.
fn checked_model(spec: &std::path::Path) -> Option<(dcgen::model::Model, Vec<String>)> {
    let checked = dcgen::check(spec);
    if checked.diagnostics.has_errors() {
        eprint!("{}", checked.diagnostics.render(&checked.sources));
        return None;
    }
    if !checked.diagnostics.is_empty() {
        eprint!("{}", checked.diagnostics.render(&checked.sources));
    }
    checked.model.map(|model| (model, checked.acknowledged))
}
