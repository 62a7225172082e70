//! dcgen: a schema written once in YAML → Diesel crate, Rust enums, PostgreSQL and SQL
//! Server migrations, and docs.
//!
//! The road, one module per stage:
//! load (YAML → [`spec`]) → resolve ([`spec`] → [`model`], every rule checked)
//! → plan ([`model`] → dialect-neutral [`plan::Operation`]s) → emit (each dialect and
//! each Rust/doc output renders through `templates/`) → write (an in-memory
//! [`write::FileTree`], written only when everything succeeded). The migration history
//! in OUT is read by [`history`] (the sum file) and [`snapshot`] (the schema each
//! migration leaves); [`migration`] plans and assembles the next one.

pub mod diagnostics;
pub mod emit;
pub mod history;
pub mod load;
pub mod migration;
pub mod model;
pub mod naming;
pub mod plan;
pub mod resolve;
pub mod snapshot;
pub mod spec;
pub mod verify;
pub mod write;

use std::path::{Path, PathBuf};

use diagnostics::{Diagnostics, Sources};

// The names the migration API had when it lived here, for the tests and benches that
// call it.
pub use migration::{pending, render as render_migration, Pending};
pub use snapshot::{read_head as read_snapshot, HEAD_FILE as SNAPSHOT_FILE};

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
    /// A schema snapshot that cannot be trusted; the text says how to recover.
    #[error("{0}")]
    Snapshot(String),
    /// The migration history does not chain (two branches' migrations merged, an edited
    /// migration, a lost file); the text names the fix.
    #[error("{0}")]
    History(String),
    #[error("{}", destructive_message(.0))]
    Destructive(Vec<plan::DestructiveChange>),
    #[error("{}", .0.iter().map(|m| format!("error: {m}")).collect::<Vec<_>>().join("\n"))]
    Unsupported(Vec<String>),
    #[error("an emitter panicked; this is a bug in dcgen, please report it")]
    Panicked,
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

/// One of `generate`'s outputs: adds its files to the tree it is given.
type EmitInto<'a> = dyn Fn(&mut write::FileTree) -> Result<(), Error> + Sync + 'a;

/// Everything `dcgen gen` writes for a model, given the migrations already in `out`.
pub fn generate(model: &model::Model, out: &Path, options: &GenOptions) -> Result<write::FileTree, Error> {
    // The outputs are independent, and each is megabytes for a large spec, so each has
    // a thread (the Rust crate splits its formatting further).
    let outputs: [&EmitInto; 4] = [
        &|tree| emit::rust::crate_files(model, tree),
        &|tree| emit::docs::files(model, tree),
        // The whole SQL Server schema as one CREATE-only script, for review and for
        // semantic validation (DacFx) of what the migrations build.
        &|tree| {
            if model.has_dialect(model::Dialect::Mssql) {
                tree.add("docs/schema.mssql.sql", emit::mssql::declarative_schema(model)?);
            }
            Ok(())
        },
        &|tree| migration::add_next(model, out, options, tree),
    ];
    let trees = std::thread::scope(|scope| {
        let threads: Vec<_> = outputs.iter().map(|emit| scope.spawn(move || write::FileTree::build(emit))).collect();
        threads.into_iter().map(|t| t.join().unwrap_or(Err(Error::Panicked))).collect::<Vec<_>>()
    });
    let mut tree = write::FileTree::default();
    for part in trees {
        tree.files.extend(part?.files);
    }
    Ok(tree)
}


/// Tell mimalloc, the allocator of every dcgen binary, to keep memory it frees instead
/// of returning it to the kernel 10 ms later. `gen` frees hundreds of megabytes between
/// its stages (views, rendered text, syntax trees) and allocates as much again; handed
/// back, every page came back zeroed through a page fault, which was a third of the
/// process's system time (BENCHMARKS.md, "Generation"). dcgen is a short-lived
/// process, so holding its peak until exit costs nothing.
pub fn keep_freed_memory() {
    // `mi_option_purge_delay` of mimalloc.h (v2 and v3), which libmimalloc-sys does not
    // name: the option just before `use_numa_nodes` (16).
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = libmimalloc_sys::mi_option_use_numa_nodes - 1;
    // SAFETY: sets one integer option in mimalloc's option table; -1 means never purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}
