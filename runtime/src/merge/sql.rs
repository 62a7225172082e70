//! Every SQL statement merge sends, built from the table's facts; identifiers quoted by `quote_ident`, values always bound or set as parameters, never spliced.

use crate::table::{quote_ident, SpecType, TableInfo};

/// The names and types merge's statements need, decided once per merge.
#[derive(Debug, Clone)]
pub(crate) struct Statements {
    pub table: String,
    /// The locator expression (`"id"` or `ctid`) and its type.
    pub locator: String,
    pub locator_type: LocatorType,
    pub sha: String,
    pub archive: Option<(String, SpecType)>,
    /// `"col" = current_setting('dc_merge.scope_0')::type AND …`, or `TRUE`.
    pub scope_filter: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LocatorType {
    SmallInt,
    Int,
    BigInt,
    Ctid,
}

/// Collects a finished COPY's last result (see `copy::copy_out`).
pub(crate) const AFTER_COPY_OUT: &str = "SELECT 1";

/// The transaction-local setting that carries scope value `index`; COPY
/// takes no parameters, so scope values travel this way instead of as text
/// inside the statement.
pub(crate) fn scope_setting(index: usize) -> String {
    format!("dc_merge.scope_{index}")
}

impl Statements {
    /// `scope` holds (column name, type, whether the value is NULL).
    pub fn new(info: &TableInfo, locator: Option<(&str, LocatorType)>, sha: &str, archive: Option<(&str, &SpecType)>, scope: &[(&str, &SpecType, bool)]) -> Statements {
        let (locator, locator_type) = match locator {
            Some((name, ty)) => (quote_ident(name), ty),
            None => ("ctid".to_string(), LocatorType::Ctid),
        };
        let conditions: Vec<String> = scope
            .iter()
            .enumerate()
            .map(|(index, (name, ty, is_null))| {
                if *is_null {
                    format!("{} IS NULL", quote_ident(name))
                } else {
                    format!("{} = current_setting('{}')::{}", quote_ident(name), scope_setting(index), ty.postgres_name())
                }
            })
            .collect();
        Statements {
            table: info.qualified_name(),
            locator,
            locator_type,
            sha: quote_ident(sha),
            archive: archive.map(|(name, ty)| (quote_ident(name), ty.clone())),
            scope_filter: if conditions.is_empty() { "TRUE".into() } else { conditions.join(" AND ") },
        }
    }

    /// `SELECT set_config(…, $n, true), …` for the non-NULL scope values.
    pub fn set_scope(&self, count: usize) -> String {
        let calls: Vec<String> = (0..count).map(|i| format!("set_config('{}', ${}, true)", scope_setting(i), i + 1)).collect();
        format!("SELECT {}", calls.join(", "))
    }

    /// Waits for one transaction-scoped advisory lock (`$1`), shared or exclusive.
    pub fn lock(&self, shared: bool) -> &'static str {
        if shared {
            "SELECT pg_advisory_xact_lock_shared($1)"
        } else {
            "SELECT pg_advisory_xact_lock($1)"
        }
    }

    /// Tries for the lock once; `locked` says whether it was taken.
    pub fn try_lock(&self, shared: bool) -> &'static str {
        if shared {
            "SELECT pg_try_advisory_xact_lock_shared($1) AS locked"
        } else {
            "SELECT pg_try_advisory_xact_lock($1) AS locked"
        }
    }

    /// The scope's active rows (locator, sha), or with `keys` (a keyed
    /// merge; the key may be empty) every row in scope with its archive
    /// time and key columns.
    pub fn existing(&self, keys: Option<&[&str]>) -> String {
        let archive_expr = match &self.archive {
            Some((archive, _)) => archive.clone(),
            None => "NULL::timestamp".into(),
        };
        match keys {
            None => {
                let active = match &self.archive {
                    Some((archive, _)) => format!(" AND {archive} IS NULL"),
                    None => String::new(),
                };
                format!("SELECT {}, {} FROM {} WHERE {}{active}", self.locator, self.sha, self.table, self.scope_filter)
            }
            Some(keys) => {
                let keys: String = keys.iter().map(|k| format!(", {}", quote_ident(k))).collect();
                format!("SELECT {}, {}, {archive_expr}{keys} FROM {} WHERE {}", self.locator, self.sha, self.table, self.scope_filter)
            }
        }
    }

    /// Every row of the table, any scope, archived or not: locator and `columns`.
    pub fn unique_values(&self, columns: &[&str]) -> String {
        let columns: String = columns.iter().map(|c| format!(", {}", quote_ident(c))).collect();
        format!("SELECT {}{columns} FROM {}", self.locator, self.table)
    }

    /// The COPY target for new rows.
    pub fn insert_target(&self, columns: &[&str]) -> String {
        let columns: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        format!("{} ({})", self.table, columns.join(", "))
    }

    fn locator_array(&self) -> &'static str {
        match self.locator_type {
            LocatorType::Ctid => "$1::text[]::tid[]",
            _ => "$1",
        }
    }

    fn now(&self) -> &'static str {
        match &self.archive {
            Some((_, SpecType::DateTimeTz)) => "now()",
            // `datetime` columns hold UTC, as the spec's `now` default does.
            _ => "timezone('utc', now())",
        }
    }

    pub fn archive_rows(&self) -> Option<String> {
        let (archive, _) = self.archive.as_ref()?;
        Some(format!("UPDATE {} SET {archive} = {} WHERE {} = ANY({})", self.table, self.now(), self.locator, self.locator_array()))
    }

    pub fn delete_rows(&self) -> String {
        format!("DELETE FROM {} WHERE {} = ANY({})", self.table, self.locator, self.locator_array())
    }

    pub const CHANGES: &'static str = "pg_temp.dc_merge_changes";

    /// A temporary table shaped like the columns an in-place update writes.
    pub fn create_changes(&self, columns: &[&str]) -> String {
        let columns: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        format!(
            "CREATE TEMP TABLE dc_merge_changes ON COMMIT DROP AS SELECT {} AS dc_locator, 0::bigint AS dc_mask, {} FROM {} WITH NO DATA",
            self.locator,
            columns.join(", "),
            self.table
        )
    }

    pub fn changes_target(&self, columns: &[&str]) -> String {
        let mut all = vec!["dc_locator".to_string(), "dc_mask".to_string()];
        all.extend(columns.iter().map(|c| quote_ident(c)));
        format!("{} ({})", Self::CHANGES, all.join(", "))
    }

    /// Updates the rows staged with `mask`; `defaulted` columns go back to
    /// their database default, and an archived row becomes active again.
    pub fn apply_changes(&self, columns: &[&str], defaulted: &[&str], mask: u64) -> String {
        let mut sets: Vec<String> = columns
            .iter()
            .map(|c| if defaulted.contains(c) { format!("{} = DEFAULT", quote_ident(c)) } else { format!("{0} = c.{0}", quote_ident(c)) })
            .collect();
        if let Some((archive, _)) = &self.archive {
            sets.push(format!("{archive} = NULL"));
        }
        format!(
            "UPDATE {} AS t SET {} FROM {} AS c WHERE t.{} = c.dc_locator AND c.dc_mask = {}",
            self.table,
            sets.join(", "),
            Self::CHANGES,
            self.locator,
            // Masks are numbers merge computed, written as a signed literal.
            mask as i64
        )
    }

    pub fn drop_changes(&self) -> String {
        format!("DROP TABLE {}", Self::CHANGES)
    }
}

/// Codebook sync: a deprecated value the table lacks, added already archived
/// (`$1` value, `$2` description, `$3` sha), as the migration seeds it.
pub(crate) fn insert_archived_codebook_value(info: &TableInfo, value: &str, description: &str, sha: &str, archive: (&str, &SpecType)) -> String {
    let now = match archive.1 {
        SpecType::DateTimeTz => "now()",
        _ => "timezone('utc', now())",
    };
    format!(
        "INSERT INTO {} ({}, {}, {}, {}) VALUES ($1, $2, $3, {now}) ON CONFLICT DO NOTHING",
        info.qualified_name(),
        quote_ident(value),
        quote_ident(description),
        quote_ident(sha),
        quote_ident(archive.0),
    )
}
