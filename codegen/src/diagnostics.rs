//! Diagnostics that point into the YAML: file, line, column, the source line, and a fix.
//!
//! Every stage records problems into a [`Diagnostics`] list instead of stopping at the
//! first one, so a user with five mistakes sees five errors in one run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Index of a loaded source file in [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A place in a source file: byte range plus the 1-based line and column of its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub start: usize,
    pub len: usize,
    pub line: u32,
    pub column: u32,
}

impl Span {
    /// A span for things that have no place in any file (e.g. a missing `project` key).
    pub const NONE: Span = Span { file: FileId(u32::MAX), start: 0, len: 0, line: 0, column: 0 };

    pub fn is_none(&self) -> bool {
        self.file.0 == u32::MAX
    }
}

/// A value together with where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Sp<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Sp<T> {
    pub fn new(value: T, span: Span) -> Self {
        Sp { value, span }
    }
}

/// The text of every file that was read, so diagnostics can quote lines.
#[derive(Default, Debug)]
pub struct Sources {
    files: Vec<SourceFile>,
}

#[derive(Debug)]
struct SourceFile {
    /// The path as the user should see it (relative to the working directory when possible).
    display_path: String,
    text: String,
}

impl Sources {
    pub fn add(&mut self, path: &Path, text: String) -> FileId {
        let display_path = display_path(path);
        self.files.push(SourceFile { display_path, text });
        FileId(self.files.len() as u32 - 1)
    }

    pub fn path(&self, file: FileId) -> &str {
        self.files.get(file.0 as usize).map(|f| f.display_path.as_str()).unwrap_or("<unknown>")
    }

    pub fn text(&self, file: FileId) -> &str {
        self.files.get(file.0 as usize).map(|f| f.text.as_str()).unwrap_or("")
    }
}

/// Paths in messages are shown relative to the current directory, which is how users
/// typed them and how editors resolve `file:line:col`.
fn display_path(path: &Path) -> String {
    let cwd: Option<PathBuf> = std::env::current_dir().ok();
    let shown = cwd.as_deref().and_then(|cwd| path.strip_prefix(cwd).ok()).unwrap_or(path);
    shown.display().to_string()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem: a message, the place it is about, optional related places, and a fix.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub span: Span,
    /// What to say under the primary span.
    pub label: String,
    /// Other places involved ("first defined here").
    pub related: Vec<(Span, String)>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span,
            label: String::new(),
            related: Vec::new(),
            help: None,
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// The collected problems of one run.
#[derive(Default, Debug)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    /// Render every diagnostic, in file and line order, as plain text (no colour), the
    /// way rustc prints: `error: …`, ` --> file:line:col`, the source line, `= help: …`.
    pub fn render(&self, sources: &Sources) -> String {
        let mut sorted: Vec<&Diagnostic> = self.items.iter().collect();
        sorted.sort_by_key(|d| (d.span.file, d.span.start, d.message.clone()));
        let mut out = String::new();
        for diagnostic in &sorted {
            out.push_str(&render_one(diagnostic, sources));
            out.push('\n');
        }
        let errors = sorted.iter().filter(|d| d.severity == Severity::Error).count();
        if errors > 0 {
            let _ = writeln!(out, "error: the spec has {errors} error{}", if errors == 1 { "" } else { "s" });
        }
        out
    }
}

fn render_one(diagnostic: &Diagnostic, sources: &Sources) -> String {
    use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

    let level = match diagnostic.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let title = level.primary_title(diagnostic.message.as_str());
    let mut group = Group::with_title(title);

    // One snippet per file touched; annotations of the same file share a snippet.
    let mut spans: Vec<(Span, &str, bool)> = Vec::new();
    if !diagnostic.span.is_none() {
        spans.push((diagnostic.span, diagnostic.label.as_str(), true));
    }
    for (span, label) in &diagnostic.related {
        if !span.is_none() {
            spans.push((*span, label.as_str(), false));
        }
    }
    let mut files: Vec<FileId> = spans.iter().map(|(s, _, _)| s.file).collect();
    files.dedup();
    let mut seen = Vec::new();
    for file in files {
        if seen.contains(&file) {
            continue;
        }
        seen.push(file);
        let text = sources.text(file);
        let mut snippet = Snippet::source(text).path(sources.path(file)).fold(true);
        for (span, label, primary) in spans.iter().filter(|(s, _, _)| s.file == file) {
            let range = clamp_range(text, span.start, span.len);
            let kind = if *primary { AnnotationKind::Primary } else { AnnotationKind::Context };
            snippet = snippet.annotation(kind.span(range).label(*label));
        }
        group = group.element(snippet);
    }
    if let Some(help) = &diagnostic.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    Renderer::plain().render(&[group]).to_string()
}

/// Keep a byte range inside the text and on character boundaries; spans come from the
/// YAML parser and are trusted, but a diagnostic must never panic while rendering.
fn clamp_range(text: &str, start: usize, len: usize) -> std::ops::Range<usize> {
    let mut start = start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (start + len.max(1)).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

/// Closest candidate to `word` for a "did you mean" hint, if any is close enough.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
