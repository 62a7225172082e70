//! The migration history as untrusted input: a corrupted head snapshot is refused by
//! `gen` and `check` alike with its exact message (`tests/snapshot-corruption/<case>.txt`),
//! and two branches that each added a migration are found by `dcgen check --out` and
//! re-based with `dcgen rebase`, end to end through the CLI and on a real PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::Output;

use pg_harness::Cluster;
use serde_json::Value;

use crate::support::repo_root;

const DCGEN: &str = env!("CARGO_BIN_EXE_dcgen");

fn dcgen(args: &[&str]) -> Output {
    std::process::Command::new(DCGEN).args(args).output().expect("dcgen runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn base_spec() -> PathBuf {
    repo_root().join("tests/migrations/series/v1/spec")
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

/// Generate `spec` into `out` with `version`, through the CLI.
fn gen(spec: &Path, out: &Path, version: &str) {
    let output = dcgen(&["gen", "--spec", path_str(spec), "--out", path_str(out), "--version", version]);
    assert!(output.status.success(), "gen failed: {}", stderr(&output));
}

/// A named edit of a snapshot's JSON text.
type Corruption = (&'static str, Box<dyn Fn(&str) -> String>);

/// Each corruption of the head snapshot, as an edit of its JSON text.
fn corruptions() -> Vec<Corruption> {
    fn edit(text: &str, change: impl Fn(&mut Value)) -> String {
        let mut json: Value = serde_json::from_str(text).unwrap();
        change(&mut json);
        serde_json::to_string_pretty(&json).unwrap() + "\n"
    }
    fn table<'v>(json: &'v mut Value, name: &str) -> &'v mut Value {
        json["tables"].as_array_mut().unwrap().iter_mut().find(|t| t["name"] == name).unwrap()
    }
    vec![
        ("table_id_out_of_range", Box::new(|t: &str| edit(t, |j| table(j, "orders")["foreign_keys"][0]["referenced_table"] = 99.into()))),
        ("column_id_out_of_range", Box::new(|t: &str| edit(t, |j| table(j, "customers")["indexes"][0]["columns"][0]["column"] = 42.into()))),
        (
            "check_column_out_of_range",
            Box::new(|t: &str| {
                edit(t, |j| {
                    let check = serde_json::json!({ "name": "ck_customers_bad", "kind": { "expr": { "is_null": { "expr": { "column": 42 }, "negated": true } } } });
                    table(j, "customers")["checks"].as_array_mut().unwrap().push(check);
                })
            }),
        ),
        (
            "enum_id_out_of_range",
            Box::new(|t: &str| {
                edit(t, |j| {
                    let columns = table(j, "customers")["columns"].as_array_mut().unwrap();
                    columns.iter_mut().find(|c| c["name"] == "status").unwrap()["ty"] = serde_json::json!({ "enum": 7 });
                    j["enums"][0]["codebook"] = 12.into();
                })
            }),
        ),
        (
            "conflict_markers",
            Box::new(|t: &str| {
                let lines: Vec<&str> = t.lines().collect();
                let (head, tail) = lines.split_at(20);
                format!("{}\n<<<<<<< HEAD\n{}\n=======\n{}\n>>>>>>> other-branch\n{}\n", head.join("\n"), tail[0], tail[0], tail[1..].join("\n"))
            }),
        ),
        ("truncated", Box::new(|t: &str| t[..t.len() / 2].to_string())),
        ("not_a_snapshot", Box::new(|_: &str| "{ \"tables\": [] }\n".to_string())),
    ]
}

/// A corrupted head snapshot: `gen` and `check --out` both exit 1 with the same exact
/// message, and neither panics nor writes a file.
#[test]
fn a_corrupted_snapshot_is_refused_by_gen_and_check_with_its_exact_message() {
    let bless = std::env::var_os("DCGEN_BLESS").is_some();
    let cases_dir = repo_root().join("tests/snapshot-corruption");
    let mut failures = Vec::new();
    for (case, corrupt) in corruptions() {
        let out = tempfile::tempdir().unwrap();
        gen(&base_spec(), out.path(), "20260101000001");
        let head = out.path().join("migrations/schema.snapshot.json");
        std::fs::write(&head, corrupt(&std::fs::read_to_string(&head).unwrap())).unwrap();
        let before = std::fs::read(&head).unwrap();

        let generated = dcgen(&["gen", "--spec", path_str(&base_spec()), "--out", path_str(out.path())]);
        let checked = dcgen(&["check", "--spec", path_str(&base_spec()), "--out", path_str(out.path())]);
        assert_eq!(generated.status.code(), Some(1), "{case}: gen must exit 1: {}", stderr(&generated));
        assert_eq!(checked.status.code(), Some(1), "{case}: check must exit 1: {}", stderr(&checked));
        assert_eq!(stderr(&generated), stderr(&checked), "{case}: check and gen disagree");
        assert!(checked.stdout.is_empty(), "{case}: check printed success: {}", String::from_utf8_lossy(&checked.stdout));
        assert_eq!(std::fs::read(&head).unwrap(), before, "{case}: gen touched the snapshot");
        let message = stderr(&checked).replace(path_str(out.path()), "OUT");
        let expected_path = cases_dir.join(format!("{case}.txt"));
        if bless {
            std::fs::create_dir_all(&cases_dir).unwrap();
            std::fs::write(&expected_path, &message).unwrap();
        } else if std::fs::read_to_string(&expected_path).unwrap_or_default() != message {
            failures.push(format!("=== {case}\n--- expected\n{}\n--- actual\n{message}", std::fs::read_to_string(&expected_path).unwrap_or_default()));
        }
    }
    assert!(failures.is_empty(), "messages differ (DCGEN_BLESS=1 to accept):\n{}", failures.join("\n"));
}

/// OUT generated for another project: refused by check and gen, naming both projects.
#[test]
fn migrations_of_another_project_are_refused() {
    let out = tempfile::tempdir().unwrap();
    gen(&repo_root().join("tests/fixtures/aggregator/spec"), out.path(), "20260101000001");
    let checked = dcgen(&["check", "--spec", path_str(&base_spec()), "--out", path_str(out.path())]);
    let generated = dcgen(&["gen", "--spec", path_str(&base_spec()), "--out", path_str(out.path())]);
    assert_eq!(checked.status.code(), Some(1));
    assert_eq!(generated.status.code(), Some(1));
    let message = stderr(&checked).replace(path_str(out.path()), "OUT");
    assert_eq!(stderr(&generated), stderr(&checked));
    assert_eq!(message, "error: the migrations in `OUT` belong to project `data_aggregator`, not `shop`: point --out at this spec's generated crate\n");
}

/// Every id a later stage indexes with is validated: a model that passes is one
/// `plan` and every emitter can walk.
#[test]
fn every_out_of_range_id_is_named_with_its_json_path() {
    let model = dcgen::check(&base_spec()).model.unwrap();
    assert!(dcgen::snapshot::problems(&model).is_empty());
    let mut broken = model.clone();
    let orders = broken.table_by_name("orders").unwrap().0;
    broken.tables[orders].primary_key.columns[0] = dcgen::model::ColumnId(40);
    broken.tables[orders].hash_columns = vec![dcgen::model::ColumnId(41)];
    broken.tables[orders].foreign_keys[0].referenced_columns[0] = dcgen::model::ColumnId(43);
    assert_eq!(
        dcgen::snapshot::problems(&broken),
        vec![
            "tables[1] (`orders`).primary_key.columns[0]: column id 40 is out of range (the table has 6 columns)",
            "tables[1] (`orders`).foreign_keys[0].referenced_columns[0]: column id 43 is out of range (the referenced table `customers` has 5 columns)",
            "tables[1] (`orders`).hash_columns[0]: column id 41 is out of range (the table has 6 columns)",
        ]
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The base spec plus extra YAML files (each adding a table).
fn spec_with(dir: &Path, extra: &[(&str, &str)]) -> PathBuf {
    let spec = dir.join("spec");
    copy_dir(&base_spec(), &spec);
    for (file, text) in extra {
        std::fs::write(spec.join(file), text).unwrap();
    }
    spec
}

const NOTES: (&str, &str) = ("notes.yaml", "tables:\n  notes:\n    columns:\n      id: { type: bigint, identity: true, primary_key: true }\n      body: text\n");
const TAGS: (&str, &str) = ("tags.yaml", "tables:\n  tags:\n    columns:\n      id: { type: bigint, identity: true, primary_key: true }\n      label: string(40)\n");

/// What git leaves in a file both branches changed.
fn conflicted(ours: &str, theirs: &str) -> String {
    format!("<<<<<<< HEAD\n{ours}=======\n{theirs}>>>>>>> main\n")
}

/// Two branches each add a migration after `initial`; `main` (notes, version 2) is
/// merged into `mine` (tags, version 3). Returns the merged OUT and spec, with the sum
/// file and head snapshot in git's conflict form.
fn merged_branches(root: &Path) -> (PathBuf, PathBuf) {
    let base_out = root.join("base");
    gen(&base_spec(), &base_out, "20260101000001");
    let main = root.join("main");
    let mine = root.join("mine");
    copy_dir(&base_out, &main.join("out"));
    copy_dir(&base_out, &mine.join("out"));
    gen(&spec_with(&main, &[NOTES]), &main.join("out"), "20260101000002");
    gen(&spec_with(&mine, &[TAGS]), &mine.join("out"), "20260101000003");

    let merged = root.join("merged");
    let spec = spec_with(&merged, &[NOTES, TAGS]);
    let out = merged.join("out");
    copy_dir(&mine.join("out"), &out);
    copy_dir(&main.join("out/migrations/postgres"), &out.join("migrations/postgres"));
    copy_dir(&main.join("out/migrations/mssql"), &out.join("migrations/mssql"));
    copy_dir(&main.join("out/migrations/snapshots"), &out.join("migrations/snapshots"));
    for file in ["migrations/migrations.sum", "migrations/schema.snapshot.json"] {
        let ours = std::fs::read_to_string(mine.join("out").join(file)).unwrap();
        let theirs = std::fs::read_to_string(main.join("out").join(file)).unwrap();
        let base = std::fs::read_to_string(base_out.join(file)).unwrap();
        // git keeps the common prefix of lines outside the conflict block.
        let common = ours.lines().zip(theirs.lines()).take_while(|(a, b)| a == b).count();
        let prefix: String = ours.lines().take(common).map(|l| format!("{l}\n")).collect();
        let rest = |text: &str| text.lines().skip(common).map(|l| format!("{l}\n")).collect::<String>();
        assert!(base.starts_with(&prefix) || file.ends_with(".json"));
        std::fs::write(out.join(file), format!("{prefix}{}", conflicted(&rest(&ours), &rest(&theirs)))).unwrap();
    }
    (spec, out)
}

#[test]
fn two_branches_each_adding_a_migration_are_detected_and_rebased() {
    let root = tempfile::tempdir().unwrap();
    let (spec, out) = merged_branches(root.path());
    let (spec_s, out_s) = (path_str(&spec), path_str(&out));
    let shown = |output: &Output| stderr(output).replace(out_s, "OUT");

    // Straight after the merge: both conflicted files are refused, pointing at rebase.
    let checked = dcgen(&["check", "--spec", spec_s, "--out", out_s]);
    assert_eq!(checked.status.code(), Some(1), "{}", stderr(&checked));
    assert!(shown(&checked).starts_with("error: `OUT/migrations/schema.snapshot.json` has a merge-conflict marker at line "), "{}", shown(&checked));
    assert!(shown(&checked).contains("dcgen rebase --spec SPEC --out OUT <version of your migration>"), "{}", shown(&checked));
    let options = dcgen::GenOptions { version: Some("20260101000009".into()), ..Default::default() };
    let model = dcgen::check(&spec).model.unwrap();
    assert!(matches!(dcgen::generate(&model, &out, &options), Err(dcgen::Error::Snapshot(_))), "gen must refuse the conflicted snapshot");

    // Resolved naively (both sum lines kept, our head snapshot): the fork is named.
    let resolved = root.path().join("resolved");
    copy_dir(&out, &resolved);
    let sum_path = resolved.join("migrations/migrations.sum");
    let sum: String = std::fs::read_to_string(&sum_path).unwrap().lines().filter(|l| !l.starts_with("<<<<<<<") && !l.starts_with("=======") && !l.starts_with(">>>>>>>")).map(|l| format!("{l}\n")).collect();
    std::fs::write(&sum_path, sum).unwrap();
    std::fs::copy(resolved.join("migrations/snapshots/20260101000003_create_tags.json"), resolved.join("migrations/schema.snapshot.json")).unwrap();
    let forked = dcgen(&["check", "--spec", spec_s, "--out", path_str(&resolved)]);
    assert_eq!(forked.status.code(), Some(1));
    assert_eq!(
        stderr(&forked).replace(path_str(&resolved), "OUT"),
        "error: migration `20260101000003_create_tags` was planned from the schema after `20260101000001_initial`, but \
         `20260101000002_create_notes` comes before it: two branches each added a migration, and the merged history does not chain.\n  \
         = help: re-plan the migration that is yours (not yet applied to any shared database) after the others with \
         `dcgen rebase --spec SPEC --out OUT <its version>`: `20260101000003` for `20260101000003_create_tags`, \
         or `20260101000002` for `20260101000002_create_notes`\n"
    );
    assert!(matches!(dcgen::generate(&model, &resolved, &options), Err(dcgen::Error::History(_))), "gen must refuse a forked history");

    // `dcgen rebase` straight on the conflicted merge: ours re-planned after theirs.
    let rebased = dcgen(&["rebase", "--spec", spec_s, "--out", out_s, "--version", "20260101000004", "20260101000003"]);
    assert!(rebased.status.success(), "{}", stderr(&rebased));
    let checked = dcgen(&["check", "--spec", spec_s, "--out", out_s]);
    assert_eq!(checked.status.code(), Some(0), "{}", stderr(&checked));
    let folders = |dialect: &str| {
        let mut names: Vec<String> = std::fs::read_dir(out.join("migrations").join(dialect)).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    };
    let expected = ["20260101000001_initial", "20260101000002_create_notes", "20260101000004_create_tags"];
    assert_eq!(folders("postgres"), expected);
    assert_eq!(folders("mssql"), expected);
    assert_eq!(folders("snapshots"), expected.map(|f| format!("{f}.json")));
    let up = std::fs::read_to_string(out.join("migrations/postgres/20260101000004_create_tags/up.sql")).unwrap();
    assert!(up.contains("CREATE TABLE \"public\".\"tags\"") && !up.contains("\"notes\""), "{up}");
    let sum = std::fs::read_to_string(out.join("migrations/migrations.sum")).unwrap();
    assert!(!sum.contains("<<<<<<<") && sum.lines().filter(|l| !l.starts_with('#')).count() == 3, "{sum}");
    // Nothing left to plan: gen writes no migration.
    let again = dcgen::generate(&model, &out, &options).unwrap();
    assert!(again.files.keys().all(|p| !p.starts_with("migrations")), "gen after rebase planned another migration");

    // The merged history runs on PostgreSQL and leaves exactly the merged spec.
    let cluster = Cluster::shared();
    let database = cluster.create_database("two_branches").unwrap();
    for folder in expected {
        cluster.psql_file(&database, &out.join("migrations/postgres").join(folder).join("up.sql")).unwrap_or_else(|e| panic!("{folder}: {e}"));
    }
    let report = dcgen::verify::verify(&model, &cluster.url(&database), &dcgen::verify::Options::default()).unwrap();
    assert!(!report.has_drift(), "after the rebased history:\n{report}");
}

/// Rebasing the older of the two (yours was planned first, theirs merged later): it
/// gets a version after theirs; theirs is not touched.
#[test]
fn rebasing_the_older_migration_moves_it_after_the_newer() {
    let root = tempfile::tempdir().unwrap();
    let (spec, out) = merged_branches(root.path());
    let theirs = std::fs::read(out.join("migrations/postgres/20260101000003_create_tags/up.sql")).unwrap();
    let rebased = dcgen(&["rebase", "--spec", path_str(&spec), "--out", path_str(&out), "--version", "20260101000005", "20260101000002"]);
    assert!(rebased.status.success(), "{}", stderr(&rebased));
    assert_eq!(std::fs::read(out.join("migrations/postgres/20260101000003_create_tags/up.sql")).unwrap(), theirs);
    assert!(out.join("migrations/postgres/20260101000005_create_notes/up.sql").exists());
    assert!(!out.join("migrations/postgres/20260101000002_create_notes").exists());
    let checked = dcgen(&["check", "--spec", path_str(&spec), "--out", path_str(&out)]);
    assert_eq!(checked.status.code(), Some(0), "{}", stderr(&checked));
}

/// An edited migration is named with the fix; `dcgen rehash` records a deliberate edit.
#[test]
fn an_edited_migration_is_found_and_rehash_records_it() {
    let out = tempfile::tempdir().unwrap();
    gen(&base_spec(), out.path(), "20260101000001");
    let up = out.path().join("migrations/mssql/20260101000001_initial/up.sql");
    let mut text = std::fs::read_to_string(&up).unwrap();
    text.push_str("-- edited by hand\n");
    std::fs::write(&up, text).unwrap();
    let checked = dcgen(&["check", "--spec", path_str(&base_spec()), "--out", path_str(out.path())]);
    assert_eq!(checked.status.code(), Some(1));
    assert_eq!(
        stderr(&checked),
        "error: the files of migration `20260101000001_initial` changed since dcgen wrote them (`migrations/*/20260101000001_initial/`).\n  \
         = help: a migration that ran anywhere must not change: restore it from version control and make the change in the spec; \
         if the edit is deliberate and it never ran, record it with `dcgen rehash --out OUT`\n"
    );
    assert!(dcgen(&["rehash", "--out", path_str(out.path())]).status.success());
    let checked = dcgen(&["check", "--spec", path_str(&base_spec()), "--out", path_str(out.path())]);
    assert_eq!(checked.status.code(), Some(0), "{}", stderr(&checked));
}

/// The committed `generated/` history chains: `make check` passes on it.
#[test]
fn the_committed_history_chains() {
    dcgen::history::check(&repo_root().join("generated")).unwrap_or_else(|e| panic!("{e}"));
}
