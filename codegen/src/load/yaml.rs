//! YAML text → a tree of nodes where every key and value carries its span.
//!
//! We deserialize into our own [`Node`] through serde-saphyr's `Spanned<T>` rather than
//! straight into spec structs: serde's derive loses spans under `untagged`/`flatten`
//! (and the spec has many "a string or a map" shorthands), and it stops at the first
//! unknown key. Decoding the node tree ourselves (see `decode`) keeps every span and
//! reports every problem.

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::diagnostics::{FileId, Span};

/// One YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<SpNode>),
    /// Map entries in the order written (order is meaningful in the spec).
    Map(Vec<(Key, SpNode)>),
}

/// A value with its place in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct SpNode {
    pub node: Node,
    pub span: Span,
}

/// A map key with its place in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub span: Span,
}

impl Node {
    /// How the node is described in "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Int(_) => "an integer",
            Node::Float(_) => "a float",
            Node::Str(_) => "a string",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a map",
        }
    }
}

/// The raw shape serde-saphyr fills; converted to [`SpNode`] once the file id is known.
#[derive(Debug)]
enum RawNode {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<RawNode>>),
    Map(Vec<(Spanned<String>, Spanned<RawNode>)>),
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawNodeVisitor)
    }
}

struct RawNodeVisitor;

impl<'de> Visitor<'de> for RawNodeVisitor {
    type Value = RawNode;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }
    fn visit_none<E>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawNode, D::Error> {
        RawNode::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<RawNode, E> {
        Ok(RawNode::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<RawNode, E> {
        Ok(RawNode::Int(v))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawNode, E> {
        i64::try_from(v).map(RawNode::Int).map_err(|_| E::custom(format!("integer {v} is too large (the largest is {})", i64::MAX)))
    }
    fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<RawNode, E> {
        i64::try_from(v).map(RawNode::Int).map_err(|_| E::custom(format!("integer {v} is out of the 64-bit range")))
    }
    fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<RawNode, E> {
        i64::try_from(v).map(RawNode::Int).map_err(|_| E::custom(format!("integer {v} is out of the 64-bit range")))
    }
    fn visit_f64<E>(self, v: f64) -> Result<RawNode, E> {
        Ok(RawNode::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<RawNode, E> {
        Ok(RawNode::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<RawNode, E> {
        Ok(RawNode::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawNode, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<RawNode>>()? {
            items.push(item);
        }
        Ok(RawNode::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawNode, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<RawNode>>()?;
            entries.push((key, value));
        }
        Ok(RawNode::Map(entries))
    }
}

/// A YAML problem with its place, before it becomes a diagnostic.
#[derive(Debug)]
pub struct YamlError {
    pub message: String,
    pub span: Span,
}

/// Parse budget. The defaults of serde-saphyr are sized for config files; a spec of
/// 1,000 tables in one file has about a million nodes, so nodes and events get room
/// while aliases stay tightly bounded: a "billion laughs" file breaches the alias
/// replay limits long before it costs memory.
fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::budget::Budget::default();
    budget.max_nodes = 4_000_000;
    budget.max_events = 8_000_000;
    budget.max_aliases = 10_000;
    budget.max_anchors = 10_000;
    budget.max_recorded_anchor_events = 100_000;
    budget.max_depth = 64;
    let mut alias_limits = serde_saphyr::options::AliasLimits::default();
    alias_limits.max_total_replayed_events = 100_000;
    alias_limits.max_alias_expansions_per_anchor = 1_000;
    serde_saphyr::options! {
        budget: Some(budget),
        alias_limits: alias_limits,
        // `yes`/`no`/`on`/`off` stay strings: the spec says `true`/`false`, and a YAML 1.1
        // reading of `no` as false has surprised every YAML user once.
        strict_booleans: true,
        duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::Error,
    }
}

/// Parse one file's text. An empty file is an empty map.
pub fn parse(file: FileId, text: &str) -> Result<SpNode, YamlError> {
    if text.trim().is_empty() {
        return Ok(SpNode { node: Node::Map(Vec::new()), span: Span { file, start: 0, len: 0, line: 1, column: 1 } });
    }
    match serde_saphyr::from_str_with_options::<Spanned<RawNode>>(text, options()) {
        Ok(root) => Ok(convert(file, text, root)),
        Err(error) => Err(convert_error(file, text, &error)),
    }
}

fn convert(file: FileId, text: &str, raw: Spanned<RawNode>) -> SpNode {
    let span = span_of(file, text, &raw.referenced);
    let node = match raw.value {
        RawNode::Null => Node::Null,
        RawNode::Bool(b) => Node::Bool(b),
        RawNode::Int(i) => Node::Int(i),
        RawNode::Float(f) => Node::Float(f),
        RawNode::Str(s) => Node::Str(s),
        RawNode::Seq(items) => Node::Seq(items.into_iter().map(|i| convert(file, text, i)).collect()),
        RawNode::Map(entries) => Node::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let key = Key { span: span_of(file, text, &k.referenced), name: k.value };
                    (key, convert(file, text, v))
                })
                .collect(),
        ),
    };
    SpNode { node, span }
}

fn span_of(file: FileId, text: &str, location: &serde_saphyr::Location) -> Span {
    let line = u32::try_from(location.line()).unwrap_or(u32::MAX);
    let column = u32::try_from(location.column()).unwrap_or(u32::MAX);
    let span = location.span();
    let (start, len) = match (span.byte_offset(), span.byte_len()) {
        (Some(start), Some(len)) if (start as usize) <= text.len() => (start as usize, len as usize),
        _ => (byte_offset_of(text, line, column), 1),
    };
    Span { file, start, len, line, column }
}

/// Byte offset of a 1-based line and character column, for locations that carry no
/// byte offset.
fn byte_offset_of(text: &str, line: u32, column: u32) -> usize {
    let mut offset = 0;
    for (index, line_text) in text.split_inclusive('\n').enumerate() {
        if index + 1 == line as usize {
            let chars = column.saturating_sub(1) as usize;
            return offset + line_text.char_indices().nth(chars).map(|(i, _)| i).unwrap_or(line_text.len());
        }
        offset += line_text.len();
    }
    text.len()
}

fn convert_error(file: FileId, text: &str, error: &serde_saphyr::Error) -> YamlError {
    let location = error.location();
    let span = match &location {
        Some(location) if location.line() > 0 => span_of(file, text, location),
        _ => Span { file, start: 0, len: 1, line: 1, column: 1 },
    };
    let rendered = error
        .without_snippet()
        .render_with_options(serde_saphyr::render_options! { snippets: serde_saphyr::SnippetMode::Off });
    let message = strip_location_prefix(&rendered);
    // A budget breach is almost always an alias bomb; say so in words.
    let message = if message.contains("budget breached") {
        format!("the file expands beyond the parser's budget (too many aliases, nodes or nesting levels: {message}); a spec never needs this much, so this looks like an alias bomb")
    } else {
        message
    };
    YamlError { message, span }
}

/// serde-saphyr's wording of a duplicate key, in ours: say which key, without naming
/// the library's options.
pub fn duplicate_key_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("duplicate mapping key: ")?;
    Some(rest.split(", set DuplicateKeyPolicy").next().unwrap_or(rest).trim())
}

/// serde-saphyr's plain rendering starts with `error: line N column M: `; we show the
/// place ourselves, so keep only the message.
fn strip_location_prefix(rendered: &str) -> String {
    let first_line = rendered.lines().next().unwrap_or(rendered).trim();
    let without_error = first_line.strip_prefix("error: ").unwrap_or(first_line);
    let message = match without_error.strip_prefix("line ").and_then(|rest| rest.split_once(": ")) {
        Some((_, message)) => message,
        None => without_error,
    };
    // The plain rendering may also end in exactly ` at line N, column M`.
    let is_location = |tail: &str| {
        tail.strip_prefix(" at line ")
            .and_then(|t| t.split_once(", column "))
            .is_some_and(|(line, column)| !line.is_empty() && !column.is_empty() && line.chars().chain(column.chars()).all(|c| c.is_ascii_digit()))
    };
    match message.rfind(" at line ") {
        Some(at) if is_location(&message[at..]) => message[..at].to_string(),
        _ => message.to_string(),
    }
}
