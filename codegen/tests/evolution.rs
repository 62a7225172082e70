//! The generative migration test: random specs evolved by random edits, every step
//! migrated on a real PostgreSQL with rows in every table, checked by `dcgen verify`,
//! rolled back step by step (each down must leave the catalog and the kept rows
//! exactly as they were before its up), migrated up again; and every T-SQL file of
//! every sequence through ScriptDom (one Python run at the end: .NET starts slowly).
//!
//! `make test` runs a fixed seed. `make fuzz-migrations` runs more cases from a new
//! seed; `DCGEN_EVOLUTION_SEED` and `DCGEN_EVOLUTION_CASES` choose them, and
//! `DCGEN_EVOLUTION_REPLAY=<case>` replays one failed sequence (a failure prints it).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use pg_harness::Cluster;
use proptest::prelude::Rng;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::rollbacks::{catalog_sql, Evolution};
use crate::support::repo_root;

/// Sequences in `make test`; each has an initial migration and `EDIT_STEPS` more.
const DEFAULT_CASES: u32 = 25;
const EDIT_STEPS: usize = 7;
const DEFAULT_SEED: u64 = 0x00d0_c6e4_2026_0101;

#[test]
fn random_evolutions_migrate_verify_roll_back_and_reapply() {
    let seed: u64 = std::env::var("DCGEN_EVOLUTION_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_SEED);
    let cases: u32 = std::env::var("DCGEN_EVOLUTION_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_CASES);
    let replay: Option<u64> = std::env::var("DCGEN_EVOLUTION_REPLAY").ok().and_then(|s| s.parse().ok());
    eprintln!("evolution: seed {seed}, {cases} sequences of {} migrations", EDIT_STEPS + 1);
    let python = tsql_python();
    let cluster = Cluster::shared();
    let tsql_dir = tempfile::tempdir().unwrap();
    let outcome = Mutex::new((0usize, Vec::<PathBuf>::new()));
    let started = std::time::Instant::now();

    let run_case = |case: u64| -> Result<(), String> {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_sequence(cluster, case)));
        let (steps, files) = match result {
            Ok(Ok(done)) => done,
            Ok(Err(message)) => return Err(message),
            Err(panic) => return Err(panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()),
        };
        let mut outcome = outcome.lock().unwrap();
        for (name, text) in files {
            let path = tsql_dir.path().join(format!("case{case}_{name}"));
            std::fs::write(&path, text).unwrap();
            outcome.1.push(path);
        }
        outcome.0 += steps;
        Ok(())
    };
    let replay_hint = |case: u64| format!("replay it with: DCGEN_EVOLUTION_REPLAY={case} cargo test -p dcgen --test tests -- evolution --nocapture");

    match replay {
        Some(case) => run_case(case).unwrap_or_else(|message| panic!("sequence {case} failed: {message}\n{}", replay_hint(case))),
        None => {
            let config = Config { cases, failure_persistence: None, max_shrink_iters: 0, rng_algorithm: RngAlgorithm::ChaCha, ..Config::default() };
            let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(seed)));
            let result = runner.run(&proptest::arbitrary::any::<u64>(), |case| run_case(case).map_err(|message| TestCaseError::fail(format!("{message}\n{}", replay_hint(case)))));
            if let Err(error) = result {
                panic!("seed {seed}: {error}");
            }
        }
    }

    let (steps, files) = outcome.into_inner().unwrap();
    eprintln!("evolution: {steps} migrations applied, verified and rolled back in {:.1?}; checking {} T-SQL files", started.elapsed(), files.len());
    if replay.is_none() {
        assert!(steps >= 200.min(cases as usize * (EDIT_STEPS + 1)), "only {steps} evolution steps ran");
    }
    let output = std::process::Command::new(&python).arg(repo_root().join("tests/tsql/check_tsql.py")).args(&files).output().expect("the T-SQL checker runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "T-SQL of the evolutions fails ScriptDom or sqlfluff (seed {seed}; the case is in each file name):\n{report}{}", String::from_utf8_lossy(&output.stderr));
}

fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&(seed.wrapping_add((i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))).to_le_bytes());
    }
    bytes
}

/// The T-SQL checker's Python; missing, the test fails (never skips) and says how to get it.
fn tsql_python() -> PathBuf {
    let python = std::env::var_os("TSQL_PYTHON").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".venv-tsql/bin/python"));
    assert!(python.exists(), "{} is missing: the evolution test checks its T-SQL with ScriptDom; run `make tsql-venv` (or set TSQL_PYTHON)", python.display());
    python
}

/// One connection per sequence: far cheaper than a psql process per statement.
struct Db(PgConnection);

#[derive(diesel::QueryableByName)]
struct Line {
    #[diesel(sql_type = diesel::sql_types::Text)]
    line: String,
}

impl Db {
    fn execute(&mut self, sql: &str) -> Result<(), String> {
        // An edit that changes nothing makes a migration of comments only.
        if sql.lines().all(|line| line.trim().is_empty() || line.starts_with("--")) {
            return Ok(());
        }
        diesel::connection::SimpleConnection::batch_execute(&mut self.0, sql).map_err(|e| e.to_string())
    }

    fn apply(&mut self, file: &std::path::Path) -> Result<(), String> {
        let sql = std::fs::read_to_string(file).unwrap();
        self.execute(&sql).map_err(|e| format!("{} failed: {e}\n--- the file:\n{sql}", file.display()))
    }

    /// Each row of `sql` as one text line, sorted.
    fn lines(&mut self, sql: &str) -> Vec<String> {
        diesel::sql_query(format!("SELECT q::text AS line FROM ({sql}) q ORDER BY 1")).load::<Line>(&mut self.0).unwrap_or_else(|e| panic!("{e}: {sql}")).into_iter().map(|l| l.line).collect()
    }
}

/// One sequence: its steps on a fresh database. Returns (steps, T-SQL files by name).
fn run_sequence(cluster: &Cluster, case: u64) -> Result<(usize, Vec<(String, String)>), String> {
    let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(case));
    let mut spec = Spec::random(&mut Dice(&mut rng));
    let mut evolution = Evolution::new();
    let mut yamls = Vec::new();
    let database = cluster.create_database("evolution").map_err(|e| e.to_string())?;
    let url = cluster.url(&database);
    let mut db = Db(PgConnection::establish(&url).map_err(|e| e.to_string())?);
    let catalog = catalog_sql("public");
    // Per step: the catalog and rows before its up, and the spec it migrates to.
    let mut before: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    let mut states: Vec<Spec> = Vec::new();
    for step in 0..=EDIT_STEPS {
        if step > 0 {
            let mut dice = Dice(&mut rng);
            let edits = 1 + dice.below(3);
            for _ in 0..edits {
                spec.edit(&mut dice);
            }
        }
        let yaml = spec.yaml();
        let context = |what: &str| format!("case {case}, step {step}: {what}\n--- spec:\n{yaml}\n--- earlier specs:\n{}", yamls.join("\n---\n"));
        evolution.step(&yaml).map_err(|e| context(&format!("dcgen refused the spec: {e}")))?;
        before.push((db.lines(&catalog), db.lines(&rows_sql(states.last()))));
        db.apply(&evolution.file("postgres", step, "up.sql")).map_err(|e| context(&e))?;
        let report = dcgen::verify::verify(&evolution.steps[step].0, &url, &dcgen::verify::Options::default()).map_err(|e| context(&e.to_string()))?;
        if report.has_drift() {
            return Err(context(&format!("verify finds drift after the up:\n{report}")));
        }
        let inserts = spec.insert_rows();
        db.execute(&inserts).map_err(|e| context(&format!("inserting rows failed: {e}\n{inserts}")))?;
        spec.clear_renames();
        states.push(spec.clone());
        yamls.push(yaml);
    }
    for step in (0..=EDIT_STEPS).rev() {
        let context = |what: &str| format!("case {case}, rolling back step {step}: {what}\n--- specs:\n{}", yamls.join("\n---\n"));
        db.apply(&evolution.file("postgres", step, "down.sql")).map_err(|e| context(&e))?;
        let (catalog_before, rows_before) = &before[step];
        let now = db.lines(&catalog);
        if &now != catalog_before {
            return Err(context(&format!("the down leaves a different catalog:\n{}", difference(catalog_before, &now))));
        }
        let rows = db.lines(&rows_sql(step.checked_sub(1).map(|s| &states[s])));
        if &rows != rows_before {
            return Err(context(&format!("the down lost rows:\n{}", difference(rows_before, &rows))));
        }
    }
    for step in 0..=EDIT_STEPS {
        db.apply(&evolution.file("postgres", step, "up.sql")).map_err(|e| format!("case {case}, step {step} up again: {e}"))?;
    }
    let report = dcgen::verify::verify(&evolution.steps[EDIT_STEPS].0, &url, &dcgen::verify::Options::default()).map_err(|e| e.to_string())?;
    if report.has_drift() {
        return Err(format!("case {case}: verify finds drift after migrating up again:\n{report}"));
    }
    // The sequence's directories go with `evolution`: hand back the T-SQL itself.
    let files = evolution
        .mssql_files()
        .iter()
        .map(|f| (f.strip_prefix(evolution.out.path()).unwrap().to_string_lossy().replace('/', "_"), std::fs::read_to_string(f).unwrap()))
        .collect();
    drop(db);
    let _ = cluster.psql("postgres", &format!("DROP DATABASE \"{database}\""));
    Ok((EDIT_STEPS + 1, files))
}

fn difference(expected: &[String], found: &[String]) -> String {
    let mut text = String::new();
    for row in expected.iter().filter(|r| !found.contains(r)) {
        let _ = writeln!(text, "- {row}");
    }
    for row in found.iter().filter(|r| !expected.contains(r)) {
        let _ = writeln!(text, "+ {row}");
    }
    text
}

/// The rows a spec state holds: per table its keys; codebooks in full.
fn rows_sql(spec: Option<&Spec>) -> String {
    let mut parts = vec!["SELECT '' AS t, '' AS r WHERE false".to_string()];
    for e in spec.iter().flat_map(|s| &s.enums).filter(|e| e.codebook) {
        parts.push(format!("SELECT 'c_{0}', concat_ws(',', id, description, sha, archive IS NULL) FROM c_{0}", e.uid));
    }
    for table in spec.iter().flat_map(|s| &s.tables) {
        let key = table.key_columns().iter().map(|c| format!("\"{}\"", c.name)).collect::<Vec<_>>().join(", ");
        parts.push(format!("SELECT '{0}', concat_ws(',', {key}) FROM \"{0}\"", table.name));
    }
    parts.join(" UNION ALL ")
}

/// Random choices over proptest's seeded generator.
struct Dice<'r>(&'r mut TestRng);

impl Dice<'_> {
    fn below(&mut self, n: usize) -> usize {
        (self.0.next_u64() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

#[derive(Clone, Debug)]
struct Spec {
    enums: Vec<EnumDef>,
    tables: Vec<TableDef>,
    next_uid: usize,
}

#[derive(Clone, Debug)]
struct EnumDef {
    uid: usize,
    codebook: bool,
    /// (value, deprecated); keys are `v<value>`, string values `s<value>`.
    values: Vec<(usize, bool)>,
}

#[derive(Clone, Debug)]
struct TableDef {
    uid: usize,
    name: String,
    renamed_from: Option<String>,
    comment: Option<String>,
    columns: Vec<ColumnDef>,
    foreign_keys: Vec<ForeignKeyDef>,
    indexes: Vec<IndexDef>,
    checks: Vec<CheckDef>,
    /// Whether rows were inserted (new tables get theirs after their step's up).
    filled: bool,
    /// A `modified` column kept current by a trigger (`on_update: now`), by uid.
    on_update: Option<usize>,
}

#[derive(Clone, Debug)]
struct ColumnDef {
    uid: usize,
    name: String,
    renamed_from: Option<String>,
    ty: Ty,
    nullable: bool,
    key: bool,
    identity: bool,
    default: bool,
    unique: bool,
    comment: Option<String>,
    /// Part of a foreign key (either end): its type must stay equal to the other end's.
    in_foreign_key: bool,
    /// Added in the step being written: nothing to rename or remove yet.
    fresh: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum Ty {
    Int,
    BigInt,
    Str(u32),
    Decimal(u32, u32),
    Bool,
    DateTime,
    /// Index into `Spec::enums`.
    Enum(usize),
}

#[derive(Clone, Debug)]
struct ForeignKeyDef {
    columns: Vec<usize>,
    table: usize,
    to: Vec<usize>,
}

#[derive(Clone, Debug)]
struct IndexDef {
    columns: Vec<usize>,
    descending: bool,
    /// A bool column the index is restricted to (`where: { c: false }`).
    partial_on: Option<usize>,
}

#[derive(Clone, Debug)]
struct CheckDef {
    column: usize,
    minimum: i64,
}

impl Spec {
    fn random(dice: &mut Dice) -> Spec {
        let mut spec = Spec { enums: vec![], tables: vec![], next_uid: 1 };
        for codebook in [true, dice.chance(50), false] {
            let uid = spec.uid();
            spec.enums.push(EnumDef { uid, codebook, values: (1..=2 + dice.below(2)).map(|v| (v, false)).collect() });
        }
        for _ in 0..2 + dice.below(3) {
            spec.add_table(dice);
        }
        spec
    }

    fn uid(&mut self) -> usize {
        self.next_uid += 1;
        self.next_uid
    }

    fn random_type(&self, dice: &mut Dice) -> Ty {
        match dice.below(7) {
            0 => Ty::Int,
            1 => Ty::BigInt,
            2 => Ty::Str(8 + dice.below(40) as u32),
            3 => Ty::Decimal(6 + dice.below(6) as u32, 1 + dice.below(3) as u32),
            4 => Ty::Bool,
            5 => Ty::DateTime,
            _ => Ty::Enum(dice.below(self.enums.len())),
        }
    }

    fn new_column(&mut self, dice: &mut Dice, nullable: bool) -> ColumnDef {
        let uid = self.uid();
        let ty = self.random_type(dice);
        // Unique columns get no default: every existing row would take the same value.
        let unique = matches!(ty, Ty::Str(_) | Ty::Int) && nullable && dice.chance(20);
        let default = !unique && (!nullable || dice.chance(30));
        ColumnDef { uid, name: format!("c{uid}"), renamed_from: None, ty, nullable, key: false, identity: false, default, unique, comment: dice.chance(20).then(|| format!("column {uid}")), in_foreign_key: false, fresh: true }
    }

    fn add_table(&mut self, dice: &mut Dice) {
        let uid = self.uid();
        let mut columns = Vec::new();
        if dice.chance(70) {
            let id = self.uid();
            columns.push(ColumnDef { uid: id, name: "id".into(), renamed_from: None, ty: Ty::BigInt, nullable: false, key: true, identity: true, default: false, unique: false, comment: None, in_foreign_key: false, fresh: true });
        } else {
            for ty in [Ty::Int, Ty::Str(12)] {
                let id = self.uid();
                columns.push(ColumnDef { uid: id, name: format!("k{id}"), renamed_from: None, ty, nullable: false, key: true, identity: false, default: false, unique: false, comment: None, in_foreign_key: false, fresh: true });
            }
        }
        for _ in 0..1 + dice.below(4) {
            let nullable = dice.chance(50);
            let column = self.new_column(dice, nullable);
            columns.push(column);
        }
        let on_update = dice.chance(30).then(|| self.uid());
        let mut table = TableDef { uid, name: format!("t{uid}"), renamed_from: None, comment: dice.chance(30).then(|| format!("table {uid}")), columns, foreign_keys: vec![], indexes: vec![], checks: vec![], filled: false, on_update };
        // A foreign key into an earlier table's key.
        if let Some(target) = dice.pick(&self.tables.iter().enumerate().map(|(i, _)| i).collect::<Vec<_>>()).copied().filter(|_| dice.chance(70)) {
            let keys: Vec<ColumnDef> = self.tables[target].key_columns().into_iter().cloned().collect();
            let mut columns = Vec::new();
            for key in &keys {
                let id = self.uid();
                let ty = if key.identity { Ty::BigInt } else { key.ty.clone() };
                table.columns.push(ColumnDef { uid: id, name: format!("f{id}"), renamed_from: None, ty, nullable: false, key: false, identity: false, default: false, unique: false, comment: None, in_foreign_key: true, fresh: true });
                columns.push(id);
            }
            for key in self.tables[target].columns.iter_mut().filter(|c| c.key) {
                key.in_foreign_key = true;
            }
            table.foreign_keys.push(ForeignKeyDef { columns, table: self.tables[target].uid, to: keys.iter().map(|k| k.uid).collect() });
        }
        if dice.chance(60) {
            table.add_index(dice);
        }
        if dice.chance(40) {
            table.add_check(dice);
        }
        self.tables.push(table);
    }

    /// One random edit; edits that do not apply to this spec do nothing.
    fn edit(&mut self, dice: &mut Dice) {
        let tables = self.tables.len();
        let t = dice.below(tables);
        match dice.below(12) {
            // A table renamed, and one of its columns widened in the same step.
            0 => {
                let uid = self.uid();
                let table = &mut self.tables[t];
                if table.renamed_from.is_none() && table.filled {
                    table.renamed_from = Some(table.name.clone());
                    table.name = format!("t{}_r{uid}", table.uid);
                    if let Some(c) = table.widenable(dice) {
                        widen(&mut table.columns[c].ty);
                    }
                }
            }
            // A column renamed and widened in the same step.
            1 | 2 => {
                let uid = self.uid();
                let table = &mut self.tables[t];
                if let Some(c) = table.widenable(dice) {
                    let column = &mut table.columns[c];
                    if column.renamed_from.is_none() && !column.fresh {
                        column.renamed_from = Some(column.name.clone());
                        column.name = format!("c{}_r{uid}", column.uid);
                    }
                    widen(&mut column.ty);
                }
            }
            3 => {
                let column = self.new_column(dice, true);
                self.tables[t].columns.push(column);
            }
            // A nullable column removed, with what is built on it.
            4 => {
                let table = &mut self.tables[t];
                let removable: Vec<usize> = table.columns.iter().enumerate().filter(|(_, c)| c.nullable && !c.key && !c.in_foreign_key && c.renamed_from.is_none() && !c.fresh).map(|(i, _)| i).collect();
                if let Some(&c) = dice.pick(&removable) {
                    let uid = table.columns.remove(c).uid;
                    table.indexes.retain(|i| !i.columns.contains(&uid) && i.partial_on != Some(uid));
                    table.checks.retain(|k| k.column != uid);
                }
            }
            5 => {
                let e = dice.below(self.enums.len());
                let next = self.enums[e].values.len() + 1;
                self.enums[e].values.push((next, false));
            }
            6 => {
                let e = dice.below(self.enums.len());
                let v = 1 + dice.below(self.enums[e].values.len() - 1);
                self.enums[e].values[v].1 = !self.enums[e].values[v].1;
            }
            7 => self.tables[t].add_index(dice),
            // An index changed: other order, partial or not, or gone.
            8 => {
                let table = &mut self.tables[t];
                if !table.indexes.is_empty() {
                    let i = dice.below(table.indexes.len());
                    match dice.below(3) {
                        0 => table.indexes[i].descending = !table.indexes[i].descending,
                        1 => {
                            let partial = table.columns.iter().find(|c| c.ty == Ty::Bool && !c.nullable).map(|c| c.uid);
                            table.indexes[i].partial_on = if table.indexes[i].partial_on.is_some() { None } else { partial };
                        }
                        _ => {
                            table.indexes.remove(i);
                        }
                    }
                }
            }
            // A check added, or its bound changed.
            9 => {
                let table = &mut self.tables[t];
                match table.checks.first_mut() {
                    Some(check) if dice.chance(50) => check.minimum -= 1 + dice.below(5) as i64,
                    _ => table.add_check(dice),
                }
            }
            10 => self.add_table(dice),
            _ => {
                let table = &mut self.tables[t];
                table.comment = if table.comment.is_some() { None } else { Some(format!("table {} now", table.uid)) };
                if let Some(column) = table.columns.iter_mut().find(|c| !c.key) {
                    column.comment = Some(format!("column {} changed", column.uid));
                }
            }
        }
    }

    fn clear_renames(&mut self) {
        for table in &mut self.tables {
            table.renamed_from = None;
            for column in &mut table.columns {
                column.renamed_from = None;
                column.fresh = false;
            }
        }
    }

    fn column(&self, uid: usize) -> (&TableDef, &ColumnDef) {
        self.tables.iter().find_map(|t| t.columns.iter().find(|c| c.uid == uid).map(|c| (t, c))).expect("column uid")
    }

    fn type_yaml(&self, ty: &Ty) -> String {
        match ty {
            Ty::Int => "int".into(),
            Ty::BigInt => "bigint".into(),
            Ty::Str(n) => format!("string({n})"),
            Ty::Decimal(p, s) => format!("decimal({p},{s})"),
            Ty::Bool => "bool".into(),
            Ty::DateTime => "datetime".into(),
            Ty::Enum(e) => format!("enum(Kind{})", self.enums[*e].uid),
        }
    }

    fn default_yaml(&self, ty: &Ty) -> String {
        match ty {
            Ty::Int | Ty::BigInt => "0".into(),
            Ty::Str(_) => "\"none\"".into(),
            Ty::Decimal(..) => "0.5".into(),
            Ty::Bool => "false".into(),
            Ty::DateTime => "now".into(),
            Ty::Enum(_) => "v1".into(),
        }
    }

    fn yaml(&self) -> String {
        let mut y = String::from(
            "project: { name: evolution, crate: evolution-schema }\n\
             mixins:\n  codebook:\n    head:\n      id:          { type: int, primary_key: true, role: enum_value }\n      description: { type: string(128), role: enum_description }\n    tail:\n      sha:     { type: string(64), nullable: true, role: hash }\n      archive: { type: datetime, nullable: true, role: archive }\nenums:\n",
        );
        for e in &self.enums {
            let _ = writeln!(y, "  Kind{}:", e.uid);
            if e.codebook {
                let _ = writeln!(y, "    codebook: c_{}", e.uid);
            } else if e.uid % 2 == 0 {
                let _ = writeln!(y, "    type: string");
            }
            let _ = writeln!(y, "    values:");
            let string = !e.codebook && e.uid % 2 == 0;
            for (value, deprecated) in &e.values {
                let stored = if string { format!("s{value}") } else { value.to_string() };
                let _ = writeln!(y, "      v{value}: {{ value: {stored}, description: Value {value}{} }}", if *deprecated { ", deprecated: true" } else { "" });
            }
        }
        y.push_str("tables:\n");
        for t in &self.tables {
            let _ = writeln!(y, "  {}:", t.name);
            if let Some(old) = &t.renamed_from {
                let _ = writeln!(y, "    renamed_from: {old}");
            }
            if let Some(comment) = &t.comment {
                let _ = writeln!(y, "    comment: {comment}");
            }
            let keys = t.key_columns();
            if keys.len() > 1 {
                let _ = writeln!(y, "    primary_key: [{}]", keys.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "));
            }
            y.push_str("    columns:\n");
            for c in &t.columns {
                let mut attrs = vec![format!("type: \"{}\"", self.type_yaml(&c.ty))];
                if c.identity {
                    attrs.push("identity: true".into());
                }
                if c.key && keys.len() == 1 {
                    attrs.push("primary_key: true".into());
                }
                if c.nullable {
                    attrs.push("nullable: true".into());
                }
                if c.default {
                    attrs.push(format!("default: {}", self.default_yaml(&c.ty)));
                }
                if c.unique {
                    attrs.push("unique: true".into());
                }
                if let Some(old) = &c.renamed_from {
                    attrs.push(format!("renamed_from: {old}"));
                }
                if let Some(comment) = &c.comment {
                    attrs.push(format!("comment: {comment}"));
                }
                let _ = writeln!(y, "      {}: {{ {} }}", c.name, attrs.join(", "));
            }
            if let Some(uid) = t.on_update {
                let _ = writeln!(y, "      m{uid}: {{ type: datetime, nullable: true, on_update: now }}");
            }
            if !t.foreign_keys.is_empty() {
                y.push_str("    foreign_keys:\n");
                for fk in &t.foreign_keys {
                    let target = self.tables.iter().find(|x| x.uid == fk.table).expect("target table");
                    let names = |uids: &[usize]| uids.iter().map(|u| self.column(*u).1.name.clone()).collect::<Vec<_>>().join(", ");
                    let _ = writeln!(y, "      - {{ columns: [{}], references: {}, to: [{}] }}", names(&fk.columns), target.name, names(&fk.to));
                }
            }
            if !t.indexes.is_empty() {
                y.push_str("    indexes:\n");
                for index in &t.indexes {
                    let columns = index.columns.iter().map(|u| format!("\"{}{}\"", self.column(*u).1.name, if index.descending { " desc" } else { "" })).collect::<Vec<_>>().join(", ");
                    let partial = index.partial_on.map(|u| format!(", where: {{ {}: false }}", self.column(u).1.name)).unwrap_or_default();
                    let _ = writeln!(y, "      - {{ columns: [{columns}]{partial} }}");
                }
            }
            if !t.checks.is_empty() {
                y.push_str("    checks:\n");
                for (i, check) in t.checks.iter().enumerate() {
                    let _ = writeln!(y, "      at_least_{i}: \"{} >= {}\"", self.column(check.column).1.name, check.minimum);
                }
            }
        }
        y
    }

    /// Two rows in each table that has none yet, parents first (tables only refer to
    /// earlier ones), referencing the first value of each enum.
    fn insert_rows(&mut self) -> String {
        let mut sql = String::new();
        for t in self.tables.iter().filter(|t| !t.filled) {
            for row in 1..=2usize {
                let mut names = Vec::new();
                let mut values = Vec::new();
                for c in t.columns.iter().filter(|c| !c.identity) {
                    names.push(format!("\"{}\"", c.name));
                    values.push(self.value(c, row));
                }
                let _ = writeln!(sql, "INSERT INTO \"{}\" ({}) VALUES ({});", t.name, names.join(", "), values.join(", "));
            }
        }
        for t in &mut self.tables {
            t.filled = true;
        }
        sql
    }

    fn value(&self, c: &ColumnDef, row: usize) -> String {
        match &c.ty {
            Ty::Int | Ty::BigInt => row.to_string(),
            Ty::Str(_) => format!("'r{row}'"),
            Ty::Decimal(..) => format!("{row}.5"),
            Ty::Bool => "false".into(),
            Ty::DateTime => "'2026-01-01 00:00:00'".into(),
            Ty::Enum(e) => {
                let e = &self.enums[*e];
                if !e.codebook && e.uid % 2 == 0 {
                    "'s1'".into()
                } else {
                    "1".into()
                }
            }
        }
    }
}

impl TableDef {
    fn key_columns(&self) -> Vec<&ColumnDef> {
        self.columns.iter().filter(|c| c.key).collect()
    }

    /// A column whose type can grow: not a key, not in a foreign key.
    fn widenable(&self, dice: &mut Dice) -> Option<usize> {
        let candidates: Vec<usize> = self.columns.iter().enumerate().filter(|(_, c)| !c.key && !c.in_foreign_key && matches!(c.ty, Ty::Int | Ty::Str(_) | Ty::Decimal(..))).map(|(i, _)| i).collect();
        dice.pick(&candidates).copied()
    }

    fn add_index(&mut self, dice: &mut Dice) {
        let candidates: Vec<usize> = self.columns.iter().filter(|c| !matches!(c.ty, Ty::Bool)).map(|c| c.uid).collect();
        let Some(&first) = dice.pick(&candidates) else { return };
        let mut columns = vec![first];
        if let Some(&second) = dice.pick(&candidates).filter(|s| **s != first && dice.chance(40)) {
            columns.push(second);
        }
        // Index names come from their columns: one index per column list.
        if self.indexes.iter().any(|i| i.columns == columns) {
            return;
        }
        let partial_on = self.columns.iter().find(|c| c.ty == Ty::Bool && !c.nullable).map(|c| c.uid).filter(|_| dice.chance(50));
        self.indexes.push(IndexDef { columns, descending: dice.chance(30), partial_on });
    }

    fn add_check(&mut self, dice: &mut Dice) {
        let candidates: Vec<usize> = self.columns.iter().filter(|c| matches!(c.ty, Ty::Int | Ty::BigInt | Ty::Decimal(..)) && !c.identity).map(|c| c.uid).collect();
        if let Some(&column) = dice.pick(&candidates) {
            if self.checks.len() < 2 {
                self.checks.push(CheckDef { column, minimum: -(dice.below(10) as i64) });
            }
        }
    }
}

fn widen(ty: &mut Ty) {
    let wider = match &*ty {
        Ty::Int => Ty::BigInt,
        Ty::Str(n) => Ty::Str(n + 10),
        Ty::Decimal(p, s) => Ty::Decimal(p + 2, *s),
        other => other.clone(),
    };
    *ty = wider;
}
