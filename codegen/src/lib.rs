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
pub mod verify;
pub mod write;

use std::path::{Path, PathBuf};

use diagnostics::{Diagnostics, Sources};

/// A spec directory, loaded and resolved.
pub struct Checked {
    pub sources: Sources,
    pub diagnostics: Diagnostics,
    pub model: Option<model::Model>,
    /// Destructive changes the spec acknowledges under `allow_destructive:`.
    pub acknowledged: Vec<String>,
}

/// Load and resolve a spec directory: `dcgen check`.
pub fn check(spec_dir: &Path) -> Checked {
    let mut sources = Sources::default();
    let mut diagnostics = Diagnostics::default();
    let spec = load::load_dir(spec_dir, &mut sources, &mut diagnostics);
    let model = resolve::resolve(&spec, &mut diagnostics);
    let model = if diagnostics.has_errors() { None } else { model };
    let acknowledged = spec.files.iter().flat_map(|f| f.allow_destructive.iter().map(|a| a.value.split_whitespace().collect::<Vec<_>>().join(" "))).collect();
    Checked { sources, diagnostics, model, acknowledged }
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
    #[error("{}", destructive_message(.0))]
    Destructive(Vec<plan::DestructiveChange>),
    #[error("{}", .0.iter().map(|m| format!("error: {m}")).collect::<Vec<_>>().join("\n"))]
    Unsupported(Vec<String>),
}

fn destructive_message(changes: &[plan::DestructiveChange]) -> String {
    let mut text = String::new();
    for change in changes {
        text.push_str(&format!("error: this migration would {}: {}\n", change.key, change.why));
    }
    text.push_str(&format!(
        "  = help: if you mean it, run `dcgen gen --allow-destructive`, or acknowledge each change in the spec:\n      allow_destructive:\n{}",
        changes.iter().map(|c| format!("        - {}", c.key)).collect::<Vec<_>>().join("\n")
    ));
    text
}

/// Options of `dcgen gen`.
#[derive(Clone, Debug, Default)]
pub struct GenOptions {
    /// Version of a new migration; `None` takes the current UTC time (`YYYYMMDDHHMMSS`).
    pub version: Option<String>,
    /// Name of a new migration; `None` derives one from the change.
    pub name: Option<String>,
    /// Let every change that loses data through.
    pub allow_destructive: bool,
    /// Changes acknowledged in the spec (`allow_destructive:`), by key.
    pub acknowledged: Vec<String>,
}

/// Everything `dcgen gen` writes for a model, given the migrations already in `out`.
pub fn generate(model: &model::Model, out: &Path, options: &GenOptions) -> Result<write::FileTree, Error> {
    // The outputs are independent; the Rust crate (formatting megabytes of models with
    // prettyplease) takes about as long as all the SQL and docs together, so the two
    // halves run on two threads.
    let (rust, rest) = std::thread::scope(|scope| {
        let rust = scope.spawn(|| {
            let mut tree = write::FileTree::default();
            emit::rust::crate_files(model, &mut tree).map(|()| tree)
        });
        let rest = (|| {
            let mut tree = write::FileTree::default();
            emit::docs::files(model, &mut tree)?;
            if model.has_dialect(model::Dialect::Mssql) {
                // The whole SQL Server schema as one CREATE-only script, for review and
                // for semantic validation (DacFx) of what the migrations build.
                tree.add("docs/schema.mssql.sql", emit::mssql::declarative_schema(model)?);
            }
            migrations(model, out, options, &mut tree)?;
            Ok::<_, Error>(tree)
        })();
        (rust.join(), rest)
    });
    let mut tree = rust.map_err(|_| Error::Migrations("the Rust emitter panicked; this is a bug in dcgen, please report it".into()))??;
    tree.files.extend(rest?.files);
    Ok(tree)
}

/// The schema the migrations in OUT produce, kept beside them (deterministic JSON of the
/// resolved model). `gen` diffs the spec against it and writes it with each migration.
pub const SNAPSHOT_FILE: &str = "migrations/schema.snapshot.json";

/// The last migrated schema in `out`, if any migration was written there.
pub fn read_snapshot(out: &Path) -> Result<Option<model::Model>, Error> {
    let path = out.join(SNAPSHOT_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::Io(path.clone(), e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::Migrations(format!("`{}` is not a schema snapshot dcgen can read ({e}); restore it from version control", path.display())))
}

/// The pending migration: the plan from the snapshot in `out` (or from nothing) to
/// `model`, with the models it refers into.
pub struct Pending {
    pub before: model::Model,
    pub plan: plan::Plan,
}

pub fn pending(model: &model::Model, out: &Path) -> Result<Pending, Error> {
    let before = read_snapshot(out)?.unwrap_or_else(|| model::Model::empty_like(model));
    if before.project.name != model.project.name {
        return Err(Error::Migrations(format!(
            "the migrations in `{}` belong to project `{}`, not `{}`: point --out at this spec's generated crate",
            out.display(),
            before.project.name,
            model.project.name
        )));
    }
    let plan = plan::diff(&before, model);
    Ok(Pending { before, plan })
}

/// Render a pending migration for every dialect: (dialect, up.sql, down.sql).
pub fn render_migration(model: &model::Model, pending: &Pending, title: &str) -> Result<Vec<(model::Dialect, String, String)>, Error> {
    let mut out = Vec::new();
    if model.has_dialect(model::Dialect::Postgres) {
        let (up, down) = emit::postgres::migration(&pending.before, model, &pending.plan, title)?;
        out.push((model::Dialect::Postgres, up, down));
    }
    if model.has_dialect(model::Dialect::Mssql) {
        let (up, down) = emit::mssql::migration(&pending.before, model, &pending.plan, title)?;
        out.push((model::Dialect::Mssql, up, down));
    }
    Ok(out)
}

fn migrations(model: &model::Model, out: &Path, options: &GenOptions, tree: &mut write::FileTree) -> Result<(), Error> {
    let pending = pending(model, out)?;
    if pending.plan.is_empty() {
        return Ok(());
    }
    if !pending.plan.unsupported.is_empty() {
        return Err(Error::Unsupported(pending.plan.unsupported.clone()));
    }
    let refused: Vec<plan::DestructiveChange> =
        pending.plan.destructive.iter().filter(|c| !options.allow_destructive && !options.acknowledged.contains(&c.key)).cloned().collect();
    if !refused.is_empty() {
        return Err(Error::Destructive(refused));
    }
    let version = match &options.version {
        Some(version) => version.clone(),
        None => next_version(out)?,
    };
    let name = options.name.clone().unwrap_or_else(|| plan::describe(&pending.plan, &pending.before, model));
    let folder = format!("{version}_{name}");
    let title = format!("Migration {folder} of the {} schema.", model.project.name);
    for (dialect, up, down) in render_migration(model, &pending, &title)? {
        tree.add(format!("migrations/{}/{folder}/up.sql", dialect.name()), up);
        tree.add(format!("migrations/{}/{folder}/down.sql", dialect.name()), down);
    }
    let snapshot = serde_json::to_string_pretty(model).map_err(|e| Error::Migrations(e.to_string()))? + "\n";
    tree.add(SNAPSHOT_FILE, snapshot);
    Ok(())
}

/// The current UTC time as `YYYYMMDDHHMMSS`, bumped past the newest existing version so
/// versions always sort in creation order.
fn next_version(out: &Path) -> Result<String, Error> {
    let now: u64 = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string().parse().unwrap_or(0);
    let newest = existing_versions(out)?.into_iter().filter_map(|v| v.parse::<u64>().ok()).max().unwrap_or(0);
    Ok(now.max(newest + 1).to_string())
}

/// Versions of the migrations already in `out`, from every dialect's folder.
pub fn existing_versions(out: &Path) -> Result<Vec<String>, Error> {
    let mut versions = Vec::new();
    for dialect in ["postgres", "mssql"] {
        let dir = out.join("migrations").join(dialect);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let entry = entry.map_err(|e| Error::Io(dir.clone(), e))?;
            if let Some((version, _)) = entry.file_name().to_string_lossy().split_once('_') {
                versions.push(version.to_string());
            }
        }
    }
    versions.sort();
    versions.dedup();
    Ok(versions)
}
