//! [`MergeError`]: what went wrong, in which [`Phase`], and whether retrying can help.

use std::fmt;
use std::time::Duration;

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::row::RowError;
use crate::table::TableInfoError;

/// The steps of one merge, in order. Every error names the one it stopped in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Checking the table's facts and the merge's options; nothing sent yet.
    Setup,
    /// Opening the transaction and taking the advisory locks.
    Lock,
    /// Reading the scope's rows (COPY out).
    Read,
    /// Reading and hashing the incoming rows.
    Hash,
    /// Comparing both sides in memory.
    Diff,
    /// COPY of new rows, in-place updates, archive or delete.
    Write,
    /// Committing (or beginning) the transaction.
    Commit,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Lock => "lock",
            Phase::Read => "read",
            Phase::Hash => "hash",
            Phase::Diff => "diff",
            Phase::Write => "write",
            Phase::Commit => "commit",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(transparent)]
    TableInfo(#[from] TableInfoError),
    /// The merge cannot run as configured (facts, options, unique keys); found before anything is sent.
    #[error("cannot merge `{table}`: {problem}")]
    Setup { table: String, problem: String },
    /// An incoming row that cannot be read or written as the table's row.
    #[error("row {index}: {error}")]
    Row { index: usize, error: RowError },
    #[error("row {index} is outside the merge's scope: column `{column}` is {found}, the scope says {expected}; merge each scope's rows separately")]
    OutOfScope { index: usize, column: String, expected: String, found: String },
    #[error("rows {first} and {repeat} are duplicates (same {by}); remove one, or merge with Duplicates::Count to count them instead")]
    Duplicate { first: usize, repeat: usize, by: String },
    /// A row would repeat a unique key's value; found before anything is written.
    #[error("row {index}: unique key `{key}` ({columns}) = ({values}) is already held by {holder}; nothing was written. Correct the row, or compare by that key (`compare_key`) so the holder is updated instead")]
    UniqueConflict { index: usize, key: String, columns: String, values: String, holder: String },
    #[error("database error in the {phase} phase of the merge (the transaction was rolled back): {error}")]
    Database { phase: Phase, error: DieselError },
    #[error("the merge of `{table}` waited {waited:?} for its advisory lock, which another merge of the same scope holds; retry later, or raise Merge::lock_timeout")]
    LockTimeout { table: String, waited: Duration },
    #[error("the merge of `{table}` was cancelled in the {phase} phase; the transaction was rolled back")]
    Cancelled { table: String, phase: Phase },
    /// The COPY stream broke or the rows' source misbehaved.
    #[error("in the {phase} phase of the merge: {message}")]
    Stream { phase: Phase, message: String },
}

/// COPY IN inside the write phase reports Diesel errors through `From`.
impl From<DieselError> for MergeError {
    fn from(error: DieselError) -> Self {
        MergeError::Database { phase: Phase::Write, error }
    }
}

impl MergeError {
    /// The phase the merge stopped in.
    pub fn phase(&self) -> Phase {
        match self {
            MergeError::TableInfo(_) | MergeError::Setup { .. } => Phase::Setup,
            MergeError::Row { .. } | MergeError::OutOfScope { .. } => Phase::Hash,
            MergeError::Duplicate { .. } | MergeError::UniqueConflict { .. } => Phase::Diff,
            MergeError::LockTimeout { .. } => Phase::Lock,
            MergeError::Database { phase, .. } | MergeError::Cancelled { phase, .. } | MergeError::Stream { phase, .. } => *phase,
        }
    }

    /// Whether running the same merge again can succeed without changing
    /// anything: a serialization failure, a deadlock, a lost connection
    /// (on a new connection), or a lock another merge held too long.
    pub fn is_retryable(&self) -> bool {
        match self {
            MergeError::Database { error, .. } => is_retryable_database_error(error),
            MergeError::LockTimeout { .. } => true,
            _ => false,
        }
    }

    /// Whether the error is about the incoming rows (fix the data) rather
    /// than the setup, the database or the connection.
    pub fn is_bad_row(&self) -> bool {
        matches!(self, MergeError::Row { .. } | MergeError::OutOfScope { .. } | MergeError::Duplicate { .. } | MergeError::UniqueConflict { .. })
    }
}

/// Diesel names serialization failures and closed connections; a deadlock
/// (SQLSTATE 40P01) it reports as unknown, so it is recognised by the
/// server's message, which PostgreSQL writes in English unless
/// `lc_messages` says otherwise.
pub(crate) fn is_retryable_database_error(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure | DatabaseErrorKind::ClosedConnection, _) => true,
        DieselError::DatabaseError(_, info) => info.message().starts_with("deadlock detected"),
        DieselError::BrokenTransactionManager => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(kind: DatabaseErrorKind, message: &str) -> MergeError {
        MergeError::Database { phase: Phase::Write, error: DieselError::DatabaseError(kind, Box::new(message.to_string())) }
    }

    #[test]
    fn retryable_errors_are_the_transient_ones() {
        assert!(database(DatabaseErrorKind::SerializationFailure, "could not serialize access").is_retryable());
        assert!(database(DatabaseErrorKind::ClosedConnection, "server closed the connection unexpectedly").is_retryable());
        assert!(database(DatabaseErrorKind::Unknown, "deadlock detected").is_retryable());
        assert!(!database(DatabaseErrorKind::UniqueViolation, "duplicate key value violates unique constraint").is_retryable());
        assert!(!MergeError::Setup { table: "t".into(), problem: "p".into() }.is_retryable());
        assert!(MergeError::LockTimeout { table: "t".into(), waited: Duration::from_secs(1) }.is_retryable());
        assert_eq!(database(DatabaseErrorKind::Unknown, "x").phase(), Phase::Write);
        assert!(!MergeError::Setup { table: "t".into(), problem: "p".into() }.is_bad_row());
    }
}
