//! Stage 1, load: every `*.yaml` / `*.yml` under the spec directory → raw spec structs.

mod decode;
mod split;
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

/// [`yaml::parse`] of each file, on as many threads as there are cores, results in the
/// order of `files`. A large file is cut between the entries of its largest map and its
/// pieces parsed at the same time ([`split`]); it falls back to a whole-file parse
/// whenever the pieces do not join into exactly that tree.
fn parse_in_parallel(sources: &Sources, files: &[FileId]) -> Vec<Result<yaml::SpNode, yaml::YamlError>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let plans: Vec<Option<split::Plan>> = files
        .iter()
        .map(|file| {
            let text = sources.text(*file);
            (cores > 1 && text.len() >= split::SPLIT_FROM_BYTES).then(|| split::plan(text, cores)).flatten()
        })
        .collect();
    // One job per file, or per piece and rest of a cut file; the largest first, so the
    // threads finish together.
    let mut jobs: Vec<Job> = Vec::new();
    for (index, plan) in plans.iter().enumerate() {
        match plan {
            None => jobs.push(Job::Whole(index)),
            Some(plan) => {
                jobs.push(Job::Rest(index));
                jobs.extend((0..plan.pieces.len()).map(|piece| Job::Piece(index, piece)));
            }
        }
    }
    // What a job parses (the rest of a cut file is mostly blanked, which costs little).
    let size = |job: &Job| match (*job, &plans[job.file()]) {
        (Job::Rest(index), Some(plan)) => sources.text(files[index]).len() - plan.entries.len(),
        (Job::Piece(_, piece), Some(plan)) => plan.pieces[piece].len(),
        (job, _) => sources.text(files[job.file()]).len(),
    };
    jobs.sort_by_key(|job| std::cmp::Reverse(size(job)));
    let run = |job: &Job| {
        let (file, text) = (files[job.file()], sources.text(files[job.file()]));
        match (job, &plans[job.file()]) {
            (Job::Rest(_), Some(plan)) => split::parse_rest(file, text, plan),
            (Job::Piece(_, piece), Some(plan)) => split::parse_piece(file, text, plan, *piece),
            _ => yaml::parse(file, text),
        }
    };
    let mut results: Vec<Option<Result<yaml::SpNode, yaml::YamlError>>> = run_jobs(&jobs, cores, run);

    let mut parsed = Vec::with_capacity(files.len());
    for (index, plan) in plans.iter().enumerate() {
        let (file, text) = (files[index], sources.text(files[index]));
        let mut take = |wanted: Job| jobs.iter().position(|job| *job == wanted).and_then(|at| results[at].take());
        let result = match plan {
            None => take(Job::Whole(index)),
            Some(plan) => {
                let rest = take(Job::Rest(index));
                let pieces: Option<Vec<_>> = (0..plan.pieces.len()).map(|piece| take(Job::Piece(index, piece))).collect();
                rest.zip(pieces).and_then(|(rest, pieces)| split::join(plan, rest, pieces)).map(Ok)
            }
        };
        // A cut that does not join (or a job lost to a panic) is parsed again whole,
        // which also gives any error its whole-file wording and place.
        parsed.push(result.unwrap_or_else(|| parse_guarded(file, text)));
    }
    parsed
}

/// A parse to run: a whole file, or the rest or one piece of a cut file (by index into
/// the files).
#[derive(Clone, Copy, PartialEq)]
enum Job {
    Whole(usize),
    Rest(usize),
    Piece(usize, usize),
}

impl Job {
    fn file(self) -> usize {
        match self {
            Job::Whole(index) | Job::Rest(index) | Job::Piece(index, _) => index,
        }
    }
}

/// Run `jobs` on up to `threads` threads, each taking the next job not yet taken;
/// results in the order of `jobs`, `None` for a job whose thread panicked.
fn run_jobs<T: Send>(jobs: &[Job], threads: usize, run: impl Fn(&Job) -> T + Sync) -> Vec<Option<T>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(job) = jobs.get(at) else { return done };
            done.push((at, run(job)));
        }
    };
    let mut results: Vec<Option<T>> = jobs.iter().map(|_| None).collect();
    let threads = threads.min(jobs.len()).max(1);
    let finished: Vec<Vec<(usize, T)>> = if threads == 1 {
        vec![work()]
    } else {
        std::thread::scope(|scope| {
            let spawned: Vec<_> = (0..threads).map(|_| scope.spawn(work)).collect();
            spawned.into_iter().filter_map(|thread| thread.join().ok()).collect()
        })
    };
    for (at, result) in finished.into_iter().flatten() {
        results[at] = Some(result);
    }
    results
}

/// [`yaml::parse`] that reports a panic of the parser (a bug in it) as an error at the
/// start of the file rather than losing the file.
fn parse_guarded(file: FileId, text: &str) -> Result<yaml::SpNode, yaml::YamlError> {
    std::panic::catch_unwind(|| yaml::parse(file, text)).unwrap_or_else(|_| {
        Err(yaml::YamlError { message: "the YAML parser panicked on this file".into(), span: Span { file, start: 0, len: 1, line: 1, column: 1 } })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A spec large enough to be cut, as `load` parses it and as the parser reads it whole.
    fn both_ways(text: &str) -> (Result<yaml::SpNode, yaml::YamlError>, Result<yaml::SpNode, yaml::YamlError>) {
        let mut sources = Sources::default();
        let file = sources.add(Path::new("big.yaml"), text.to_string());
        let mut parsed = parse_in_parallel(&sources, &[file]);
        (parsed.remove(0), yaml::parse(file, text))
    }

    #[test]
    fn a_large_file_gives_the_tree_and_the_errors_of_a_whole_file_parse() {
        let mut text = String::from("project: { name: big }\ntables:\n");
        for table in 0..2500 {
            text.push_str(&format!("  table_{table}:\n    description: |\n      Table {table}.\n    columns:\n      a: {{ type: int }}\n"));
        }
        text.push_str("enums:\n  E: { values: { a: 1 } }\n");
        assert!(text.len() >= split::SPLIT_FROM_BYTES && split::plan(&text, 2).is_some(), "the test file is cut");
        let (cut, whole) = both_ways(&text);
        assert_eq!(cut.unwrap(), whole.unwrap());

        // A table written twice, far apart (in different pieces), is reported as the
        // whole-file parse reports it.
        let twice = text.replace("  table_2400:\n", "  table_3:\n");
        let (cut, whole) = both_ways(&twice);
        let (cut, whole) = (cut.unwrap_err(), whole.unwrap_err());
        assert!(cut.message.contains("table_3"), "{}", cut.message);
        assert_eq!((cut.message, cut.span), (whole.message, whole.span));
    }
}
