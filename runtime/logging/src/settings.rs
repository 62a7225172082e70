//! Settings from `DC_LOG_*` (and `DC_APP_*`) environment variables, each with a default; secrets redacted.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use tracing::level_filters::LevelFilter;

use crate::ids::AppIdentity;
use crate::LoggingError;

/// A value that must never be printed (the HEC token): `Debug` and
/// `Display` show `***`; [`Secret::expose`] hands it to the one place that sends it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_string()
        } else {
            text.replace(&self.0, "***")
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where and how the Splunk HTTP Event Collector sink sends.
#[derive(Clone, Debug)]
pub struct HecSettings {
    /// Base URL (`https://splunk:8088`) or the full endpoint (`…/services/collector/event`).
    pub url: String,
    pub token: Secret,
    /// `X-Splunk-Request-Channel`; a random UUID per process when unset.
    pub channel: Option<String>,
    pub index: Option<String>,
    pub source: Option<String>,
    pub sourcetype: Option<String>,
    /// Attempts per batch on 503, 429, other 5xx, timeouts and refused connections.
    pub max_attempts: u32,
    /// Per request.
    pub timeout: Duration,
}

impl HecSettings {
    pub fn new(url: impl Into<String>, token: Secret) -> HecSettings {
        HecSettings {
            url: url.into(),
            token,
            channel: None,
            index: None,
            source: None,
            sourcetype: None,
            max_attempts: 5,
            timeout: Duration::from_secs(10),
        }
    }

    /// The event endpoint: the URL as given when it names a path, else `/services/collector/event`.
    pub fn endpoint(&self) -> String {
        let url = self.url.trim_end_matches('/');
        let has_path = url.split_once("://").map_or(url, |(_, rest)| rest).contains('/');
        if has_path {
            url.to_string()
        } else {
            format!("{url}/services/collector/event")
        }
    }
}

/// Everything the pipeline reads; [`LogSettings::from_env`] fills it from the environment.
#[derive(Clone, Debug)]
pub struct LogSettings {
    /// `DC_LOG_LEVEL` (info): events and spans below it are not recorded.
    pub level: LevelFilter,
    /// `DC_LOG_CONSOLE` (true): tracing_subscriber's fmt output on stderr.
    pub console: bool,
    /// `DC_LOG_DATABASE` (true): the `logs`, `function_log`, `runtime`, `app_functions` and `app_db_objects` tables.
    pub database: bool,
    /// `DC_LOG_DATABASE_SECOND_CONNECTION` (true): a large batch's `logs` rows are COPYed
    /// over two connections at once (the second opened by the first such batch), so that
    /// PostgreSQL checks the rows' foreign keys on two cores.
    pub database_second_connection: bool,
    /// `DC_LOG_QUEUE_SIZE` (10000, as the Python framework): records between the app and the router, and per sink;
    /// as many log records are allocated at start and reused (the pool, ~0.9 KB each).
    pub queue_size: usize,
    /// `DC_LOG_QUEUE_WAIT_MS` (100): how long an app thread waits on a full queue before it writes the record to the spill file itself.
    pub queue_wait: Duration,
    /// `DC_LOG_BATCH_SIZE` (1000): a sink writes when this many records are waiting...
    pub batch_size: usize,
    /// `DC_LOG_FLUSH_MS` (200): ...or when the oldest has waited this long.
    pub flush_interval: Duration,
    /// `DC_LOG_SHUTDOWN_TIMEOUT_MS` (5000): shutdown drains for at most this long; the rest goes to the spill file.
    pub shutdown_timeout: Duration,
    /// `DC_LOG_SPILL_DIR` (`./dc-log-spill`): one subdirectory per sink.
    pub spill_dir: PathBuf,
    /// `DC_LOG_INSTANCE_ID` (the process id): `logs.instance_id`.
    pub instance_id: Option<i32>,
    /// `DC_LOG_HANDLE_SIGTERM` (true): on SIGTERM, drain (ending the runtime row with `manager_exit`), then die of the signal.
    pub handle_sigterm: bool,
    /// `DC_LOG_SPLUNK_URL` with `DC_LOG_SPLUNK_TOKEN` (both needed), `DC_LOG_SPLUNK_CHANNEL`,
    /// `DC_LOG_SPLUNK_INDEX`, `DC_LOG_SPLUNK_SOURCE`, `DC_LOG_SPLUNK_SOURCETYPE`,
    /// `DC_LOG_SPLUNK_ATTEMPTS` (5), `DC_LOG_SPLUNK_TIMEOUT_MS` (10000).
    pub splunk: Option<HecSettings>,
    /// `DC_APP_GROUP`, `DC_APP_PARENT`, `DC_APP_NAME` (all three, or none):
    /// the app, registered in `apps` when missing.
    pub app: Option<AppIdentity>,
    /// `DC_APP_ID` (set by dc-manager): the app's id (`apps.app`), already
    /// registered. With the three names as well, it must be their id.
    pub app_id: Option<String>,
    /// `DC_RUNTIME_ID` (set by dc-manager): the run's `runtime` row, written
    /// by the manager, which also records its end; logs go under this id and
    /// no runtime row of the app's own is made.
    pub runtime_id: Option<String>,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            level: LevelFilter::INFO,
            console: true,
            database: true,
            database_second_connection: true,
            queue_size: 10_000,
            queue_wait: Duration::from_millis(100),
            batch_size: 1000,
            flush_interval: Duration::from_millis(200),
            shutdown_timeout: Duration::from_secs(5),
            spill_dir: PathBuf::from("dc-log-spill"),
            instance_id: None,
            handle_sigterm: true,
            splunk: None,
            app: None,
            app_id: None,
            runtime_id: None,
        }
    }
}

impl LogSettings {
    /// The settings from the process environment.
    pub fn from_env() -> Result<LogSettings, LoggingError> {
        LogSettings::from_lookup(|name| std::env::var(name).ok())
    }

    /// The settings from `lookup` (a variable name to its value), for tests and other sources.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<LogSettings, LoggingError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let mut settings = LogSettings::default();
        if let Some(level) = get("DC_LOG_LEVEL") {
            settings.level = parse_level(&level)?;
        }
        settings.console = flag(&get, "DC_LOG_CONSOLE", settings.console)?;
        settings.database = flag(&get, "DC_LOG_DATABASE", settings.database)?;
        settings.database_second_connection = flag(&get, "DC_LOG_DATABASE_SECOND_CONNECTION", settings.database_second_connection)?;
        settings.handle_sigterm = flag(&get, "DC_LOG_HANDLE_SIGTERM", settings.handle_sigterm)?;
        settings.queue_size = number(&get, "DC_LOG_QUEUE_SIZE", settings.queue_size)?.max(1);
        settings.batch_size = number(&get, "DC_LOG_BATCH_SIZE", settings.batch_size)?.max(1);
        settings.queue_wait = millis(&get, "DC_LOG_QUEUE_WAIT_MS", settings.queue_wait)?;
        settings.flush_interval = millis(&get, "DC_LOG_FLUSH_MS", settings.flush_interval)?;
        settings.shutdown_timeout = millis(&get, "DC_LOG_SHUTDOWN_TIMEOUT_MS", settings.shutdown_timeout)?;
        if let Some(dir) = get("DC_LOG_SPILL_DIR") {
            settings.spill_dir = PathBuf::from(dir);
        }
        if let Some(id) = get("DC_LOG_INSTANCE_ID") {
            settings.instance_id = Some(parse("DC_LOG_INSTANCE_ID", &id)?);
        }
        settings.splunk = match (get("DC_LOG_SPLUNK_URL"), get("DC_LOG_SPLUNK_TOKEN")) {
            (None, None) => None,
            (Some(url), Some(token)) => {
                let mut hec = HecSettings::new(url, Secret::new(token));
                hec.channel = get("DC_LOG_SPLUNK_CHANNEL");
                hec.index = get("DC_LOG_SPLUNK_INDEX");
                hec.source = get("DC_LOG_SPLUNK_SOURCE");
                hec.sourcetype = get("DC_LOG_SPLUNK_SOURCETYPE");
                hec.max_attempts = number(&get, "DC_LOG_SPLUNK_ATTEMPTS", hec.max_attempts as usize)?.max(1) as u32;
                hec.timeout = millis(&get, "DC_LOG_SPLUNK_TIMEOUT_MS", hec.timeout)?;
                Some(hec)
            }
            (Some(_), None) => return Err(LoggingError::Setting { name: "DC_LOG_SPLUNK_TOKEN", problem: "is not set, but DC_LOG_SPLUNK_URL is: set both to log to Splunk, or neither".into() }),
            (None, Some(_)) => return Err(LoggingError::Setting { name: "DC_LOG_SPLUNK_URL", problem: "is not set, but DC_LOG_SPLUNK_TOKEN is: set both to log to Splunk, or neither".into() }),
        };
        settings.app = match (get("DC_APP_GROUP"), get("DC_APP_PARENT"), get("DC_APP_NAME")) {
            (None, None, None) => None,
            (Some(group), Some(parent), Some(name)) => Some(AppIdentity::new(group, parent, name)),
            _ => return Err(LoggingError::Setting { name: "DC_APP_NAME", problem: "DC_APP_GROUP, DC_APP_PARENT and DC_APP_NAME name an app together: set all three, or none".into() }),
        };
        settings.app_id = get("DC_APP_ID").map(|id| id.trim().to_string());
        settings.runtime_id = get("DC_RUNTIME_ID").map(|id| id.trim().to_string());
        settings.check_ids()?;
        Ok(settings)
    }

    /// The ids the manager hands over fit their columns and agree with the app's names.
    pub fn check_ids(&self) -> Result<(), LoggingError> {
        for (name, value) in [("DC_APP_ID", &self.app_id), ("DC_RUNTIME_ID", &self.runtime_id)] {
            if let Some(value) = value {
                if value.chars().count() > 64 {
                    return Err(LoggingError::Setting { name, problem: format!("is {} characters long; an id has at most 64 (apps.app, runtime.runtime)", value.chars().count()) });
                }
            }
        }
        if let (Some(id), Some(app)) = (&self.app_id, &self.app) {
            let named = app.app_id();
            if *id != named {
                return Err(LoggingError::Setting {
                    name: "DC_APP_ID",
                    problem: format!(
                        "is {id}, but DC_APP_GROUP/DC_APP_PARENT/DC_APP_NAME ({}/{}/{}) name the app {named}: unset the names (the manager's DC_APP_ID wins) or make them match",
                        app.group, app.parent, app.name
                    ),
                });
            }
        }
        Ok(())
    }
}

fn parse_level(text: &str) -> Result<LevelFilter, LoggingError> {
    // Python's names too, so one environment serves both frameworks.
    let normalized = match text.trim().to_ascii_lowercase().as_str() {
        "warning" => "warn".to_string(),
        "critical" => "error".to_string(),
        "notset" => "trace".to_string(),
        other => other.to_string(),
    };
    LevelFilter::from_str(&normalized).map_err(|_| LoggingError::Setting {
        name: "DC_LOG_LEVEL",
        problem: format!("{text:?} is not a level: use trace, debug, info, warning, error or off"),
    })
}

fn flag(get: &impl Fn(&str) -> Option<String>, name: &'static str, default: bool) -> Result<bool, LoggingError> {
    match get(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(true),
        Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(false),
        Some(v) => Err(LoggingError::Setting { name, problem: format!("{v:?} is not a yes/no value: use true or false") }),
    }
}

fn parse<T: FromStr>(name: &'static str, text: &str) -> Result<T, LoggingError> {
    text.trim().parse().map_err(|_| LoggingError::Setting { name, problem: format!("{text:?} is not a whole number") })
}

fn number(get: &impl Fn(&str) -> Option<String>, name: &'static str, default: usize) -> Result<usize, LoggingError> {
    get(name).map_or(Ok(default), |v| parse(name, &v))
}

fn millis(get: &impl Fn(&str) -> Option<String>, name: &'static str, default: Duration) -> Result<Duration, LoggingError> {
    get(name).map_or(Ok(default), |v| parse(name, &v).map(Duration::from_millis))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<LogSettings, LoggingError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        LogSettings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_and_overrides() {
        let settings = from(&[]).unwrap();
        assert_eq!(settings.queue_size, 10_000);
        assert!(settings.console && settings.database && settings.database_second_connection && settings.splunk.is_none());
        let settings = from(&[
            ("DC_LOG_LEVEL", "WARNING"),
            ("DC_LOG_CONSOLE", "false"),
            ("DC_LOG_DATABASE_SECOND_CONNECTION", "false"),
            ("DC_LOG_QUEUE_SIZE", "16"),
            ("DC_LOG_FLUSH_MS", "50"),
            ("DC_LOG_SPLUNK_URL", "http://127.0.0.1:8088"),
            ("DC_LOG_SPLUNK_TOKEN", "tok-123"),
            ("DC_APP_GROUP", "g"),
            ("DC_APP_PARENT", "p"),
            ("DC_APP_NAME", "n"),
        ])
        .unwrap();
        assert_eq!(settings.level, LevelFilter::WARN);
        assert!(!settings.console && !settings.database_second_connection);
        assert_eq!(settings.queue_size, 16);
        assert_eq!(settings.flush_interval, Duration::from_millis(50));
        let hec = settings.splunk.unwrap();
        assert_eq!(hec.endpoint(), "http://127.0.0.1:8088/services/collector/event");
        assert_eq!(settings.app.unwrap().name, "n");
    }

    #[test]
    fn bad_values_name_the_variable_and_never_show_the_token() {
        let error = from(&[("DC_LOG_QUEUE_SIZE", "lots")]).unwrap_err().to_string();
        assert!(error.contains("DC_LOG_QUEUE_SIZE") && error.contains("whole number"), "{error}");
        let error = from(&[("DC_LOG_SPLUNK_TOKEN", "tok-secret")]).unwrap_err().to_string();
        assert!(error.contains("DC_LOG_SPLUNK_URL") && !error.contains("tok-secret"), "{error}");
        let settings = from(&[("DC_LOG_SPLUNK_URL", "http://h:1/x"), ("DC_LOG_SPLUNK_TOKEN", "tok-secret")]).unwrap();
        let debug = format!("{settings:?}");
        assert!(!debug.contains("tok-secret") && debug.contains("Secret(***)"), "{debug}");
        assert_eq!(settings.splunk.unwrap().endpoint(), "http://h:1/x");
    }

    #[test]
    fn the_managers_ids_are_taken_and_checked_against_the_names() {
        let settings = from(&[("DC_APP_ID", "a1"), ("DC_RUNTIME_ID", "r1")]).unwrap();
        assert_eq!((settings.app_id.as_deref(), settings.runtime_id.as_deref(), settings.app.is_none()), (Some("a1"), Some("r1"), true));
        let named = AppIdentity::new("g", "p", "n").app_id();
        let settings = from(&[("DC_APP_ID", &named), ("DC_APP_GROUP", "g"), ("DC_APP_PARENT", "p"), ("DC_APP_NAME", "n")]).unwrap();
        assert_eq!(settings.app_id, Some(named));
        let error = from(&[("DC_APP_ID", "other"), ("DC_APP_GROUP", "g"), ("DC_APP_PARENT", "p"), ("DC_APP_NAME", "n")]).unwrap_err().to_string();
        assert!(error.starts_with("DC_APP_ID is other, but") && error.contains("g/p/n"), "{error}");
        let error = from(&[("DC_RUNTIME_ID", &"x".repeat(65))]).unwrap_err().to_string();
        assert!(error.contains("DC_RUNTIME_ID") && error.contains("at most 64"), "{error}");
    }
}
