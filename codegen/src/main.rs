//! The `dcgen` command line: check, gen (and, later, diff, verify, hash).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "dcgen", version, about = "Schema-as-code: YAML spec → Diesel crate, PostgreSQL and SQL Server migrations, docs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a spec directory; print every problem with file:line:column and a fix.
    Check {
        /// The spec directory (every *.yaml / *.yml below it is read).
        #[arg(long, default_value = "spec")]
        spec: PathBuf,
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
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { spec } => {
            let checked = dcgen::check(&spec);
            if checked.diagnostics.has_errors() {
                eprint!("{}", checked.diagnostics.render(&checked.sources));
                return ExitCode::from(1);
            }
            let model = checked.model.expect("no errors means a model");
            println!("spec `{}` is valid: {} tables, {} enums", spec.display(), model.tables.len(), model.enums.len());
            ExitCode::SUCCESS
        }
        Command::Gen { spec, out, name, version } => {
            let checked = dcgen::check(&spec);
            if checked.diagnostics.has_errors() {
                eprint!("{}", checked.diagnostics.render(&checked.sources));
                return ExitCode::from(1);
            }
            let model = checked.model.expect("no errors means a model");
            let options = dcgen::GenOptions { name, version };
            let tree = match dcgen::generate(&model, &out, &options) {
                Ok(tree) => tree,
                Err(error) => {
                    eprintln!("error: {error}");
                    return ExitCode::from(1);
                }
            };
            match tree.write(&out) {
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
    }
}
