//! Rollbacks on a real PostgreSQL, with rows: every `down.sql` names each object as it
//! is called when its statement runs (a column renamed and widened in one step, a
//! renamed table whose columns change, renamed constraints beside dropped ones), and a
//! down that drops tables works with rows that reference codebook values. Each down
//! leaves the catalog exactly as it was before its up.
//!
//! `catalog` and `Evolution` are shared with the generative test (`evolution.rs`).

use std::path::{Path, PathBuf};

use pg_harness::Cluster;

/// Everything about a schema that a migration can change, order-independent (a column
/// dropped and re-added by a round trip comes back last; that is not a change).
pub fn catalog(cluster: &Cluster, database: &str, schema: &str) -> Vec<Vec<String>> {
    cluster.query(database, &catalog_sql(schema)).unwrap_or_else(|e| panic!("reading the catalog of {database}: {e}"))
}

/// The query behind [`catalog`].
pub fn catalog_sql(schema: &str) -> String {
    let sql = "SELECT 'column', c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull::text, coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity::text, coalesce(col_description(c.oid, a.attnum), '')
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                WHERE n.nspname = 'SCHEMA' AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
               UNION ALL
               SELECT 'constraint', c.relname, o.conname, pg_get_constraintdef(o.oid), '', '', '', ''
                 FROM pg_constraint o JOIN pg_class c ON c.oid = o.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'SCHEMA'
               UNION ALL
               SELECT 'index', tablename, indexname, indexdef, '', '', '', '' FROM pg_indexes WHERE schemaname = 'SCHEMA'
               UNION ALL
               SELECT 'trigger', c.relname, t.tgname, pg_get_triggerdef(t.oid), '', '', '', ''
                 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND n.nspname = 'SCHEMA'
               UNION ALL
               SELECT 'function', p.proname, p.prosrc, '', '', '', '', '' FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'SCHEMA'
               UNION ALL
               SELECT 'relation', c.relname, c.relkind::text, coalesce(obj_description(c.oid, 'pg_class'), ''), '', '', '', ''
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'SCHEMA' AND c.relkind IN ('r', 'p', 'S', 'v')
               ORDER BY 1, 2, 3, 4";
    sql.replace("SCHEMA", schema)
}

/// A spec edited step by step into one OUT directory, as `make gen` after each edit
/// would; each step's migration applied and rolled back on PostgreSQL.
pub struct Evolution {
    pub out: tempfile::TempDir,
    specs: tempfile::TempDir,
    /// (model, migration folder) per step.
    pub steps: Vec<(dcgen::model::Model, String)>,
}

impl Evolution {
    pub fn new() -> Evolution {
        Evolution { out: tempfile::tempdir().unwrap(), specs: tempfile::tempdir().unwrap(), steps: vec![] }
    }

    /// Generate the next step from YAML; `Err` with the message when dcgen refuses it
    /// (the spec is invalid or the change is not supported).
    pub fn step(&mut self, yaml: &str) -> Result<(), String> {
        let dir = self.specs.path().join(format!("v{}", self.steps.len() + 1));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("schema.yaml"), yaml).unwrap();
        let checked = dcgen::check(&dir);
        let Some(model) = checked.model.filter(|_| !checked.diagnostics.has_errors()) else {
            return Err(checked.diagnostics.render(&checked.sources));
        };
        let pending = dcgen::pending(&model, self.out.path()).map_err(|e| e.to_string())?;
        if !pending.plan.unsupported.is_empty() {
            return Err(pending.plan.unsupported.join("\n"));
        }
        let folder = format!("{:014}_step", 20260101000000u64 + self.steps.len() as u64 + 1);
        for (dialect, up, down) in dcgen::render_migration(&model, &pending, "test").map_err(|e| e.to_string())? {
            let dir = self.out.path().join("migrations").join(dialect.name()).join(&folder);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("up.sql"), up).unwrap();
            std::fs::write(dir.join("down.sql"), down).unwrap();
        }
        // The head snapshot as gen writes it, and the history's sum file recorded as
        // `dcgen rehash` records hand-written migrations (the next step's `pending`
        // checks the history as gen does).
        let snapshot = dcgen::snapshot::to_text(&model).map_err(|e| e.to_string())?;
        std::fs::write(self.out.path().join(dcgen::SNAPSHOT_FILE), snapshot).unwrap();
        dcgen::history::rehash(self.out.path()).map_err(|e| e.to_string())?.write(self.out.path()).map_err(|e| e.to_string())?;
        self.steps.push((model, folder));
        Ok(())
    }

    pub fn file(&self, dialect: &str, step: usize, name: &str) -> PathBuf {
        self.out.path().join("migrations").join(dialect).join(&self.steps[step].1).join(name)
    }

    /// Every T-SQL file written so far.
    pub fn mssql_files(&self) -> Vec<PathBuf> {
        (0..self.steps.len()).flat_map(|s| ["up.sql", "down.sql"].map(|f| self.file("mssql", s, f))).filter(|p| p.exists()).collect()
    }
}

pub fn apply(cluster: &Cluster, database: &str, file: &Path) -> Result<(), String> {
    cluster.psql_file(database, file).map(|_| ()).map_err(|e| format!("{} failed: {e}\n--- the file:\n{}", file.display(), std::fs::read_to_string(file).unwrap_or_default()))
}

const BEFORE: &str = r#"
project: { name: rollbacks, crate: rollbacks-schema }
mixins:
  codebook:
    head:
      id:          { type: int, primary_key: true, role: enum_value }
      description: { type: string(128), role: enum_description }
    tail:
      sha:     { type: string(64), nullable: true, role: hash }
      archive: { type: datetime, nullable: true, role: archive }
      modified: { type: datetime, nullable: true, on_update: now, role: modified }
enums:
  Kind:
    codebook: c_kind
    values:
      plain: { value: 1, description: Plain }
      fancy: { value: 2, description: Fancy }
tables:
  people:
    comment: Who.
    columns:
      id:        { type: bigint, identity: true, primary_key: true }
      full_name: { type: string(50), index: true, comment: The name }
      note:      { type: string(20), nullable: true }
      code:      { type: string(10), nullable: true, unique: true }
      kind:      { type: enum(Kind), default: plain }
  visits:
    columns:
      id:        { type: bigint, identity: true, primary_key: true }
      person_id: { type: bigint, references: people.id }
      at:        { type: datetime, default: now, index: true }
"#;

/// Renamed table and column, the column widened in the same step, its index rebuilt,
/// another column widened, a unique dropped while the table's key is renamed.
const AFTER: &str = r#"
project: { name: rollbacks, crate: rollbacks-schema }
mixins:
  codebook:
    head:
      id:          { type: int, primary_key: true, role: enum_value }
      description: { type: string(128), role: enum_description }
    tail:
      sha:     { type: string(64), nullable: true, role: hash }
      archive: { type: datetime, nullable: true, role: archive }
      modified: { type: datetime, nullable: true, on_update: now, role: modified }
enums:
  Kind:
    codebook: c_kind
    values:
      plain: { value: 1, description: Plain }
      fancy: { value: 2, description: Fancy, deprecated: true }
tables:
  persons:
    renamed_from: people
    comment: Who, renamed.
    columns:
      id:           { type: bigint, identity: true, primary_key: true }
      display_name: { type: string(100), index: true, renamed_from: full_name, comment: The name shown }
      note:         { type: string(40), nullable: true }
      code:         { type: string(10), nullable: true }
      kind:         { type: enum(Kind), default: plain }
  visits:
    columns:
      id:        { type: bigint, identity: true, primary_key: true }
      person_id: { type: bigint, references: persons.id }
      at:        { type: datetime, default: now, index: true }
"#;

#[test]
fn downs_name_objects_as_they_are_called_and_leave_the_catalog_as_it_was() {
    let cluster = Cluster::shared();
    let database = cluster.create_database("rollbacks").unwrap();
    let mut evolution = Evolution::new();
    evolution.step(BEFORE).unwrap();
    evolution.step(AFTER).unwrap();

    // The reported case: the down alters the column under the name it has then (here
    // after the rename back, on the table's old name), never under one it does not have.
    let down = std::fs::read_to_string(evolution.file("postgres", 1, "down.sql")).unwrap();
    let rename = down.find("RENAME COLUMN \"display_name\" TO \"full_name\"").unwrap_or_else(|| panic!("the down does not rename the column back:\n{down}"));
    let alter = down.find("ALTER TABLE \"public\".\"people\" ALTER COLUMN \"full_name\" TYPE varchar(50)").unwrap_or_else(|| panic!("the down does not alter full_name back:\n{down}"));
    assert!(rename < alter, "the down alters the column before it has that name:\n{down}");
    let up = std::fs::read_to_string(evolution.file("postgres", 1, "up.sql")).unwrap();
    let rename = up.find("RENAME COLUMN \"full_name\" TO \"display_name\"").unwrap_or_else(|| panic!("{up}"));
    let alter = up.find("ALTER TABLE \"public\".\"persons\" ALTER COLUMN \"display_name\" TYPE varchar(100)").unwrap_or_else(|| panic!("{up}"));
    assert!(rename < alter, "{up}");

    let empty = catalog(cluster, &database, "public");
    apply(cluster, &database, &evolution.file("postgres", 0, "up.sql")).unwrap();
    cluster
        .psql(&database, "INSERT INTO people (full_name, note, code, kind) VALUES ('Ana', 'n', 'A1', 2), ('Ivo', NULL, NULL, 1); INSERT INTO visits (person_id) SELECT id FROM people;")
        .unwrap();
    let v1 = catalog(cluster, &database, "public");
    apply(cluster, &database, &evolution.file("postgres", 1, "up.sql")).unwrap();
    let report = dcgen::verify::verify(&evolution.steps[1].0, &cluster.url(&database), &dcgen::verify::Options::default()).unwrap();
    assert!(!report.has_drift(), "{report}");
    apply(cluster, &database, &evolution.file("postgres", 1, "down.sql")).unwrap();
    assert_eq!(catalog(cluster, &database, "public"), v1, "the down of step 2 left a different catalog");
    let rows = cluster.query(&database, "SELECT full_name, kind FROM people ORDER BY 1").unwrap();
    assert_eq!(rows, vec![vec!["Ana".to_string(), "2".to_string()], vec!["Ivo".to_string(), "1".to_string()]]);

    // The initial down drops every table with rows in them, codebook references included.
    let initial_down = std::fs::read_to_string(evolution.file("postgres", 0, "down.sql")).unwrap();
    for needless in ["DELETE", "DROP INDEX", "DROP TRIGGER", "IS NULL", "DROP CONSTRAINT"] {
        assert!(!initial_down.contains(needless), "the initial down has a needless `{needless}`:\n{initial_down}");
    }
    apply(cluster, &database, &evolution.file("postgres", 0, "down.sql")).unwrap();
    assert_eq!(catalog(cluster, &database, "public"), empty, "the initial down left objects behind");
}

/// A spec in its own PostgreSQL schema: the initial up creates it, the down leaves it
/// (other objects may live there) and empty.
#[test]
fn a_schema_of_its_own_is_created_by_the_migration() {
    let cluster = Cluster::shared();
    let database = cluster.create_database("own_schema").unwrap();
    let mut evolution = Evolution::new();
    evolution.step(&BEFORE.replace("crate: rollbacks-schema }", "crate: rollbacks-schema, schemas: { postgres: crm, mssql: crm } }")).unwrap();
    let up = std::fs::read_to_string(evolution.file("postgres", 0, "up.sql")).unwrap();
    assert!(up.contains("CREATE SCHEMA IF NOT EXISTS \"crm\";"), "{up}");
    apply(cluster, &database, &evolution.file("postgres", 0, "up.sql")).unwrap();
    let report = dcgen::verify::verify(&evolution.steps[0].0, &cluster.url(&database), &dcgen::verify::Options::default()).unwrap();
    assert!(!report.has_drift(), "{report}");
    apply(cluster, &database, &evolution.file("postgres", 0, "down.sql")).unwrap();
    assert!(catalog(cluster, &database, "crm").is_empty());
    // Applying the up again finds the schema there.
    apply(cluster, &database, &evolution.file("postgres", 0, "up.sql")).unwrap();
    let mssql = std::fs::read_to_string(evolution.file("mssql", 0, "up.sql")).unwrap();
    assert!(mssql.contains("IF SCHEMA_ID(N'crm') IS NULL"), "{mssql}");
}
