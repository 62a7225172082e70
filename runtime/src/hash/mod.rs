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
//! - `buf`: the byte buffer the text is built in;
//! - `sha3`: [`Sha3_256`], assembly where the target has it;
//! - `swar`: word-at-a-time scans that let ordinary text through quickly.
//!
//! Where Rust values and Python values can differ (a `real` column, a
//! `timestamptz`, a JSON column holding a bare string), `value` documents
//! which Python value the runtime stands in for.
//!
//! The vectors in `tests/vectors/hash_vectors.json` are computed by python3
//! itself (`make_vectors.py`) and are the judge. What they can't make agree:
//!
//! - Lowercasing follows the Unicode tables of Rust's std. For the 55 code
//!   points that have a lowercase mapping there but are unassigned in the
//!   Unicode 14 of Python 3.11 (Latin Extended-D additions, Garay, ...),
//!   Python 3.11 leaves them alone; a Python on the same Unicode agrees.
//! - A JSON integer outside the i64/u64 range is parsed by serde_json as a
//!   float, where Python keeps an int (jsonb prints `1e300` as a 301-digit
//!   integer, for one).
//! - bytea reaches Python through psycopg2 as a `memoryview`, whose `str()`
//!   is an address, so Python's own hash of such a row can't be reproduced
//!   by anyone; we hash `str(bytes)` as the rule says.
//! - Values Python can't hold are still hashed, never refused: years outside
//!   1..=9999 print in full, leap seconds are clamped, nanoseconds are
//!   truncated to microseconds, and decimal text `Decimal()` would reject is
//!   written as it is.

mod buf;
mod decimal;
mod float;
mod hasher;
mod json;
mod pystr;
mod sha3;
mod swar;
mod text;
mod value;

pub use hasher::{canonical_text, sha_hex, HashKey, RowHash, RowHasher};
pub(crate) use hasher::value_text;
pub use self::sha3::{sha3_256, Sha3_256};
pub use text::{is_python_whitespace, PYTHON_WHITESPACE};
pub use value::{HashValue, ToHashValue, ValueWriter};
