//! Connections: [`Database`] (a Diesel r2d2 pool plus its [`DatabaseUrl`]),
//! from `DC_DB_MAIN_URL`, the `DC_DB_MAIN_*` parts or `DATABASE_URL`, and
//! migrations, with the password kept out of every message.
//!
//! URLs are parsed by the `url` crate, never sliced by hand, so no URL,
//! however malformed, can panic here. The password never leaves this
//! module: `DatabaseUrl` shows itself redacted, every error passes through
//! [`DatabaseUrl::redact`], and only the pool and single connections made
//! here see the URL in full.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, HandleError, Pool, PooledConnection};
use diesel::Connection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
use percent_encoding::percent_decode_str;
use url::Url;

/// The whole URL of the main database.
pub const URL_VARIABLE: &str = "DC_DB_MAIN_URL";
/// The URL's parts, used when [`URL_VARIABLE`] is unset; `DC_DB_MAIN_HOST` is required among them.
pub const PART_VARIABLES: [&str; 5] = ["DC_DB_MAIN_HOST", "DC_DB_MAIN_PORT", "DC_DB_MAIN_USER", "DC_DB_MAIN_PASSWORD", "DC_DB_MAIN_DATABASE"];
/// The conventional fallback, read last.
pub const FALLBACK_VARIABLE: &str = "DATABASE_URL";

const REDACTED: &str = "***";

/// A PostgreSQL connection URL whose `Debug` and `Display` hide the password
/// (in the user info and in any `password`-like query parameter).
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: String,
}

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> DatabaseUrl {
        DatabaseUrl { url: url.into() }
    }

    /// From `DC_DB_MAIN_URL`; else from `DC_DB_MAIN_HOST`, `_PORT`, `_USER`,
    /// `_PASSWORD`, `_DATABASE` (each part percent-encoded as needed, so a
    /// password may hold any character); else from `DATABASE_URL`.
    pub fn from_env() -> Result<DatabaseUrl, DbError> {
        DatabaseUrl::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<DatabaseUrl, DbError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(url) = get(URL_VARIABLE) {
            return Ok(DatabaseUrl::new(url));
        }
        if let Some(host) = get(PART_VARIABLES[0]) {
            return DatabaseUrl::from_parts(&host, get(PART_VARIABLES[1]).as_deref(), get(PART_VARIABLES[2]).as_deref(), get(PART_VARIABLES[3]).as_deref(), get(PART_VARIABLES[4]).as_deref());
        }
        get(FALLBACK_VARIABLE).map(DatabaseUrl::new).ok_or(DbError::MissingUrl)
    }

    /// A URL from its parts. `host` may be a name, an IPv4 or IPv6 address,
    /// or a unix socket directory (starting with `/`).
    pub fn from_parts(host: &str, port: Option<&str>, user: Option<&str>, password: Option<&str>, database: Option<&str>) -> Result<DatabaseUrl, DbError> {
        let invalid = |problem: String| DbError::InvalidUrl { problem };
        let mut url = Url::parse("postgres://localhost").map_err(|e| invalid(e.to_string()))?;
        if host.starts_with('/') {
            // libpq takes a socket directory as the `host` parameter.
            url.set_host(Some("")).map_err(|e| invalid(format!("DC_DB_MAIN_HOST: {e}")))?;
            url.set_path("/");
            url.query_pairs_mut().append_pair("host", host);
        } else {
            let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_string() };
            url.set_host(Some(&host)).map_err(|e| invalid(format!("DC_DB_MAIN_HOST `{host}`: {e}")))?;
        }
        if let Some(port) = port {
            let number: u16 = port.trim().parse().map_err(|_| invalid(format!("DC_DB_MAIN_PORT `{port}` is not a port number")))?;
            if host.starts_with('/') {
                url.query_pairs_mut().append_pair("port", &number.to_string());
            } else {
                url.set_port(Some(number)).map_err(|()| invalid("DC_DB_MAIN_PORT cannot be set on this URL".into()))?;
            }
        }
        if let Some(user) = user {
            url.set_username(user).map_err(|()| invalid("DC_DB_MAIN_USER cannot be set without a host".into()))?;
        }
        if let Some(password) = password {
            url.set_password(Some(password)).map_err(|()| invalid("DC_DB_MAIN_PASSWORD cannot be set without a host".into()))?;
        }
        if let Some(database) = database {
            url.path_segments_mut().map_err(|()| invalid("DC_DB_MAIN_DATABASE cannot be set on this URL".into()))?.pop_if_empty().push(database);
        }
        Ok(DatabaseUrl::new(String::from(url)))
    }

    /// The URL itself, password included: only for the driver, inside this module.
    fn expose(&self) -> &str {
        &self.url
    }

    /// Lends the URL, password included, to `use_it` alone: for another driver that
    /// connects (tokio-postgres's `Config` parses it) or a child process's environment.
    /// What `use_it` returns must not be printed or logged; this is the one door out,
    /// so every use of the secret is found by looking for `with_secret`.
    pub fn with_secret<T>(&self, use_it: impl FnOnce(&str) -> T) -> T {
        use_it(self.expose())
    }

    fn parsed(&self) -> Option<Url> {
        Url::parse(&self.url).ok()
    }

    /// Every secret the URL holds, as written and percent-decoded.
    fn secrets(&self) -> Vec<String> {
        let mut secrets = Vec::new();
        let mut add = |raw: &str| {
            if raw.is_empty() {
                return;
            }
            secrets.push(raw.to_string());
            let decoded = percent_decode_str(raw).decode_utf8_lossy();
            if decoded != raw {
                secrets.push(decoded.into_owned());
            }
        };
        match self.parsed() {
            Some(url) => {
                if let Some(password) = url.password() {
                    add(password);
                }
                for (key, value) in url.query_pairs() {
                    if is_secret_key(&key) {
                        add(&value);
                        // As written in the query, before form decoding.
                        if let Some(raw) = url.query().and_then(|q| q.split('&').find_map(|pair| pair.split_once('=').filter(|(k, _)| is_secret_key(k)).map(|(_, v)| v.to_string()))) {
                            add(&raw);
                        }
                    }
                }
            }
            // Not a URL: guess the password as a URL would hold it, so a
            // message quoting it is still redacted.
            None => {
                let rest = self.url.split_once("://").map_or(self.url.as_str(), |(_, rest)| rest);
                if let Some((userinfo, _)) = rest.rsplit_once('@') {
                    if let Some((_, password)) = userinfo.split_once(':') {
                        add(password);
                    }
                }
            }
        }
        // Longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets
    }

    /// `text` with every occurrence of the URL's password (as written and
    /// percent-decoded, and any `password=` value) replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in self.secrets() {
            out = out.replace(&secret, REDACTED);
        }
        redact_keyword(&out).into_owned()
    }

    /// Checks what libpq would otherwise report by quoting the password.
    fn validate(&self) -> Result<(), DbError> {
        let invalid = |problem: &str| DbError::InvalidUrl { problem: problem.to_string() };
        let url = Url::parse(&self.url).map_err(|e| invalid(&format!("it does not parse as a URL ({e}); write postgres://user:password@host:port/database, percent-encoding special characters")))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(invalid(&format!("the scheme is `{}`; use postgres://", url.scheme())));
        }
        if let Some(password) = url.password() {
            if has_bad_percent_escape(password) {
                return Err(invalid("the password holds a `%` not followed by two hex digits; write a literal `%` as %25"));
            }
        }
        Ok(())
    }

    /// One connection, outside any pool, its errors redacted.
    pub fn establish(&self) -> Result<PgConnection, DbError> {
        self.validate()?;
        PgConnection::establish(self.expose()).map_err(|error| DbError::Connect { url: self.to_string(), message: self.redact(&error.to_string()) })
    }
}

fn is_secret_key(key: &str) -> bool {
    key.to_ascii_lowercase().contains("password")
}

fn has_bad_percent_escape(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| b == b'%' && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit) && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)))
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(mut url) = self.parsed() else {
            return f.write_str("<a database URL that does not parse>");
        };
        if url.password().is_some() {
            // Only URLs with a host can hold a password, and those accept a new one.
            let _ = url.set_password(Some(REDACTED));
        }
        if url.query_pairs().any(|(key, _)| is_secret_key(&key)) {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(key, value)| {
                    let value = if is_secret_key(&key) { REDACTED.to_string() } else { value.into_owned() };
                    (key.into_owned(), value)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        // Percent-encoding of `***` is `***`; whatever else remains is the user's text.
        f.write_str(url.as_str())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// `password=secret` (keyword/value connection strings, query strings) → `password=***`.
fn redact_keyword(text: &str) -> Cow<'_, str> {
    if !text.contains("password=") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("password=") {
        let (before, after) = rest.split_at(at + "password=".len());
        out.push_str(before);
        let end = after.find(|c: char| c.is_whitespace() || c == '&' || c == '"' || c == '\'').unwrap_or(after.len());
        out.push_str(REDACTED);
        rest = &after[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("no database URL: set DC_DB_MAIN_URL (or DC_DB_MAIN_HOST with _PORT, _USER, _PASSWORD, _DATABASE, or DATABASE_URL) to postgres://user:password@host/database")]
    MissingUrl,
    #[error("the database URL is not usable: {problem}")]
    InvalidUrl { problem: String },
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

/// The main database: a connection pool and the URL it connects to, shown
/// only redacted. The one handle apps pass around; nothing hands out the URL.
#[derive(Clone, Debug)]
pub struct Database {
    pool: PgPool,
    url: DatabaseUrl,
}

impl Database {
    /// Builds the pool and opens its first connection, so a wrong URL or
    /// password fails here rather than at first use.
    pub fn connect(url: DatabaseUrl, options: &PoolOptions) -> Result<Database, DbError> {
        url.validate()?;
        let manager = ConnectionManager::<PgConnection>::new(url.expose());
        let pool = Pool::builder()
            .max_size(options.max_size)
            .connection_timeout(options.connection_timeout)
            .error_handler(Box::new(QuietErrors))
            .build(manager)
            .map_err(|error| DbError::Connect { url: url.to_string(), message: url.redact(&error.to_string()) })?;
        Ok(Database { pool, url })
    }

    /// [`connect`](Self::connect) to the URL from the environment
    /// ([`DatabaseUrl::from_env`]) with default options.
    pub fn from_env() -> Result<Database, DbError> {
        Database::connect(DatabaseUrl::from_env()?, &PoolOptions::default())
    }

    /// A connection from the pool, its error redacted.
    pub fn get(&self) -> Result<PgPooled, DbError> {
        self.pool.get().map_err(|error| DbError::Connect { url: self.url.to_string(), message: self.url.redact(&error.to_string()) })
    }

    /// The URL, which shows itself redacted.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The pool, for code that manages connections itself.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs the pending migrations (the schema crate's `MIGRATIONS`) on a
    /// pooled connection; returns the versions applied.
    pub fn run_migrations(&self, migrations: EmbeddedMigrations) -> Result<Vec<String>, DbError> {
        let mut conn = self.get()?;
        run_migrations(&mut conn, migrations, &self.url)
    }
}

/// Runs the pending migrations on `conn`; `url` redacts the errors.
pub fn run_migrations(conn: &mut PgConnection, migrations: EmbeddedMigrations, url: &DatabaseUrl) -> Result<Vec<String>, DbError> {
    conn.run_pending_migrations(migrations)
        .map(|versions| versions.iter().map(ToString::to_string).collect())
        .map_err(|error| DbError::Migrations { url: url.to_string(), message: url.redact(&error.to_string()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// URLs a user might write, and a secret each must never show.
    const HOSTILE: &[(&str, &[&str])] = &[
        ("postgres://app:s3cr%40t@db.example:5432/main", &["s3cr"]),
        // A percent-escape followed by a multi-byte character: byte slicing panicked here.
        ("postgres://app:%4€x-Secret@db/main", &["Secret", "€x"]),
        ("postgres://app:%E2%82%ACuro-Secret@db/main", &["uro-Secret", "€uro"]),
        ("postgres://app:ö%ü-Secret@db/main", &["Secret"]),
        // An unencoded `@` in the password: the user info ends at the last `@`.
        ("postgres://app:p@ss-Secret@db/main", &["ss-Secret"]),
        ("postgres://app:Secret-pw@[::1]:5432/main", &["Secret-pw"]),
        ("postgres://app:Secret-pw@[fe80::1%25eth0]/main", &["Secret-pw"]),
        ("postgres://db/main?user=app&password=Secret-q%21&sslmode=require", &["Secret-q"]),
        ("postgres://db/main?sslpassword=Secret-ssl", &["Secret-ssl"]),
        ("postgres://app:Secret-pw@", &["Secret-pw"]),
        ("postgres://:Secret-pw@db", &["Secret-pw"]),
        ("postgres://app:Secret-pw@db:notaport/main", &["Secret-pw"]),
        ("postgres://app:Secret%zz@db/main", &["Secret"]),
        ("not a url, password=Secret-kv host=db", &["Secret-kv"]),
        ("host=db user=app password=Secret-kv2", &["Secret-kv2"]),
        ("postgres://app:Secret-pw@db\u{0}/main", &["Secret-pw"]),
        ("postgres://app:Secret pw@db/main", &["Secret"]),
        ("", &[]),
        ("postgres://", &[]),
        ("postgres:", &[]),
    ];

    #[test]
    fn hostile_urls_never_show_their_password_and_never_panic() {
        for (text, secrets) in HOSTILE {
            let url = DatabaseUrl::new(*text);
            let shown = format!("{url} {url:?} {}", url.redact(text));
            for secret in *secrets {
                assert!(!shown.contains(secret), "{text:?} shows {secret:?}: {shown}");
            }
            if let Err(error) = url.validate() {
                assert!(secrets.iter().all(|s| !error.to_string().contains(s)), "{error}");
            }
        }
        assert_eq!(DatabaseUrl::new("postgres://app:s3cr%40t@db.example:5432/main").to_string(), "postgres://app:***@db.example:5432/main");
        assert_eq!(DatabaseUrl::new("postgres://localhost/db").to_string(), "postgres://localhost/db");
        assert_eq!(DatabaseUrl::new("postgres://db/main?user=app&password=x").to_string(), "postgres://db/main?user=app&password=***");
        let url = DatabaseUrl::new("postgres://app:s3cr%40t@db/main");
        assert_eq!(url.redact("auth failed for s3cr@t and s3cr%40t"), "auth failed for *** and ***");
        assert_eq!(redact_keyword("host=x password=hunter2 user=y"), "host=x password=*** user=y");
    }

    #[test]
    fn a_bad_percent_escape_in_the_password_is_refused_without_quoting_it() {
        let error = DatabaseUrl::new("postgres://app:Secret%zz@db/main").validate().unwrap_err();
        assert_eq!(error.to_string(), "the database URL is not usable: the password holds a `%` not followed by two hex digits; write a literal `%` as %25");
        let error = DatabaseUrl::new("not a url Secret").validate().unwrap_err();
        assert!(!error.to_string().contains("Secret"), "{error}");
    }

    #[test]
    fn parts_build_a_url_with_any_password() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string());
        let url = DatabaseUrl::from_lookup(vars(&[
            ("DC_DB_MAIN_HOST", "db.example"),
            ("DC_DB_MAIN_PORT", "6543"),
            ("DC_DB_MAIN_USER", "app user"),
            ("DC_DB_MAIN_PASSWORD", "p@ss:w/rd%ö?#"),
            ("DC_DB_MAIN_DATABASE", "main db"),
        ]))
        .unwrap();
        let parsed = Url::parse(url.expose()).unwrap();
        assert_eq!(percent_decode_str(parsed.password().unwrap()).decode_utf8().unwrap(), "p@ss:w/rd%ö?#");
        assert_eq!((parsed.host_str(), parsed.port(), parsed.username()), (Some("db.example"), Some(6543), "app%20user"));
        assert_eq!(url.to_string(), "postgres://app%20user:***@db.example:6543/main%20db");
        let v6 = DatabaseUrl::from_lookup(vars(&[("DC_DB_MAIN_HOST", "::1")])).unwrap();
        assert_eq!(v6.to_string(), "postgres://[::1]");
        let socket = DatabaseUrl::from_lookup(vars(&[("DC_DB_MAIN_HOST", "/tmp/sock dir"), ("DC_DB_MAIN_PORT", "5433")])).unwrap();
        assert_eq!(socket.to_string(), "postgres:///?host=%2Ftmp%2Fsock+dir&port=5433");
        let bad_port = DatabaseUrl::from_lookup(vars(&[("DC_DB_MAIN_HOST", "db"), ("DC_DB_MAIN_PORT", "x")])).unwrap_err();
        assert_eq!(bad_port.to_string(), "the database URL is not usable: DC_DB_MAIN_PORT `x` is not a port number");
        // The whole URL wins over parts, parts over DATABASE_URL.
        let first = DatabaseUrl::from_lookup(vars(&[("DC_DB_MAIN_URL", "postgres://a/x"), ("DC_DB_MAIN_HOST", "b"), ("DATABASE_URL", "postgres://c/z")])).unwrap();
        assert_eq!(first.to_string(), "postgres://a/x");
        let last = DatabaseUrl::from_lookup(vars(&[("DATABASE_URL", "postgres://c/z")])).unwrap();
        assert_eq!(last.to_string(), "postgres://c/z");
        assert!(matches!(DatabaseUrl::from_lookup(vars(&[("DC_DB_MAIN_URL", "  ")])), Err(DbError::MissingUrl)));
    }
}
