//! Row hashing: the `sha` of a row, byte for byte as the Python Data Collector framework computes it.
//!
//! The rule (shared/HASHING.md, encoding `data_collector_json`): take the
//! hashed columns as a map, lowercase every top-level text value and strip
//! every character Python's `re` matches with `\s`, serialize the map as
//! `json.dumps(row, sort_keys=True, ensure_ascii=False, default=str)` would,
//! and hash the UTF-8 text with SHA3-256. Each Python-specific piece of that
//! text has its own module, so each can be checked against Python alone:
//!
//! - `text`: `str.lower()` plus `\s` stripping, fused with JSON escaping;
//! - `json`: JSON strings, and nested JSON values with keys sorted;
//! - `float`: `repr(float)`;
//! - `decimal`: `str(Decimal)`;
//! - `pystr`: `str()` of datetimes, dates, times, UUIDs and bytes;
//! - `value`: [`HashValue`] and the [`ToHashValue`] conversions;
//! - `hasher`: [`RowHasher`], which builds the text and hashes it;
//! - `buf`: the byte buffer the text is built in.
//!
//! Where Rust values and Python values can differ (a `real` column, a
//! `timestamptz`, a JSON column holding a bare string), `value` documents
//! which Python value the runtime stands in for.

mod buf;
mod decimal;
mod float;
mod hasher;
mod json;
mod pystr;
mod text;
mod value;

pub use hasher::{canonical_text, sha_hex, RowHash, RowHasher};
pub use text::{is_python_whitespace, PYTHON_WHITESPACE};
pub use value::{HashValue, ToHashValue, ValueWriter};
