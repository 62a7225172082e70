//! dcgen: a schema written once in YAML → Diesel crate, Rust enums, PostgreSQL and SQL
//! Server migrations, and docs.
//!
//! The road, one module per stage:
//! load (YAML → [`spec`]) → resolve ([`spec`] → [`model`], every rule checked)
//! → plan ([`model`] → dialect-neutral [`plan::Operation`]s) → emit (each dialect and
//! each Rust/doc output renders through `templates/`) → write (an in-memory
//! [`write::FileTree`], written only when everything succeeded).

pub mod diagnostics;
pub mod load;
pub mod model;
pub mod naming;
pub mod resolve;
pub mod spec;

use std::path::Path;

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
