//! Schema evolution: the series under `tests/migrations/series/v1..vN` migrated step by
//! step on a real PostgreSQL with rows that must survive, snapshots of every step's
//! SQL for both dialects, rollback to v1 compared with a fresh v1, and destructive
//! changes refused (`tests/migrations/refused/<case>`) unless allowed.

use std::path::{Path, PathBuf};

use pg_harness::Cluster;

use crate::support::repo_root;

fn series_steps() -> Vec<PathBuf> {
    let dir = repo_root().join("tests/migrations/series");
    let mut steps: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.join("spec").is_dir()).collect();
    steps.sort();
    assert!(steps.len() >= 3, "the series needs at least three steps");
    steps
}

fn model_of(spec: &Path) -> (dcgen::model::Model, Vec<String>) {
    let checked = dcgen::check(spec);
    assert!(!checked.diagnostics.has_errors(), "{}", checked.diagnostics.render(&checked.sources));
    (checked.model.unwrap(), checked.acknowledged)
}

/// Generate step after step into one OUT directory, as a user running `make gen` after
/// each edit would; returns each step's migration folder name.
fn generate_series(out: &Path) -> Vec<String> {
    let mut folders = Vec::new();
    for (index, step) in series_steps().iter().enumerate() {
        let (model, acknowledged) = model_of(&step.join("spec"));
        let options = dcgen::GenOptions { version: Some(format!("2026010100000{}", index + 1)), acknowledged, ..Default::default() };
        let tree = dcgen::generate(&model, out, &options).unwrap_or_else(|e| panic!("{}: {e}", step.display()));
        let folder = tree
            .files
            .keys()
            .find_map(|p| p.strip_prefix("migrations/postgres").ok().and_then(|rest| rest.components().next()).map(|c| c.as_os_str().to_string_lossy().into_owned()))
            .unwrap_or_else(|| panic!("{}: no migration written", step.display()));
        tree.write(out).unwrap();
        // Running again changes nothing and writes no second migration.
        let again = dcgen::generate(&model, out, &options).unwrap();
        assert!(again.files.keys().all(|p| !p.starts_with("migrations")), "{}: a second gen wrote another migration", step.display());
        folders.push(folder);
    }
    folders
}

#[test]
fn every_step_of_the_series_matches_its_snapshots() {
    let out = tempfile::tempdir().unwrap();
    for folder in generate_series(out.path()) {
        for dialect in ["postgres", "mssql"] {
            for file in ["up.sql", "down.sql"] {
                let text = std::fs::read_to_string(out.path().join("migrations").join(dialect).join(&folder).join(file)).unwrap();
                let name = format!("series__{dialect}__{folder}__{file}").replace('.', "_");
                insta::with_settings!({ prepend_module_to_snapshot => false }, { insta::assert_snapshot!(name, text) });
            }
        }
    }
}

#[test]
fn the_series_migrates_with_its_rows_and_rolls_back_to_a_fresh_v1() {
    let cluster = Cluster::shared();
    let out = tempfile::tempdir().unwrap();
    let folders = generate_series(out.path());
    let steps = series_steps();
    let migration = |folder: &str, file: &str| out.path().join("migrations/postgres").join(folder).join(file);

    let database = cluster.create_database("series").unwrap();
    for (step, folder) in steps.iter().zip(&folders) {
        cluster.psql_file(&database, &migration(folder, "up.sql")).unwrap_or_else(|e| panic!("{folder}: up.sql failed: {e}"));
        let data = step.join("data.sql");
        if data.exists() {
            cluster.psql_file(&database, &data).unwrap_or_else(|e| panic!("{}: data check failed: {e}", data.display()));
        }
        // The live schema is exactly the step's spec: `dcgen verify` finds no drift.
        let (model, _) = model_of(&step.join("spec"));
        let report = dcgen::verify::verify(&model, &cluster.url(&database), &dcgen::verify::Options::default())
            .unwrap_or_else(|e| panic!("{folder}: verify failed to run: {e}"));
        assert!(!report.has_drift(), "{folder}: verify reports drift after migrating:\n{report}");
    }
    for folder in folders.iter().skip(1).rev() {
        cluster.psql_file(&database, &migration(folder, "down.sql")).unwrap_or_else(|e| panic!("{folder}: down.sql failed: {e}"));
    }
    let fresh = cluster.create_database("series_fresh_v1").unwrap();
    cluster.psql_file(&fresh, &migration(&folders[0], "up.sql")).unwrap();
    assert_eq!(catalog(cluster, &database), catalog(cluster, &fresh), "rolled back to v1, the catalog differs from a fresh v1");
    // The rows of v1 are still there after the round trip.
    let customers = cluster.query(&database, "SELECT name FROM customers ORDER BY name").unwrap();
    assert_eq!(customers, vec![vec!["Ana".to_string()], vec!["Ivo".to_string()]]);
}

/// Everything about the schema that a migration can change, order-independent (a
/// column dropped and re-added by a round trip comes back last; that is not a change).
fn catalog(cluster: &Cluster, database: &str) -> Vec<Vec<String>> {
    cluster
        .query(
            database,
            "SELECT 'column', c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull::text, coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity::text, coalesce(col_description(c.oid, a.attnum), '')
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
             UNION ALL
             SELECT 'constraint', c.relname, o.conname, pg_get_constraintdef(o.oid), '', '', '', ''
               FROM pg_constraint o JOIN pg_class c ON c.oid = o.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
             UNION ALL
             SELECT 'index', tablename, indexname, indexdef, '', '', '', '' FROM pg_indexes WHERE schemaname = 'public'
             UNION ALL
             SELECT 'trigger', c.relname, t.tgname, '', '', '', '', '' FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal
             UNION ALL
             SELECT 'table', c.relname, coalesce(obj_description(c.oid, 'pg_class'), ''), '', '', '', '', ''
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
             UNION ALL
             SELECT 'codebook', 'c_status', id::text, description, (archive IS NULL)::text, coalesce(sha, ''), '', '' FROM c_status
             ORDER BY 1, 2, 3, 4",
        )
        .unwrap()
}

/// `tests/migrations/refused/<case>/{before,after}/`: the step from before to after is
/// refused with exactly `expected.txt`, and goes through with --allow-destructive.
#[test]
fn destructive_changes_are_refused_with_their_message_and_allowed_with_the_flag() {
    let dir = repo_root().join("tests/migrations/refused");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    cases.sort();
    assert!(!cases.is_empty());
    let bless = std::env::var_os("DCGEN_BLESS").is_some();
    for case in cases {
        let out = tempfile::tempdir().unwrap();
        let (before, _) = model_of(&case.join("before"));
        let first = dcgen::GenOptions { version: Some("20260101000001".into()), ..Default::default() };
        dcgen::generate(&before, out.path(), &first).unwrap().write(out.path()).unwrap();
        let (after, acknowledged) = model_of(&case.join("after"));
        let refused = dcgen::GenOptions { version: Some("20260101000002".into()), acknowledged: acknowledged.clone(), ..Default::default() };
        let message = match dcgen::generate(&after, out.path(), &refused) {
            Err(error) => error.to_string(),
            Ok(_) => panic!("{}: the destructive step was not refused", case.display()),
        };
        let expected_path = case.join("expected.txt");
        if bless {
            std::fs::write(&expected_path, &message).unwrap();
        } else {
            assert_eq!(std::fs::read_to_string(&expected_path).unwrap_or_default(), message, "{}", case.display());
        }
        let allowed = dcgen::GenOptions { version: Some("20260101000002".into()), allow_destructive: true, acknowledged, ..Default::default() };
        let tree = dcgen::generate(&after, out.path(), &allowed).unwrap_or_else(|e| panic!("{}: refused even with the flag: {e}", case.display()));
        assert!(tree.files.keys().any(|p| p.starts_with("migrations/postgres")), "{}: no migration with the flag", case.display());
    }
}

/// The "forgot `make gen`" mistake: `dcgen check --out` fails and names each change;
/// `dcgen diff` prints the pending SQL of both dialects and writes nothing.
#[test]
fn check_names_unmigrated_changes_and_diff_prints_them_without_writing() {
    let steps = series_steps();
    let out = tempfile::tempdir().unwrap();
    let dcgen = env!("CARGO_BIN_EXE_dcgen");
    let run = |args: &[&str]| std::process::Command::new(dcgen).args(args).output().expect("dcgen runs");
    let out_dir = out.path().to_str().unwrap();
    let v1 = steps[0].join("spec");
    let v2 = steps[1].join("spec");
    let generated = run(&["gen", "--spec", v1.to_str().unwrap(), "--out", out_dir, "--version", "20260101000001"]);
    assert!(generated.status.success(), "{}", String::from_utf8_lossy(&generated.stderr));

    let clean = run(&["check", "--spec", v1.to_str().unwrap(), "--out", out_dir]);
    assert_eq!(clean.status.code(), Some(0), "{}", String::from_utf8_lossy(&clean.stderr));

    let stale = run(&["check", "--spec", v2.to_str().unwrap(), "--out", out_dir]);
    let stderr = String::from_utf8_lossy(&stale.stderr);
    assert_eq!(stale.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no migration"), "{stderr}");
    for change in ["rename table customers to clients", "rename column customers.name to full_name", "add column orders.placed_at", "create table order_lines", "insert codebook row c_status.closed"] {
        assert!(stderr.contains(change), "`{change}` not named in:\n{stderr}");
    }

    let before: Vec<_> = walk(out.path());
    let diff = run(&["diff", "--spec", v2.to_str().unwrap(), "--out", out_dir]);
    let stdout = String::from_utf8_lossy(&diff.stdout);
    assert!(diff.status.success(), "{}", String::from_utf8_lossy(&diff.stderr));
    assert!(stdout.contains("-- ===== postgres =====") && stdout.contains("ALTER TABLE \"public\".\"customers\" RENAME TO \"clients\";"), "{stdout}");
    assert!(stdout.contains("-- ===== mssql =====") && stdout.contains("EXEC sys.sp_rename N'[dbo].[customers]', N'clients';"), "{stdout}");
    assert_eq!(walk(out.path()), before, "dcgen diff wrote files");
}

fn walk(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}
