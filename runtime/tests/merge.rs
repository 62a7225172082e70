//! Merge, codebook sync, the pool and migrations against a real PostgreSQL (pg-harness).
//!
//! Framework tables come from the generated crate (`dc-schema`) and its
//! migrations. `wide` (every column type merge writes: json, uuid, decimal,
//! arrays, bytes, time zones) and `tags` (no integer id) are specified in
//! `tests/fixtures/merge/spec`; their facts and DDL come from dcgen itself,
//! so nothing here copies generated text by hand.

use std::marker::PhantomData;
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Utc};
use dc_runtime::db::{self, DatabaseUrl};
use dc_runtime::merge::{CancelToken, Duplicates, Merge, MergeError, MergeReport, Mode, Phase, ThreadBudget};
use dc_runtime::row::{RowReader, RowShape};
use dc_runtime::sync_codebooks;
use dc_runtime::table::{TableInfo, TableOf, FORMAT};
use dc_schema::enums::{RunStatus, RuntimeExitCode};
use dc_schema::models::{NewAppGroups, NewAppParents, NewApps, NewRuntime};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use pg_harness::Cluster;
use serde::Serialize;

/// The fixture spec through dcgen: its model and its PostgreSQL DDL.
fn fixture() -> &'static (dcgen::model::Model, String) {
    static FIXTURE: OnceLock<(dcgen::model::Model, String)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/merge/spec");
        let checked = dcgen::check(&spec);
        assert!(!checked.diagnostics.has_errors(), "{}", checked.diagnostics.render(&checked.sources));
        let model = checked.model.expect("model");
        let out = tempfile::tempdir().expect("temp dir");
        let pending = dcgen::pending(&model, out.path()).expect("pending");
        let (_, up, _) = dcgen::render_migration(&model, &pending, "fixture").expect("render").remove(0);
        (model, up)
    })
}

/// A fixture table's facts, as the generated crate would hold them (through their written form).
fn fixture_info(table: &str) -> TableInfo {
    let (model, _) = fixture();
    let table = model.tables.iter().find(|t| t.name == table).expect("fixture table");
    TableInfo::parse(&dcgen::emit::rust::table_info_json(model, table)).expect("facts")
}

fn facts<R>(table: TableOf<R>) -> TableInfo {
    TableInfo::parse(table.1).unwrap()
}

/// A fresh database with the framework's migrations and the fixture tables.
fn database(prefix: &str) -> (String, PgConnection) {
    let cluster = Cluster::shared();
    let name = cluster.create_database(prefix).expect("create database");
    let url = DatabaseUrl::new(cluster.url(&name));
    let mut conn = url.establish().expect("connect");
    db::run_migrations(&mut conn, dc_schema::MIGRATIONS, &url).expect("migrations");
    conn.batch_execute(&fixture().1).expect("create fixture tables");
    (name, conn)
}

fn query(database: &str, sql: &str) -> Vec<Vec<String>> {
    Cluster::shared().query(database, sql).expect("query")
}

fn scalar(database: &str, sql: &str) -> String {
    query(database, sql).first().and_then(|row| row.first()).cloned().unwrap_or_default()
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
enum Kind {
    #[serde(rename = "plain")]
    Plain,
    #[serde(rename = "fancy")]
    Fancy,
}

/// An app's own row struct for `wide`, fields in column-name order as the
/// generated ones are (the facts say so), so it hashes as serde walks it.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct NewWide {
    at_time: Option<NaiveTime>,
    blob: Option<Vec<u8>>,
    counts: Option<Vec<Option<i32>>>,
    day: Option<NaiveDate>,
    flag: Option<bool>,
    happened: Option<NaiveDateTime>,
    happened_tz: Option<chrono::DateTime<Utc>>,
    ident: Option<uuid::Uuid>,
    kind: Option<Kind>,
    name: String,
    payload: Option<serde_json::Value>,
    price: Option<bigdecimal::BigDecimal>,
    ratio: Option<f32>,
    scope_id: i32,
    score: Option<f64>,
    tags: Option<Vec<Option<String>>>,
}
fn stamp(day: u32, micros: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 5, day).unwrap().and_hms_micro_opt(7, 8, 9, micros).unwrap()
}

/// Row `n` of scope `scope`; every type filled, some values odd on purpose.
fn wide(scope: i32, n: u32) -> NewWide {
    NewWide {
        scope_id: scope,
        name: format!("Row {n}\u{1c} Ünïcode"),
        kind: if n % 3 == 0 { None } else if n % 3 == 1 { Some(Kind::Plain) } else { Some(Kind::Fancy) },
        // Not zero: bigdecimal's Display (what serde hands over) drops a zero's scale.
        price: Some(format!("{}.{:02}", n + 1, n % 100).parse().unwrap()),
        ratio: Some(n as f32 / 10.0),
        score: if n % 2 == 0 { Some(1e-5 * f64::from(n)) } else { None },
        happened: Some(stamp(1 + n % 28, if n % 2 == 0 { 0 } else { 123_456 })),
        happened_tz: Some(stamp(2, 500_000).and_utc()),
        day: NaiveDate::from_ymd_opt(2023, 1 + n % 12, 1),
        at_time: NaiveTime::from_hms_opt(n % 24, 5, 6),
        ident: Some(uuid::Uuid::from_u128(u128::from(n) * 7919)),
        payload: Some(serde_json::json!({"n": n, "nested": {"Z": "Keep Case", "a": [1.5, null, true]}})),
        blob: Some(vec![0, 1, 2, n as u8]),
        tags: Some(vec![Some(format!("t{n}")), None]),
        counts: Some(vec![Some(n as i32), Some(-1)]),
        flag: Some(n % 2 == 0),
    }
}

fn wide_merge() -> Merge<NewWide> {
    Merge::from_info(fixture_info("wide")).unwrap()
}

fn active_shas(database: &str, table: &str, filter: &str) -> Vec<String> {
    query(database, &format!("SELECT sha FROM {table} WHERE archive IS NULL AND {filter} ORDER BY sha"))
        .into_iter()
        .map(|row| row[0].clone())
        .collect()
}

fn shas_of<T: Serialize>(info: TableInfo, rows: &[T]) -> Vec<String> {
    let shape = RowShape::new(info).unwrap();
    let mut reader = RowReader::for_hashing(&shape);
    let mut shas: Vec<String> = rows.iter().map(|row| reader.sha_hex(row).unwrap()).collect();
    shas.sort();
    shas.dedup();
    shas
}

fn counts(report: &MergeReport) -> (u64, u64, u64, u64, u64, u64) {
    (report.inserted, report.updated, report.archived, report.deleted, report.unchanged, report.duplicates)
}

#[test]
fn every_type_is_written_as_hashed_and_reads_back_to_the_same_sha() {
    let (name, mut conn) = database("merge_types");
    let rows: Vec<NewWide> = (0..40).map(|n| wide(1, n)).collect();
    let report = wide_merge().run(&mut conn, &rows).unwrap();
    assert_eq!(counts(&report), (40, 0, 0, 0, 0, 0));
    assert_eq!(active_shas(&name, "wide", "TRUE"), shas_of(fixture_info("wide"), &rows));
    // Rebuild each row from what PostgreSQL stored, as `dcgen hash` reads
    // rows: the sha of the stored values must be the stored sha.
    let stored = query(
        &name,
        "SELECT json_build_object('scope_id', scope_id, 'name', name, 'kind', kind, 'price', price::text, 'ratio', ratio,
                'score', score, 'happened', happened, 'happened_tz', happened_tz, 'day', day, 'at_time', at_time, 'ident', ident,
                'payload', payload, 'blob', blob, 'tags', tags, 'counts', counts)::text, sha FROM wide",
    );
    let shape = RowShape::new(fixture_info("wide")).unwrap();
    let mut reader = RowReader::for_hashing(&shape);
    for row in stored {
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&row[0]).unwrap();
        let canonical = reader.json_canonical(&object).unwrap().to_string();
        let n: u32 = object["name"].as_str().unwrap()[4..].split('\u{1c}').next().unwrap().parse().unwrap();
        let original = reader.canonical_of(&wide(1, n)).unwrap().to_string();
        assert_eq!(canonical, original, "stored row {}", row[0]);
        assert_eq!(reader.json_sha_hex(&object).unwrap(), row[1], "stored row {}", row[0]);
    }
    // A `None` kind took the database default, and hashed as that default.
    assert_eq!(scalar(&name, "SELECT count(*) FROM wide WHERE kind = 'plain'"), "27");
    let mut explicit = wide(1, 3);
    explicit.kind = Some(Kind::Plain);
    assert_eq!(shas_of(fixture_info("wide"), &[wide(1, 3)]), shas_of(fixture_info("wide"), &[explicit]));
}

#[test]
fn archive_mode_inserts_new_archives_gone_and_keeps_unchanged_rows_as_they_were() {
    let (name, mut conn) = database("merge_archive");
    let first: Vec<NewWide> = (0..10).map(|n| wide(1, n)).collect();
    wide_merge().run(&mut conn, &first).unwrap();
    let before = query(&name, "SELECT id, date_created, sha FROM wide WHERE name LIKE 'Row 8%'");
    std::thread::sleep(Duration::from_millis(5));
    // Rows 0..3 gone, 10..12 new; a changed json value, enum and timestamp each make a new sha.
    let mut second: Vec<NewWide> = (3..13).map(|n| wide(1, n)).collect();
    second[1].payload = Some(serde_json::json!({"n": 4, "nested": {"Z": "keep case"}}));
    second[2].kind = Some(Kind::Plain);
    second[3].happened = Some(stamp(9, 1));
    let report = wide_merge().run(&mut conn, &second).unwrap();
    assert_eq!(counts(&report), (6, 0, 6, 0, 4, 0));
    assert_eq!(active_shas(&name, "wide", "TRUE"), shas_of(fixture_info("wide"), &second));
    assert_eq!(scalar(&name, "SELECT count(*) FROM wide WHERE archive IS NOT NULL"), "6");
    assert_eq!(query(&name, "SELECT id, date_created, sha FROM wide WHERE name LIKE 'Row 8%'"), before, "unchanged row kept id and date_created");
    // Same truth again: nothing to do.
    assert_eq!(counts(&wide_merge().run(&mut conn, &second).unwrap()), (0, 0, 0, 0, 10, 0));
}

#[test]
fn an_archived_row_whose_sha_returns_comes_back_as_a_new_row() {
    let (name, mut conn) = database("merge_return");
    let rows = vec![wide(1, 1), wide(1, 2)];
    wide_merge().run(&mut conn, &rows).unwrap();
    wide_merge().run(&mut conn, &rows[..1]).unwrap();
    let report = wide_merge().run(&mut conn, &rows).unwrap();
    assert_eq!(counts(&report), (1, 0, 0, 0, 1, 0));
    // History: the archived period and the new active row, same sha.
    let history = query(&name, "SELECT count(*), count(archive) FROM wide WHERE name LIKE 'Row 2%'");
    assert_eq!(history, vec![vec!["2".to_string(), "1".to_string()]]);
}

#[test]
fn a_streamed_truth_merges_like_a_slice() {
    let (name, mut conn) = database("merge_iter");
    // Several batches of the streaming path, with 1% churn between the truths.
    let report = wide_merge().run_iter(&mut conn, || (0..5000).map(|n| wide(1, n))).unwrap();
    assert_eq!(report.inserted, 5000);
    let report = wide_merge().run_iter(&mut conn, || (50..5050).map(|n| wide(1, n))).unwrap();
    assert_eq!(counts(&report), (50, 0, 50, 0, 4950, 0));
    let truth: Vec<NewWide> = (50..5050).map(|n| wide(1, n)).collect();
    assert_eq!(active_shas(&name, "wide", "TRUE"), shas_of(fixture_info("wide"), &truth));
    // A bad row in a late batch names its position.
    let scoped = wide_merge().scope("scope_id", &1).unwrap();
    let error = scoped.run_iter(&mut conn, || (0..3000).map(|n| if n == 2500 { wide(2, n) } else { wide(1, n) })).unwrap_err();
    assert!(error.to_string().contains("row 2500"), "{error}");
}

/// A table keyed by text, without an integer id: merge finds rows by `ctid`.
#[derive(Serialize)]
struct NewTags {
    name: &'static str,
    note: Option<&'static str>,
}

#[test]
fn a_table_without_an_integer_id_is_merged_by_ctid() {
    let (name, mut conn) = database("merge_ctid");
    let by_key = || Merge::<NewTags>::from_info(fixture_info("tags")).unwrap().compare_key(&["name"]).unwrap();
    let first = [NewTags { name: "a", note: None }, NewTags { name: "b", note: Some("x") }, NewTags { name: "c", note: None }];
    assert_eq!(counts(&by_key().run(&mut conn, &first).unwrap()), (3, 0, 0, 0, 0, 0));
    // b changes (updated in place through a staged ctid), c goes (archived by ctid).
    let second = [NewTags { name: "a", note: None }, NewTags { name: "b", note: Some("y") }];
    assert_eq!(counts(&by_key().run(&mut conn, &second).unwrap()), (0, 1, 1, 0, 1, 0));
    assert_eq!(query(&name, "SELECT name, note, archive IS NULL FROM tags ORDER BY name"), vec![
        vec!["a".to_string(), String::new(), "t".into()],
        vec!["b".to_string(), "y".into(), "t".into()],
        vec!["c".to_string(), String::new(), "f".into()],
    ]);
    assert_eq!(active_shas(&name, "tags", "TRUE"), shas_of(fixture_info("tags"), &second));
    // Deleting by ctid too; the primary key is the compare key by default.
    let report = Merge::<NewTags>::from_info(fixture_info("tags")).unwrap().mode(Mode::Delete).run(&mut conn, &second[..1]).unwrap();
    assert_eq!(report.deleted, 1);
    assert_eq!(scalar(&name, "SELECT string_agg(name, ',' ORDER BY name) FROM tags"), "a,c");
}

#[test]
fn delete_and_insert_only_modes() {
    let (name, mut conn) = database("merge_modes");
    let first: Vec<NewWide> = (0..6).map(|n| wide(1, n)).collect();
    let second: Vec<NewWide> = (3..9).map(|n| wide(1, n)).collect();
    wide_merge().mode(Mode::Delete).run(&mut conn, &first).unwrap();
    let report = wide_merge().mode(Mode::Delete).run(&mut conn, &second).unwrap();
    assert_eq!(counts(&report), (3, 0, 0, 3, 3, 0));
    assert_eq!(scalar(&name, "SELECT count(*) FROM wide"), "6");
    let report = wide_merge().mode(Mode::InsertOnly).run(&mut conn, &first).unwrap();
    assert_eq!(counts(&report), (3, 0, 0, 0, 3, 0));
    assert_eq!(scalar(&name, "SELECT count(*) FROM wide WHERE archive IS NULL"), "9");
}

#[test]
fn scopes_leave_other_scopes_alone_and_refuse_rows_outside() {
    let (name, mut conn) = database("merge_scope");
    let one: Vec<NewWide> = (0..5).map(|n| wide(1, n)).collect();
    let two: Vec<NewWide> = (0..5).map(|n| wide(2, n)).collect();
    wide_merge().scope("scope_id", &1).unwrap().run(&mut conn, &one).unwrap();
    wide_merge().scope("scope_id", &2).unwrap().run(&mut conn, &two).unwrap();
    // An empty truth for scope 1 archives scope 1 only.
    let report = wide_merge().scope("scope_id", &1).unwrap().run(&mut conn, &Vec::<NewWide>::new()).unwrap();
    assert_eq!(report.archived, 5);
    assert_eq!(active_shas(&name, "wide", "scope_id = 2"), shas_of(fixture_info("wide"), &two));
    assert_eq!(scalar(&name, "SELECT count(*) FROM wide WHERE scope_id = 1 AND archive IS NULL"), "0");
    let error = wide_merge().scope("scope_id", &1).unwrap().run(&mut conn, &two).unwrap_err();
    assert!(matches!(&error, MergeError::OutOfScope { index: 0, column, .. } if column == "scope_id"), "{error}");
    // A scope on a column merge cannot compare exactly is refused up front.
    let error = wide_merge().scope("score", &1.5).unwrap_err();
    assert!(error.to_string().contains("compare exactly"), "{error}");
}

#[test]
fn duplicates_are_counted_or_refused() {
    let (name, mut conn) = database("merge_dups");
    let rows = vec![wide(1, 1), wide(1, 2), wide(1, 1), wide(1, 1)];
    let report = wide_merge().run(&mut conn, &rows).unwrap();
    assert_eq!(counts(&report), (2, 0, 0, 0, 0, 2));
    assert_eq!(scalar(&name, "SELECT count(*) FROM wide"), "2");
    let error = wide_merge().duplicates(Duplicates::Reject).run(&mut conn, &rows).unwrap_err();
    assert!(matches!(error, MergeError::Duplicate { first: 0, repeat: 2, .. }), "{error}");
}

#[test]
fn a_bad_value_names_its_row_and_column_and_writes_nothing() {
    let (name, mut conn) = database("merge_bad");
    let mut rows = vec![wide(1, 1), wide(1, 2)];
    rows[1].counts = Some(vec![Some(1)]);
    rows[1].name = "x".repeat(65);
    let error = wide_merge().run(&mut conn, &rows).unwrap_err();
    assert!(error.to_string().contains("rolled back"), "{error}");
    assert_eq!(scalar(&name, "SELECT count(*) FROM wide"), "0");
    assert_eq!((error.phase(), error.is_bad_row(), error.is_retryable()), (Phase::Write, false, false), "{error}");
    // Facts and rows of different tables: `Merge::<NewWide>::new(NewApps::TABLE)` does not
    // compile; forced together they are refused before anything runs.
    let error = Merge::<NewWide>::new((PhantomData, NewApps::TABLE_INFO)).unwrap_err();
    assert_eq!(error.to_string(), "cannot merge `apps`: these facts are for `NewApps` rows, not `NewWide`; use `NewWide::TABLE`");
    // Untyped facts still check the rows' struct as they are read.
    let error = Merge::<NewWide>::from_info(facts(NewApps::TABLE)).unwrap().run(&mut conn, &[wide(1, 1)]).unwrap_err();
    assert!(error.to_string().contains("rows are `NewWide`"), "{error}");
}

fn group(name: &str) -> NewAppGroups {
    NewAppGroups { name: Some(name.into()) }
}

fn app(parent: &str, name: &str, disable: Option<bool>, progress: Option<i32>) -> NewApps {
    let id = format!("{parent}/{name}");
    let mut row: NewApps = serde_json::from_value(serde_json::json!({"app": id, "group_name": "g", "parent_name": parent, "app_name": name})).unwrap();
    row.last_run = Some(stamp(3, 0));
    row.run_status = Some(RunStatus::Running);
    row.disable = disable;
    row.progress = progress;
    row
}

#[test]
fn composite_key_table_updates_in_place_by_key_and_revives_archived_rows() {
    let (name, mut conn) = database("merge_apps");
    Merge::new(NewAppGroups::TABLE).unwrap().run(&mut conn, &[group("g")]).unwrap();
    let parents: Vec<NewAppParents> = ["p1", "p2"]
        .iter()
        .map(|p| serde_json::from_value(serde_json::json!({"name": p, "group_name": "g", "parent": p})).unwrap())
        .collect();
    // app_parents and apps have a unique business key (`parent`, `app`): merge compares by it.
    Merge::new(NewAppParents::TABLE).unwrap().run(&mut conn, &parents).unwrap();
    let apps = || Merge::new(NewApps::TABLE).unwrap();
    let first = vec![app("p1", "a", Some(false), Some(5)), app("p1", "b", None, None), app("p2", "c", None, None)];
    assert_eq!(counts(&apps().run(&mut conn, &first).unwrap()), (3, 0, 0, 0, 0, 0));
    let id_of = |app: &str| scalar(&name, &format!("SELECT id || ' ' || date_created FROM apps WHERE app_name = '{app}'"));
    let a_before = id_of("a");
    // `progress` is not in the hash: a change there alone is no change.
    let second = vec![app("p1", "a", Some(true), Some(6)), app("p1", "b", None, Some(50))];
    assert_eq!(counts(&apps().run(&mut conn, &second).unwrap()), (0, 1, 1, 0, 1, 0));
    assert_eq!(id_of("a"), a_before, "updated in place: same id and date_created");
    assert_eq!(scalar(&name, "SELECT disable::text || ' ' || progress FROM apps WHERE app_name = 'a'"), "true 6");
    assert_eq!(scalar(&name, "SELECT archive IS NOT NULL FROM apps WHERE app_name = 'c'"), "t");
    // `c` returns: the archived row is made active again, not duplicated.
    assert_eq!(counts(&apps().run(&mut conn, &first).unwrap()), (0, 2, 0, 0, 1, 0));
    assert_eq!(scalar(&name, "SELECT count(*) FROM apps WHERE archive IS NULL"), "3");
    assert_eq!(active_shas(&name, "apps", "TRUE"), shas_of(facts(NewApps::TABLE), &first));
    // Same-key rows twice in the truth are duplicates.
    let doubled = vec![first[0].clone(), app("p1", "a", None, Some(1))];
    assert_eq!(apps().run(&mut conn, &doubled).unwrap().duplicates, 1);
}

#[test]
fn enum_defaults_and_doubles_in_a_generated_table() {
    let (name, mut conn) = database("merge_runtime");
    let row = |exit: Option<RuntimeExitCode>, rate: f64| -> NewRuntime {
        let mut row: NewRuntime = serde_json::from_value(serde_json::json!({})).unwrap();
        row.runtime_ = Some(format!("r{rate}"));
        row.exit_code = exit;
        row.error_rate = Some(rate);
        row.start_time = Some(stamp(4, 999_999));
        row
    };
    let rows = vec![row(None, 0.1), row(Some(RuntimeExitCode::Finished), 0.2)];
    let report = Merge::new(NewRuntime::TABLE).unwrap().run(&mut conn, &rows).unwrap();
    assert_eq!(report.inserted, 2);
    // `None` exit_code took the default (`finished`), and hashed as it.
    assert_eq!(scalar(&name, "SELECT count(*) FROM runtime WHERE exit_code IS NOT NULL"), "2");
    assert_eq!(active_shas(&name, "runtime", "TRUE"), shas_of(facts(NewRuntime::TABLE), &rows));
    let again = Merge::new(NewRuntime::TABLE).unwrap().run(&mut conn, &[row(Some(RuntimeExitCode::Finished), 0.1), rows[1].clone()]).unwrap();
    assert_eq!(again.unchanged, 2);
}

#[test]
fn hashing_while_serde_walks_a_generated_struct_equals_hashing_a_captured_row() {
    // Generated insert structs serialize in column-name order and are hashed
    // as they are walked; the same row as a map goes through captured slots.
    let shape = RowShape::new(facts(NewApps::TABLE)).unwrap();
    let mut reader = RowReader::for_hashing(&shape);
    let mut apps = vec![app("p1", "a", Some(false), Some(5)), app("p2", "Ünï Côde\u{1f}", None, None)];
    apps[1].app = Some("X Y".into());
    apps[0].app = None;
    for row in &apps {
        let as_map = serde_json::to_value(row).unwrap();
        assert_eq!(reader.sha_hex(row).unwrap(), reader.sha_hex(&as_map).unwrap());
        let streamed = reader.canonical_of(row).unwrap().to_string();
        assert_eq!(streamed, reader.canonical_of(&as_map).unwrap());
    }
    let shape = RowShape::new(facts(NewRuntime::TABLE)).unwrap();
    let mut reader = RowReader::for_hashing(&shape);
    let mut row: NewRuntime = serde_json::from_value(serde_json::json!({"error_rate": 0.1, "start_time": "2024-01-02T03:04:05.000006"})).unwrap();
    assert_eq!(reader.sha_hex(&row).unwrap(), reader.sha_hex(&serde_json::to_value(&row).unwrap()).unwrap());
    row.exit_code = Some(RuntimeExitCode::Finished);
    assert_eq!(reader.sha_hex(&row).unwrap(), reader.sha_hex(&serde_json::to_value(&row).unwrap()).unwrap());
}

#[test]
fn codebook_sync_is_a_no_op_after_migrations_repairs_drift_and_is_idempotent() {
    let (name, mut conn) = database("merge_codebooks");
    let reports = sync_codebooks(&mut conn, dc_schema::tables::ALL).unwrap();
    assert!(!reports.is_empty());
    for report in &reports {
        let changes = (report.merge.inserted, report.merge.updated, report.merge.archived, report.merge.deleted);
        assert_eq!(changes, (0, 0, 0, 0), "{} changed on a fresh database: {report:?}", report.table);
        assert_eq!(report.added_deprecated, 0);
    }
    let before = query(&name, "SELECT id, description, sha, archive IS NULL, date_created FROM c_run_status ORDER BY id");
    conn.batch_execute(
        "UPDATE c_run_status SET description = 'stale', sha = 'x' WHERE id = 0;
         UPDATE c_run_status SET archive = now() WHERE id = 1;
         DELETE FROM c_run_status WHERE id = 2;",
    )
    .unwrap();
    let reports = sync_codebooks(&mut conn, dc_schema::tables::ALL).unwrap();
    let run_status = reports.iter().find(|r| r.table == "c_run_status").unwrap();
    assert_eq!((run_status.merge.inserted, run_status.merge.updated), (1, 2), "{run_status:?}");
    let after = query(&name, "SELECT id, description, sha, archive IS NULL, date_created FROM c_run_status ORDER BY id");
    let strip = |rows: &[Vec<String>]| rows.iter().map(|r| r[..4].to_vec()).collect::<Vec<_>>();
    assert_eq!(strip(&after), strip(&before));
    let reports = sync_codebooks(&mut conn, dc_schema::tables::ALL).unwrap();
    for report in &reports {
        assert_eq!((report.merge.inserted, report.merge.updated, report.merge.archived, report.added_deprecated), (0, 0, 0, 0), "{report:?}");
    }
}

#[test]
fn killing_the_connection_mid_merge_rolls_everything_back() {
    let (name, mut conn) = database("merge_kill");
    let first: Vec<NewWide> = (0..200).map(|n| wide(1, n)).collect();
    wide_merge().run(&mut conn, &first).unwrap();
    let before = query(&name, "SELECT id, sha, archive FROM wide ORDER BY id");
    // Hold a lock on a row the merge will archive, so it stops at its
    // UPDATE, inside its transaction; then end its backend.
    let url = Cluster::shared().url(&name);
    let mut blocker = PgConnection::establish(&url).unwrap();
    blocker.batch_execute("BEGIN; SELECT * FROM wide WHERE name LIKE 'Row 0%' FOR UPDATE;").unwrap();
    let merging = std::thread::spawn(move || {
        let second: Vec<NewWide> = (1..400).map(|n| wide(1, n)).collect();
        wide_merge().run(&mut conn, &second)
    });
    let mut waited = 0;
    let backend = loop {
        let waiting = scalar(&name, "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE%'");
        if !waiting.is_empty() {
            break waiting;
        }
        waited += 1;
        assert!(waited < 600, "the merge never reached its UPDATE");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(scalar(&name, &format!("SELECT pg_terminate_backend({backend})")), "t");
    let error = merging.join().unwrap().unwrap_err();
    assert!(matches!(error, MergeError::Database { phase: Phase::Write, .. }), "{error}");
    // A lost connection: the same merge on a new connection can succeed.
    assert!(error.is_retryable(), "{error}");
    blocker.batch_execute("ROLLBACK").unwrap();
    assert_eq!(query(&name, "SELECT id, sha, archive FROM wide ORDER BY id"), before);
}

#[test]
fn two_concurrent_merges_of_one_scope_leave_no_duplicate_active_rows() {
    let (name, conn) = database("merge_race");
    drop(conn);
    let url = Cluster::shared().url(&name);
    for round in 0..3 {
        let barrier = Arc::new(Barrier::new(2));
        let workers: Vec<_> = [0_u32, 50]
            .into_iter()
            .map(|start| {
                let (barrier, url) = (barrier.clone(), url.clone());
                std::thread::spawn(move || {
                    let mut conn = PgConnection::establish(&url).unwrap();
                    let rows: Vec<NewWide> = (start..start + 100 + round).map(|n| wide(7, n)).collect();
                    barrier.wait();
                    wide_merge().scope("scope_id", &7).unwrap().run(&mut conn, &rows).unwrap()
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        let duplicates = scalar(&name, "SELECT count(*) FROM (SELECT sha FROM wide WHERE archive IS NULL GROUP BY sha HAVING count(*) > 1) d");
        assert_eq!(duplicates, "0", "round {round}");
        // The table equals whichever merge ran last.
        let active = scalar(&name, "SELECT count(*) FROM wide WHERE archive IS NULL");
        assert_eq!(active, (100 + round).to_string(), "round {round}");
    }
}

#[test]
fn every_generated_table_reads_back_exactly_as_written() {
    // The contract: what dcgen wrote into dc-schema is what this runtime reads,
    // field for field (unknown fields are refused), in this runtime's format.
    assert!(!dc_schema::tables::ALL.is_empty());
    for text in dc_schema::tables::ALL {
        let info = TableInfo::parse(text).unwrap();
        assert_eq!(info.format, FORMAT);
        assert_eq!(&info.to_json(), text, "{}", info.table);
    }
    // The typed constant carries the same facts as the text.
    assert_eq!(NewAppGroups::TABLE.1, NewAppGroups::TABLE_INFO);
    assert_eq!(facts(NewAppGroups::TABLE).unique_keys[0].name, "uq_app_groups_name");
}

/// The issue's case: a table with a unique business key, merged with three
/// groups, then two, then three again. Compared by sha the third merge
/// inserted `c` again beside its archived copy and failed half-way on
/// `uq_app_groups_name`; merge now compares by the unique key and revives it.
#[test]
fn a_unique_business_key_is_the_compare_key_and_an_archived_row_comes_back() {
    let (name, mut conn) = database("merge_unique");
    let merge = || Merge::new(NewAppGroups::TABLE).unwrap();
    let three = [group("a"), group("b"), group("c")];
    assert_eq!(counts(&merge().run(&mut conn, &three).unwrap()), (3, 0, 0, 0, 0, 0));
    let id_of_c = scalar(&name, "SELECT id FROM app_groups WHERE name = 'c'");
    assert_eq!(counts(&merge().run(&mut conn, &three[..2]).unwrap()), (0, 0, 1, 0, 2, 0));
    assert_eq!(counts(&merge().run(&mut conn, &three).unwrap()), (0, 1, 0, 0, 2, 0));
    assert_eq!(query(&name, "SELECT name, archive IS NULL FROM app_groups ORDER BY name"), vec![
        vec!["a".to_string(), "t".into()],
        vec!["b".to_string(), "t".into()],
        vec!["c".to_string(), "t".into()],
    ]);
    assert_eq!(scalar(&name, "SELECT id FROM app_groups WHERE name = 'c'"), id_of_c, "the archived row itself came back");
    assert_eq!(active_shas(&name, "app_groups", "TRUE"), shas_of(facts(NewAppGroups::TABLE), &three));
}

/// A second unique key the compare key does not imply is checked against
/// every row of the table before anything is written.
#[test]
fn a_row_that_would_repeat_another_unique_key_is_refused_before_anything_is_written() {
    let (name, mut conn) = database("merge_unique_refused");
    let parent = |name: &str, parent: &str| -> NewAppParents { serde_json::from_value(serde_json::json!({"name": name, "group_name": "g", "parent": parent})).unwrap() };
    Merge::new(NewAppGroups::TABLE).unwrap().run(&mut conn, &[group("g")]).unwrap();
    // app_parents is compared by its primary key (name, group_name); `parent` is unique too.
    let merge = || Merge::new(NewAppParents::TABLE).unwrap();
    assert_eq!(counts(&merge().run(&mut conn, &[parent("p", "x1"), parent("q", "x2")]).unwrap()), (2, 0, 0, 0, 0, 0));
    // `p` goes (archived, still holding x1) and `r` arrives with x1: refused, nothing written.
    let before = query(&name, "SELECT id, name, parent, archive FROM app_parents ORDER BY id");
    let error = merge().run(&mut conn, &[parent("q", "x2"), parent("r", "x1")]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "row 1: unique key `uq_app_parents_parent` (parent) = (\"x1\") is already held by a stored row this merge does not match (archived, or in another scope); \
         nothing was written. Correct the row, or compare by that key (`compare_key`) so the holder is updated instead"
    );
    assert_eq!((error.phase(), error.is_bad_row(), error.is_retryable()), (Phase::Diff, true, false));
    assert_eq!(query(&name, "SELECT id, name, parent, archive FROM app_parents ORDER BY id"), before);
    // Two rows of one truth with the same `parent`.
    let error = merge().run(&mut conn, &[parent("q", "x2"), parent("s", "x3"), parent("t", "x3")]).unwrap_err();
    assert!(error.to_string().starts_with("row 2: unique key `uq_app_parents_parent` (parent) = (\"x3\") is already held by row 1 of the truth"), "{error}");
    // A row updated in place may take the value a row the same merge deletes gave up.
    let report = merge().mode(Mode::Delete).run(&mut conn, &[parent("q", "x1"), parent("u", "")]).unwrap();
    assert_eq!(counts(&report), (1, 1, 0, 1, 0, 0));
    // A scoped merge checks keys against other scopes too: apps of group g2 repeating g's `app`.
    Merge::new(NewAppGroups::TABLE).unwrap().run(&mut conn, &[group("g"), group("g2")]).unwrap();
    Merge::new(NewAppParents::TABLE).unwrap().mode(Mode::InsertOnly).run(&mut conn, &[parent("q", "x1"), serde_json::from_value(serde_json::json!({"name": "q", "group_name": "g2", "parent": "y"})).unwrap()]).unwrap();
    let mut app_g2 = app("q", "a", None, None);
    app_g2.group_name = "g2".into();
    Merge::new(NewApps::TABLE).unwrap().scope("group_name", "g").unwrap().run(&mut conn, &[app("q", "a", None, None)]).unwrap();
    let error = Merge::new(NewApps::TABLE).unwrap().scope("group_name", "g2").unwrap().run(&mut conn, &[app_g2]).unwrap_err();
    assert!(error.to_string().contains("unique key `uq_apps_app` (app) = (\"q/a\") is already held by a stored row"), "{error}");
}

#[test]
fn a_setup_error_is_not_reported_as_a_bad_row() {
    let (name, mut conn) = database("merge_setup");
    let mut info = fixture_info("wide");
    info.columns.retain(|c| c.name != "archive");
    let error = Merge::<NewWide>::from_info(info).unwrap().run(&mut conn, &[wide(1, 1)]).unwrap_err();
    assert!(matches!(&error, MergeError::Setup { table, .. } if table == "wide"), "{error}");
    assert_eq!((error.phase(), error.is_bad_row()), (Phase::Setup, false));
    assert!(error.to_string().contains("archive mode needs a column with `role: archive`"), "{error}");
    assert_eq!(scalar(&name, "SELECT count(*) FROM wide"), "0");
}

/// Holds the whole-table merge lock of `wide` until dropped: a merge inside
/// an outer transaction (a savepoint) that stays open on another thread.
struct LockHolder {
    release: std::sync::mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LockHolder {
    fn take(database: &str) -> LockHolder {
        let url = DatabaseUrl::new(Cluster::shared().url(database));
        let (release, wait) = std::sync::mpsc::channel();
        let (taken, is_taken) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut conn = url.establish().unwrap();
            conn.transaction::<_, MergeError, _>(|conn| {
                wide_merge().run(conn, &[wide(9, 9)])?;
                taken.send(()).unwrap();
                let _ = wait.recv();
                Ok(())
            })
            .unwrap();
        });
        is_taken.recv().unwrap();
        LockHolder { release, thread: Some(thread) }
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        let _ = self.release.send(());
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

#[test]
fn a_lock_held_too_long_times_out_and_a_cancel_stops_the_wait() {
    let (name, mut conn) = database("merge_lock");
    let holder = LockHolder::take(&name);
    let started = std::time::Instant::now();
    let error = wide_merge().lock_timeout(Duration::from_millis(300)).run(&mut conn, &[wide(1, 1)]).unwrap_err();
    assert!(matches!(error, MergeError::LockTimeout { .. }), "{error}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!((error.phase(), error.is_retryable()), (Phase::Lock, true));
    // Cancelled while it waits, without any timeout.
    let token = CancelToken::new();
    let canceller = {
        let token = token.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            token.cancel();
        })
    };
    let error = wide_merge().cancel_token(token).run(&mut conn, &[wide(1, 1)]).unwrap_err();
    canceller.join().unwrap();
    assert!(matches!(error, MergeError::Cancelled { phase: Phase::Lock, .. }), "{error}");
    assert!(!error.is_retryable());
    // The merges that gave up wrote nothing.
    assert_eq!(scalar(&name, "SELECT count(*) FROM wide WHERE scope_id = 1"), "0");
    drop(holder);
    // Once the lock is free the same merge runs.
    let report = wide_merge().lock_timeout(Duration::from_secs(5)).run(&mut conn, &[wide(1, 1)]).unwrap();
    assert_eq!((report.inserted, report.archived), (1, 1));
}

#[test]
fn a_cancelled_token_stops_a_merge_before_it_writes() {
    let (name, mut conn) = database("merge_cancel");
    let token = CancelToken::new();
    token.cancel();
    let rows: Vec<NewWide> = (0..10).map(|n| wide(1, n)).collect();
    let error = wide_merge().cancel_token(token).run(&mut conn, &rows).unwrap_err();
    assert!(matches!(error, MergeError::Cancelled { phase: Phase::Setup, .. }), "{error}");
    assert_eq!(scalar(&name, "SELECT count(*) FROM wide"), "0");
}

#[test]
fn helper_threads_come_from_a_shared_budget() {
    let (name, mut conn) = database("merge_budget");
    let rows: Vec<NewWide> = (0..5000).map(|n| wide(1, n)).collect();
    // No helper free: the calling thread hashes alone, slice or stream.
    let none = ThreadBudget::new(0);
    let report = wide_merge().threads(8).thread_budget(none.clone()).run(&mut conn, &rows).unwrap();
    assert_eq!(report.inserted, 5000);
    let report = wide_merge().threads(8).thread_budget(none).run_iter(&mut conn, || rows.iter().cloned()).unwrap();
    assert_eq!(report.unchanged, 5000);
    // Two merges at once share two helpers, and give them back.
    let budget = ThreadBudget::new(2);
    let url = Cluster::shared().url(&name);
    let workers: Vec<_> = (0..2)
        .map(|scope| {
            let (budget, url) = (budget.clone(), url.clone());
            std::thread::spawn(move || {
                let mut conn = DatabaseUrl::new(url).establish().unwrap();
                let rows: Vec<NewWide> = (0..5000).map(|n| wide(10 + scope, n)).collect();
                wide_merge().scope("scope_id", &(10 + scope)).unwrap().threads(8).thread_budget(budget).run(&mut conn, &rows).unwrap()
            })
        })
        .collect();
    for worker in workers {
        assert_eq!(worker.join().unwrap().inserted, 5000);
    }
    assert_eq!(budget.available(), 2);
    assert_eq!(scalar(&name, "SELECT count(*) FROM wide WHERE archive IS NULL"), "15000");
}

/// Records every span's name, parent and fields, as a logging layer would see them.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<RecordedSpan>>>);

/// A span's name, its parent's name and its fields.
type RecordedSpan = (String, Option<String>, Vec<(String, String)>);

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_string(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push((field.name().to_string(), value.to_string()));
    }
}

impl<S> tracing_subscriber::Layer<S> for Recorder
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &tracing::span::Attributes<'_>, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let parent = ctx.span(id).and_then(|span| span.parent()).map(|parent| parent.name().to_string());
        let mut fields = Vec::new();
        attrs.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push((attrs.metadata().name().to_string(), parent, fields));
    }
    fn on_record(&self, id: &tracing::span::Id, values: &tracing::span::Record<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let Some(name) = ctx.span(id).map(|span| span.name().to_string()) else { return };
        let mut spans = self.0.lock().unwrap();
        if let Some(entry) = spans.iter_mut().rev().find(|(n, ..)| *n == name) {
            values.record(&mut Fields(&mut entry.2));
        }
    }
}

#[test]
fn each_merge_is_a_span_with_its_counts_and_a_child_span_per_phase() {
    use tracing_subscriber::layer::SubscriberExt;
    let (_name, mut conn) = database("merge_spans");
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    tracing::subscriber::with_default(subscriber, || {
        wide_merge().run(&mut conn, &[wide(1, 1), wide(1, 2)]).unwrap();
        let mut info = fixture_info("wide");
        info.columns.retain(|c| c.name != "archive");
        let error = Merge::<NewWide>::from_info(info).unwrap().run(&mut conn, &[wide(1, 1)]).unwrap_err();
        assert_eq!(error.phase(), Phase::Setup);
    });
    let spans = recorder.0.lock().unwrap().clone();
    let merges: Vec<_> = spans.iter().filter(|(name, ..)| name == "merge").collect();
    assert_eq!(merges.len(), 2, "{spans:?}");
    let field = |fields: &[(String, String)], key: &str| fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let first = &merges[0].2;
    assert_eq!(field(first, "table").as_deref(), Some("wide"));
    assert_eq!(field(first, "mode").as_deref(), Some("archive"));
    assert_eq!(field(first, "compare").as_deref(), Some("sha"));
    assert_eq!(field(first, "rows").as_deref(), Some("2"));
    assert_eq!(field(first, "inserted").as_deref(), Some("2"));
    assert_eq!(field(first, "unchanged").as_deref(), Some("0"));
    assert!(field(first, "elapsed_ms").is_some());
    for phase in ["setup", "lock", "read", "hash", "diff", "write"] {
        assert!(spans.iter().any(|(name, parent, _)| name == phase && parent.as_deref() == Some("merge")), "no {phase} span under merge: {spans:?}");
    }
    let second = &merges[1].2;
    assert_eq!(field(second, "phase").as_deref(), Some("setup"));
    assert!(field(second, "error").is_some_and(|e| e.contains("archive mode needs")), "{second:?}");
}

mod properties {
    use std::sync::atomic::{AtomicI32, Ordering};

    use proptest::prelude::*;

    use super::*;

    fn shared() -> &'static Mutex<(String, PgConnection)> {
        static SHARED: OnceLock<Mutex<(String, PgConnection)>> = OnceLock::new();
        SHARED.get_or_init(|| Mutex::new(database("merge_props")))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Whatever truths come in, in whichever modes, after each archive or
        /// delete merge the scope's active rows are exactly the last truth.
        #[test]
        fn active_rows_equal_the_last_truth(
            truths in prop::collection::vec((prop::collection::vec(0_u32..12, 0..10), prop::bool::ANY), 1..5)
        ) {
            static SCOPE: AtomicI32 = AtomicI32::new(1000);
            let scope = SCOPE.fetch_add(1, Ordering::Relaxed);
            let mut guard = shared().lock().unwrap_or_else(|e| e.into_inner());
            let (name, conn) = &mut *guard;
            for (truth, delete) in &truths {
                let rows: Vec<NewWide> = truth.iter().map(|&n| wide(scope, n)).collect();
                let mode = if *delete { Mode::Delete } else { Mode::Archive };
                let report = wide_merge().mode(mode).scope("scope_id", &scope).unwrap().run(conn, &rows).unwrap();
                prop_assert_eq!(report.inserted + report.unchanged + report.duplicates, rows.len() as u64);
                prop_assert_eq!(active_shas(name, "wide", &format!("scope_id = {scope}")), shas_of(fixture_info("wide"), &rows));
            }
        }
    }
}
