//! `dcgen verify`: the drift check. Compares a live PostgreSQL schema with what the
//! spec's migrations build, and names every difference with a hint at its cause.
//!
//! How: the spec's schema is created for real, as temporary tables in the same session
//! (rendered by `emit::postgres` from the initial plan, inside a transaction that is
//! rolled back), and both schemas are read back through the server's own deparsers
//! ([`catalog`]). PostgreSQL normalizes what it stores (`'x'::character varying`,
//! `CHECK (amount >= 0::numeric)`), so comparing its output for both sides is exact
//! where comparing the spec's text with the catalog's could only be loose.
//! The comparison itself ([`compare`]) is pure.

mod catalog;
pub mod compare;
pub mod redact;
pub mod snapshot;

use std::fmt;
use std::path::{Path, PathBuf};

pub use compare::{Difference, Hint, Problem};

use crate::model::{Dialect, Model, Role};

/// Options of `dcgen verify` beyond the spec and the database.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The folder of PostgreSQL migrations (`<version>_<name>/up.sql`). When given, the
    /// applied ones are looked up and the hints say for sure whether migrations are
    /// pending; otherwise each hint guesses from the kind of difference.
    pub migrations: Option<PathBuf>,
}

/// Why the database could not be compared (drift is not an error: see [`Report`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the spec does not list `postgres` in `project.dialects`; `dcgen verify` checks PostgreSQL databases only")]
    NotPostgres,
    #[error("cannot render the expected schema: {0}")]
    Render(#[from] crate::Error),
    #[error("cannot connect to {database}: {message}\nhelp: check the host, port, user, password and database name of --database-url (or DATABASE_URL), and that the server accepts connections from here")]
    Connect { database: String, message: String },
    #[error(
        "cannot build the expected schema as temporary tables in {database}: {message}\nhelp: `dcgen verify` creates the spec's tables as temporary tables in a transaction it rolls back; connect to a primary server (not a read-only replica) as a user with the TEMPORARY privilege on the database"
    )]
    ExpectedSchema { database: String, message: String },
    #[error("cannot read the catalog of {database} ({step}): {message}\nhelp: the user needs to read the catalog and SELECT the codebook tables")]
    Catalog { database: String, step: &'static str, message: String },
    #[error("cannot read the migrations folder `{path}`: {source}\nhelp: pass the folder holding the PostgreSQL migrations, e.g. --migrations generated/migrations/postgres")]
    Migrations { path: PathBuf, source: std::io::Error },
}

/// The outcome of a check.
#[derive(Clone, Debug)]
pub struct Report {
    /// The database, as it may be printed (password masked).
    pub database: String,
    pub differences: Vec<Difference>,
    /// Migrations in [`Options::migrations`] that the database has not applied, by
    /// folder name; `None` when no folder was given.
    pub pending_migrations: Option<Vec<String>>,
    /// How many tables the spec has.
    pub tables: usize,
}

impl Report {
    pub fn has_drift(&self) -> bool {
        !self.differences.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for difference in &self.differences {
            writeln!(f, "drift: {difference}")?;
        }
        if self.has_drift() {
            let count = self.differences.len();
            writeln!(f, "{count} difference{} between the spec and {}", if count == 1 { "" } else { "s" }, self.database)?;
        } else {
            writeln!(f, "no drift: {} matches the spec ({} tables)", self.database, self.tables)?;
        }
        match self.pending_migrations.as_deref() {
            Some([]) if self.has_drift() => writeln!(f, "every migration is applied, so the differences were made by hand: revert them, or change the spec and generate a migration")?,
            Some(pending) if !pending.is_empty() => writeln!(f, "{} migration{} not applied yet: {}", pending.len(), if pending.len() == 1 { " is" } else { "s are" }, pending.join(", "))?,
            _ => {}
        }
        Ok(())
    }
}

/// Compare the database at `database_url` with `model`. Messages and the report never
/// contain the URL's password.
pub fn verify(model: &Model, database_url: &str, options: &Options) -> Result<Report, Error> {
    if !model.has_dialect(Dialect::Postgres) {
        return Err(Error::NotPostgres);
    }
    let database = redact::redact_url(database_url);
    let local_migrations = options.migrations.as_deref().map(local_migrations).transpose()?;
    let expected_sql = expected_schema_sql(model)?;
    let schema = &model.project.schema_postgres;
    let snapshots = catalog::read(database_url, schema, &expected_sql, &codebook_columns(model)).map_err(|failure| {
        // libpq ends its messages with a newline; the help line follows on its own.
        let scrub = |message: String| redact::scrub(message.trim_end(), database_url);
        match failure {
            catalog::Failure::Connect(message) => Error::Connect { database: database.clone(), message: scrub(message) },
            catalog::Failure::Expected(message) => Error::ExpectedSchema { database: database.clone(), message: scrub(message) },
            catalog::Failure::Read(step, message) => Error::Catalog { database: database.clone(), step, message: scrub(message) },
        }
    })?;

    let mut differences = compare::compare(&snapshots.expected, &snapshots.found);
    let pending_migrations = local_migrations.map(|local| {
        let applied = snapshots.applied_migrations.unwrap_or_default();
        local.into_iter().filter(|(version, _)| !applied.contains(version)).map(|(_, folder)| folder).collect::<Vec<_>>()
    });
    // Knowing whether migrations are pending beats guessing from each difference.
    if let Some(pending) = &pending_migrations {
        let hint = if pending.is_empty() { Hint::ChangedByHand } else { Hint::RunPendingMigrations };
        for difference in &mut differences {
            difference.hint = hint;
        }
    }
    Ok(Report { database, differences, pending_migrations, tables: model.tables.len() })
}

/// The SQL that creates the spec's schema as temporary tables: the initial migration,
/// rendered for the `pg_temp` schema.
fn expected_schema_sql(model: &Model) -> Result<String, crate::Error> {
    let mut scratch = model.clone();
    scratch.project.schema_postgres = "pg_temp".into();
    let plan = crate::plan::initial(&scratch);
    let (up, _down) = crate::emit::postgres::migration(&Model::empty_like(&scratch), &scratch, &plan, "The expected schema, built by dcgen verify.")?;
    Ok(up)
}

fn codebook_columns(model: &Model) -> Vec<catalog::CodebookColumns> {
    model
        .tables
        .iter()
        .filter(|table| table.codebook_of.is_some())
        .filter_map(|table| {
            let name_of = |role| table.role(role).map(|c| table.column(c).name.clone());
            Some(catalog::CodebookColumns {
                table: table.name.clone(),
                value: name_of(Role::EnumValue)?,
                description: name_of(Role::EnumDescription)?,
                sha: name_of(Role::Hash),
                archive: name_of(Role::Archive),
            })
        })
        .collect()
}

/// `(version, folder name)` of each migration folder, sorted; the version is the folder
/// name up to the first `_`, without dashes, as Diesel records it. A folder holding
/// `postgres/` is taken to mean that.
fn local_migrations(path: &Path) -> Result<Vec<(String, String)>, Error> {
    let dialect = path.join(Dialect::Postgres.name());
    let folder = if dialect.is_dir() { dialect } else { path.to_path_buf() };
    let entries = std::fs::read_dir(&folder).map_err(|source| Error::Migrations { path: folder.clone(), source })?;
    let mut migrations = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Migrations { path: folder.clone(), source })?;
        if !entry.path().join("up.sql").is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let version = name.split('_').next().unwrap_or_default().replace('-', "");
        migrations.push((version, name));
    }
    migrations.sort();
    Ok(migrations)
}
