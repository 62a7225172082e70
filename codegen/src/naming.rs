//! Constraint naming conventions: templates with placeholders, and the length rule that
//! keeps a cut name the same on every dialect.

use sha3::{Digest, Sha3_256};

/// The naming templates in force, defaults from SPEC-FORMAT.md.
#[derive(Clone, Debug)]
pub struct Naming {
    pub primary_key: String,
    pub index: String,
    pub unique: String,
    pub foreign_key: String,
    pub check: String,
    pub default: String,
    /// Our addition: the `on_update: now` trigger (and its PostgreSQL function).
    pub trigger: String,
    /// The shortest identifier limit among the enabled dialects.
    pub limit: usize,
}

impl Default for Naming {
    fn default() -> Self {
        Naming {
            primary_key: "pk_{table}".into(),
            index: "ix_{table}_{columns}".into(),
            unique: "uq_{table}_{columns}".into(),
            foreign_key: "fk_{table}_{columns}_{referred_table}".into(),
            check: "ck_{table}_{name}".into(),
            default: "df_{table}_{column}".into(),
            trigger: "tr_{table}_{column}".into(),
            limit: 63,
        }
    }
}

/// The placeholders each kind of name may use.
pub fn placeholders(kind: &str) -> &'static [&'static str] {
    match kind {
        "primary_key" => &["table", "columns", "column_0"],
        "index" | "unique" => &["table", "columns", "column_0"],
        "foreign_key" => &["table", "columns", "column_0", "referred_table"],
        "check" => &["table", "name"],
        "default" | "trigger" => &["table", "column"],
        _ => &[],
    }
}

/// The `{placeholder}` names used in a template, or the first malformed part.
pub fn template_placeholders(template: &str) -> Result<Vec<&str>, String> {
    let mut found = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(format!("`{{` at byte {} is never closed", template.len() - rest.len() + open));
        };
        found.push(&after[..close]);
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err("a `}` has no matching `{`".into());
    }
    Ok(found)
}

/// Values for one name.
#[derive(Default)]
pub struct NameParts<'a> {
    pub table: &'a str,
    pub columns: &'a [&'a str],
    pub referred_table: &'a str,
    pub name: &'a str,
    pub column: &'a str,
}

/// Fill a template and cut it to `limit` bytes. A cut name ends in `_` and the first 8
/// hex digits of the SHA3-256 of the full name, so it is deterministic and the same on
/// every dialect.
pub fn render(template: &str, parts: &NameParts, limit: usize) -> String {
    let joined = parts.columns.join("_");
    let full = template
        .replace("{table}", parts.table)
        .replace("{columns}", &joined)
        .replace("{column_0}", parts.columns.first().copied().unwrap_or(""))
        .replace("{referred_table}", parts.referred_table)
        .replace("{name}", parts.name)
        .replace("{column}", parts.column);
    shorten(&full, limit)
}

pub fn shorten(full: &str, limit: usize) -> String {
    if full.len() <= limit {
        return full.to_string();
    }
    let digest = Sha3_256::digest(full.as_bytes());
    let suffix = &hex::encode(digest)[..8];
    let mut keep = limit - 9;
    while !full.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}_{}", &full[..keep], suffix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_with_a_stable_hash_suffix() {
        let long = "x".repeat(80);
        let cut = shorten(&long, 63);
        assert_eq!(cut.len(), 63);
        assert!(cut.starts_with(&"x".repeat(54)));
        assert_eq!(cut.as_bytes()[54], b'_');
        assert_eq!(cut, shorten(&long, 63));
        assert_ne!(cut, shorten(&"x".repeat(81), 63));
    }

    #[test]
    fn templates_fill_every_placeholder() {
        let parts = NameParts { table: "apps", columns: &["a", "b"], referred_table: "groups", ..Default::default() };
        assert_eq!(render("fk_{table}_{columns}_{referred_table}", &parts, 63), "fk_apps_a_b_groups");
        assert_eq!(render("uq_{table}_{column_0}", &parts, 63), "uq_apps_a");
        assert_eq!(template_placeholders("ix_{table}_{columns}").unwrap(), vec!["table", "columns"]);
        assert!(template_placeholders("ix_{table").is_err());
    }
}
