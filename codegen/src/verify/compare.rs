//! The drift check proper: the catalog the spec's migrations build (expected) against the
//! live one (found), one [`Difference`] per thing that is not the same. Pure: both sides
//! are [`Catalog`] snapshots, so every rule is tested without a server.
//!
//! Definitions are compared as exact text. Both sides were printed by the same server
//! with the same settings, so an equal definition prints equal and any other text is a
//! real difference; nothing is matched loosely.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::snapshot::{Catalog, CodebookRow, Column, Table, Trigger};

/// Tables that are never drift: Diesel's record of applied migrations.
pub const IGNORED_TABLES: &[&str] = &["__diesel_schema_migrations"];

/// One way the database is not what the spec says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// What differs, e.g. `column order.note`, `index ix_order_note on order`.
    pub subject: String,
    pub problem: Problem,
    pub hint: Hint,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The spec has it, the database does not; `expected` describes it when that helps.
    Missing { expected: Option<String> },
    /// The database has it, the spec does not.
    Unexpected { found: Option<String> },
    /// Both have it, and one aspect differs.
    Differs { aspect: &'static str, expected: String, found: String },
}

/// The likely cause, and so what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hint {
    /// The spec is ahead of the database.
    RunPendingMigrations,
    /// The database was changed outside the migrations.
    ChangedByHand,
}

impl Hint {
    pub fn text(self) -> &'static str {
        match self {
            Hint::RunPendingMigrations => "run the pending migrations",
            Hint::ChangedByHand => "someone changed the database by hand",
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            Problem::Missing { expected: Some(expected) } => write!(f, "{} is missing (expected {})", self.subject, expected)?,
            Problem::Missing { expected: None } => write!(f, "{} is missing", self.subject)?,
            Problem::Unexpected { found: Some(found) } => write!(f, "{} is not in the spec (found {})", self.subject, found)?,
            Problem::Unexpected { found: None } => write!(f, "{} is not in the spec", self.subject)?,
            Problem::Differs { aspect, expected, found } => write!(f, "{}: {aspect} differs: expected {expected}, found {found}", self.subject)?,
        }
        write!(f, "; hint: {}", self.hint.text())
    }
}

/// Every difference between the expected and the found catalog, in a stable order:
/// tables by name, and within a table: the table, its columns, constraints, indexes,
/// triggers, partitions and codebook rows.
pub fn compare(expected: &Catalog, found: &Catalog) -> Vec<Difference> {
    let mut out = Vec::new();
    let names: BTreeSet<&String> = expected.tables.keys().chain(found.tables.keys()).collect();
    for name in names {
        match (expected.tables.get(name), found.tables.get(name)) {
            (Some(_), None) => out.push(missing(format!("table {}", one_line(name)), None)),
            (None, Some(table)) if !IGNORED_TABLES.contains(&name.as_str()) => {
                let columns = table.columns.iter().map(|c| one_line(&c.name)).collect::<Vec<_>>().join(", ");
                let found = if columns.is_empty() { "no columns".to_string() } else { format!("columns: {columns}") };
                out.push(unexpected(format!("table {}", one_line(name)), Some(found)));
            }
            (Some(expected), Some(found)) => compare_table(name, expected, found, &mut out),
            _ => {}
        }
    }
    out
}

fn compare_table(name: &str, expected: &Table, found: &Table, out: &mut Vec<Difference>) {
    let table = one_line(name);
    if expected.comment != found.comment {
        out.push(differs(format!("table {table}"), "comment", text_or_none(&expected.comment), text_or_none(&found.comment)));
    }
    if expected.partition_key != found.partition_key {
        let show = |key: &Option<String>| key.as_deref().map(one_line).unwrap_or_else(|| "not partitioned".into());
        out.push(differs(format!("table {table}"), "partitioning", show(&expected.partition_key), show(&found.partition_key)));
    }
    compare_columns(&table, expected, found, out);
    compare_named(
        &expected.constraints,
        &found.constraints,
        |name, c| format!("{} {} on {table}", c.kind.noun(), one_line(name)),
        |c| one_line(&c.definition),
        |subject, expected, found, out| {
            if expected.kind != found.kind || expected.definition != found.definition {
                out.push(differs(subject, "definition", one_line(&expected.definition), one_line(&found.definition)));
            }
        },
        out,
    );
    compare_named(
        &expected.indexes,
        &found.indexes,
        |name, _| format!("index {} on {table}", one_line(name)),
        |definition| one_line(definition),
        |subject, expected, found, out| {
            if expected != found {
                out.push(differs(subject, "definition", one_line(expected), one_line(found)));
            }
        },
        out,
    );
    compare_named(
        &expected.triggers,
        &found.triggers,
        |name, _| format!("trigger {} on {table}", one_line(name)),
        |t| one_line(&t.definition),
        compare_trigger,
        out,
    );
    // Only the expected partitions (the default one) must exist: partitions made by
    // operations are not drift.
    for (partition, bound) in &expected.partitions {
        let subject = format!("partition {} of {table}", one_line(partition));
        match found.partitions.get(partition) {
            None => out.push(missing(subject, Some(format!("PARTITION OF {table} {}", one_line(bound))))),
            Some(found_bound) if found_bound != bound => out.push(differs(subject, "bound", one_line(bound), one_line(found_bound))),
            Some(_) => {}
        }
    }
    if let (Some(expected_rows), Some(found_rows)) = (&expected.rows, &found.rows) {
        compare_rows(&table, expected_rows, found_rows, out);
    }
}

fn compare_columns(table: &str, expected: &Table, found: &Table, out: &mut Vec<Difference>) {
    for column in &expected.columns {
        let subject = format!("column {table}.{}", one_line(&column.name));
        let Some(other) = found.column(&column.name) else {
            out.push(missing(subject, Some(column_definition(column))));
            continue;
        };
        if column.type_name != other.type_name {
            out.push(differs(subject.clone(), "type", one_line(&column.type_name), one_line(&other.type_name)));
        }
        if column.not_null != other.not_null {
            let show = |not_null: bool| if not_null { "NOT NULL" } else { "NULL allowed" }.to_string();
            out.push(differs(subject.clone(), "nullability", show(column.not_null), show(other.not_null)));
        }
        if column.generated != other.generated {
            out.push(differs(subject.clone(), "generation", sql_or_none(&column.generated), sql_or_none(&other.generated)));
        }
        if column.default != other.default {
            out.push(differs(subject.clone(), "default", sql_or_none(&column.default), sql_or_none(&other.default)));
        }
        if column.comment != other.comment {
            out.push(differs(subject, "comment", text_or_none(&column.comment), text_or_none(&other.comment)));
        }
    }
    for column in found.columns.iter().filter(|c| expected.column(&c.name).is_none()) {
        out.push(unexpected(format!("column {table}.{}", one_line(&column.name)), Some(column_definition(column))));
    }
}

/// Objects of one kind matched by name: missing, unexpected, or compared by `same`.
fn compare_named<T>(
    expected: &BTreeMap<String, T>,
    found: &BTreeMap<String, T>,
    subject: impl Fn(&str, &T) -> String,
    describe: impl Fn(&T) -> String,
    same: impl Fn(String, &T, &T, &mut Vec<Difference>),
    out: &mut Vec<Difference>,
) {
    for (name, item) in expected {
        match found.get(name) {
            None => out.push(missing(subject(name, item), Some(describe(item)))),
            Some(other) => same(subject(name, item), item, other, out),
        }
    }
    for (name, item) in found.iter().filter(|(name, _)| !expected.contains_key(*name)) {
        out.push(unexpected(subject(name, item), Some(describe(item))));
    }
}

fn compare_trigger(subject: String, expected: &Trigger, found: &Trigger, out: &mut Vec<Difference>) {
    if expected.definition != found.definition {
        out.push(differs(subject.clone(), "definition", one_line(&expected.definition), one_line(&found.definition)));
    }
    if expected.enabled != found.enabled {
        out.push(differs(subject.clone(), "state", trigger_state(&expected.enabled), trigger_state(&found.enabled)));
    }
    // A function of another name shows in the definition already.
    if expected.function == found.function && expected.function_body != found.function_body {
        out.push(differs(subject, "function body", one_line(&expected.function_body), one_line(&found.function_body)));
    }
}

fn trigger_state(tgenabled: &str) -> String {
    match tgenabled {
        "O" => "enabled".into(),
        "D" => "disabled".into(),
        "R" => "enabled on replicas only".into(),
        "A" => "enabled always".into(),
        other => format!("tgenabled {}", one_line(other)),
    }
}

fn compare_rows(table: &str, expected: &[CodebookRow], found: &[CodebookRow], out: &mut Vec<Difference>) {
    let found_by_value: BTreeMap<&str, &CodebookRow> = found.iter().map(|row| (row.value.as_str(), row)).collect();
    let expected_values: BTreeSet<&str> = expected.iter().map(|row| row.value.as_str()).collect();
    for row in expected {
        let subject = format!("codebook {table} row {}", one_line(&row.value));
        let Some(other) = found_by_value.get(row.value.as_str()) else {
            out.push(missing(subject, Some(format!("description {}", text_or_none(&row.description)))));
            continue;
        };
        if row.description != other.description {
            out.push(differs(subject.clone(), "description", text_or_none(&row.description), text_or_none(&other.description)));
        } else if row.sha != other.sha {
            // A changed description also changes the hash; report the cause only.
            out.push(differs(subject.clone(), "row hash", text_or_none(&row.sha), text_or_none(&other.sha)));
        }
        if row.archived != other.archived {
            let show = |archived: bool| if archived { "archived (deprecated)" } else { "not archived" }.to_string();
            out.push(differs(subject, "archive", show(row.archived), show(other.archived)));
        }
    }
    for row in found.iter().filter(|row| !expected_values.contains(row.value.as_str())) {
        out.push(unexpected(format!("codebook {table} row {}", one_line(&row.value)), Some(format!("description {}", text_or_none(&row.description)))));
    }
}

/// `integer NOT NULL DEFAULT 1`: a column as `CREATE TABLE` would spell it.
fn column_definition(column: &Column) -> String {
    let mut text = column.type_name.clone();
    if let Some(generated) = &column.generated {
        text.push(' ');
        text.push_str(generated);
    }
    if column.not_null {
        text.push_str(" NOT NULL");
    }
    if let (Some(default), None) = (&column.default, &column.generated) {
        text.push_str(" DEFAULT ");
        text.push_str(default);
    }
    one_line(&text)
}

fn missing(subject: String, expected: Option<String>) -> Difference {
    Difference { subject, problem: Problem::Missing { expected }, hint: Hint::RunPendingMigrations }
}

fn unexpected(subject: String, found: Option<String>) -> Difference {
    Difference { subject, problem: Problem::Unexpected { found }, hint: Hint::ChangedByHand }
}

fn differs(subject: String, aspect: &'static str, expected: String, found: String) -> Difference {
    Difference { subject, problem: Problem::Differs { aspect, expected, found }, hint: Hint::ChangedByHand }
}

/// SQL as one line: each difference is one line of output, and function bodies and
/// hand-written definitions may hold newlines.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

fn sql_or_none(sql: &Option<String>) -> String {
    sql.as_deref().map(one_line).unwrap_or_else(|| "none".into())
}

/// Free text (comments, descriptions) in double quotes, escaped, so that trailing
/// spaces and empty strings are visible.
fn text_or_none(text: &Option<String>) -> String {
    text.as_deref().map(|t| format!("{t:?}")).unwrap_or_else(|| "none".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::snapshot::{Constraint, ConstraintKind};

    fn column(name: &str, type_name: &str, not_null: bool, default: Option<&str>) -> Column {
        Column { name: name.into(), type_name: type_name.into(), not_null, default: default.map(String::from), generated: None, comment: None }
    }

    fn catalog() -> Catalog {
        let mut order = Table {
            comment: Some("Orders".into()),
            columns: vec![
                column("id", "bigint", true, None),
                column("note", "character varying(200)", false, Some("'x'::character varying")),
                column("interval", "integer", true, Some("1")),
            ],
            ..Table::default()
        };
        order.columns[0].generated = Some("GENERATED BY DEFAULT AS IDENTITY".into());
        order.constraints.insert("pk_order".into(), Constraint { kind: ConstraintKind::PrimaryKey, definition: "PRIMARY KEY (id)".into() });
        order.constraints.insert("ck_order_interval".into(), Constraint { kind: ConstraintKind::Check, definition: "CHECK (\"interval\" > 0)".into() });
        order.indexes.insert("ix_order_note".into(), "CREATE INDEX ix_order_note ON \"order\" USING btree (note)".into());
        order.triggers.insert(
            "tr_order_updated".into(),
            Trigger {
                definition: "CREATE TRIGGER tr_order_updated BEFORE UPDATE ON \"order\" FOR EACH ROW EXECUTE FUNCTION tr_order_updated()".into(),
                enabled: "O".into(),
                function: "tr_order_updated".into(),
                function_body: "\nBEGIN\n    NEW.\"updated\" := now();\n    RETURN NEW;\nEND;\n".into(),
            },
        );
        let codebook = Table {
            columns: vec![column("id", "integer", true, None), column("description", "character varying(128)", true, None)],
            rows: Some(vec![
                CodebookRow { value: "1".into(), description: Some("Low".into()), sha: Some("aa".into()), archived: false },
                CodebookRow { value: "9".into(), description: Some("Old".into()), sha: Some("bb".into()), archived: true },
            ]),
            ..Table::default()
        };
        let mut event = Table { partition_key: Some("LIST (kind)".into()), ..Table::default() };
        event.partitions.insert("event_default".into(), "DEFAULT".into());
        let mut tables = BTreeMap::new();
        tables.insert("order".to_string(), order);
        tables.insert("c_priority".to_string(), codebook);
        tables.insert("event".to_string(), event);
        Catalog { tables }
    }

    fn lines(expected: &Catalog, found: &Catalog) -> Vec<String> {
        compare(expected, found).iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn identical_catalogs_have_no_difference() {
        assert_eq!(compare(&catalog(), &catalog()), vec![]);
    }

    #[test]
    fn column_changes_are_each_named_with_expected_and_found() {
        let expected = catalog();
        let mut found = catalog();
        let order = found.tables.get_mut("order").unwrap();
        order.columns[1].type_name = "text".into();
        order.columns[1].not_null = true;
        order.columns[1].default = None;
        order.columns[2].comment = Some("by hand".into());
        order.columns[0].generated = None;
        assert_eq!(
            lines(&expected, &found),
            vec![
                "column order.id: generation differs: expected GENERATED BY DEFAULT AS IDENTITY, found none; hint: someone changed the database by hand",
                "column order.note: type differs: expected character varying(200), found text; hint: someone changed the database by hand",
                "column order.note: nullability differs: expected NULL allowed, found NOT NULL; hint: someone changed the database by hand",
                "column order.note: default differs: expected 'x'::character varying, found none; hint: someone changed the database by hand",
                "column order.interval: comment differs: expected none, found \"by hand\"; hint: someone changed the database by hand",
            ]
        );
    }

    #[test]
    fn missing_and_extra_objects_are_named() {
        let expected = catalog();
        let mut found = catalog();
        found.tables.insert("scratch".into(), Table { columns: vec![column("a", "integer", false, None)], ..Table::default() });
        found.tables.insert("__diesel_schema_migrations".into(), Table::default());
        found.tables.remove("event");
        let order = found.tables.get_mut("order").unwrap();
        order.columns.remove(2);
        order.columns.push(column("extra", "text", false, None));
        order.constraints.remove("ck_order_interval");
        order.indexes.remove("ix_order_note");
        order.indexes.insert("ix_by_hand".into(), "CREATE INDEX ix_by_hand ON \"order\" USING btree (extra)".into());
        order.triggers.remove("tr_order_updated");
        assert_eq!(
            lines(&expected, &found),
            vec![
                "table event is missing; hint: run the pending migrations",
                "column order.interval is missing (expected integer NOT NULL DEFAULT 1); hint: run the pending migrations",
                "column order.extra is not in the spec (found text); hint: someone changed the database by hand",
                "check ck_order_interval on order is missing (expected CHECK (\"interval\" > 0)); hint: run the pending migrations",
                "index ix_order_note on order is missing (expected CREATE INDEX ix_order_note ON \"order\" USING btree (note)); hint: run the pending migrations",
                "index ix_by_hand on order is not in the spec (found CREATE INDEX ix_by_hand ON \"order\" USING btree (extra)); hint: someone changed the database by hand",
                "trigger tr_order_updated on order is missing (expected CREATE TRIGGER tr_order_updated BEFORE UPDATE ON \"order\" FOR EACH ROW EXECUTE FUNCTION tr_order_updated()); hint: run the pending migrations",
                "table scratch is not in the spec (found columns: a); hint: someone changed the database by hand",
            ]
        );
    }

    #[test]
    fn changed_definitions_triggers_and_comments() {
        let expected = catalog();
        let mut found = catalog();
        let order = found.tables.get_mut("order").unwrap();
        order.comment = None;
        order.constraints.get_mut("ck_order_interval").unwrap().definition = "CHECK (\"interval\" >= 0)".into();
        *order.indexes.get_mut("ix_order_note").unwrap() = "CREATE UNIQUE INDEX ix_order_note ON \"order\" USING btree (note)".into();
        let trigger = order.triggers.get_mut("tr_order_updated").unwrap();
        trigger.enabled = "D".into();
        trigger.function_body = "BEGIN RETURN NEW; END;".into();
        assert_eq!(
            lines(&expected, &found),
            vec![
                "table order: comment differs: expected \"Orders\", found none; hint: someone changed the database by hand",
                "check ck_order_interval on order: definition differs: expected CHECK (\"interval\" > 0), found CHECK (\"interval\" >= 0); hint: someone changed the database by hand",
                "index ix_order_note on order: definition differs: expected CREATE INDEX ix_order_note ON \"order\" USING btree (note), found CREATE UNIQUE INDEX ix_order_note ON \"order\" USING btree (note); hint: someone changed the database by hand",
                "trigger tr_order_updated on order: state differs: expected enabled, found disabled; hint: someone changed the database by hand",
                "trigger tr_order_updated on order: function body differs: expected \\nBEGIN\\n    NEW.\"updated\" := now();\\n    RETURN NEW;\\nEND;\\n, found BEGIN RETURN NEW; END;; hint: someone changed the database by hand",
            ]
        );
    }

    #[test]
    fn codebook_rows_values_descriptions_and_archive() {
        let expected = catalog();
        let mut found = catalog();
        let rows = found.tables.get_mut("c_priority").unwrap().rows.as_mut().unwrap();
        rows[0].description = Some("Low ".into());
        rows[0].sha = Some("stale".into());
        rows[1].archived = false;
        rows.push(CodebookRow { value: "5".into(), description: None, sha: None, archived: false });
        let mut deleted = catalog();
        deleted.tables.get_mut("c_priority").unwrap().rows.as_mut().unwrap().remove(0);
        assert_eq!(
            lines(&expected, &found),
            vec![
                "codebook c_priority row 1: description differs: expected \"Low\", found \"Low \"; hint: someone changed the database by hand",
                "codebook c_priority row 9: archive differs: expected archived (deprecated), found not archived; hint: someone changed the database by hand",
                "codebook c_priority row 5 is not in the spec (found description none); hint: someone changed the database by hand",
            ]
        );
        assert_eq!(lines(&expected, &deleted), vec!["codebook c_priority row 1 is missing (expected description \"Low\"); hint: run the pending migrations"]);
    }

    #[test]
    fn only_expected_partitions_matter() {
        let expected = catalog();
        let mut found = catalog();
        let event = found.tables.get_mut("event").unwrap();
        event.partitions.insert("event_2026_01".into(), "FOR VALUES IN ('a')".into());
        assert_eq!(compare(&expected, &found), vec![]);
        found.tables.get_mut("event").unwrap().partitions.remove("event_default");
        assert_eq!(
            lines(&expected, &found),
            vec!["partition event_default of event is missing (expected PARTITION OF event DEFAULT); hint: run the pending migrations"]
        );
        found.tables.get_mut("event").unwrap().partition_key = None;
        assert_eq!(compare(&expected, &found)[0].to_string(), "table event: partitioning differs: expected LIST (kind), found not partitioned; hint: someone changed the database by hand");
    }

    #[test]
    fn names_and_definitions_stay_on_one_line() {
        let expected = catalog();
        let mut found = catalog();
        found.tables.insert("evil\nname".into(), Table::default());
        let text = lines(&expected, &found).join("\n");
        assert_eq!(text, "table evil\\nname is not in the spec (found no columns); hint: someone changed the database by hand");
    }
}
