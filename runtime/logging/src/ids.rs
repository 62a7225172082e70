//! Hash ids of apps, runtimes and functions.
//!
//! An app's and a parent's id are written by dc-manager's registration and by
//! this crate's database sink, so both take them from here: the framework's row
//! hash (HASHING.md: SHA3-256 of the canonical JSON, text lowercased and stripped
//! of whitespace) over the columns that identify the row, `{app_name,
//! group_name, parent_name}` and `{group_name, parent_name}`. Unlike the parts
//! concatenated, `("ab", "c")` and `("a", "bc")` cannot meet.
//!
//! The data model describes the other ids as "hash of" their parts without
//! fixing the text; those are the parts concatenated with nothing between
//! them. `function_id` (logs) and `function_hash` (app_functions) are the same
//! hash of app id, module and function, so a log line joins the function that
//! wrote it.

use dc_runtime::hash::{sha_hex, HashValue};
use sha3::{Digest, Sha3_256};

/// `apps.app`: the row hash of the app's group, parent and name.
pub fn app_id(group: &str, parent: &str, name: &str) -> String {
    sha_hex(&[("app_name", HashValue::Text(name)), ("group_name", HashValue::Text(group)), ("parent_name", HashValue::Text(parent))])
}

/// `app_parents.parent`: the row hash of the parent's group and name.
pub fn parent_id(group: &str, parent: &str) -> String {
    sha_hex(&[("group_name", HashValue::Text(group)), ("parent_name", HashValue::Text(parent))])
}

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

    /// `apps.app` ([`app_id`]).
    pub fn app_id(&self) -> String {
        app_id(&self.group, &self.parent, &self.name)
    }

    /// `app_parents.parent` ([`parent_id`]).
    pub fn parent_id(&self) -> String {
        parent_id(&self.group, &self.parent)
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
    fn app_ids_are_row_hashes_and_the_others_sha3_of_the_concatenated_parts() {
        // sha3_256(b"abc"), the FIPS 202 example.
        assert_eq!(hash_id(&["a", "bc"]), "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532");
        let app = AppIdentity::new("g", "p", "n");
        assert_eq!(app.app_id(), sha_hex(&[("app_name", HashValue::Text("n")), ("group_name", HashValue::Text("g")), ("parent_name", HashValue::Text("p"))]));
        assert_eq!(app.parent_id(), sha_hex(&[("group_name", HashValue::Text("g")), ("parent_name", HashValue::Text("p"))]));
        // The row hash's rule: case and whitespace do not make another app; the parts'
        // boundaries do.
        assert_eq!(app_id("HR", "fina", "Daily Import"), app_id("hr", "fina", "dailyimport"));
        assert_ne!(app_id("ab", "c", "n"), app_id("a", "bc", "n"));
        assert_ne!(parent_id("hr", "fina"), app_id("hr", "fina", ""));
        assert_eq!(function_id("x", "m", "f"), hash_id(&["xmf"]));
        let start = chrono::NaiveDate::from_ymd_opt(2024, 5, 6).unwrap().and_hms_micro_opt(7, 8, 9, 10).unwrap();
        assert_eq!(runtime_id("x", start, 42), hash_id(&["x2024-05-06 07:08:09.00001042"]));
    }
}
