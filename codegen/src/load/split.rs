//! One large spec file parsed on several cores.
//!
//! A spec of a thousand tables is usually one `tables:` map of a megabyte or more, and
//! the YAML parse of it is most of `dcgen check`. Its entries are independent, so the
//! file is cut between entries of that map into pieces that parse at the same time,
//! and the parsed pieces are joined into the tree a whole-file parse gives.
//!
//! Each piece is parsed as the whole file with every byte outside the cut map's key
//! line and the piece turned into a space (newlines kept), so every span comes out
//! exactly as in the whole file without being moved. Where the piece ends, a stand-in
//! key starts at the place and indentation of the line that follows it in the file,
//! so the piece's last value ends exactly where it ends in the whole file (a block
//! scalar's span runs up to the next line that is not part of it). The rest of the
//! file is parsed the same way with the map's entries blanked, which leaves its key
//! holding null.
//!
//! Why a cut never changes the meaning: a piece starts at a line indented exactly as
//! the map's keys, which ends every block scalar, plain scalar and nested map opened
//! before it; a quoted scalar or flow collection still open there leaves the piece
//! before it unterminated, which fails to parse. Anything that does not parse, an
//! alias to an anchor in another piece, a key written twice across pieces, or a tree
//! that is not shaped as planned sends the file to the whole-file parse, so errors are
//! always reported by it, with its words and places. Tests compare both parses.

use std::collections::HashSet;
use std::ops::Range;

use super::yaml::{self, Key, Node, SpNode, YamlError};
use crate::diagnostics::FileId;

/// Files smaller than this are parsed whole: they take a few milliseconds, which
/// cutting could not save much of.
pub const SPLIT_FROM_BYTES: usize = 128 * 1024;

/// Where a file is cut: the entries of one top-level block map, in runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The top-level key whose map is cut, and its line (bytes, newline included).
    key: String,
    key_line: Range<usize>,
    /// Indentation of the map's keys.
    indent: usize,
    /// From the first entry's line to the end of the map's last line.
    pub entries: Range<usize>,
    /// Runs of whole entries, in order, covering `entries`.
    pub pieces: Vec<Range<usize>>,
}

/// Plan to cut `text` into about `pieces` runs of entries of its largest top-level
/// block map; `None` when the file is not laid out so that a cut is plainly safe
/// (then it is parsed whole).
pub fn plan(text: &str, pieces: usize) -> Option<Plan> {
    // Markers of documents and directives, a byte-order mark and carriage returns are
    // legal but rare in a spec; a file with them is parsed whole rather than reasoned
    // about here.
    if pieces < 2 || text.starts_with('\u{feff}') || text.contains('\r') || has_alias(text) {
        return None;
    }
    let mut best: Option<Section> = None;
    let mut current: Option<Section> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        if line.starts_with("---") || line.starts_with("...") || line.starts_with('%') {
            return None;
        }
        let starts_section = !line.starts_with([' ', '#', '\n']);
        if starts_section {
            if let Some(done) = current.take() {
                best = larger(best, done);
            }
            current = block_map_key(line).map(|key| Section { key: key.to_string(), key_line: start..offset, body: offset..offset });
        } else if let Some(section) = current.as_mut() {
            section.body.end = offset;
        }
    }
    if let Some(done) = current.take() {
        best = larger(best, done);
    }
    let section = best?;
    cut(text, section, pieces)
}

/// Whether `text` seems to use an alias (`*name` after a space or flow indicator, as in
/// `<<: *defaults`). An alias into another piece fails that piece and the file is
/// parsed again whole, so a file that uses them is parsed whole from the start; a
/// false alarm (`a *b` in a check) only costs the cut.
fn has_alias(text: &str) -> bool {
    text.as_bytes().windows(3).any(|w| matches!(w[0], b' ' | b'[' | b'{' | b',' | b'\n') && w[1] == b'*' && (w[2].is_ascii_alphanumeric() || w[2] == b'_'))
}

/// A top-level key written alone on its line, and the lines below it.
struct Section {
    key: String,
    key_line: Range<usize>,
    body: Range<usize>,
}

fn larger(best: Option<Section>, candidate: Section) -> Option<Section> {
    match best {
        Some(best) if best.body.len() >= candidate.body.len() => Some(best),
        _ => Some(candidate),
    }
}

/// `name:` at the start of a line with nothing after it but spaces or a comment: a key
/// whose value is the block below. Only plain names: a quoted key, an anchor or a tag
/// on the value is left to the whole-file parse.
fn block_map_key(line: &str) -> Option<&str> {
    let (key, rest) = line.split_once(':')?;
    let plain = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest = rest.trim_start_matches(' ');
    (plain && (rest.is_empty() || rest == "\n" || rest.starts_with('#'))).then_some(key)
}

/// Cut the section's body between entries: lines indented like the first entry whose
/// first character can only start a plain key.
fn cut(text: &str, section: Section, pieces: usize) -> Option<Plan> {
    let body = &text[section.body.clone()];
    let mut entry_indent = None;
    let mut entry_starts = Vec::new();
    let mut offset = section.body.start;
    for line in body.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let indent = line.len() - line.trim_start_matches(' ').len();
        let rest = &line[indent..];
        if rest.is_empty() || rest.starts_with(['\n', '#']) {
            continue;
        }
        let indent_of_entries = *entry_indent.get_or_insert(indent);
        if indent < indent_of_entries {
            return None;
        }
        if indent == indent_of_entries {
            if !starts_plain_key(rest) {
                // The first entry decides the map's shape: a list, a flow map or a
                // quoted key is parsed whole; a later line like that is just not a cut.
                if entry_starts.is_empty() {
                    return None;
                }
                continue;
            }
            entry_starts.push(start);
        }
    }
    if entry_starts.len() < 2 {
        return None;
    }
    let entries = entry_starts[0]..section.body.end;
    let target = entries.len().div_ceil(pieces);
    let mut cuts = vec![entries.start];
    for &start in &entry_starts[1..] {
        if start - cuts[cuts.len() - 1] >= target {
            cuts.push(start);
        }
    }
    let ends = cuts.iter().skip(1).copied().chain([entries.end]);
    let pieces: Vec<Range<usize>> = cuts.iter().copied().zip(ends).map(|(start, end)| start..end).collect();
    let indent = entry_indent?;
    (pieces.len() >= 2).then_some(Plan { key: section.key, key_line: section.key_line, indent, entries, pieces })
}

/// A character that starts a plain scalar and nothing else (not an indicator, a quote,
/// a tab or a space).
fn starts_plain_key(rest: &str) -> bool {
    rest.chars().next().is_some_and(|c| !matches!(c, '-' | '?' | ':' | ',' | '[' | ']' | '{' | '}' | '#' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%' | '@' | '`' | '\t' | ' '))
}

/// The key that stands in for the line after a piece (a spec never has it; if one
/// did, the piece would fail on a key written twice and the file be parsed whole).
const STAND_IN: &str = "_dcgen_cut_";

/// `bytes` with everything but newlines turned into spaces.
fn blank(bytes: &[u8]) -> impl Iterator<Item = u8> + '_ {
    bytes.iter().map(|&b| if b == b'\n' { b'\n' } else { b' ' })
}

/// Only ASCII bytes of whole lines were replaced (every range starts at a line start
/// and ends after a newline or at the end), so the text stays UTF-8; if it somehow did
/// not, the empty text would not join and the file would be parsed whole.
fn text_of(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_default()
}

/// Parse the file outside the cut map (the map's key then holds null).
pub fn parse_rest(file: FileId, text: &str, plan: &Plan) -> Result<SpNode, YamlError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..plan.entries.start]);
    out.extend(blank(&bytes[plan.entries.clone()]));
    out.extend_from_slice(&bytes[plan.entries.end..]);
    yaml::parse(file, &text_of(out))
}

/// Parse one piece of the cut map, under its key, followed by the stand-in key.
pub fn parse_piece(file: FileId, text: &str, plan: &Plan, piece: usize) -> Result<SpNode, YamlError> {
    let bytes = text.as_bytes();
    let range = plan.pieces[piece].clone();
    let mut out = Vec::with_capacity(range.end + plan.indent + STAND_IN.len() + 2);
    out.extend(blank(&bytes[..plan.key_line.start]));
    out.extend_from_slice(&bytes[plan.key_line.clone()]);
    out.extend(blank(&bytes[plan.key_line.end..range.start]));
    out.extend_from_slice(&bytes[range.clone()]);
    if range.end < bytes.len() {
        // The next entry, or after the last piece the next top-level key.
        let indent = if piece + 1 < plan.pieces.len() { plan.indent } else { 0 };
        out.extend(std::iter::repeat_n(b' ', indent));
        out.extend_from_slice(STAND_IN.as_bytes());
        out.extend_from_slice(b":\n");
    }
    yaml::parse(file, &text_of(out))
}

/// Whether `entry` is the stand-in key written after a piece ending at `end`.
fn is_stand_in(entry: Option<&(Key, SpNode)>, end: usize, indent: usize) -> bool {
    entry.is_some_and(|(key, value)| key.name == STAND_IN && key.span.start == end + indent && value.node == Node::Null)
}

/// The whole file's tree from the rest and the pieces; `None` when anything failed or
/// is not shaped as planned (the caller then parses the file whole).
pub fn join(plan: &Plan, rest: Result<SpNode, YamlError>, pieces: Vec<Result<SpNode, YamlError>>) -> Option<SpNode> {
    let mut rest = rest.ok()?;
    let mut entries: Vec<(Key, SpNode)> = Vec::new();
    let mut seen = HashSet::new();
    let mut span = None;
    let last = plan.pieces.len() - 1;
    for (index, (range, piece)) in plan.pieces.iter().zip(pieces).enumerate() {
        let Node::Map(mut top) = piece.ok()?.node else { return None };
        // After the last piece the stand-in is a top-level key (unless the file ends).
        if index == last && is_stand_in(top.last(), range.end, 0) {
            top.pop();
        }
        let [(key, map)] = <[(Key, SpNode); 1]>::try_from(top).ok()?;
        let Node::Map(mut piece_entries) = map.node else { return None };
        if key.name != plan.key || key.span.start != plan.key_line.start {
            return None;
        }
        if index < last && !is_stand_in(piece_entries.pop().as_ref(), range.end, plan.indent) {
            return None;
        }
        // The piece's first key is where the plan cut and every key sits in the map's
        // column: the piece parsed as the entries it was meant to hold.
        let column = plan.indent as u32 + 1;
        let first = piece_entries.first()?;
        if first.0.span.start != range.start + plan.indent || piece_entries.iter().any(|(key, _)| key.span.column != column) {
            return None;
        }
        // Keys written twice across pieces: the whole-file parse reports them.
        if !piece_entries.iter().all(|(key, _)| seen.insert(key.name.clone())) {
            return None;
        }
        span.get_or_insert(map.span);
        entries.extend(piece_entries);
    }
    let Node::Map(top) = &mut rest.node else { return None };
    let (_, value) = top.iter_mut().find(|(key, _)| key.name == plan.key && key.span.start == plan.key_line.start)?;
    if value.node != Node::Null {
        return None;
    }
    *value = SpNode { node: Node::Map(entries), span: span? };
    Some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(text: &str) -> Result<SpNode, YamlError> {
        yaml::parse(FileId(0), text)
    }

    /// The tree of `text` parsed in `pieces` pieces, or `None` when it is not cut or a
    /// piece falls back.
    fn in_pieces(text: &str, pieces: usize) -> Option<SpNode> {
        let plan = plan(text, pieces)?;
        let rest = parse_rest(FileId(0), text, &plan);
        let parsed = (0..plan.pieces.len()).map(|i| parse_piece(FileId(0), text, &plan, i)).collect();
        join(&plan, rest, parsed)
    }

    /// Every way of cutting `text` gives the whole-file tree or falls back.
    fn agrees(text: &str) -> usize {
        let whole = whole(text);
        let mut cut = 0;
        for pieces in 2..6 {
            if let Some(joined) = in_pieces(text, pieces) {
                let whole = whole.as_ref().unwrap_or_else(|e| panic!("pieces parsed but the whole file does not: {}\n{text}", e.message));
                assert_eq!(&joined, whole, "{pieces} pieces of:\n{text}");
                cut += 1;
            }
        }
        cut
    }

    const SPEC: &str = "project: { name: demo }\nmixins:\n  m:\n    head:\n      id: { type: int }\ntables:\n  # first\n  apps:\n    description: |\n      Apps.\n        indented\n    columns:\n      name: { type: string(64) }\n\n  runs:\n    description: >-\n      Runs of\n      apps.\n    columns: {\n      a: int, b: int }\n  logs:\n    description: \"two\n      lines\"\n    columns:\n      - x\n# a comment at column 0\n  events: { columns: { at: datetime } }\nenums:\n  E: { values: { a: 1 } }\n";

    #[test]
    fn pieces_join_into_the_whole_file_tree() {
        assert_eq!(agrees(SPEC), 4, "every count of pieces cuts this spec");
        let plan = plan(SPEC, 2).unwrap();
        assert_eq!(plan.key, "tables");
        assert_eq!(plan.pieces.len(), 2);
    }

    #[test]
    fn unsafe_layouts_are_parsed_whole() {
        // Markers, carriage returns, a list or quoted keys as the largest map.
        for text in [
            "---\ntables:\n  a: 1\n  b: 2\n",
            "tables:\r\n  a: 1\r\n  b: 2\r\n",
            "tables:\n  - a\n  - b\n",
            "tables:\n  \"a\": 1\n  b: 2\n",
            "tables: &t\n  a: 1\n  b: 2\n",
            "tables: !!map\n  a: 1\n  b: 2\n",
        ] {
            assert_eq!(plan(text, 2), None, "{text:?}");
        }
    }

    #[test]
    fn a_file_with_aliases_is_parsed_whole_from_the_start() {
        assert_eq!(plan("defaults: &d { c: 1 }\ntables:\n  a: *d\n  b:\n    <<: *d\n", 2), None);
        assert!(plan("tables:\n  a: { check: a * b }\n  b: 2\n", 2).is_some(), "a product in a check is not an alias");
    }

    #[test]
    fn what_a_cut_would_change_falls_back() {
        for text in [
            // An alias to an anchor in another piece, or outside the map.
            "tables:\n  a: &x { c: 1 }\n  b: *x\n",
            "defaults: &d { c: 1 }\ntables:\n  a: *d\n  b: 2\n",
            "tables:\n  a:\n    <<: { c: 1 }\n  b: 2\n",
            // A key written twice across pieces.
            "tables:\n  a: 1\n  b: 2\n  a: 3\n",
            // Quoted and flow values still open where a cut would go.
            "tables:\n  a: \"x\n  b: y\"\n  c: 1\n",
            "tables:\n  a: [1,\n  b, 2]\n  c: 1\n",
            "tables:\n  a: {x: 1,\n  b: 2}\n  c: 1\n",
            // A key written twice at the top level.
            "tables:\n  a: 1\n  b: 2\ntables:\n  c: 1\n",
        ] {
            let whole = whole(text);
            let joined = in_pieces(text, 2);
            match (&whole, &joined) {
                (_, None) => {}
                (Ok(whole), Some(joined)) => assert_eq!(joined, whole, "{text}"),
                (Err(e), Some(_)) => panic!("pieces parsed where the whole file fails ({}):\n{text}", e.message),
            }
        }
    }

    #[test]
    fn generated_specs_parse_the_same_in_pieces() {
        // Tables with every construct a cut must survive, in random mixes (fixed seed).
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        // `KEY` becomes a key of its own in each table.
        let shapes = [
            "    KEY: |\n      literal\n\n        more\n",
            "    KEY: >\n      folded\n      text\n\n",
            "    KEY: |-\n      stripped\n",
            "    KEY: \"quoted\n      on two lines\"\n",
            "    KEY: 'single ''quoted'''\n",
            "    KEY: plain\n      continued\n",
            "    KEY: { a: int,\n      b: { type: int } }\n",
            "    KEY:\n      a: { type: int, nullable: true }\n      b: [1, 2]\n",
            "    # a comment\n    KEY: 1\n",
            "# at column 0\n    KEY: 2\n",
            "\n\n    KEY: null\n",
            "    KEY:\n    - a\n    - b\n",
            "    KEY: &a [1]\n",
        ];
        let mut cut = 0;
        for case in 0..300 {
            let mut text = String::from("project: { name: p }\ntables:\n");
            for table in 0..(2 + next(12)) {
                text.push_str(&format!("  t{table}_{case}:\n"));
                for key in 0..(1 + next(4)) {
                    text.push_str(&shapes[next(shapes.len() as u64) as usize].replace("KEY", &format!("k{key}")));
                }
            }
            if next(2) == 0 {
                text.push_str("enums:\n  E: |\n    text\n");
            }
            cut += agrees(&text);
        }
        assert!(cut > 300, "most generated specs are cut ({cut})");
    }
}
