//! The app manifest: YAML naming the apps a manager runs, read with every value's place so a mistake is reported as file:line:column.
//!
//! ```yaml
//! defaults:                 # optional; any app key except group, parent, name, command
//!   time_zone: Europe/Zagreb
//! apps:
//!   - group: croatia
//!     parent: fina
//!     name: daily_import
//!     command: "python -m fina.daily"
//!     schedule: "0 2 * * *"          # cron (5 or 6 fields) or "every 15m"; omit: runs on command only
//!     time_zone: Europe/Zagreb       # IANA name; default UTC
//!     overlap: forbid                # forbid (default) | allow | replace
//!     missed_run: run_once           # skip | run_once (default) | run_all
//!     run_all_deadline_s: 86400
//!     failure_threshold: 3
//!     stop_timeout_s: 10
//!     working_dir: /srv/fina
//!     enabled: true                  # default true
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use dc_schema::enums::{MissedRunPolicy, OverlapPolicy};
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::schedule::Schedule;

/// One app as the manifest describes it, every default applied and checked.
#[derive(Clone, Debug, PartialEq)]
pub struct AppSpec {
    pub group: String,
    pub parent: String,
    pub name: String,
    pub command: String,
    pub working_dir: Option<String>,
    pub schedule: Option<String>,
    pub time_zone: String,
    pub overlap: OverlapPolicy,
    pub missed_run: MissedRunPolicy,
    pub run_all_deadline_s: i32,
    pub failure_threshold: i32,
    pub stop_timeout_s: i32,
    pub enabled: bool,
}

/// Every problem in a manifest, each with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestErrors {
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file.display(), self.line, self.column, self.message)
    }
}

impl fmt::Display for ManifestErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, problem) in self.problems.iter().enumerate() {
            if n > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ManifestErrors {}

/// The manifest as written: every value with its place.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    defaults: Option<Spanned<RawApp>>,
    apps: Spanned<Vec<Spanned<RawApp>>>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawApp {
    group: Option<Spanned<String>>,
    parent: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
    command: Option<Spanned<String>>,
    working_dir: Option<Spanned<String>>,
    schedule: Option<Spanned<String>>,
    time_zone: Option<Spanned<String>>,
    overlap: Option<Spanned<String>>,
    missed_run: Option<Spanned<String>>,
    run_all_deadline_s: Option<Spanned<i64>>,
    failure_threshold: Option<Spanned<i64>>,
    stop_timeout_s: Option<Spanned<i64>>,
    enabled: Option<Spanned<bool>>,
}

/// Reads and checks a manifest file.
pub fn load(path: &Path) -> Result<Vec<AppSpec>, ManifestErrors> {
    let text = std::fs::read_to_string(path).map_err(|error| ManifestErrors {
        problems: vec![Problem { file: path.to_path_buf(), line: 1, column: 1, message: format!("cannot read the manifest: {error}") }],
    })?;
    parse(path, &text)
}

/// Checks a manifest's text; `file` names it in messages.
pub fn parse(file: &Path, text: &str) -> Result<Vec<AppSpec>, ManifestErrors> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::Error,
    };
    let raw: RawManifest = serde_saphyr::from_str_with_options(text, options).map_err(|error| {
        let (line, column) = error.location().map(|l| (l.line() as usize, l.column() as usize)).unwrap_or((1, 1));
        let rendered = error.without_snippet().render_with_options(serde_saphyr::render_options! { snippets: serde_saphyr::SnippetMode::Off });
        ManifestErrors { problems: vec![Problem { file: file.to_path_buf(), line: line.max(1), column: column.max(1), message: plain_message(&rendered) }] }
    })?;
    let mut checker = Checker { file: file.to_path_buf(), problems: Vec::new() };
    let defaults = raw.defaults.as_ref().map(|d| d.value.clone()).unwrap_or_default();
    if let Some(defaults) = &raw.defaults {
        for (key, value) in [("group", &defaults.value.group), ("parent", &defaults.value.parent), ("name", &defaults.value.name), ("command", &defaults.value.command)] {
            if let Some(value) = value {
                checker.problem(&value.referenced, format!("`{key}` cannot have a default: each app names its own; move it into the apps"));
            }
        }
    }
    if raw.apps.value.is_empty() {
        checker.problem(&raw.apps.referenced, "`apps` is empty; list at least one app (group, parent, name, command)".to_string());
    }
    let mut apps = Vec::new();
    let mut seen: BTreeMap<(String, String, String), serde_saphyr::Location> = BTreeMap::new();
    for app in &raw.apps.value {
        if let Some(spec) = checker.app(&app.value, &defaults, &app.referenced) {
            let key = (spec.group.clone(), spec.parent.clone(), spec.name.clone());
            if let Some(first) = seen.get(&key) {
                checker.problem(
                    &app.referenced,
                    format!("app {}/{}/{} is listed twice (first at line {}); remove one", key.0, key.1, key.2, first.line()),
                );
            } else {
                seen.insert(key, app.referenced);
                apps.push(spec);
            }
        }
    }
    if checker.problems.is_empty() {
        Ok(apps)
    } else {
        Err(ManifestErrors { problems: checker.problems })
    }
}

/// serde-saphyr's plain rendering starts with `error: line N column M:`; we print the place ourselves.
fn plain_message(rendered: &str) -> String {
    let first = rendered.lines().next().unwrap_or(rendered).trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let message = match first.strip_prefix("line ").and_then(|rest| rest.split_once(": ")) {
        Some((_, message)) => message,
        None => first,
    };
    let message = match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => message,
    };
    if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
        let key = key.split(", set DuplicateKeyPolicy").next().unwrap_or(key).trim();
        return format!("key {key} is written twice; keep one");
    }
    message.to_string()
}

struct Checker {
    file: PathBuf,
    problems: Vec<Problem>,
}

impl Checker {
    fn problem(&mut self, at: &serde_saphyr::Location, message: String) {
        self.problems.push(Problem { file: self.file.clone(), line: at.line().max(1) as usize, column: at.column().max(1) as usize, message });
    }

    fn required(&mut self, value: &Option<Spanned<String>>, key: &str, app_at: &serde_saphyr::Location) -> Option<String> {
        match value {
            Some(v) if !v.value.trim().is_empty() => Some(v.value.trim().to_string()),
            Some(v) => {
                self.problem(&v.referenced, format!("`{key}` is empty; give the app's {key}"));
                None
            }
            None => {
                self.problem(app_at, format!("the app has no `{key}`; every app needs group, parent, name and command"));
                None
            }
        }
    }

    fn app(&mut self, app: &RawApp, defaults: &RawApp, at: &serde_saphyr::Location) -> Option<AppSpec> {
        let before = self.problems.len();
        let group = self.required(&app.group, "group", at);
        let parent = self.required(&app.parent, "parent", at);
        let name = self.required(&app.name, "name", at);
        let command = self.required(&app.command, "command", at);
        let pick = |own: &Option<Spanned<String>>, default: &Option<Spanned<String>>| own.clone().or_else(|| default.clone());
        let schedule = pick(&app.schedule, &defaults.schedule);
        let time_zone = pick(&app.time_zone, &defaults.time_zone);
        let zone_text = time_zone.as_ref().map(|z| z.value.clone()).unwrap_or_else(|| "UTC".to_string());
        if let Some(schedule) = &schedule {
            if let Err(error) = Schedule::parse(&schedule.value, &zone_text) {
                let place = match (&error, &time_zone) {
                    (crate::schedule::ScheduleError::TimeZone(_), Some(zone)) => zone.referenced,
                    _ => schedule.referenced,
                };
                self.problem(&place, error.to_string());
            }
        } else if let Some(zone) = &time_zone {
            if zone_text.parse::<chrono_tz::Tz>().is_err() {
                self.problem(&zone.referenced, crate::schedule::ScheduleError::TimeZone(zone_text.clone()).to_string());
            }
        }
        let overlap = match pick(&app.overlap, &defaults.overlap) {
            None => OverlapPolicy::Forbid,
            Some(value) => match OverlapPolicy::from_key(value.value.as_str()) {
                Ok(policy) => policy,
                Err(_) => {
                    self.problem(&value.referenced, format!("overlap `{}` is unknown; use forbid (the default), allow or replace", value.value));
                    OverlapPolicy::Forbid
                }
            },
        };
        let missed_run = match pick(&app.missed_run, &defaults.missed_run) {
            None => MissedRunPolicy::RunOnce,
            Some(value) => match MissedRunPolicy::from_key(value.value.as_str()) {
                Ok(policy) => policy,
                Err(_) => {
                    self.problem(&value.referenced, format!("missed_run `{}` is unknown; use skip, run_once (the default) or run_all", value.value));
                    MissedRunPolicy::RunOnce
                }
            },
        };
        let run_all_deadline_s = self.number(app.run_all_deadline_s.as_ref().or(defaults.run_all_deadline_s.as_ref()), "run_all_deadline_s", 1, 86_400);
        let failure_threshold = self.number(app.failure_threshold.as_ref().or(defaults.failure_threshold.as_ref()), "failure_threshold", 1, 3);
        let stop_timeout_s = self.number(app.stop_timeout_s.as_ref().or(defaults.stop_timeout_s.as_ref()), "stop_timeout_s", 0, 10);
        let enabled = app.enabled.as_ref().or(defaults.enabled.as_ref()).map(|e| e.value).unwrap_or(true);
        let working_dir = pick(&app.working_dir, &defaults.working_dir).map(|w| w.value);
        if self.problems.len() > before {
            return None;
        }
        Some(AppSpec {
            group: group?,
            parent: parent?,
            name: name?,
            command: command?,
            working_dir,
            schedule: schedule.map(|s| s.value.trim().to_string()),
            time_zone: zone_text,
            overlap,
            missed_run,
            run_all_deadline_s,
            failure_threshold,
            stop_timeout_s,
            enabled,
        })
    }

    fn number(&mut self, value: Option<&Spanned<i64>>, key: &str, minimum: i64, default: i32) -> i32 {
        let Some(value) = value else { return default };
        match i32::try_from(value.value) {
            Ok(number) if value.value >= minimum => number,
            _ => {
                self.problem(&value.referenced, format!("`{key}` is {}; it must be a whole number from {minimum} to {}", value.value, i32::MAX));
                default
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> String {
        parse(Path::new("apps.yaml"), text).unwrap_err().to_string()
    }

    #[test]
    fn a_full_manifest_with_defaults() {
        let apps = parse(
            Path::new("apps.yaml"),
            "defaults:\n  time_zone: Europe/Berlin\n  failure_threshold: 5\napps:\n  - { group: hr, parent: fina, name: daily, command: \"echo hi\", schedule: \"0 2 * * *\" }\n  - group: hr\n    parent: fina\n    name: manual\n    command: ./run.sh\n    overlap: replace\n    missed_run: run_all\n    enabled: false\n    time_zone: UTC\n",
        )
        .unwrap();
        assert_eq!(apps.len(), 2);
        assert_eq!(apps[0].time_zone, "Europe/Berlin");
        assert_eq!(apps[0].failure_threshold, 5);
        assert_eq!(apps[0].overlap, OverlapPolicy::Forbid);
        assert_eq!(apps[0].missed_run, MissedRunPolicy::RunOnce);
        assert!(apps[0].enabled);
        assert_eq!(apps[1].schedule, None);
        assert_eq!(apps[1].overlap, OverlapPolicy::Replace);
        assert_eq!(apps[1].missed_run, MissedRunPolicy::RunAll);
        assert_eq!(apps[1].time_zone, "UTC");
        assert!(!apps[1].enabled);
    }

    #[test]
    fn every_problem_with_its_place() {
        let text = "apps:\n  - group: hr\n    parent: fina\n    name: a\n    command: x\n    schedule: \"0 25 * * *\"\n  - group: hr\n    parent: fina\n    name: b\n    command: x\n    overlap: sometimes\n    time_zone: Mars/Base\n    schedule: every 5m\n  - group: hr\n    name: c\n    command: x\n";
        let message = errors(text);
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(lines.len(), 4, "{message}");
        assert!(lines[0].starts_with("apps.yaml:6:15: `0 25 * * *` is not a cron expression"), "{message}");
        assert!(lines.iter().any(|l| l.starts_with("apps.yaml:11:14: overlap `sometimes` is unknown; use forbid")), "{message}");
        assert!(lines.contains(&"apps.yaml:12:16: `Mars/Base` is not an IANA time zone; use a name like \"UTC\", \"Europe/Berlin\" or \"America/New_York\""), "{message}");
        assert!(lines.iter().any(|l| l.starts_with("apps.yaml:14:5: the app has no `parent`")), "{message}");
    }

    #[test]
    fn unknown_keys_and_duplicates_are_named() {
        let message = errors("apps:\n  - group: hr\n    parent: fina\n    name: a\n    comand: x\n");
        assert!(message.starts_with("apps.yaml:5:5: unknown field `comand`"), "{message}");
        let message = errors("apps:\n  - { group: hr, parent: p, name: a, command: x }\n  - { group: hr, parent: p, name: a, command: y }\n");
        assert_eq!(message, "apps.yaml:3:5: app hr/p/a is listed twice (first at line 2); remove one");
        let message = errors("apps:\n  - { group: hr, parent: p, name: a, command: x, failure_threshold: 0 }\n");
        assert!(message.starts_with("apps.yaml:2:69: `failure_threshold` is 0; it must be a whole number from 1"), "{message}");
    }
}
