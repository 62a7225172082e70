//! The canonical text under construction: bytes that are UTF-8 by construction, so nothing re-validates them per row.
//!
//! Writers append `&str`s, `char`s, or ASCII bytes they built themselves
//! (digits, escapes, punctuation), which keeps the buffer valid UTF-8 without
//! checking each small piece; only [`CanonicalBuf::as_str`] checks, once,
//! outside the hashing path.

#[derive(Debug, Default)]
pub(crate) struct CanonicalBuf {
    bytes: Vec<u8>,
}

impl CanonicalBuf {
    #[inline]
    pub(crate) fn push_str(&mut self, text: &str) {
        self.bytes.extend_from_slice(text.as_bytes());
    }

    #[inline]
    pub(crate) fn push_char(&mut self, c: char) {
        let mut utf8 = [0_u8; 4];
        self.push_str(c.encode_utf8(&mut utf8));
    }

    /// One ASCII byte; the callers only pass literals, digits and hex.
    #[inline]
    pub(crate) fn push_byte(&mut self, byte: u8) {
        debug_assert!(
            byte.is_ascii(),
            "CanonicalBuf::push_byte({byte:#x}) is not ASCII"
        );
        self.bytes.push(byte);
    }

    /// ASCII bytes assembled on the stack (numbers, dates, repr text).
    #[inline]
    pub(crate) fn push_ascii(&mut self, ascii: &[u8]) {
        debug_assert!(
            ascii.is_ascii(),
            "CanonicalBuf::push_ascii got non-ASCII bytes"
        );
        self.bytes.extend_from_slice(ascii);
    }

    /// The first `len` bytes of `block` (at most 32; whole UTF-8 chars):
    /// copied as one fixed-size block, which compiles to two vector stores
    /// where a copy of a length known only at run time calls `memcpy`, then
    /// cut back to `len`. For the short pieces every row repeats (column
    /// keys, timestamps).
    #[inline]
    pub(crate) fn push_padded(&mut self, block: &[u8; 32], len: usize) {
        debug_assert!(len <= block.len() && std::str::from_utf8(&block[..len]).is_ok());
        let start = self.bytes.len();
        self.bytes.extend_from_slice(block);
        self.bytes.truncate(start + len);
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
    }

    /// Drops everything after `len` bytes; only ever called with a length
    /// this buffer had before, which is a char boundary.
    #[inline]
    pub(crate) fn truncate(&mut self, len: usize) {
        self.bytes.truncate(len);
    }

    /// Lowercases the ASCII letters written since `start` (UTF-8
    /// continuation bytes are never ASCII, so the text stays valid).
    pub(crate) fn make_ascii_lowercase_from(&mut self, start: usize) {
        if let Some(written) = self.bytes.get_mut(start..) {
            written.make_ascii_lowercase();
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The text. Every writer appends whole UTF-8 sequences, so this never
    /// fails; if a bug ever broke that, the empty text is returned (and
    /// debug builds stop) rather than a panic in production.
    pub(crate) fn as_str(&self) -> &str {
        let text = std::str::from_utf8(&self.bytes);
        debug_assert!(text.is_ok(), "canonical text is not UTF-8");
        text.unwrap_or_default()
    }
}
