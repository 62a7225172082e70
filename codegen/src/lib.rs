//! dcgen: a schema written once in YAML → Diesel crate, Rust enums, PostgreSQL and SQL
//! Server migrations, and docs.
//!
//! The road, one module per stage:
//! load (YAML → [`spec`]) → resolve ([`spec`] → [`model`], every rule checked)
//! → plan ([`model`] → dialect-neutral [`plan::Operation`]s) → emit (each dialect and
//! each Rust/doc output renders through `templates/`) → write (an in-memory
//! [`write::FileTree`], written only when everything succeeded).

pub mod diagnostics;
pub mod emit;
pub mod load;
pub mod model;
pub mod naming;
pub mod plan;
pub mod resolve;
pub mod spec;
pub mod write;

use std::path::{Path, PathBuf};

use diagnostics::{Diagnostics, Sources};

/// A spec directory, loaded and resolved.
pub struct Checked {
    pub sources: Sources,
    pub diagnostics: Diagnostics,
    pub model: Option<model::Model>,
}

/// Load and resolve a spec directory: `dcgen check`.
pub fn check(spec_dir: &Path) -> Checked {
    let mut sources = Sources::default();
    let mut diagnostics = Diagnostics::default();
    let spec = load::load_dir(spec_dir, &mut sources, &mut diagnostics);
    let model = resolve::resolve(&spec, &mut diagnostics);
    let model = if diagnostics.has_errors() { None } else { model };
    Checked { sources, diagnostics, model }
}

/// Failures that are not problems in the spec.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the spec has errors")]
    InvalidSpec,
    #[error("template `{0}` failed to render: {1} (this is a bug in dcgen; please report it)")]
    Template(String, String),
    #[error("generated Rust in `{0}` does not parse: {1} (this is a bug in dcgen; please report it)")]
    RustSyntax(String, String),
    #[error("cannot read or write `{0}`: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}")]
    Migrations(String),
}

/// Options of `dcgen gen`.
#[derive(Clone, Debug, Default)]
pub struct GenOptions {
    /// Version of a new migration; `None` takes the current UTC time (`YYYYMMDDHHMMSS`).
    pub version: Option<String>,
    /// Name of a new migration; `None` derives one from the change.
    pub name: Option<String>,
}

/// Everything `dcgen gen` writes for a model, given the migrations already in `out`.
pub fn generate(model: &model::Model, out: &Path, options: &GenOptions) -> Result<write::FileTree, Error> {
    let mut tree = write::FileTree::default();
    emit::rust::crate_files(model, &mut tree)?;
    emit::docs::files(model, &mut tree)?;
    if model.has_dialect(model::Dialect::Mssql) {
        // The whole SQL Server schema as one CREATE-only script, for review and for
        // semantic validation (DacFx) of what the migrations build.
        tree.add("docs/schema.mssql.sql", emit::mssql::declarative_schema(model)?);
    }
    migrations(model, out, options, &mut tree)?;
    Ok(tree)
}

/// The directory holding each dialect's migrations, and the snapshot of the schema the
/// migrations produce.
pub const SNAPSHOT_FILE: &str = "migrations/schema.snapshot.json";

fn migrations(model: &model::Model, out: &Path, options: &GenOptions, tree: &mut write::FileTree) -> Result<(), Error> {
    let snapshot_path = out.join(SNAPSHOT_FILE);
    let snapshot_text = serde_json::to_string_pretty(model).map_err(|e| Error::Migrations(e.to_string()))? + "\n";
    if snapshot_path.exists() {
        let existing = std::fs::read_to_string(&snapshot_path).map_err(|e| Error::Io(snapshot_path.clone(), e))?;
        if existing == snapshot_text {
            return Ok(());
        }
        return Err(Error::Migrations(format!(
            "the spec differs from the migrated schema in `{}`; incremental migrations are not implemented yet (issue 3), so this change cannot be migrated",
            snapshot_path.display()
        )));
    }
    let version = options.version.clone().unwrap_or_else(|| chrono::Utc::now().format("%Y%m%d%H%M%S").to_string());
    let name = options.name.clone().unwrap_or_else(|| "initial".to_string());
    let plan = plan::initial(model);
    let title = format!("Migration {version}_{name}: create the {} schema.", model.project.name);
    let folder = format!("{version}_{name}");
    if model.has_dialect(model::Dialect::Postgres) {
        let (up, down) = emit::postgres::migration(model, &plan, &title)?;
        tree.add(format!("migrations/postgres/{folder}/up.sql"), up);
        tree.add(format!("migrations/postgres/{folder}/down.sql"), down);
    }
    if model.has_dialect(model::Dialect::Mssql) {
        let (up, down) = emit::mssql::migration(model, &plan, &title)?;
        tree.add(format!("migrations/mssql/{folder}/up.sql"), up);
        tree.add(format!("migrations/mssql/{folder}/down.sql"), down);
    }
    tree.add(SNAPSHOT_FILE, snapshot_text);
    Ok(())
}
