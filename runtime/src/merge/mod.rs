//! `merge`: make a table's rows in a scope equal the truth an app collected, set-based and in one transaction.
//!
//! Works on every generated table with a `hash` role (and an `archive` role
//! for archive mode), from the table's facts ([`TableInfo`]) and its insert
//! struct's `Serialize`; no code per table. A [`Merge<R>`] is typed by the
//! row it merges: `Merge::new(NewApps::TABLE)` takes only `NewApps` rows.
//! One merge:
//!
//! 1. (setup) decides how rows compare: by sha, or by a key; a table with a
//!    unique key is compared by it unless told otherwise, and a merge whose
//!    comparison could break a unique key is refused before it starts;
//! 2. takes transaction-scoped advisory locks keyed by table and scope, so
//!    two merges of one scope run one after the other (waiting at most
//!    [`Merge::lock_timeout`]);
//! 3. hashes the incoming rows (on the calling thread plus helpers from a
//!    [`ThreadBudget`]) while another thread reads the scope's rows with a
//!    binary `COPY (SELECT …) TO STDOUT` (locator and sha, plus key columns
//!    and archive time for keyed merges);
//! 4. diffs both sides in memory (`diff`);
//! 5. checks the unique keys the comparison does not imply against every
//!    row of the table, in memory, and refuses a row that would repeat one;
//! 6. writes only what changed: one `UPDATE … WHERE id = ANY($1)` or
//!    `DELETE` for the gone rows, for keyed merges one COPY into a temporary
//!    table plus one `UPDATE … FROM` for rows changed in place, and one
//!    binary COPY of the new rows (per set of columns left to their default).
//!
//! Each merge is a `tracing` span (`merge`, with the table, mode and the
//! report's counts recorded on it) with one child span per phase. Errors
//! name their [`Phase`] and say whether a retry can help.
//!
//! The rule for an archived row whose hash comes back: when comparing by
//! sha, archived rows are history and stay as they are; the returning row
//! is inserted as a new active row (new id, new creation time), so the table
//! shows both periods. When comparing by key columns, a key names one row
//! for life: the most recently archived row with that key is updated and
//! made active again.

mod control;
mod copy;
mod diff;
mod encode;
mod error;
pub(crate) mod sql;

use std::cell::RefCell;
use std::io::Write;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use diesel::connection::Connection;
use diesel::pg::PgConnection;
use diesel::sql_types::{Array, BigInt, Bool, Text};
use diesel::RunQueryDsl;
use serde::Serialize;
use sha3::{Digest, Sha3_256};
use tracing::field::Empty;

pub use self::control::{CancelToken, ThreadBudget};
pub use self::error::{MergeError, Phase};

use self::copy::{copy_in, copy_out, CopyOutError, Tuple};
pub use self::copy::BinaryWriter;
use self::diff::{Existing, Incoming, KeyValue, Locator, Plan};
use self::sql::{LocatorType, Statements};
use crate::row::{is_key_type, RowReader, RowShape, RowValues, Slot};
use crate::table::{Role, SpecType, TableInfo, TableOf, UniqueKey};

/// What happens to active rows the truth no longer has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Set their `archive` column to now (the table needs an `archive` role).
    #[default]
    Archive,
    /// Delete them.
    Delete,
    /// Leave them: merge only adds (and, when comparing by key, updates).
    InsertOnly,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Archive => "archive",
            Mode::Delete => "delete",
            Mode::InsertOnly => "insert_only",
        }
    }
}

/// What to do with incoming rows that repeat an earlier one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Duplicates {
    /// Keep the first, count the rest in [`MergeReport::duplicates`].
    #[default]
    Count,
    /// Fail the merge, naming the first pair.
    Reject,
}

/// What one merge did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergeReport {
    /// New rows written.
    pub inserted: u64,
    /// Rows changed in place (keyed merges), archived ones brought back included.
    pub updated: u64,
    /// Active rows archived because the truth no longer has them.
    pub archived: u64,
    /// Rows deleted because the truth no longer has them.
    pub deleted: u64,
    /// Incoming rows already active as they are.
    pub unchanged: u64,
    /// Incoming rows that repeated an earlier one (same sha, or same key).
    pub duplicates: u64,
    pub elapsed: Duration,
    /// Where the time went; reading and hashing overlap.
    pub phases: MergePhases,
}

/// Time spent in each phase of one merge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MergePhases {
    /// Taking the advisory locks (waiting for another merge of the scope included).
    pub lock: Duration,
    /// Reading the scope's rows (COPY out), on its own thread.
    pub read: Duration,
    /// Hashing the incoming rows.
    pub hash: Duration,
    pub diff: Duration,
    /// Writing: COPY of new rows, updates, archive or delete.
    pub write: Duration,
}

impl From<CopyOutError> for MergeError {
    fn from(error: CopyOutError) -> Self {
        match error {
            CopyOutError::Database(error) => MergeError::Database { phase: Phase::Read, error },
            CopyOutError::Format(message) => MergeError::Stream { phase: Phase::Read, message },
        }
    }
}

/// One scope condition: a column and the value it must have.
#[derive(Clone, Debug)]
struct ScopeEntry {
    field: usize,
    value: KeyValue,
    /// The value as PostgreSQL reads it after `::type`; `None` for NULL.
    text: Option<String>,
}

/// How rows compare, decided at setup.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Compare {
    Sha,
    /// Field positions of the key (may be empty: one row per scope).
    Key(Vec<usize>),
}

/// A unique key the compare key does not imply: merge checks the rows it
/// would write against every row of the table before it writes any.
#[derive(Clone, Debug)]
struct CheckedKey {
    name: String,
    /// Insert-struct field positions of its columns.
    fields: Vec<usize>,
}

/// The comparison and the unique keys to check, decided at setup.
#[derive(Clone, Debug)]
struct Setup {
    statements: Statements,
    compare: Compare,
    checked: Vec<CheckedKey>,
}

impl Setup {
    /// Every checked key's fields, in order: the layout of a row's unique values.
    fn checked_fields(&self) -> Vec<usize> {
        self.checked.iter().flat_map(|key| key.fields.iter().copied()).collect()
    }
}

/// A merge of one table, configured once and run on as many truths as needed.
///
/// ```ignore
/// let report = Merge::new(NewApps::TABLE)?
///     .scope("group_name", "crawlers")?
///     .lock_timeout(Duration::from_secs(30))
///     .run(&mut conn, &rows)?;
/// ```
pub struct Merge<R> {
    shape: RowShape,
    mode: Mode,
    scope: Vec<ScopeEntry>,
    /// Field positions of the compare key the caller chose; `None`: the table's unique key, else sha.
    key: Option<Vec<usize>>,
    duplicates: Duplicates,
    threads: usize,
    budget: Option<ThreadBudget>,
    lock_timeout: Option<Duration>,
    cancel: Option<CancelToken>,
    rows: PhantomData<fn(&R)>,
}

impl<R> Clone for Merge<R> {
    fn clone(&self) -> Self {
        Merge {
            shape: self.shape.clone(),
            mode: self.mode,
            scope: self.scope.clone(),
            key: self.key.clone(),
            duplicates: self.duplicates,
            threads: self.threads,
            budget: self.budget.clone(),
            lock_timeout: self.lock_timeout,
            cancel: self.cancel.clone(),
            rows: PhantomData,
        }
    }
}

impl<R> std::fmt::Debug for Merge<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Merge")
            .field("table", &self.shape.info().table)
            .field("rows", &std::any::type_name::<R>())
            .field("mode", &self.mode)
            .field("scope", &self.scope)
            .field("key", &self.key)
            .field("duplicates", &self.duplicates)
            .field("threads", &self.threads)
            .field("lock_timeout", &self.lock_timeout)
            .finish_non_exhaustive()
    }
}

fn setup_error(info: &TableInfo, problem: impl Into<String>) -> MergeError {
    MergeError::Setup { table: info.table.clone(), problem: problem.into() }
}

/// The last path segment of a type's name (`NewApps` for `dc_schema::models::NewApps`).
fn short_type_name<R>() -> &'static str {
    let full = std::any::type_name::<R>();
    let plain = full.split('<').next().unwrap_or(full);
    plain.rsplit("::").next().unwrap_or(plain)
}

impl<R> Merge<R> {
    /// A merge of the table whose facts the generated crate attached to the
    /// row type (`Merge::new(NewApps::TABLE)`): archive mode, over the whole
    /// table, comparing by the table's unique key if it has one, else by sha.
    pub fn new(table: TableOf<R>) -> Result<Merge<R>, MergeError> {
        let info = TableInfo::parse(table.1)?;
        let rows = short_type_name::<R>();
        if rows != info.insert_struct {
            return Err(setup_error(&info, format!("these facts are for `{}` rows, not `{rows}`; use `{rows}::TABLE`", info.insert_struct)));
        }
        Merge::from_info(info)
    }

    /// A merge from facts read some other way, for rows whose type the
    /// facts cannot name (JSON objects, an app's own row struct with the
    /// same serde shape). The rows' serde struct name is still checked
    /// against the facts as they are read.
    pub fn from_info(info: TableInfo) -> Result<Merge<R>, MergeError> {
        if info.role(Role::Hash).is_none() {
            return Err(setup_error(&info, "the table has no column with `role: hash`; add the data_table mixin's `sha` column"));
        }
        let shape = RowShape::new(info.clone()).map_err(|error| setup_error(&info, error.to_string()))?;
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8);
        Ok(Merge {
            shape,
            mode: Mode::Archive,
            scope: Vec::new(),
            key: None,
            duplicates: Duplicates::Count,
            threads,
            budget: None,
            lock_timeout: None,
            cancel: None,
            rows: PhantomData,
        })
    }

    pub fn info(&self) -> &TableInfo {
        self.shape.info()
    }

    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    pub fn duplicates(mut self, policy: Duplicates) -> Self {
        self.duplicates = policy;
        self
    }

    /// How many threads may hash incoming rows, the calling one included
    /// (default: the cores, at most 8). Helpers beyond the calling thread
    /// come from the [`ThreadBudget`], so fewer may run.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// The budget helper threads come from (default: [`ThreadBudget::global`]).
    pub fn thread_budget(mut self, budget: ThreadBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Gives up with [`MergeError::LockTimeout`] when another merge of the
    /// same scope holds the lock longer than this (default: wait as long as it takes).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = Some(timeout);
        self
    }

    /// Makes the merge stop, rolled back, once `token` is cancelled.
    pub fn cancel_token(mut self, token: CancelToken) -> Self {
        self.cancel = Some(token);
        self
    }

    fn key_column_field(&self, column: &str, what: &str) -> Result<usize, MergeError> {
        let info = self.shape.info();
        let field = self.shape.field_of_column(column).ok_or_else(|| {
            setup_error(info, format!("{what} column `{column}` is not a column of the insert struct (role-managed and identity columns cannot be used)"))
        })?;
        let ty = &self.shape.column_of(field).ty;
        if !is_key_type(ty) {
            return Err(setup_error(
                info,
                format!("{what} column `{column}` has type {ty}; use an integer, bool, text, uuid, date, datetime or enum column, whose values compare exactly"),
            ));
        }
        Ok(field)
    }

    /// Restricts the merge to rows whose `column` equals `value`; call again
    /// for more columns (joined with AND). Existing rows outside the scope
    /// are never touched, and every incoming row must lie inside it.
    pub fn scope<V: Serialize + ?Sized>(mut self, column: &str, value: &V) -> Result<Self, MergeError> {
        let field = self.key_column_field(column, "scope")?;
        let info_column = self.shape.column_of(field).clone();
        let json = serde_json::to_value(value).map_err(|e| setup_error(self.shape.info(), format!("scope value for `{column}`: {e}")))?;
        let mut values = RowValues::default();
        let slot = crate::row::json::slot_from_json(&info_column, &info_column.ty, &json, &mut values)
            .map_err(|error| setup_error(self.shape.info(), format!("scope value: {error}")))?;
        let value = key_of(&slot, &values).ok_or_else(|| setup_error(self.shape.info(), format!("scope column `{column}` cannot hold {json}")))?;
        let text = scope_text(&slot, &values);
        self.scope.retain(|entry| entry.field != field);
        self.scope.push(ScopeEntry { field, value, text });
        Ok(self)
    }

    /// Compares rows by these columns instead of by sha: a key names one
    /// row, which is updated in place when its other columns change.
    pub fn compare_key(mut self, columns: &[&str]) -> Result<Self, MergeError> {
        let mut key = Vec::with_capacity(columns.len());
        for column in columns {
            key.push(self.key_column_field(column, "compare key")?);
        }
        self.key = Some(key);
        Ok(self)
    }

    fn column_names(&self, fields: &[usize]) -> Vec<&str> {
        fields.iter().map(|&f| self.shape.column_of(f).name.as_str()).collect()
    }

    /// How rows compare, and which unique keys need checking.
    ///
    /// A unique key `U` whose columns are all insert columns is implied by
    /// the comparison when the compare key's columns and the scope's lie
    /// within `U`: two rows equal on `U` are then equal on the key, so merge
    /// matches them to one stored row (archived ones included) and never
    /// writes a second. Every other such key is checked against the whole
    /// table before anything is written (`check_unique_keys`). Keys with a
    /// column the database fills (identity, roles) are the database's to
    /// keep. Without a chosen key, the primary key (else the first unique
    /// key) is the compare key, its scope columns aside.
    fn compare(&self) -> Result<(Compare, Vec<CheckedKey>), MergeError> {
        let info = self.shape.info();
        let scope: Vec<&str> = self.scope.iter().map(|entry| self.shape.column_of(entry.field).name.as_str()).collect();
        let keys: Vec<UniqueKey> = info.all_unique_keys().filter(|key| key.columns.iter().all(|c| self.shape.field_of_column(c).is_some())).collect();
        let compare = match (&self.key, keys.first()) {
            (Some(key), _) => Compare::Key(key.clone()),
            (None, Some(unique)) => {
                let mut fields = Vec::new();
                for column in unique.columns.iter().filter(|c| !scope.contains(&c.as_str())) {
                    let field = self.key_column_field(column, &format!("unique key `{}`", unique.name)).map_err(|error| match error {
                        MergeError::Setup { table, problem } => MergeError::Setup {
                            table,
                            problem: format!("{problem}; merge compares a table with a unique key by that key, so choose another with `compare_key`"),
                        },
                        other => other,
                    })?;
                    fields.push(field);
                }
                Compare::Key(fields)
            }
            (None, None) => Compare::Sha,
        };
        let key_columns: Vec<&str> = match &compare {
            Compare::Key(fields) => self.column_names(fields),
            Compare::Sha => Vec::new(),
        };
        let mut checked = Vec::new();
        for unique in &keys {
            let within = |columns: &[&str]| columns.iter().all(|c| unique.columns.iter().any(|u| u == c));
            if matches!(compare, Compare::Key(_)) && within(&key_columns) && within(&scope) {
                continue;
            }
            let fields = unique.columns.iter().filter_map(|c| self.shape.field_of_column(c)).collect();
            checked.push(CheckedKey { name: unique.name.clone(), fields });
        }
        Ok((compare, checked))
    }

    fn check_cancel(&self, phase: Phase) -> Result<(), MergeError> {
        match &self.cancel {
            Some(token) if token.is_cancelled() => Err(MergeError::Cancelled { table: self.shape.info().table.clone(), phase }),
            _ => Ok(()),
        }
    }
}

/// Errors inside the transaction: what Diesel reports on its own (begin,
/// commit) is the commit phase; everything else already names its phase.
struct InTransaction(MergeError);

impl From<diesel::result::Error> for InTransaction {
    fn from(error: diesel::result::Error) -> Self {
        InTransaction(MergeError::Database { phase: Phase::Commit, error })
    }
}

impl From<MergeError> for InTransaction {
    fn from(error: MergeError) -> Self {
        InTransaction(error)
    }
}

/// `map_err` for a database call in `phase`.
fn at(phase: Phase) -> impl Fn(diesel::result::Error) -> MergeError {
    move |error| MergeError::Database { phase, error }
}

#[derive(diesel::QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

impl<R: Serialize> Merge<R> {
    /// Runs the merge of `rows` in its own transaction (a savepoint inside
    /// the caller's, if there is one).
    pub fn run(&self, conn: &mut PgConnection, rows: &[R]) -> Result<MergeReport, MergeError>
    where
        R: Sync,
    {
        self.run_source(conn, &SliceSource(rows), Some(rows.len()), |setup| self.hash_slice(rows, setup))
    }

    /// Like [`run`](Self::run) for a truth too large to hold: `rows` is
    /// called once to hash every row and again to write the few that
    /// changed, and must yield the same rows in the same order each time.
    /// Memory then grows with the number of rows (about 100 bytes each for
    /// the hashes), not with their size.
    pub fn run_iter<I, F>(&self, conn: &mut PgConnection, rows: F) -> Result<MergeReport, MergeError>
    where
        R: Send,
        I: IntoIterator<Item = R>,
        F: Fn() -> I,
    {
        self.run_source(conn, &IterSource(&rows), None, |setup| self.hash_iter(rows(), setup))
    }

    fn run_source(&self, conn: &mut PgConnection, rows: &dyn Source<R>, count: Option<usize>, hash: impl FnOnce(&Setup) -> Result<Hashed, MergeError>) -> Result<MergeReport, MergeError> {
        let info = self.shape.info();
        let span = tracing::info_span!(
            "merge",
            table = %info.table,
            mode = self.mode.name(),
            compare = Empty,
            rows = Empty,
            inserted = Empty,
            updated = Empty,
            archived = Empty,
            deleted = Empty,
            unchanged = Empty,
            duplicates = Empty,
            elapsed_ms = Empty,
            error = Empty,
            phase = Empty,
        );
        if let Some(count) = count {
            span.record("rows", count as u64);
        }
        let _entered = span.enter();
        let started = Instant::now();
        let result = self.setup().and_then(|setup| {
            span.record("compare", tracing::field::display(match &setup.compare {
                Compare::Sha => "sha".to_string(),
                Compare::Key(fields) => self.column_names(fields).join(","),
            }));
            self.check_cancel(Phase::Setup)?;
            conn.transaction(|conn| self.run_in_transaction(conn, &setup, rows, &span, hash).map_err(InTransaction)).map_err(|InTransaction(error)| error)
        });
        match result {
            Ok(mut report) => {
                report.elapsed = started.elapsed();
                span.record("inserted", report.inserted);
                span.record("updated", report.updated);
                span.record("archived", report.archived);
                span.record("deleted", report.deleted);
                span.record("unchanged", report.unchanged);
                span.record("duplicates", report.duplicates);
                span.record("elapsed_ms", report.elapsed.as_millis() as u64);
                Ok(report)
            }
            Err(error) => {
                span.record("phase", error.phase().name());
                span.record("error", tracing::field::display(&error));
                Err(error)
            }
        }
    }

    fn setup(&self) -> Result<Setup, MergeError> {
        let _phase = tracing::info_span!("setup").entered();
        let info = self.shape.info();
        let sha = info.role(Role::Hash).map(|c| c.name.as_str()).unwrap_or_default();
        let archive = info.role(Role::Archive);
        if self.mode == Mode::Archive && archive.is_none() {
            return Err(setup_error(info, "archive mode needs a column with `role: archive`; add one, or merge with Mode::Delete"));
        }
        if let Some(archive) = archive {
            if !matches!(archive.ty, SpecType::DateTime | SpecType::DateTimeTz) {
                return Err(setup_error(info, format!("the archive column `{}` must be a datetime or datetimetz", archive.name)));
            }
        }
        let (compare, checked) = self.compare()?;
        let scope: Vec<(&str, &SpecType, bool)> = self
            .scope
            .iter()
            .map(|entry| {
                let column = self.shape.column_of(entry.field);
                (column.name.as_str(), &column.ty, entry.text.is_none())
            })
            .collect();
        let statements = Statements::new(info, locator_column(info), sha, archive.map(|a| (a.name.as_str(), &a.ty)), &scope);
        Ok(Setup { statements, compare, checked })
    }

    fn run_in_transaction(
        &self,
        conn: &mut PgConnection,
        setup: &Setup,
        rows: &dyn Source<R>,
        merge_span: &tracing::Span,
        hash: impl FnOnce(&Setup) -> Result<Hashed, MergeError>,
    ) -> Result<MergeReport, MergeError> {
        let (statements, compare) = (&setup.statements, &setup.compare);
        let mut phases = MergePhases::default();
        let started = Instant::now();
        {
            let _phase = tracing::info_span!("lock").entered();
            self.lock(conn, statements)?;
            let values: Vec<&String> = self.scope.iter().filter_map(|entry| entry.text.as_ref()).collect();
            if !values.is_empty() {
                let mut query = diesel::sql_query(statements.set_scope(values.len())).into_boxed();
                for value in values {
                    query = query.bind::<Text, _>(value.clone());
                }
                query.execute(conn).map_err(at(Phase::Lock))?;
            }
        }
        phases.lock = started.elapsed();
        self.check_cancel(Phase::Lock)?;
        // Read what the table holds on one thread while this one hashes.
        let (hashed, existing) = std::thread::scope(|threads| {
            let dispatch = tracing::dispatcher::get_default(Clone::clone);
            let reading: &mut PgConnection = &mut *conn;
            let reader = threads.spawn(move || {
                // Spans on this thread go to the caller's subscriber, scoped or global.
                tracing::dispatcher::with_default(&dispatch, || {
                    let _phase = tracing::info_span!(parent: merge_span, "read").entered();
                    let started = Instant::now();
                    let existing = self.read_existing(reading, statements, compare);
                    let held = existing.and_then(|existing| Ok((existing, self.read_unique_values(reading, setup)?)));
                    (held, started.elapsed())
                })
            });
            let started = Instant::now();
            let hashed = tracing::info_span!("hash").in_scope(|| hash(setup));
            phases.hash = started.elapsed();
            let (existing, read) = reader.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            phases.read = read;
            (hashed, existing)
        });
        let Hashed { incoming, masks, uniques } = hashed?;
        let (existing, held) = existing?;
        merge_span.record("rows", incoming.len() as u64);
        self.check_cancel(Phase::Read)?;
        let started = Instant::now();
        let plan = tracing::info_span!("diff").in_scope(|| match compare {
            Compare::Sha => diff::by_sha(incoming, existing),
            Compare::Key(_) => diff::by_key(incoming, existing),
        });
        phases.diff = started.elapsed();
        if self.duplicates == Duplicates::Reject {
            if let Some(&(first, repeat)) = plan.duplicates.first() {
                let by = if *compare == Compare::Sha { "sha".to_string() } else { "compare key".to_string() };
                return Err(MergeError::Duplicate { first: first as usize, repeat: repeat as usize, by });
            }
        }
        if !setup.checked.is_empty() {
            self.check_unique_keys(setup, &plan, &uniques, held)?;
        }
        self.check_cancel(Phase::Diff)?;
        let started = Instant::now();
        let mut report = tracing::info_span!("write").in_scope(|| self.write(conn, statements, rows, &masks, &plan))?;
        phases.write = started.elapsed();
        report.phases = phases;
        Ok(report)
    }

    /// Hashes a slice in chunks: one on this thread, the others on helpers.
    fn hash_slice(&self, rows: &[R], setup: &Setup) -> Result<Hashed, MergeError>
    where
        R: Sync,
    {
        let budget = self.budget.as_ref().unwrap_or_else(|| ThreadBudget::global());
        let helpers = budget.take(self.wanted_helpers(rows.len()));
        let chunk_size = rows.len().div_ceil(helpers.count + 1).max(1);
        let hash_span = tracing::Span::current();
        let results: Vec<Result<Hashed, MergeError>> = std::thread::scope(|threads| {
            let mut chunks = rows.chunks(chunk_size).enumerate();
            let own = chunks.next();
            let workers: Vec<_> = chunks
                .map(|(n, chunk)| {
                    let span = hash_span.clone();
                    threads.spawn(move || span.in_scope(|| self.hash_rows(chunk, n * chunk_size, setup)))
                })
                .collect();
            let mut results = vec![own.map_or_else(|| Ok(Hashed::default()), |(_, chunk)| self.hash_rows(chunk, 0, setup))];
            results.extend(workers.into_iter().map(|worker| worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))));
            results
        });
        drop(helpers);
        let mut all = Hashed { incoming: Vec::with_capacity(rows.len()), masks: Vec::with_capacity(rows.len()), uniques: Vec::new() };
        for result in results {
            let part = result?;
            all.incoming.extend(part.incoming);
            all.masks.extend(part.masks);
            all.uniques.extend(part.uniques);
        }
        Ok(all)
    }

    /// Hashes rows as an iterator yields them: this thread pulls batches,
    /// helpers hash them (or this thread, when the budget has none free),
    /// and each batch is dropped once hashed.
    fn hash_iter(&self, rows: impl IntoIterator<Item = R>, setup: &Setup) -> Result<Hashed, MergeError>
    where
        R: Send,
    {
        const BATCH: usize = 2048;
        let budget = self.budget.as_ref().unwrap_or_else(|| ThreadBudget::global());
        let helpers = budget.take(self.threads.saturating_sub(1));
        let mut parts: Vec<(usize, Hashed)> = Vec::new();
        let mut failure: Option<MergeError> = None;
        if helpers.count == 0 {
            let mut offset = 0;
            let mut batch = Vec::with_capacity(BATCH);
            let mut rows = rows.into_iter().peekable();
            while rows.peek().is_some() {
                batch.extend(rows.by_ref().take(BATCH));
                self.check_cancel(Phase::Hash)?;
                parts.push((offset, self.hash_rows(&batch, offset, setup)?));
                offset += batch.len();
                batch.clear();
            }
        } else {
            let (work, queue) = std::sync::mpsc::sync_channel::<(usize, Vec<R>)>(helpers.count * 2);
            let queue = std::sync::Mutex::new(queue);
            let hash_span = tracing::Span::current();
            std::thread::scope(|threads| {
                let workers: Vec<_> = (0..helpers.count)
                    .map(|_| {
                        let queue = &queue;
                        let span = hash_span.clone();
                        threads.spawn(move || {
                            let _entered = span.enter();
                            let mut done: Vec<(usize, Hashed)> = Vec::new();
                            let mut failed: Option<MergeError> = None;
                            // On failure keep draining, so the producer never blocks on a full queue.
                            while let Ok((offset, batch)) = queue.lock().unwrap_or_else(|e| e.into_inner()).recv() {
                                if failed.is_none() {
                                    match self.hash_rows(&batch, offset, setup) {
                                        Ok(hashed) => done.push((offset, hashed)),
                                        Err(error) => failed = Some(error),
                                    }
                                }
                            }
                            (done, failed)
                        })
                    })
                    .collect();
                let mut offset = 0;
                let mut batch = Vec::with_capacity(BATCH);
                for row in rows {
                    batch.push(row);
                    if batch.len() == BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        if self.check_cancel(Phase::Hash).is_err() || work.send((offset, full)).is_err() {
                            break;
                        }
                        offset += BATCH;
                    }
                }
                if !batch.is_empty() {
                    let _ = work.send((offset, batch));
                }
                drop(work);
                for worker in workers {
                    let (done, failed) = worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    parts.extend(done);
                    failure = failure.take().or(failed);
                }
            });
        }
        drop(helpers);
        self.check_cancel(Phase::Hash)?;
        if let Some(error) = failure {
            return Err(error);
        }
        parts.sort_unstable_by_key(|(offset, _)| *offset);
        let mut all = Hashed::default();
        for (_, part) in parts {
            all.incoming.extend(part.incoming);
            all.masks.extend(part.masks);
            all.uniques.extend(part.uniques);
        }
        Ok(all)
    }

    fn wanted_helpers(&self, rows: usize) -> usize {
        // Threads pay off only once there is real work to split.
        if rows < 4096 {
            0
        } else {
            self.threads - 1
        }
    }

    /// Takes the merge's advisory locks: blocking, or, with a timeout or a
    /// cancel token, by trying until the deadline and checking the token.
    fn lock(&self, conn: &mut PgConnection, statements: &Statements) -> Result<(), MergeError> {
        let info = self.shape.info();
        let table_key = lock_key(&[&info.qualified_name()]);
        // Scoped merges share the table lock (so a whole-table merge waits
        // for them) and hold their scope's lock alone.
        let wanted: Vec<(i64, bool)> = if self.scope.is_empty() {
            vec![(table_key, false)]
        } else {
            let mut parts = vec![info.qualified_name()];
            let mut scope: Vec<(&str, String)> = self
                .scope
                .iter()
                .map(|entry| (self.shape.column_of(entry.field).name.as_str(), entry.text.clone().unwrap_or_else(|| "\0NULL".into())))
                .collect();
            scope.sort();
            for (column, value) in scope {
                parts.push(column.to_string());
                parts.push(value);
            }
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            vec![(table_key, true), (lock_key(&parts), false)]
        };
        if self.lock_timeout.is_none() && self.cancel.is_none() {
            for (key, shared) in wanted {
                diesel::sql_query(statements.lock(shared)).bind::<BigInt, _>(key).execute(conn).map_err(at(Phase::Lock))?;
            }
            return Ok(());
        }
        let started = Instant::now();
        let mut pause = Duration::from_millis(2);
        for (key, shared) in wanted {
            loop {
                let got: Locked = diesel::sql_query(statements.try_lock(shared)).bind::<BigInt, _>(key).get_result(conn).map_err(at(Phase::Lock))?;
                if got.locked {
                    break;
                }
                self.check_cancel(Phase::Lock)?;
                let waited = started.elapsed();
                if let Some(timeout) = self.lock_timeout {
                    if waited >= timeout {
                        return Err(MergeError::LockTimeout { table: info.table.clone(), waited });
                    }
                    pause = pause.min(timeout - waited);
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
        }
        Ok(())
    }

    /// Hashes `rows` (which start at `offset` in the caller's slice), checks
    /// they lie in the scope, and reads their compare keys.
    fn hash_rows(&self, rows: &[R], offset: usize, setup: &Setup) -> Result<Hashed, MergeError> {
        let compare = &setup.compare;
        let unique_fields = setup.checked_fields();
        let key_fields: &[usize] = match compare {
            Compare::Key(fields) => fields,
            Compare::Sha => &[],
        };
        let mut extra: Vec<usize> = key_fields.to_vec();
        extra.extend(&unique_fields);
        extra.extend(self.scope.iter().map(|entry| entry.field));
        extra.extend((0..self.shape.fields.len()).filter(|&f| self.shape.fields[f].default_bit.is_some()));
        let mut reader = RowReader::new(&self.shape, &extra);
        let mut incoming = Vec::with_capacity(rows.len());
        let mut masks = Vec::with_capacity(rows.len());
        let mut uniques = Vec::new();
        for (n, row) in rows.iter().enumerate() {
            let index = offset + n;
            if n % 4096 == 4095 {
                self.check_cancel(Phase::Hash)?;
            }
            reader.read(row).map_err(|error| MergeError::Row { index, error })?;
            for entry in &self.scope {
                let found = key_of(&reader.values.slots[entry.field], &reader.values);
                if found.as_ref() != Some(&entry.value) {
                    return Err(MergeError::OutOfScope {
                        index,
                        column: self.shape.column_of(entry.field).name.clone(),
                        expected: entry.text.clone().unwrap_or_else(|| "NULL".into()),
                        found: scope_text(&reader.values.slots[entry.field], &reader.values).unwrap_or_else(|| "NULL".into()),
                    });
                }
            }
            let key: Box<[KeyValue]> = key_fields.iter().map(|&f| key_of(&reader.values.slots[f], &reader.values).unwrap_or(KeyValue::Null)).collect();
            masks.push(reader.values.defaulted);
            if !unique_fields.is_empty() {
                uniques.push(unique_fields.iter().map(|&f| key_of(&reader.values.slots[f], &reader.values).unwrap_or(KeyValue::Null)).collect());
            }
            let sha = reader.digest();
            incoming.push(Incoming { sha, key, index: u32::try_from(index).map_err(|_| MergeError::Stream { phase: Phase::Hash, message: "more than 4 billion rows in one merge".into() })? });
        }
        if *compare == Compare::Sha {
            diff::sort_incoming(&mut incoming);
        }
        Ok(Hashed { incoming, masks, uniques })
    }

    fn read_existing(&self, conn: &mut PgConnection, statements: &Statements, compare: &Compare) -> Result<Vec<Existing>, MergeError> {
        let (keyed, key_fields): (bool, &[usize]) = match compare {
            Compare::Key(fields) => (true, fields),
            Compare::Sha => (false, &[]),
        };
        let key_columns = self.column_names(key_fields);
        let key_types: Vec<&SpecType> = key_fields.iter().map(|&f| &self.shape.column_of(f).ty).collect();
        let query = statements.existing(keyed.then_some(key_columns.as_slice()));
        let cancelled = || self.cancel.as_ref().is_some_and(CancelToken::is_cancelled);
        let mut existing = Vec::new();
        let locator_type = statements.locator_type;
        let read = copy_out(conn, &query, |tuple: &Tuple<'_>| {
            if existing.len() % 4096 == 4095 && cancelled() {
                return Err("cancelled".into());
            }
            let locator = read_locator(tuple.get(0), locator_type)?;
            let sha = tuple.get(1).and_then(sha_from_hex);
            let mut key = Vec::new();
            let mut archived_at = None;
            if keyed {
                archived_at = tuple.get(2).map(read_i64).transpose()?;
                for (n, ty) in key_types.iter().enumerate() {
                    key.push(read_key(tuple.get(3 + n), ty)?);
                }
            }
            existing.push(Existing { locator, sha, key: key.into_boxed_slice(), archived_at });
            Ok(())
        });
        self.check_cancel(Phase::Read)?;
        read?;
        if !keyed {
            diff::sort_existing(&mut existing);
        }
        Ok(existing)
    }

    /// For checked unique keys: every row of the table (other scopes and
    /// archived rows included) with its values of those keys' columns.
    fn read_unique_values(&self, conn: &mut PgConnection, setup: &Setup) -> Result<HeldValues, MergeError> {
        let fields = setup.checked_fields();
        if fields.is_empty() {
            return Ok(Vec::new());
        }
        let columns = self.column_names(&fields);
        let types: Vec<&SpecType> = fields.iter().map(|&f| &self.shape.column_of(f).ty).collect();
        let locator_type = setup.statements.locator_type;
        let mut held = Vec::new();
        copy_out(conn, &setup.statements.unique_values(&columns), |tuple: &Tuple<'_>| {
            let locator = read_locator(tuple.get(0), locator_type)?;
            let values = types.iter().enumerate().map(|(n, ty)| read_key(tuple.get(1 + n), ty)).collect::<Result<Box<[KeyValue]>, String>>()?;
            held.push((locator, values));
            Ok(())
        })?;
        Ok(held)
    }

    /// Refuses, before anything is written, a plan whose rows would repeat
    /// a checked unique key: the table after the merge is simulated in
    /// memory (rows updated in place take their new values, deleted rows
    /// free theirs, archived rows keep them), and a value two rows would
    /// share (NULLs aside) is reported with the incoming row that brings it.
    fn check_unique_keys(&self, setup: &Setup, plan: &Plan, uniques: &[Box<[KeyValue]>], held: HeldValues) -> Result<(), MergeError> {
        use std::collections::HashMap;
        /// Whose values a row of the simulated table holds.
        #[derive(Clone, Copy)]
        enum Holder {
            Stored,
            Incoming(u32),
        }
        let mut stored: HashMap<Locator, &[KeyValue]> = held.iter().map(|(locator, values)| (*locator, &values[..])).collect();
        if self.mode == Mode::Delete {
            for locator in &plan.gone {
                stored.remove(locator);
            }
        }
        let updated: HashMap<Locator, u32> = plan.updates.iter().map(|&(index, _, locator, _)| (locator, index)).collect();
        let mut rows: Vec<(Holder, &[KeyValue])> = stored
            .iter()
            .map(|(locator, values)| match updated.get(locator) {
                Some(&index) => (Holder::Incoming(index), &uniques[index as usize][..]),
                None => (Holder::Stored, *values),
            })
            .collect();
        rows.extend(plan.inserts.iter().map(|&(index, _)| (Holder::Incoming(index), &uniques[index as usize][..])));
        let mut offset = 0;
        for key in &setup.checked {
            let range = offset..offset + key.fields.len();
            offset = range.end;
            let mut seen: HashMap<&[KeyValue], Holder> = HashMap::new();
            for &(holder, values) in &rows {
                let values = &values[range.clone()];
                if values.contains(&KeyValue::Null) {
                    continue;
                }
                let Some(&other) = seen.get(values) else {
                    seen.insert(values, holder);
                    continue;
                };
                let (index, other) = match (holder, other) {
                    (Holder::Incoming(index), other) | (other, Holder::Incoming(index)) => (index, other),
                    // Two stored rows the database already holds: not this merge's doing.
                    (Holder::Stored, Holder::Stored) => continue,
                };
                let shown: Vec<String> = values.iter().map(ToString::to_string).collect();
                let holder = match other {
                    Holder::Incoming(other) => format!("row {other} of the truth"),
                    Holder::Stored => "a stored row this merge does not match (archived, or in another scope)".into(),
                };
                return Err(MergeError::UniqueConflict {
                    index: index as usize,
                    key: key.name.clone(),
                    columns: self.column_names(&key.fields).join(", "),
                    values: shown.join(", "),
                    holder,
                });
            }
        }
        Ok(())
    }

    fn write(&self, conn: &mut PgConnection, statements: &Statements, rows: &dyn Source<R>, masks: &[u64], plan: &Plan) -> Result<MergeReport, MergeError> {
        let mut report = MergeReport {
            unchanged: plan.unchanged as u64,
            duplicates: plan.duplicates.len() as u64,
            ..MergeReport::default()
        };
        // Gone rows first, so a value they free (deleted rows) is free for the rows written next.
        if !plan.gone.is_empty() {
            let gone = match self.mode {
                Mode::InsertOnly => None,
                Mode::Archive => statements.archive_rows(),
                Mode::Delete => Some(statements.delete_rows()),
            };
            if let Some(statement) = gone {
                self.check_cancel(Phase::Write)?;
                let count = bind_locators(diesel::sql_query(statement).into_boxed(), &plan.gone, statements.locator_type).execute(conn).map_err(at(Phase::Write))? as u64;
                match self.mode {
                    Mode::Archive => report.archived = count,
                    Mode::Delete => report.deleted = count,
                    Mode::InsertOnly => {}
                }
            }
        }
        if !plan.updates.is_empty() {
            report.updated = self.update_rows(conn, statements, rows, masks, &plan.updates)?;
        }
        // New rows, grouped by which columns they leave to the database default.
        let mut groups: Vec<(u64, Vec<Numbered>)> = Vec::new();
        for &(index, sha) in &plan.inserts {
            let mask = masks[index as usize];
            match groups.iter_mut().find(|(m, _)| *m == mask) {
                Some((_, members)) => members.push((index, sha)),
                None => groups.push((mask, vec![(index, sha)])),
            }
        }
        for (mask, members) in &groups {
            self.check_cancel(Phase::Write)?;
            report.inserted += self.copy_rows(conn, statements, rows, members, *mask)? as u64;
        }
        Ok(report)
    }

    /// Insert columns a row with `mask` writes (the others take their default).
    fn written_fields(&self, mask: u64) -> Vec<usize> {
        (0..self.shape.fields.len()).filter(|&f| self.shape.fields[f].default_bit.is_none_or(|bit| mask & (1 << bit) == 0)).collect()
    }

    fn copy_rows(&self, conn: &mut PgConnection, statements: &Statements, rows: &dyn Source<R>, members: &[Numbered], mask: u64) -> Result<usize, MergeError> {
        let indices: Vec<u32> = members.iter().map(|&(index, _)| index).collect();
        let fields = self.written_fields(mask);
        let sha_column = self.shape.info().role(Role::Hash).map(|c| c.name.as_str()).unwrap_or_default();
        let mut columns: Vec<&str> = fields.iter().map(|&f| self.shape.column_of(f).name.as_str()).collect();
        columns.push(sha_column);
        let target = statements.insert_target(&columns);
        let reader = RefCell::new(RowReader::all_fields(&self.shape));
        copy_in(conn, &target, |out: &mut dyn Write| -> Result<(), MergeError> {
            let mut reader = reader.borrow_mut();
            let mut writer = BinaryWriter::new();
            let mut next = 0;
            rows.visit(&indices, &mut |index, row| {
                let sha = members[next].1;
                next += 1;
                self.encode_row(&mut reader, &mut writer, row, (index, &sha), &fields, None)?;
                writer.flush_if_full(out).map_err(|e| MergeError::Stream { phase: Phase::Write, message: e.to_string() })
            })?;
            writer.finish(out).map_err(|e| MergeError::Stream { phase: Phase::Write, message: e.to_string() })
        })
    }

    /// One tuple: optionally the locator and mask (for staged updates), the
    /// written fields, and the sha.
    fn encode_row(
        &self,
        reader: &mut RowReader<'_>,
        writer: &mut BinaryWriter,
        row: &R,
        (index, sha): (u32, &[u8; 32]),
        fields: &[usize],
        staged: Option<(Locator, LocatorType, u64)>,
    ) -> Result<(), MergeError> {
        let index = index as usize;
        if index % 4096 == 4095 {
            self.check_cancel(Phase::Write)?;
        }
        reader.read(row).map_err(|error| MergeError::Row { index, error })?;
        writer.begin_tuple(fields.len() + 1 + if staged.is_some() { 2 } else { 0 });
        if let Some((locator, locator_type, mask)) = staged {
            write_locator(writer, locator, locator_type);
            writer.field(&(mask as i64).to_be_bytes());
        }
        for &field in fields {
            let column = self.shape.column_of(field);
            encode::write_slot(writer, column, &column.ty, &reader.values.slots[field], &reader.values).map_err(|error| MergeError::Row { index, error })?;
        }
        // The sha from the hash pass: hashing again would double the work.
        writer.field(crate::row::hex_of(sha).as_bytes());
        Ok(())
    }

    /// Keyed merges: stage the changed rows in a temporary table with one
    /// COPY, then update them with one statement per default mask.
    fn update_rows(&self, conn: &mut PgConnection, statements: &Statements, rows: &dyn Source<R>, masks: &[u64], updates: &[(u32, [u8; 32], Locator, bool)]) -> Result<u64, MergeError> {
        let mut updates = updates.to_vec();
        updates.sort_unstable_by_key(|&(index, ..)| index);
        let indices: Vec<u32> = updates.iter().map(|&(index, ..)| index).collect();
        let fields: Vec<usize> = (0..self.shape.fields.len()).collect();
        let sha_column = self.shape.info().role(Role::Hash).map(|c| c.name.as_str()).unwrap_or_default();
        let mut columns: Vec<&str> = fields.iter().map(|&f| self.shape.column_of(f).name.as_str()).collect();
        columns.push(sha_column);
        diesel::sql_query(statements.create_changes(&columns)).execute(conn).map_err(at(Phase::Write))?;
        let reader = RefCell::new(RowReader::all_fields(&self.shape));
        copy_in(conn, &statements.changes_target(&columns), |out: &mut dyn Write| -> Result<(), MergeError> {
            let mut reader = reader.borrow_mut();
            let mut writer = BinaryWriter::new();
            let mut next = 0;
            rows.visit(&indices, &mut |index, row| {
                let (_, sha, locator, _) = updates[next];
                next += 1;
                self.encode_row(&mut reader, &mut writer, row, (index, &sha), &fields, Some((locator, statements.locator_type, masks[index as usize])))?;
                writer.flush_if_full(out).map_err(|e| MergeError::Stream { phase: Phase::Write, message: e.to_string() })
            })?;
            writer.finish(out).map_err(|e| MergeError::Stream { phase: Phase::Write, message: e.to_string() })
        })?;
        let mut distinct: Vec<u64> = indices.iter().map(|&index| masks[index as usize]).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let mut updated = 0;
        for mask in distinct {
            let defaulted: Vec<&str> = fields
                .iter()
                .filter(|&&f| self.shape.fields[f].default_bit.is_some_and(|bit| mask & (1 << bit) != 0))
                .map(|&f| self.shape.column_of(f).name.as_str())
                .collect();
            updated += diesel::sql_query(statements.apply_changes(&columns, &defaulted, mask)).execute(conn).map_err(at(Phase::Write))? as u64;
        }
        diesel::sql_query(statements.drop_changes()).execute(conn).map_err(at(Phase::Write))?;
        Ok(updated)
    }
}

/// A stored row and its values of the checked unique keys' columns.
type HeldValues = Vec<(Locator, Box<[KeyValue]>)>;

/// An incoming row's position and sha.
type Numbered = (u32, [u8; 32]);

/// Incoming rows reduced to hashes, with each row's default mask and
/// checked unique-key values (by position).
#[derive(Default)]
struct Hashed {
    incoming: Vec<Incoming>,
    masks: Vec<u64>,
    uniques: Vec<Box<[KeyValue]>>,
}

/// Where the rows to write come from: visited in position order, only at
/// the given positions (ascending).
trait Source<T> {
    fn visit(&self, indices: &[u32], each: &mut dyn FnMut(u32, &T) -> Result<(), MergeError>) -> Result<(), MergeError>;
}

struct SliceSource<'r, T>(&'r [T]);

impl<T> Source<T> for SliceSource<'_, T> {
    fn visit(&self, indices: &[u32], each: &mut dyn FnMut(u32, &T) -> Result<(), MergeError>) -> Result<(), MergeError> {
        for &index in indices {
            each(index, &self.0[index as usize])?;
        }
        Ok(())
    }
}

struct IterSource<'f, F>(&'f F);

impl<T, I, F> Source<T> for IterSource<'_, F>
where
    I: IntoIterator<Item = T>,
    F: Fn() -> I,
{
    fn visit(&self, indices: &[u32], each: &mut dyn FnMut(u32, &T) -> Result<(), MergeError>) -> Result<(), MergeError> {
        let mut wanted = indices.iter().peekable();
        for (position, row) in (self.0)().into_iter().enumerate() {
            let Some(&&next) = wanted.peek() else { break };
            if position as u32 == next {
                each(next, &row)?;
                wanted.next();
            }
        }
        match wanted.next() {
            None => Ok(()),
            Some(missing) => Err(MergeError::Stream {
                phase: Phase::Write,
                message: format!("the rows ended before row {missing} on the second pass; `run_iter` needs the same rows in the same order each time"),
            }),
        }
    }
}

/// The row locator: the single-column integer primary key, else an
/// integer identity column, else the physical address (`ctid`).
fn locator_column(info: &TableInfo) -> Option<(&str, LocatorType)> {
    let integer = |name: &str| {
        info.column(name).and_then(|c| match c.ty {
            SpecType::SmallInt => Some((c.name.as_str(), LocatorType::SmallInt)),
            SpecType::Int => Some((c.name.as_str(), LocatorType::Int)),
            SpecType::BigInt => Some((c.name.as_str(), LocatorType::BigInt)),
            _ => None,
        })
    };
    if let [key] = info.primary_key.as_slice() {
        if let Some(found) = integer(key) {
            return Some(found);
        }
    }
    info.columns.iter().filter(|c| c.identity).find_map(|c| integer(&c.name))
}

fn bind_locators<'q>(
    query: diesel::query_builder::BoxedSqlQuery<'q, diesel::pg::Pg, diesel::query_builder::SqlQuery>,
    locators: &[Locator],
    ty: LocatorType,
) -> diesel::query_builder::BoxedSqlQuery<'q, diesel::pg::Pg, diesel::query_builder::SqlQuery> {
    match ty {
        LocatorType::Ctid => {
            let tids: Vec<String> = locators
                .iter()
                .map(|l| match l {
                    Locator::Ctid { block, offset } => format!("({block},{offset})"),
                    Locator::Id(id) => id.to_string(),
                })
                .collect();
            query.bind::<Array<Text>, _>(tids)
        }
        _ => {
            let ids: Vec<i64> = locators.iter().map(|l| if let Locator::Id(id) = l { *id } else { 0 }).collect();
            query.bind::<Array<BigInt>, _>(ids)
        }
    }
}

fn write_locator(writer: &mut BinaryWriter, locator: Locator, ty: LocatorType) {
    match locator {
        // The staging table's locator column has the id column's own type.
        Locator::Id(id) => match ty {
            LocatorType::SmallInt => writer.field(&(id as i16).to_be_bytes()),
            LocatorType::Int => writer.field(&(id as i32).to_be_bytes()),
            _ => writer.field(&id.to_be_bytes()),
        },
        Locator::Ctid { block, offset } => {
            let mut bytes = [0_u8; 6];
            bytes[..4].copy_from_slice(&block.to_be_bytes());
            bytes[4..].copy_from_slice(&offset.to_be_bytes());
            writer.field(&bytes);
        }
    }
}

fn read_locator(bytes: Option<&[u8]>, ty: LocatorType) -> Result<Locator, String> {
    let bytes = bytes.ok_or("a row without id")?;
    Ok(match (ty, bytes.len()) {
        (LocatorType::Ctid, 6) => Locator::Ctid {
            block: u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            offset: u16::from_be_bytes([bytes[4], bytes[5]]),
        },
        (_, 2) => Locator::Id(i64::from(i16::from_be_bytes([bytes[0], bytes[1]]))),
        (_, 4) => Locator::Id(i64::from(i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))),
        (_, 8) => Locator::Id(read_i64(bytes)?),
        (_, n) => return Err(format!("a row id of {n} bytes")),
    })
}

fn read_i64(bytes: &[u8]) -> Result<i64, String> {
    <[u8; 8]>::try_from(bytes).map(i64::from_be_bytes).map_err(|_| format!("expected 8 bytes, got {}", bytes.len()))
}

/// A stored `sha` (64 hex digits) as bytes; anything else reads as no sha.
fn sha_from_hex(text: &[u8]) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut sha = [0_u8; 32];
    for (n, pair) in text.chunks(2).enumerate() {
        sha[n] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(sha)
}

/// A key column's binary value as a [`KeyValue`].
fn read_key(bytes: Option<&[u8]>, ty: &SpecType) -> Result<KeyValue, String> {
    let Some(bytes) = bytes else { return Ok(KeyValue::Null) };
    let wrong = || format!("a {ty} value of {} bytes", bytes.len());
    Ok(match ty {
        SpecType::SmallInt | SpecType::Int | SpecType::BigInt => match read_locator(Some(bytes), LocatorType::BigInt)? {
            Locator::Id(value) => KeyValue::Int(value),
            Locator::Ctid { .. } => return Err(wrong()),
        },
        SpecType::Bool => KeyValue::Bool(bytes.first().ok_or_else(wrong)? != &0),
        SpecType::String | SpecType::Text => KeyValue::Text(std::str::from_utf8(bytes).map_err(|e| e.to_string())?.into()),
        SpecType::Uuid => KeyValue::Uuid(<[u8; 16]>::try_from(bytes).map_err(|_| wrong())?),
        SpecType::Date => KeyValue::Date(<[u8; 4]>::try_from(bytes).map(i32::from_be_bytes).map_err(|_| wrong())?),
        SpecType::DateTime => KeyValue::Timestamp(read_i64(bytes)?),
        _ => return Err(format!("a {ty} column cannot be a compare key")),
    })
}

/// A captured value as a [`KeyValue`]; `None` for types that cannot be keys.
fn key_of(slot: &Slot, values: &RowValues) -> Option<KeyValue> {
    Some(match slot {
        Slot::Null => KeyValue::Null,
        Slot::Bool(b) => KeyValue::Bool(*b),
        Slot::Int(i) => KeyValue::Int(*i),
        Slot::Text(range) => KeyValue::Text(values.text[range.clone()].into()),
        Slot::Uuid(u) => KeyValue::Uuid(*u.as_bytes()),
        Slot::Date(d) => KeyValue::Date(encode::date_days(d)),
        Slot::Timestamp(t) => KeyValue::Timestamp(encode::timestamp_micros(t)?),
        _ => return None,
    })
}

/// A scope value as text PostgreSQL casts back to the column's type.
fn scope_text(slot: &Slot, values: &RowValues) -> Option<String> {
    Some(match slot {
        Slot::Null => return None,
        Slot::Bool(b) => b.to_string(),
        Slot::Int(i) => i.to_string(),
        Slot::Text(range) => values.text[range.clone()].to_string(),
        Slot::Uuid(u) => u.hyphenated().to_string(),
        Slot::Date(d) => d.format("%Y-%m-%d").to_string(),
        Slot::Timestamp(t) => t.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        other => format!("{other:?}"),
    })
}

/// A 64-bit advisory lock key from text parts.
fn lock_key(parts: &[&str]) -> i64 {
    let mut hasher = Sha3_256::new();
    hasher.update(b"dc_merge");
    for part in parts {
        hasher.update([0]);
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    i64::from_be_bytes([digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7]])
}
