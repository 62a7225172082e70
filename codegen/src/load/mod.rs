//! Stage 1, load: every `*.yaml` / `*.yml` under the spec directory → raw spec structs.

mod decode;
pub mod yaml;

pub use decode::{COLUMN_KEYS, NAMING_KEYS};

use std::path::{Path, PathBuf};

use crate::diagnostics::{Diagnostic, Diagnostics, FileId, Sources, Span};
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
    // Every file is read and given its id in path order, then parsed on all cores (the
    // YAML parse is most of `check` for a large spec), then decoded in path order, so
    // diagnostics come out in the same order as a one-by-one load.
    let mut files = Vec::new();
    for path in paths {
        match std::fs::read_to_string(&path) {
            Ok(text) => files.push(sources.add(&path, text)),
            Err(error) => diags.push(Diagnostic::error(Span::NONE, format!("cannot read `{}`: {error}", path.display()))),
        }
    }
    let sources: &Sources = sources;
    let parsed = parse_in_parallel(sources, &files);
    for (file, parsed) in files.into_iter().zip(parsed) {
        let (file, decoded) = decode(file, parsed, diags);
        spec.unreadable_files += usize::from(!decoded);
        spec.files.push(file);
    }
    spec
}

/// [`yaml::parse`] of each file, on as many threads as there are cores (each thread a
/// run of consecutive files), results in the order of `files`.
fn parse_in_parallel(sources: &Sources, files: &[FileId]) -> Vec<Result<yaml::SpNode, yaml::YamlError>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if files.len() < 2 || cores < 2 {
        return files.iter().map(|file| yaml::parse(*file, sources.text(*file))).collect();
    }
    std::thread::scope(|scope| {
        let threads: Vec<_> = files
            .chunks(files.len().div_ceil(cores))
            .map(|run| (run, scope.spawn(move || run.iter().map(|file| yaml::parse(*file, sources.text(*file))).collect::<Vec<_>>())))
            .collect();
        threads
            .into_iter()
            .flat_map(|(run, thread)| {
                // A panic in the YAML parser would be a bug in it; report the files it
                // was parsing rather than lose them silently.
                thread.join().unwrap_or_else(|_| run.iter().map(|file| Err(yaml::YamlError { message: "the YAML parser panicked on this file".into(), span: Span { file: *file, start: 0, len: 1, line: 1, column: 1 } })).collect())
            })
            .collect()
    })
}

/// Decode one parsed file; `false` when it is not YAML at all (its contents are then
/// unknown, so rules about what is missing must not fire on its account).
fn decode(file: FileId, parsed: Result<yaml::SpNode, yaml::YamlError>, diags: &mut Diagnostics) -> (crate::spec::SpecFile, bool) {
    match parsed {
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
