//! Eight-bytes-at-a-time tests for "does this stretch hold a byte needing attention", so ordinary text is copied without a per-byte loop.
//!
//! The classic bit tricks (Sean Anderson's "Bit Twiddling Hacks": haszero,
//! hasless) answer exactly whether some byte of a word matches; they don't
//! say which, so callers fall back to their byte loop from that word on.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Some byte of `word` is zero.
fn has_zero(word: u64) -> bool {
    word.wrapping_sub(ONES) & !word & HIGHS != 0
}

/// Some byte of `word` is below `limit` (limit <= 128).
fn has_less(word: u64, limit: u8) -> bool {
    word.wrapping_sub(ONES * u64::from(limit)) & !word & HIGHS != 0
}

fn has_byte(word: u64, byte: u8) -> bool {
    has_zero(word ^ (ONES * u64::from(byte)))
}

/// A byte JSON escapes: a control char, `"` or `\`.
fn word_needs_escape(word: u64) -> bool {
    has_less(word, 0x20) | has_byte(word, b'"') | has_byte(word, b'\\')
}

/// A byte the text normalization must look at: an escape, a space or
/// separator (U+0009..U+0020, all below 0x21), or the start of a non-ASCII char.
fn word_needs_normalizing(word: u64) -> bool {
    has_less(word, 0x21) | (word & HIGHS != 0) | has_byte(word, b'"') | has_byte(word, b'\\')
}

fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// Whether any byte needs a JSON escape: whole words first, then the
/// few bytes after them one by one.
pub(crate) fn any_needs_escape(bytes: &[u8]) -> bool {
    let whole = skip_words(bytes, 0, word_needs_escape);
    bytes
        .get(whole..)
        .unwrap_or_default()
        .iter()
        .any(|byte| *byte < 0x20 || *byte == b'"' || *byte == b'\\')
}

/// How many leading bytes from `from`, in whole words, normalization copies
/// as they are (apart from ASCII lowercasing).
pub(crate) fn plain_text_prefix(bytes: &[u8], from: usize) -> usize {
    skip_words(bytes, from, word_needs_normalizing)
}

fn skip_words(bytes: &[u8], from: usize, needs_attention: fn(u64) -> bool) -> usize {
    let mut at = from;
    while let Some(word) = word_at(bytes, at) {
        if needs_attention(word) {
            break;
        }
        at += 8;
    }
    at - from
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value in every position, against the plain predicates.
    #[test]
    fn word_tests_match_byte_tests() {
        for position in 0..8 {
            for byte in 0..=255_u8 {
                let mut word = [b'a'; 8];
                word[position] = byte;
                let escape = byte < 0x20 || byte == b'"' || byte == b'\\';
                let normalize = escape || byte <= 0x20 || byte >= 0x80;
                assert_eq!(
                    any_needs_escape(&word),
                    escape,
                    "escape {byte:#x} at {position}"
                );
                assert_eq!(
                    any_needs_escape(&word[..=position]),
                    escape,
                    "short escape {byte:#x} at {position}"
                );
                let long: Vec<u8> = b"0123456789abcdef".iter().copied().chain(word).collect();
                assert_eq!(
                    any_needs_escape(&long),
                    escape,
                    "long escape {byte:#x} at {position}"
                );
                assert_eq!(
                    plain_text_prefix(&word, 0) == 0,
                    normalize,
                    "normalize {byte:#x} at {position}"
                );
            }
        }
        assert_eq!(plain_text_prefix(b"company_id_and_more", 0), 16);
        assert!(!any_needs_escape(b""));
    }
}
