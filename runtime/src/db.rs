//! Connections: a Diesel r2d2 pool from `DC_DB_MAIN_URL` (or `DATABASE_URL`), and migrations, with the password kept out of every message.

use std::fmt;
use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, HandleError, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

/// The variables read for the main database, in order.
pub const URL_VARIABLES: [&str; 2] = ["DC_DB_MAIN_URL", "DATABASE_URL"];

/// A PostgreSQL connection URL whose `Debug` and `Display` hide the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: String,
}

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> DatabaseUrl {
        DatabaseUrl { url: url.into() }
    }

    /// From `DC_DB_MAIN_URL`, else `DATABASE_URL`.
    pub fn from_env() -> Result<DatabaseUrl, DbError> {
        URL_VARIABLES
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
            .map(DatabaseUrl::new)
            .ok_or(DbError::MissingUrl)
    }

    /// The URL itself, password included: only for handing to the driver.
    pub fn expose(&self) -> &str {
        &self.url
    }

    /// The password as written in the URL (`user:password@`), if any.
    fn password(&self) -> Option<&str> {
        let rest = self.url.split_once("://").map_or(self.url.as_str(), |(_, rest)| rest);
        let userinfo = rest.rsplit_once('@')?.0;
        let password = userinfo.split_once(':')?.1;
        (!password.is_empty()).then_some(password)
    }

    /// `text` with every occurrence of the password (also percent-decoded,
    /// and any `password=` keyword value) replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        if let Some(password) = self.password() {
            out = out.replace(password, "***");
            let decoded = percent_decode(password);
            if decoded != password && !decoded.is_empty() {
                out = out.replace(&decoded, "***");
            }
        }
        redact_keyword(&out)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redact(&self.url))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `password=secret` (keyword/value connection strings) → `password=***`.
fn redact_keyword(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("password=") {
        let (before, after) = rest.split_at(at + "password=".len());
        out.push_str(before);
        let end = after.find(|c: char| c.is_whitespace() || c == '&' || c == '"' || c == '\'').unwrap_or(after.len());
        out.push_str("***");
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("no database URL: set DC_DB_MAIN_URL (or DATABASE_URL) to postgres://user:password@host/database")]
    MissingUrl,
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("migrations failed on {url}: {message}")]
    Migrations { url: String, message: String },
}

/// A pool of PostgreSQL connections.
pub type PgPool = Pool<ConnectionManager<PgConnection>>;
pub type PgPooled = PooledConnection<ConnectionManager<PgConnection>>;

/// How the pool is sized and how long it waits for a connection.
#[derive(Clone, Debug)]
pub struct PoolOptions {
    pub max_size: u32,
    pub connection_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions { max_size: 10, connection_timeout: Duration::from_secs(30) }
    }
}

/// r2d2 reports failed connection attempts to an error handler, which by
/// default logs them; ours drops them, since the same failure reaches the
/// caller of `get` as a [`DbError`] with the password redacted.
#[derive(Debug)]
struct QuietErrors;

impl HandleError<diesel::r2d2::Error> for QuietErrors {
    fn handle_error(&self, _error: diesel::r2d2::Error) {}
}

/// Builds a pool and opens its first connection, so a wrong URL or
/// password fails here rather than at first use.
pub fn pool(url: &DatabaseUrl, options: &PoolOptions) -> Result<PgPool, DbError> {
    let manager = ConnectionManager::<PgConnection>::new(url.expose());
    Pool::builder()
        .max_size(options.max_size)
        .connection_timeout(options.connection_timeout)
        .error_handler(Box::new(QuietErrors))
        .build(manager)
        .map_err(|error| DbError::Connect { url: url.to_string(), message: url.redact(&error.to_string()) })
}

/// [`pool`] from `DC_DB_MAIN_URL` (or `DATABASE_URL`) with default options.
pub fn pool_from_env() -> Result<PgPool, DbError> {
    pool(&DatabaseUrl::from_env()?, &PoolOptions::default())
}

/// A connection from the pool, its error redacted.
pub fn connection(pool: &PgPool, url: &DatabaseUrl) -> Result<PgPooled, DbError> {
    pool.get().map_err(|error| DbError::Connect { url: url.to_string(), message: url.redact(&error.to_string()) })
}

/// Runs the pending migrations (the schema crate's `MIGRATIONS`); returns
/// the versions applied.
pub fn run_migrations(conn: &mut PgConnection, migrations: EmbeddedMigrations, url: &DatabaseUrl) -> Result<Vec<String>, DbError> {
    conn.run_pending_migrations(migrations)
        .map(|versions| versions.iter().map(ToString::to_string).collect())
        .map_err(|error| DbError::Migrations { url: url.to_string(), message: url.redact(&error.to_string()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let url = DatabaseUrl::new("postgres://app:s3cr%40t@db.example:5432/main");
        assert_eq!(url.to_string(), "postgres://app:***@db.example:5432/main");
        assert!(!format!("{url:?}").contains("s3cr"));
        assert_eq!(url.redact("auth failed for s3cr@t and s3cr%40t"), "auth failed for *** and ***");
        assert_eq!(redact_keyword("host=x password=hunter2 user=y"), "host=x password=*** user=y");
        let bare = DatabaseUrl::new("postgres://localhost/db");
        assert_eq!(bare.to_string(), "postgres://localhost/db");
    }
}
