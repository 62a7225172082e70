//! Hash ids of apps, runtimes and functions: SHA3-256 (lowercase hex) of the parts written one after another.
//!
//! The data model describes each id as "hash of" its parts without fixing
//! the text; ours is the parts concatenated with nothing between them, the
//! way the Python framework builds them from strings. `function_id` (logs)
//! and `function_hash` (app_functions) are the same hash of app id, module
//! and function, so a log line joins the function that wrote it.

use sha3::{Digest, Sha3_256};

/// SHA3-256 of `parts` concatenated, as 64 lowercase hex digits.
pub fn hash_id(parts: &[&str]) -> String {
    let mut hasher = Sha3_256::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Who an app is: `apps` is keyed by group, parent and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppIdentity {
    pub group: String,
    pub parent: String,
    pub name: String,
}

impl AppIdentity {
    pub fn new(group: impl Into<String>, parent: impl Into<String>, name: impl Into<String>) -> AppIdentity {
        AppIdentity { group: group.into(), parent: parent.into(), name: name.into() }
    }

    /// `apps.app`: hash of group + parent + name.
    pub fn app_id(&self) -> String {
        hash_id(&[&self.group, &self.parent, &self.name])
    }

    /// `app_parents.parent`: hash of group + parent.
    pub fn parent_id(&self) -> String {
        hash_id(&[&self.group, &self.parent])
    }
}

/// `runtime.runtime`: hash of the app id, the start time as Python prints
/// `datetime.now()`, and the process id (two processes of one app started
/// in the same microsecond still get two rows).
pub fn runtime_id(app_id: &str, start: chrono::NaiveDateTime, pid: u32) -> String {
    let start = start.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    hash_id(&[app_id, &start, &pid.to_string()])
}

/// `logs.function_id` and `app_functions.function_hash`: hash of app id + module + function.
pub fn function_id(app_id: &str, module: &str, function: &str) -> String {
    hash_id(&[app_id, module, function])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_sha3_of_the_concatenated_parts() {
        // sha3_256(b"abc"), the FIPS 202 example.
        assert_eq!(hash_id(&["a", "bc"]), "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532");
        let app = AppIdentity::new("g", "p", "n");
        assert_eq!(app.app_id(), hash_id(&["gpn"]));
        assert_eq!(app.parent_id(), hash_id(&["gp"]));
        assert_eq!(function_id("x", "m", "f"), hash_id(&["xmf"]));
        let start = chrono::NaiveDate::from_ymd_opt(2024, 5, 6).unwrap().and_hms_micro_opt(7, 8, 9, 10).unwrap();
        assert_eq!(runtime_id("x", start, 42), hash_id(&["x2024-05-06 07:08:09.00001042"]));
    }
}
