//! The hash ids of the data model: `apps.app` and `app_parents.parent` are
//! dc-logging's (one definition for the registration here and for an app's own
//! logging, which writes the same rows); `runtime.runtime` of a run the manager
//! starts is the manager's.

use chrono::NaiveDateTime;
use dc_runtime::hash::{sha_hex, HashValue};

pub use dc_logging::ids::{app_id, parent_id};

/// `runtime.runtime` for one run: the hash of the run's start ("hash of
/// datetime.now()" in the data model), with the run, its fencing token and
/// the manager so two runs can never share one.
pub fn runtime_id(app_id: &str, run_id: i64, token: i64, manager_id: &str, started: NaiveDateTime) -> String {
    sha_hex(&[
        ("app_id", HashValue::Text(app_id)),
        ("fencing_token", HashValue::Int(token)),
        ("manager_id", HashValue::Text(manager_id)),
        ("run_id", HashValue::Int(run_id)),
        ("started", HashValue::Timestamp(started)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_row_hash_rule() {
        // The canonical text of HASHING.md: sorted keys, text lowercased, whitespace removed.
        assert_eq!(
            dc_runtime::hash::canonical_text(&[("app_name", HashValue::Text("Daily Import")), ("group_name", HashValue::Text("HR")), ("parent_name", HashValue::Text("fina"))]),
            r#"{"app_name": "dailyimport", "group_name": "hr", "parent_name": "fina"}"#
        );
        assert_eq!(app_id("HR", "fina", "Daily Import"), app_id("hr", "fina", "dailyimport"));
        assert_ne!(app_id("hr", "fina", "a"), app_id("hr", "fin", "a"));
        assert_eq!(app_id("hr", "fina", "a").len(), 64);
        assert_ne!(parent_id("hr", "fina"), app_id("hr", "fina", ""));
    }
}
