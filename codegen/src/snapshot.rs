//! The schema snapshot: the resolved model the migrations produce, kept as JSON beside
//! them. It is committed, merged and hand-edited like any file, so it is read as
//! untrusted input: conflict markers, truncated or foreign JSON, and ids that point
//! nowhere are errors that say how to recover, never a panic further down the road.

use std::path::Path;

use dc_runtime::hash::Sha3_256;
use sha3::Digest;

use crate::model::{CheckKind, Column, ColumnId, ColumnType, DefaultValue, EnumId, Model, Predicate, Table, TableId};

/// The newest snapshot (the schema after the last migration), relative to OUT: what
/// `gen` diffs the spec against.
pub const HEAD_FILE: &str = "migrations/schema.snapshot.json";

/// How to get a good snapshot back, appended to every snapshot error: `kept` is the
/// snapshot kept for the newest migration, when there is one.
fn recover(kept: Option<&Path>) -> String {
    let kept = kept.map_or("the snapshot kept for the newest migration (`migrations/snapshots/<version>_<name>.json`)".to_string(), |p| format!("`{}`", p.display()));
    format!("copy {kept} over it, or restore it from version control (`git checkout -- <file>`)")
}

/// The snapshot text of a model: deterministic pretty JSON with a final newline.
pub fn to_text(model: &Model) -> Result<String, crate::Error> {
    serde_json::to_string_pretty(model).map(|text| text + "\n").map_err(|e| crate::Error::Snapshot(format!("cannot serialize the schema snapshot: {e}")))
}

/// `sha3-256:<hex>` of a file's bytes, as the sum file records it.
pub fn hash(bytes: &[u8]) -> String {
    hash_of_parts([bytes])
}

/// [`hash`] of the concatenation of `parts`, without building it (the migration files
/// of a large spec are megabytes). SHA3 from dc-runtime's fastest implementation.
pub fn hash_of_parts<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut hasher = Sha3_256::new();
    for part in parts {
        hasher.update(part);
    }
    format!("sha3-256:{}", hex::encode(hasher.finalize()))
}

/// The head snapshot in `out`, validated; `None` when no migration was written yet.
pub fn read_head(out: &Path) -> Result<Option<Model>, crate::Error> {
    let path = out.join(HEAD_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| crate::Error::Io(path.clone(), e))?;
    let newest = crate::history::migrations(out)?.pop().map(|m| out.join(m.snapshot_path())).filter(|p| p.exists());
    parse_as(&text, &path, &recover(newest.as_deref())).map(Some)
}

/// A snapshot file, parsed and validated.
pub fn read(path: &Path) -> Result<Model, crate::Error> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::Error::Io(path.to_path_buf(), e))?;
    parse(&text, path)
}

/// Parse and validate snapshot text read from `path` (named in the errors).
pub fn parse(text: &str, path: &Path) -> Result<Model, crate::Error> {
    parse_as(text, path, &recover(None))
}

fn parse_as(text: &str, path: &Path, recover: &str) -> Result<Model, crate::Error> {
    let shown = path.display();
    if let Some(line) = conflict_marker_line(text) {
        return Err(crate::Error::Snapshot(format!(
            "`{shown}` has a merge-conflict marker at line {line}: two branches changed the schema and the merge left both versions in it.\n  \
             = help: if both branches added a migration, keep every migration folder and run `dcgen rebase --spec SPEC --out OUT <version of your migration>`, \
             which re-plans yours after the others and rewrites this file; otherwise {recover}"
        )));
    }
    let model: Model = serde_json::from_str(text).map_err(|e| {
        let what = if e.is_eof() { "the file ends in the middle (truncated)".to_string() } else { e.to_string() };
        crate::Error::Snapshot(format!("`{shown}` is not a schema snapshot dcgen can read: {what}.\n  = help: {recover}"))
    })?;
    let problems = problems(&model);
    if !problems.is_empty() {
        return Err(crate::Error::Snapshot(format!(
            "`{shown}` is not a consistent schema snapshot (edited by hand, or a merge resolved wrongly):\n{}\n  = help: {recover}",
            problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
        )));
    }
    Ok(model)
}

/// The 1-based line of the first `<<<<<<<`, `=======` or `>>>>>>>` line, if any (JSON
/// text never starts a line with these).
fn conflict_marker_line(text: &str) -> Option<usize> {
    text.lines().position(|line| ["<<<<<<<", "=======", ">>>>>>>", "|||||||"].iter().any(|m| line.starts_with(m))).map(|i| i + 1)
}

/// Everything in a deserialized model that later stages index with or rely on, each
/// problem with its JSON path and the table it is in. Every struct is destructured in
/// full, so a field added to the model does not compile here until it is validated.
pub fn problems(model: &Model) -> Vec<String> {
    let mut found = Vec::new();
    let Model { project: _, hashing: _, tables, enums } = model;
    let table_ok = |id: TableId| id.0 < tables.len();
    let enum_ok = |id: EnumId| id.0 < enums.len();
    let mut names = std::collections::BTreeSet::new();
    for (t, table) in tables.iter().enumerate() {
        let at = format!("tables[{t}] (`{}`)", table.name);
        if !names.insert(table.name.as_str()) {
            found.push(format!("{at}: a second table named `{}`", table.name));
        }
        let Table {
            name: _,
            comment: _,
            columns,
            primary_key,
            uniques,
            foreign_keys,
            indexes,
            checks,
            triggers,
            partition,
            hash_columns,
            codebook_of,
            renamed_from: _,
        } = table;
        let column = |path: String, id: ColumnId, found: &mut Vec<String>| {
            if id.0 >= columns.len() {
                found.push(format!("{at}.{path}: column id {} is out of range (the table has {} columns)", id.0, columns.len()));
            }
        };
        let mut column_names = std::collections::BTreeSet::new();
        for (c, col) in columns.iter().enumerate() {
            let Column { name, ty, nullable: _, identity: _, default, default_constraint: _, on_update_now: _, comment: _, role: _, renamed_from: _ } = col;
            if !column_names.insert(name.as_str()) {
                found.push(format!("{at}.columns[{c}]: a second column named `{name}`"));
            }
            check_type(&format!("{at}.columns[{c}] (`{name}`).ty"), ty, model, &mut found);
            if let Some(DefaultValue::EnumValue(id, value)) = default {
                let path = format!("{at}.columns[{c}] (`{name}`).default");
                if !enum_ok(*id) {
                    found.push(format!("{path}: enum id {} is out of range (the snapshot has {} enums)", id.0, enums.len()));
                } else if *value >= enums[id.0].values.len() {
                    found.push(format!("{path}: value {value} of enum `{}` is out of range (it has {} values)", enums[id.0].name, enums[id.0].values.len()));
                }
            }
        }
        if primary_key.columns.is_empty() {
            found.push(format!("{at}.primary_key: has no columns"));
        }
        for (i, id) in primary_key.columns.iter().enumerate() {
            column(format!("primary_key.columns[{i}]"), *id, &mut found);
        }
        for (u, unique) in uniques.iter().enumerate() {
            for (i, id) in unique.columns.iter().enumerate() {
                column(format!("uniques[{u}].columns[{i}]"), *id, &mut found);
            }
        }
        for (f, fk) in foreign_keys.iter().enumerate() {
            for (i, id) in fk.columns.iter().enumerate() {
                column(format!("foreign_keys[{f}].columns[{i}]"), *id, &mut found);
            }
            if fk.columns.is_empty() || fk.columns.len() != fk.referenced_columns.len() {
                found.push(format!(
                    "{at}.foreign_keys[{f}]: {} columns refer to {} columns",
                    fk.columns.len(),
                    fk.referenced_columns.len()
                ));
            }
            if !table_ok(fk.referenced_table) {
                found.push(format!(
                    "{at}.foreign_keys[{f}].referenced_table: table id {} is out of range (the snapshot has {} tables)",
                    fk.referenced_table.0,
                    tables.len()
                ));
                continue;
            }
            let parent = &tables[fk.referenced_table.0];
            for (i, id) in fk.referenced_columns.iter().enumerate() {
                if id.0 >= parent.columns.len() {
                    found.push(format!(
                        "{at}.foreign_keys[{f}].referenced_columns[{i}]: column id {} is out of range (the referenced table `{}` has {} columns)",
                        id.0,
                        parent.name,
                        parent.columns.len()
                    ));
                }
            }
        }
        for (x, index) in indexes.iter().enumerate() {
            for (i, c) in index.columns.iter().enumerate() {
                column(format!("indexes[{x}].columns[{i}]"), c.column, &mut found);
            }
            if let Some(Predicate::Equals(terms)) = &index.predicate {
                for (i, (id, _)) in terms.iter().enumerate() {
                    column(format!("indexes[{x}].predicate[{i}]"), *id, &mut found);
                }
            }
        }
        for (k, check) in checks.iter().enumerate() {
            // Parsed expressions and enum/ISJSON checks name columns by id; an enum
            // check also names its enum.
            for (i, id) in check.kind.columns(table).into_iter().enumerate() {
                column(format!("checks[{k}] (`{}`).columns[{i}]", check.name), id, &mut found);
            }
            if let CheckKind::EnumValues { enum_id, .. } = &check.kind {
                if !enum_ok(*enum_id) {
                    found.push(format!("{at}.checks[{k}] (`{}`): enum id {} is out of range (the snapshot has {} enums)", check.name, enum_id.0, enums.len()));
                }
            }
        }
        for (r, trigger) in triggers.iter().enumerate() {
            column(format!("triggers[{r}].column"), trigger.column, &mut found);
        }
        if let Some(partition) = partition {
            column("partition.column".into(), partition.column, &mut found);
        }
        for (i, id) in hash_columns.iter().enumerate() {
            column(format!("hash_columns[{i}]"), *id, &mut found);
        }
        if let Some(id) = codebook_of {
            if !enum_ok(*id) {
                found.push(format!("{at}.codebook_of: enum id {} is out of range (the snapshot has {} enums)", id.0, enums.len()));
            } else if enums[id.0].codebook != Some(TableId(t)) {
                found.push(format!("{at}.codebook_of: enum `{}` does not name this table as its codebook", enums[id.0].name));
            }
        }
    }
    for (e, enum_) in enums.iter().enumerate() {
        let at = format!("enums[{e}] (`{}`)", enum_.name);
        if !matches!(enum_.storage, ColumnType::Int | ColumnType::String { .. }) {
            found.push(format!("{at}.storage: an enum is stored as `int` or `string`"));
        }
        if let Some(id) = enum_.codebook {
            if !table_ok(id) {
                found.push(format!("{at}.codebook: table id {} is out of range (the snapshot has {} tables)", id.0, tables.len()));
            } else if tables[id.0].codebook_of != Some(EnumId(e)) {
                found.push(format!("{at}.codebook: table `{}` is not the codebook of this enum", tables[id.0].name));
            }
        }
    }
    found
}

fn check_type(path: &str, ty: &ColumnType, model: &Model, found: &mut Vec<String>) {
    match ty {
        ColumnType::Enum(id) if id.0 >= model.enums.len() => {
            found.push(format!("{path}: enum id {} is out of range (the snapshot has {} enums)", id.0, model.enums.len()))
        }
        ColumnType::Array(inner) => check_type(path, inner, model, found),
        _ => {}
    }
}
