//! Text normalization of hashed text columns: Python's `str.lower()`, then every `\s` char removed, written as a JSON string.
//!
//! Lowercasing, stripping and JSON escaping happen in one pass over the text:
//! stretches that need nothing are found a word at a time and copied whole,
//! ASCII capitals are lowered in one sweep at the end, and only spaces,
//! escapes and non-ASCII chars that change are handled one by one. Nothing
//! is allocated (except for text with a capital sigma, see below).

use super::buf::CanonicalBuf;
use super::json::push_escaped_byte;
use super::swar::plain_text_prefix;

/// Every char that Python's `re` matches with `\s` in a str pattern.
///
/// That is exactly the set of `str.isspace()`: Unicode White_Space plus the
/// four ASCII separators U+001C..U+001F (bidi class B or S), which Rust's
/// `char::is_whitespace` leaves out. Checked against python3 by the vector
/// file's `whitespace` table.
pub const PYTHON_WHITESPACE: [char; 29] = [
    '\u{9}', '\u{a}', '\u{b}', '\u{c}', '\u{d}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{1f}', '\u{20}',
    '\u{85}', '\u{a0}', '\u{1680}', '\u{2000}', '\u{2001}', '\u{2002}', '\u{2003}', '\u{2004}',
    '\u{2005}', '\u{2006}', '\u{2007}', '\u{2008}', '\u{2009}', '\u{200a}', '\u{2028}', '\u{2029}',
    '\u{202f}', '\u{205f}', '\u{3000}',
];

/// Whether Python's `re` `\s` matches `c` (see [`PYTHON_WHITESPACE`]).
pub fn is_python_whitespace(c: char) -> bool {
    matches!(
        c,
        '\u{9}'..='\u{d}'
            | '\u{1c}'..='\u{20}'
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// What the one-pass loop does with an ASCII byte (or the first byte of a
/// longer char).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ByteClass {
    /// Written as is (uppercase letters too: the written text is ASCII-lowercased at the end).
    Keep,
    /// Whitespace under `\s`: removed.
    Drop,
    /// A control char, `"` or `\`: written as a JSON escape.
    Escape,
    /// Start of a non-ASCII char: decoded and handled char by char.
    Wide,
}

const BYTE_CLASS: [ByteClass; 256] = byte_classes();

const fn byte_classes() -> [ByteClass; 256] {
    let mut table = [ByteClass::Keep; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = match byte {
            0x09..=0x0d | 0x1c..=0x20 => ByteClass::Drop,
            0x00..=0x1f | 0x22 | 0x5c => ByteClass::Escape,
            0x80..=0xff => ByteClass::Wide,
            _ => ByteClass::Keep,
        };
        byte += 1;
    }
    table
}

/// Writes `text` lowercased and stripped of `\s` chars, as a JSON string.
pub(crate) fn push_normalized(out: &mut CanonicalBuf, text: &str) {
    let start = out.len();
    out.push_byte(b'"');
    if !push_stripped(out, text, Lowering::PerChar) {
        // A capital sigma lowercases to σ or ς depending on the letters
        // around it (Python and Rust's `str::to_lowercase` apply the same
        // Final_Sigma rule); `char::to_lowercase` can't see them, so this
        // rare text is lowered whole first.
        out.truncate(start + 1);
        push_stripped(out, &text.to_lowercase(), Lowering::Done);
    }
    // ASCII letters were copied as they were; one pass lowers them all. Every
    // escape we write is already lowercase, and no lowercase mapping of a
    // non-ASCII char yields an ASCII capital, so nothing else changes.
    out.make_ascii_lowercase_from(start);
    out.push_byte(b'"');
}

/// Whether non-ASCII chars still need lowercasing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lowering {
    PerChar,
    Done,
}

/// The one-pass loop. Returns false (having written part of the text) when
/// it meets a capital sigma while lowering per char.
fn push_stripped(out: &mut CanonicalBuf, text: &str, lowering: Lowering) -> bool {
    let bytes = text.as_bytes();
    let mut run_start = 0;
    let mut at = 0;
    loop {
        at = next_special(bytes, at);
        let Some(&byte) = bytes.get(at) else {
            break;
        };
        match BYTE_CLASS[usize::from(byte)] {
            // next_special stops at no Keep byte; stepping over one is harmless.
            ByteClass::Keep => {
                at += 1;
                continue;
            }
            ByteClass::Drop => push_run(out, text, run_start, at),
            ByteClass::Escape => {
                push_run(out, text, run_start, at);
                push_escaped_byte(out, byte);
            }
            ByteClass::Wide => {
                let Some(c) = text.get(at..).and_then(|rest| rest.chars().next()) else {
                    break;
                };
                if c == 'Σ' && lowering == Lowering::PerChar {
                    return false;
                }
                let width = c.len_utf8();
                if stays_as_is(c, lowering) {
                    // Already lowercase and not a space: part of the run.
                    at += width;
                    continue;
                }
                push_run(out, text, run_start, at);
                push_wide_char(out, c, lowering);
                at += width - 1;
            }
        }
        at += 1;
        run_start = at;
    }
    push_run(out, text, run_start, at);
    true
}

/// The first position from `from` on whose byte isn't copied as it is:
/// whole plain words are skipped at once, then single bytes.
fn next_special(bytes: &[u8], from: usize) -> usize {
    let mut at = from + plain_text_prefix(bytes, from);
    while bytes
        .get(at)
        .is_some_and(|byte| BYTE_CLASS[usize::from(*byte)] == ByteClass::Keep)
    {
        at += 1;
    }
    at
}

/// Copies the untouched stretch `text[from..to]` (both ends are char boundaries).
fn push_run(out: &mut CanonicalBuf, text: &str, from: usize, to: usize) {
    if from < to {
        out.push_str(text.get(from..to).unwrap_or_default());
    }
}

/// Whether a non-ASCII char is written unchanged: not `\s`, and its own
/// lowercase (the usual case for non-Latin and accented lowercase text).
fn stays_as_is(c: char, lowering: Lowering) -> bool {
    if is_python_whitespace(c) {
        return false;
    }
    if lowering == Lowering::Done {
        return true;
    }
    let mut lowered = c.to_lowercase();
    lowered.len() == 1 && lowered.next() == Some(c)
}

/// A non-ASCII char: lowercased (Python lowers before it strips), then each
/// resulting char dropped if `\s` matches it.
fn push_wide_char(out: &mut CanonicalBuf, c: char, lowering: Lowering) {
    if lowering == Lowering::Done {
        push_kept_char(out, c);
        return;
    }
    for lowered in c.to_lowercase() {
        push_kept_char(out, lowered);
    }
}

fn push_kept_char(out: &mut CanonicalBuf, c: char) {
    if is_python_whitespace(c) {
        return;
    }
    match u8::try_from(c) {
        Ok(byte) if BYTE_CLASS[usize::from(byte)] == ByteClass::Escape => {
            push_escaped_byte(out, byte)
        }
        _ => out.push_char(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(text: &str) -> String {
        let mut out = CanonicalBuf::default();
        push_normalized(&mut out, text);
        out.as_str().to_owned()
    }

    #[test]
    fn table_and_predicate_agree() {
        for code in 0..=0x10ffff_u32 {
            if let Some(c) = char::from_u32(code) {
                assert_eq!(
                    is_python_whitespace(c),
                    PYTHON_WHITESPACE.contains(&c),
                    "U+{code:04X}"
                );
            }
        }
    }

    #[test]
    fn lowercases_strips_and_escapes() {
        assert_eq!(normalized("  Ivan  Horvat\t\n"), "\"ivanhorvat\"");
        assert_eq!(normalized("A\u{1c}B\u{3000}C\u{feff}"), "\"abc\u{feff}\"");
        assert_eq!(
            normalized("Say \"HI\"\\\u{1}"),
            "\"say\\\"hi\\\"\\\\\\u0001\""
        );
        assert_eq!(normalized("ΟΔΟΣ ΑΣ"), "\"οδοςας\"");
        assert_eq!(normalized("İ"), "\"i\u{307}\"");
        assert_eq!(normalized(""), "\"\"");
    }
}
