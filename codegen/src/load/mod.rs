//! Stage 1, load: every `*.yaml` / `*.yml` under the spec directory → raw spec structs.

mod decode;
pub mod yaml;

pub use decode::{COLUMN_KEYS, NAMING_KEYS};

use std::path::{Path, PathBuf};

use crate::diagnostics::{Diagnostic, Diagnostics, Sources, Span};
use crate::spec::Spec;

/// Read and decode every spec file below `dir`, sorted by path. Problems go to `diags`;
/// whatever could be decoded is returned so later stages can report more.
pub fn load_dir(dir: &Path, sources: &mut Sources, diags: &mut Diagnostics) -> Spec {
    let mut spec = Spec::default();
    let paths = match spec_files(dir) {
        Ok(paths) => paths,
        Err(message) => {
            diags.push(Diagnostic::error(Span::NONE, message));
            return spec;
        }
    };
    if paths.is_empty() {
        diags.push(
            Diagnostic::error(Span::NONE, format!("no spec files in `{}`", dir.display()))
                .help("put the schema in `*.yaml` files under this directory, starting with a `project:` key"),
        );
    }
    for path in paths {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => {
                diags.push(Diagnostic::error(Span::NONE, format!("cannot read `{}`: {error}", path.display())));
                continue;
            }
        };
        let (file, parsed) = load_text(&path, text, sources, diags);
        spec.unreadable_files += usize::from(!parsed);
        spec.files.push(file);
    }
    spec
}

/// Decode one file's text; `false` when it is not YAML at all (its contents are then
/// unknown, so rules about what is missing must not fire on its account).
pub fn load_text(path: &Path, text: String, sources: &mut Sources, diags: &mut Diagnostics) -> (crate::spec::SpecFile, bool) {
    let file = sources.add(path, text);
    match yaml::parse(file, sources.text(file)) {
        Ok(root) => (decode::decode_file(file, &root, diags), true),
        Err(error) => {
            let diagnostic = match yaml::duplicate_key_name(&error.message) {
                Some(key) => Diagnostic::error(error.span, format!("`{key}` is written twice in the same map"))
                    .label("second time")
                    .help(format!("a key appears once in a map: rename or remove this `{key}`")),
                None => Diagnostic::error(error.span, format!("invalid YAML: {}", error.message))
                    .label("here")
                    .help("fix the YAML syntax; a spec file is a map with keys such as `tables:` and `enums:`"),
            };
            diags.push(diagnostic);
            (crate::spec::SpecFile { file, project: None, conventions: None, mixins: vec![], enums: vec![], tables: vec![], allow_destructive: vec![] }, false)
        }
    }
}

fn spec_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    if !dir.is_dir() {
        return Err(format!("spec directory `{}` does not exist or is not a directory", dir.display()));
    }
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current).map_err(|e| format!("cannot list `{}`: {e}", current.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| format!("cannot list `{}`: {e}", current.display()))?.path();
            if path.is_dir() {
                pending.push(path);
            } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}
