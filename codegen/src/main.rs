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
    }
}
