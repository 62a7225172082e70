//! `dcgen hash`: the `sha` (or canonical text) of rows given as JSON lines, as merge computes it, for debugging a re-insert or backfilling `sha` in SQL.
//!
//! The table's facts are the dc-runtime `TableInfo` dcgen writes into the
//! generated crate (`emit::rust::table_info`), and each line is hashed by the
//! runtime's `RowReader`: the command line and merge share one path. Values are read by their column's spec type
//! (timestamps and dates as ISO 8601 text, decimals and UUIDs as strings,
//! JSON columns as any JSON, enums as key or stored value); a missing
//! column is NULL. A bad line is reported on stderr with its line number and
//! column, prints nothing on stdout, and the other lines still print.

use std::io::{BufRead, Write};
use std::path::Path;

use dc_runtime::row::{RowReader, RowShape};
use dcgen::emit::rust::table_info;
use dcgen::model::Model;

/// How a run ended: every line hashed, some lines bad, or nothing could start.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    AllHashed { rows: usize },
    SomeFailed { rows: usize, failed: usize },
}

#[derive(Debug, thiserror::Error)]
pub enum HashCommandError {
    #[error("no table `{name}` in the spec{hint}")]
    UnknownTable { name: String, hint: String },
    #[error("table `{table}`: {message} (this is a bug in dcgen; please report it)")]
    Info { table: String, message: String },
    #[error("reading standard input: {0}")]
    Input(std::io::Error),
    #[error("writing standard output: {0}")]
    Output(std::io::Error),
}

fn unknown_table(model: &Model, name: &str) -> HashCommandError {
    let closest = model.tables.iter().map(|t| (strsim::levenshtein(&t.name, name), &t.name)).min();
    let hint = match closest {
        Some((distance, closest)) if distance <= 3 => format!("; did you mean `{closest}`?"),
        _ => {
            let mut names: Vec<&str> = model.tables.iter().map(|t| t.name.as_str()).collect();
            names.sort_unstable();
            format!("; tables: {}", names.join(", "))
        }
    };
    HashCommandError::UnknownTable { name: name.to_string(), hint }
}

/// Hashes every line of `input` as a row of `table`; results go to `out`,
/// one per good line, and problems to `errors`, one per bad line.
pub fn run(model: &Model, table: &str, canonical: bool, input: impl BufRead, mut out: impl Write, mut errors: impl Write) -> Result<Outcome, HashCommandError> {
    let table_model = model.tables.iter().find(|t| t.name == table).ok_or_else(|| unknown_table(model, table))?;
    let info_error = |message: String| HashCommandError::Info { table: table.to_string(), message };
    let shape = RowShape::new(table_info(model, table_model)).map_err(|e| info_error(e.to_string()))?;
    let mut reader = RowReader::for_hashing(&shape);
    let (mut rows, mut failed) = (0, 0);
    for (number, line) in input.lines().enumerate() {
        let line = line.map_err(HashCommandError::Input)?;
        rows += 1;
        match hash_line(&shape, &mut reader, &line, canonical) {
            Ok(text) => writeln!(out, "{text}").map_err(HashCommandError::Output)?,
            Err(problem) => {
                failed += 1;
                writeln!(errors, "error: line {}: {problem}", number + 1).map_err(HashCommandError::Output)?;
            }
        }
    }
    out.flush().map_err(HashCommandError::Output)?;
    Ok(if failed == 0 { Outcome::AllHashed { rows } } else { Outcome::SomeFailed { rows, failed } })
}

fn hash_line(shape: &RowShape, reader: &mut RowReader<'_>, line: &str, canonical: bool) -> Result<String, String> {
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("not JSON ({e}); write one JSON object per line"))?;
    let serde_json::Value::Object(object) = value else {
        return Err(format!("expected a JSON object of column values, found {}", first_chars(line)));
    };
    let info = shape.info();
    if let Some(unknown) = object.keys().find(|key| info.column(key).is_none()) {
        let mut names: Vec<&str> = info.columns.iter().map(|c| c.name.as_str()).collect();
        names.sort_unstable();
        return Err(format!("column `{unknown}`: `{}` has no such column; its columns are {}", info.table, names.join(", ")));
    }
    if canonical {
        reader.json_canonical(&object).map(str::to_string).map_err(|e| e.to_string())
    } else {
        reader.json_sha_hex(&object).map_err(|e| e.to_string())
    }
}

fn first_chars(text: &str) -> String {
    let cut: String = text.chars().take(40).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// Runs the command on a spec directory with standard streams; the exit code.
pub fn main(spec: &Path, table: &str, canonical: bool) -> std::process::ExitCode {
    let checked = dcgen::check(spec);
    if checked.diagnostics.has_errors() {
        eprint!("{}", checked.diagnostics.render(&checked.sources));
        return std::process::ExitCode::from(1);
    }
    let Some(model) = checked.model else { return std::process::ExitCode::from(1) };
    let stdin = std::io::stdin();
    match run(&model, table, canonical, stdin.lock(), std::io::stdout().lock(), std::io::stderr()) {
        Ok(Outcome::AllHashed { .. }) => std::process::ExitCode::SUCCESS,
        Ok(Outcome::SomeFailed { rows, failed }) => {
            eprintln!("error: {failed} of {rows} rows could not be hashed");
            std::process::ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::from(1)
        }
    }
}
