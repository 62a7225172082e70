//! Runtime for apps built on a dcgen-generated schema: row hashing, merge, codebook sync, connections.
//!
//! - [`hash`]: the canonical row form and its SHA3-256, byte-compatible with the Python framework;
//! - [`table`] and [`row`]: a generated table's facts (`TableInfo`, the contract with dcgen) and its rows read through serde;
//! - [`merge`]: make a table's rows in a scope equal a collected truth, in one transaction;
//! - [`codebook`]: keep codebook tables equal to their enums;
//! - [`db`]: the [`Database`] handle (pool plus redacted URL) and migrations.

pub mod codebook;
pub mod db;
pub mod hash;
pub mod merge;
pub mod row;
pub mod table;

pub use codebook::sync_codebooks;
pub use db::{Database, DatabaseUrl};
pub use merge::{BinaryWriter, CancelToken, Merge, MergeError, MergeReport, Mode, Phase, ThreadBudget};
pub use table::{TableInfo, TableOf};
