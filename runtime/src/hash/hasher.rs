//! [`RowHasher`]: builds a row's canonical text in a reused buffer and hashes it with SHA3-256.


use super::buf::CanonicalBuf;
use super::json::push_json_key;
use super::pystr::python_timestamp_of_iso;
use super::sha3::sha3_256;
use super::text::push_normalized;
use super::value::{HashValue, ToHashValue, ValueWriter};

/// Builds canonical rows one after another in one buffer, so hashing a
/// stream of rows allocates nothing once the buffer has grown to the
/// longest row.
///
/// Fields must come sorted by name (code point order, which is `str`'s
/// `Ord`); generated code sorts them when it is generated. [`begin`] is
/// optional: the first field after a finished row starts a new one.
///
/// [`begin`]: RowHasher::begin
#[derive(Debug, Default)]
pub struct RowHasher {
    buf: CanonicalBuf,
    state: State,
    #[cfg(debug_assertions)]
    last_name: String,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing written since creation.
    #[default]
    Empty,
    /// `{` and `fields` fields written.
    Open { fields: usize },
    /// The closing `}` written: the buffer holds a whole row.
    Closed,
}

impl RowHasher {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a new row, dropping whatever the buffer held.
    pub fn begin(&mut self) {
        self.buf.clear();
        self.buf.push_byte(b'{');
        self.state = State::Open { fields: 0 };
    }

    /// Adds one column. Names must arrive in strictly increasing order.
    pub fn field<V: ToHashValue + ?Sized>(&mut self, name: &str, value: &V) {
        let fields = self.open_field();
        self.check_order(fields, name);
        push_json_key(&mut self.buf, name, fields == 0);
        value.write_hash(&mut ValueWriter::column(&mut self.buf));
        self.state = State::Open { fields: fields + 1 };
    }

    /// [`field`](Self::field) with the name's text rendered beforehand, for
    /// callers that hash many rows of one table.
    pub fn keyed_field<V: ToHashValue + ?Sized>(&mut self, key: &HashKey, value: &V) {
        value.write_hash(&mut ValueWriter::column(self.key(key)));
    }

    /// Writes a field's key (its text rendered beforehand) and hands back
    /// the buffer for its value: the direct writers below, which the serde
    /// path calls with what serde hands over, go through here.
    #[inline]
    fn key(&mut self, key: &HashKey) -> &mut CanonicalBuf {
        let fields = self.open_field();
        self.check_order(fields, &key.name);
        match &key.padded {
            _ if fields == 0 => self.buf.push_str(key.first()),
            Some(block) => self.buf.push_padded(block, key.text.len()),
            None => self.buf.push_str(&key.text),
        }
        self.state = State::Open { fields: fields + 1 };
        &mut self.buf
    }

    /// A field holding an integer: what `keyed_field(key, &HashValue::Int(value))` writes.
    #[inline]
    pub(crate) fn keyed_int(&mut self, key: &HashKey, value: i64) {
        self.key(key).push_str(itoa::Buffer::new().format(value));
    }

    /// A text column's value, normalized: what `keyed_field(key, &HashValue::Text(text))` writes.
    #[inline]
    pub(crate) fn keyed_text(&mut self, key: &HashKey, text: &str) {
        push_normalized(self.key(key), text);
    }

    /// A field whose value text was rendered beforehand by [`value_text`].
    #[inline]
    pub(crate) fn keyed_value_text(&mut self, key: &HashKey, value_text: &str) {
        self.key(key).push_str(value_text);
    }

    /// A timestamp column given as the ISO text chrono writes: Python's
    /// `str(datetime)` of it, rewritten from the text without building a
    /// `NaiveDateTime`. Returns false, having written nothing, for text
    /// [`python_timestamp_of_iso`] does not take (the caller parses it).
    #[inline]
    pub(crate) fn keyed_iso_timestamp(&mut self, key: &HashKey, iso: &str) -> bool {
        let Some(python) = python_timestamp_of_iso(iso.as_bytes()) else {
            return false;
        };
        self.key(key).push_padded(python.quoted(), python.quoted_len());
        true
    }

    /// The number of fields the open row has, opening one if none is.
    #[inline]
    fn open_field(&mut self) -> usize {
        match self.state {
            State::Open { fields } => fields,
            State::Empty | State::Closed => {
                self.begin();
                0
            }
        }
    }

    /// Python's dict would sort the keys; we rely on the caller having done
    /// so, and say so loudly in debug builds.
    #[cfg(debug_assertions)]
    fn check_order(&mut self, fields: usize, name: &str) {
        debug_assert!(
            fields == 0 || self.last_name.as_str() < name,
            "RowHasher::field: {name:?} after {:?}; fields must be sorted by name, without repeats",
            self.last_name
        );
        self.last_name.clear();
        self.last_name.push_str(name);
    }

    #[cfg(not(debug_assertions))]
    fn check_order(&mut self, _fields: usize, _name: &str) {}

    fn close(&mut self) {
        match self.state {
            State::Empty => {
                self.begin();
                self.buf.push_byte(b'}');
            }
            State::Open { .. } => self.buf.push_byte(b'}'),
            State::Closed => {}
        }
        self.state = State::Closed;
    }

    /// The row's canonical text (closing it if it is still open).
    pub fn canonical(&mut self) -> &str {
        self.close();
        self.buf.as_str()
    }

    /// The SHA3-256 of the row's canonical text.
    pub fn finish(&mut self) -> [u8; 32] {
        self.close();
        sha3_256(self.buf.as_bytes())
    }

    /// The `sha` column value: SHA3-256 as 64 lowercase hex chars.
    pub fn finish_hex(&mut self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digest = self.finish();
        let mut hex = String::with_capacity(64);
        for byte in digest {
            hex.push(char::from(HEX[usize::from(byte >> 4)]));
            hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        hex
    }
}

/// A column name as the canonical text writes it (`, "name": `), rendered
/// once: escaping a name on every row is work a table's rows can share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashKey {
    name: String,
    /// `, "name": `; the row's first field leaves out the `, `.
    text: String,
    /// `text` in a block of 32 bytes, when it fits (names up to 26 bytes).
    padded: Option<[u8; 32]>,
}

impl HashKey {
    pub fn new(name: &str) -> Self {
        let mut buf = CanonicalBuf::default();
        push_json_key(&mut buf, name, false);
        let text = buf.as_str().to_owned();
        let padded = (text.len() <= 32).then(|| {
            let mut block = [b' '; 32];
            block[..text.len()].copy_from_slice(text.as_bytes());
            block
        });
        HashKey { name: name.to_owned(), text, padded }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn first(&self) -> &str {
        self.text.get(2..).unwrap_or_default()
    }
}

/// A table row that knows its hashed columns. dcgen generates this for each
/// table with a `sha` column: `hash_fields` calls [`RowHasher::field`] for
/// every hashed column, sorted by name.
pub trait RowHash {
    fn hash_fields(&self, hasher: &mut RowHasher);

    /// The row's `sha`, reusing `hasher`'s buffer.
    fn row_sha(&self, hasher: &mut RowHasher) -> String {
        hasher.begin();
        self.hash_fields(hasher);
        hasher.finish_hex()
    }

    /// The row's canonical text (what `dcgen hash --canonical` prints).
    fn row_canonical<'h>(&self, hasher: &'h mut RowHasher) -> &'h str {
        hasher.begin();
        self.hash_fields(hasher);
        hasher.canonical()
    }
}

/// A column value's canonical text on its own (what follows `"name": `),
/// for values hashed often enough to render once, such as a column's
/// default.
pub(crate) fn value_text(value: &HashValue<'_>) -> String {
    let mut buf = CanonicalBuf::default();
    ValueWriter::column(&mut buf).value(value);
    buf.as_str().to_owned()
}

/// The canonical text of fields given in any order. As in a Python dict
/// built from the same pairs, a repeated name keeps its last value.
pub fn canonical_text(fields: &[(&str, HashValue<'_>)]) -> String {
    let mut hasher = RowHasher::new();
    add_sorted(&mut hasher, fields);
    hasher.canonical().to_owned()
}

/// The `sha` of fields given in any order (see [`canonical_text`]).
pub fn sha_hex(fields: &[(&str, HashValue<'_>)]) -> String {
    let mut hasher = RowHasher::new();
    add_sorted(&mut hasher, fields);
    hasher.finish_hex()
}

fn add_sorted(hasher: &mut RowHasher, fields: &[(&str, HashValue<'_>)]) {
    let mut sorted: Vec<&(&str, HashValue<'_>)> = fields.iter().collect();
    // Stable, so among repeats the last given stays last.
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    hasher.begin();
    for (index, (name, value)) in sorted.iter().enumerate() {
        let repeated_later = sorted.get(index + 1).is_some_and(|next| next.0 == *name);
        if !repeated_later {
            hasher.field(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_md_first_vector() {
        let fields = [
            ("company_id", HashValue::Int(1)),
            ("person_id", HashValue::Int(1)),
            ("name", HashValue::Text("Name1")),
            ("surname", HashValue::Text("Surname1")),
        ];
        assert_eq!(
            canonical_text(&fields),
            r#"{"company_id": 1, "name": "name1", "person_id": 1, "surname": "surname1"}"#
        );
        assert_eq!(
            sha_hex(&fields),
            "7c4216b576ba2246dde241c5b654f30498f9374dae3d238ca46c5ff58eb6c7fd"
        );
    }

    #[test]
    fn reuse_and_empty_rows() {
        let mut hasher = RowHasher::new();
        assert_eq!(hasher.canonical(), "{}");
        hasher.field("a", &1_i32);
        assert_eq!(hasher.canonical(), r#"{"a": 1}"#);
        hasher.field("a", "X Y");
        assert_eq!(hasher.canonical(), r#"{"a": "xy"}"#);
        hasher.begin();
        assert_eq!(hasher.canonical(), "{}");
    }

    #[test]
    fn keyed_fields_write_what_named_fields_write() {
        let mut named = RowHasher::new();
        let mut keyed = RowHasher::new();
        for row in 0..2 {
            named.begin();
            keyed.begin();
            for (name, value) in [("a\"b", row), ("z", 2), ("é", 3)] {
                named.field(name, &value);
                keyed.keyed_field(&HashKey::new(name), &value);
            }
            assert_eq!(keyed.canonical(), named.canonical());
        }
        assert_eq!(keyed.canonical(), r#"{"a\"b": 1, "z": 2, "é": 3}"#);
    }

    #[test]
    fn repeated_names_keep_the_last() {
        let fields = [
            ("a", HashValue::Int(1)),
            ("b", HashValue::Null),
            ("a", HashValue::Int(2)),
        ];
        assert_eq!(canonical_text(&fields), r#"{"a": 2, "b": null}"#);
    }
}
