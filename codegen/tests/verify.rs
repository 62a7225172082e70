//! `dcgen verify` against a real PostgreSQL: every spec's migration verifies clean
//! (library and binary), drift made by hand with psql is named line by line, hints
//! follow the applied migrations, partitions made by operations are not drift, and a
//! password in the URL never reaches the output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dcgen::model::{Dialect, Model};
use dcgen::verify::{self, Options};
use pg_harness::Cluster;

use crate::support::{all_specs, generate_fresh, repo_root};

/// A fresh database with a spec's generated migration applied.
struct Migrated {
    database: String,
    model: Model,
    /// Holds the generated tree, for `--migrations`.
    out: tempfile::TempDir,
}

impl Migrated {
    fn migrations(&self) -> PathBuf {
        self.out.path().join("migrations/postgres")
    }
}

fn migrate(cluster: &Cluster, name: &str, spec: &Path) -> Migrated {
    let (model, tree) = generate_fresh(spec);
    let out = tempfile::tempdir().unwrap();
    tree.write(out.path()).unwrap();
    let database = cluster.create_database(&format!("verify_{name}")).unwrap();
    let migration = std::fs::read_dir(out.path().join("migrations/postgres")).unwrap().next().unwrap().unwrap().path();
    cluster.psql_file(&database, &migration.join("up.sql")).unwrap_or_else(|e| panic!("{name}: up.sql failed: {e}"));
    Migrated { database, model, out }
}

fn features() -> PathBuf {
    repo_root().join("tests/fixtures/features/spec")
}

/// The `dcgen` binary, as CI and a deploy script run it.
fn dcgen_verify(spec: &Path, url: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dcgen"))
        .args(["verify", "--spec"])
        .arg(spec)
        .args(["--database-url", url])
        .args(extra)
        .env_remove("DATABASE_URL")
        .output()
        .expect("dcgen runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The report's drift lines, without the `drift: ` prefix.
fn drift_lines(output: &Output) -> Vec<String> {
    stdout(output).lines().filter_map(|line| line.strip_prefix("drift: ")).map(String::from).collect()
}

#[test]
fn every_spec_verifies_clean_after_its_migration() {
    let cluster = Cluster::shared();
    let mut checked = 0;
    for (name, spec) in all_specs() {
        let migrated = migrate(cluster, &name, &spec);
        if !migrated.model.has_dialect(Dialect::Postgres) {
            continue;
        }
        let url = cluster.url(&migrated.database);

        let report = verify::verify(&migrated.model, &url, &Options::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!report.has_drift(), "{name}: drift right after the migration:\n{report}");
        assert_eq!(report.tables, migrated.model.tables.len());

        let output = dcgen_verify(&spec, &url, &[]);
        assert_eq!(output.status.code(), Some(0), "{name}: stdout:\n{}\nstderr:\n{}", stdout(&output), stderr(&output));
        assert_eq!(stdout(&output), format!("no drift: {url} matches the spec ({} tables)\n", migrated.model.tables.len()), "{name}");
        checked += 1;
    }
    assert!(checked >= 3, "the framework and both fixtures are PostgreSQL specs");
}

/// Each kind of hand-made drift, one psql statement each, and the exact line naming it.
#[test]
fn drift_made_by_hand_is_named_line_by_line() {
    let cluster = Cluster::shared();
    let migrated = migrate(cluster, "drift", &features());
    cluster
        .psql(
            &migrated.database,
            r#"
            ALTER TABLE "user" ALTER COLUMN email TYPE text;
            ALTER TABLE "order" ALTER COLUMN small DROP NOT NULL;
            ALTER TABLE "order" ALTER COLUMN fee SET DEFAULT 5;
            ALTER TABLE "user" ALTER COLUMN score DROP DEFAULT;
            ALTER TABLE "user" ADD COLUMN nickname varchar(20);
            DROP INDEX ix_order_placed_on;
            DROP INDEX uq_order_user_id_small;
            CREATE UNIQUE INDEX uq_order_user_id_small ON "order" (user_id, small) WHERE paid = false;
            ALTER TABLE "order" DROP CONSTRAINT ck_order_amount_not_negative;
            ALTER TABLE order_line DROP CONSTRAINT fk_order_line_reviewer_id_user;
            ALTER TABLE order_line ADD CONSTRAINT fk_order_line_reviewer_id_user FOREIGN KEY (reviewer_id) REFERENCES "user" (id) ON DELETE CASCADE;
            CREATE TABLE audit_by_hand (id int PRIMARY KEY, note text);
            UPDATE c_priority SET description = 'Changed by hand' WHERE id = 2;
            DELETE FROM c_priority WHERE id = 1;
            UPDATE c_priority SET archive = NULL WHERE id = 9;
            INSERT INTO c_priority (id, description) VALUES (7, 'Invented');
            DROP TRIGGER tr_user_updated ON "user";
            COMMENT ON COLUMN "user"."select" IS 'changed';
            COMMENT ON TABLE "order" IS NULL;
            "#,
        )
        .unwrap();
    let by_hand = "hint: someone changed the database by hand";
    let pending = "hint: run the pending migrations";
    let expected = vec![
        format!("table audit_by_hand is not in the spec (found columns: id, note); {by_hand}"),
        format!("codebook c_priority row 1 is missing (expected description \"Low: whenever\"); {pending}"),
        format!("codebook c_priority row 2: description differs: expected \"Normal\", found \"Changed by hand\"; {by_hand}"),
        format!("codebook c_priority row 9: archive differs: expected archived (deprecated), found not archived; {by_hand}"),
        format!("codebook c_priority row 7 is not in the spec (found description \"Invented\"); {by_hand}"),
        format!("table order: comment differs: expected \"Every scalar type, both decimal syntaxes, arrays and raw SQL.\", found none; {by_hand}"),
        format!("column order.small: nullability differs: expected NOT NULL, found NULL allowed; {by_hand}"),
        format!("column order.fee: default differs: expected 0, found 5; {by_hand}"),
        format!("check ck_order_amount_not_negative on order is missing (expected CHECK (amount >= 0::numeric)); {pending}"),
        format!("index ix_order_placed_on on order is missing (expected CREATE INDEX ix_order_placed_on ON \"order\" USING btree (placed_on) WHERE placed_on IS NOT NULL); {pending}"),
        format!("index uq_order_user_id_small on order: definition differs: expected CREATE UNIQUE INDEX uq_order_user_id_small ON \"order\" USING btree (user_id, small) WHERE paid = true, found CREATE UNIQUE INDEX uq_order_user_id_small ON \"order\" USING btree (user_id, small) WHERE paid = false; {by_hand}"),
        format!("foreign key fk_order_line_reviewer_id_user on order_line: definition differs: expected FOREIGN KEY (reviewer_id) REFERENCES \"user\"(id) ON DELETE SET NULL, found FOREIGN KEY (reviewer_id) REFERENCES \"user\"(id) ON DELETE CASCADE; {by_hand}"),
        format!("column user.select: comment differs: expected \"Reserved in SQL; it's quoted\", found \"changed\"; {by_hand}"),
        format!("column user.email: type differs: expected character varying(255), found text; {by_hand}"),
        format!("column user.score: default differs: expected 1.5, found none; {by_hand}"),
        format!("column user.nickname is not in the spec (found character varying(20)); {by_hand}"),
        format!("trigger tr_user_updated on user is missing (expected CREATE TRIGGER tr_user_updated BEFORE UPDATE ON \"user\" FOR EACH ROW EXECUTE FUNCTION tr_user_updated()); {pending}"),
    ];

    let url = cluster.url(&migrated.database);
    let output = dcgen_verify(&features(), &url, &[]);
    assert_eq!(output.status.code(), Some(1), "stderr:\n{}", stderr(&output));
    assert_eq!(drift_lines(&output), expected);
    assert!(stdout(&output).ends_with(&format!("17 differences between the spec and {url}\n")), "{}", stdout(&output));

    // The library reports the same, as data.
    let report = verify::verify(&migrated.model, &url, &Options::default()).unwrap();
    assert_eq!(report.differences.iter().map(|d| d.to_string()).collect::<Vec<_>>(), expected);
}

/// Drift the catalog shows only in expressions and trigger functions.
#[test]
fn rewritten_trigger_functions_and_checks_are_drift() {
    let cluster = Cluster::shared();
    let migrated = migrate(cluster, "functions", &features());
    cluster
        .psql(
            &migrated.database,
            r#"
            CREATE OR REPLACE FUNCTION tr_user_updated() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END; $$;
            ALTER TABLE "order" DROP CONSTRAINT ck_order_interval, ADD CONSTRAINT ck_order_interval CHECK ("interval" >= 0);
            ALTER TABLE "user" DISABLE TRIGGER tr_user_updated;
            "#,
        )
        .unwrap();
    let report = verify::verify(&migrated.model, &cluster.url(&migrated.database), &Options::default()).unwrap();
    let lines: Vec<String> = report.differences.iter().map(|d| d.to_string()).collect();
    assert_eq!(lines.len(), 3, "{report}");
    assert_eq!(lines[0], "check ck_order_interval on order: definition differs: expected CHECK (\"interval\" > 0), found CHECK (\"interval\" >= 0); hint: someone changed the database by hand");
    assert_eq!(lines[1], "trigger tr_user_updated on user: state differs: expected enabled, found disabled; hint: someone changed the database by hand");
    assert!(lines[2].starts_with("trigger tr_user_updated on user: function body differs: expected \\nBEGIN\\n    NEW.\"updated\" := now();"), "{}", lines[2]);
    assert!(lines[2].ends_with(", found  BEGIN RETURN NEW; END; ; hint: someone changed the database by hand"), "{}", lines[2]);
}

/// With `--migrations`, the hint says whether migrations are pending (from Diesel's
/// table) instead of guessing from each difference.
#[test]
fn hints_follow_the_applied_migrations() {
    let cluster = Cluster::shared();
    let migrated = migrate(cluster, "hints", &features());
    cluster.psql(&migrated.database, "DROP INDEX idx_order_note_custom;").unwrap();
    let url = cluster.url(&migrated.database);
    let migrations = migrated.migrations();
    let folder = migrations.to_str().unwrap();
    let missing_index = "index idx_order_note_custom on order is missing (expected CREATE INDEX idx_order_note_custom ON \"order\" USING btree (note))";

    // Applied with psql, so Diesel has no record of it: pending.
    let output = dcgen_verify(&features(), &url, &["--migrations", folder]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(drift_lines(&output), vec![format!("{missing_index}; hint: run the pending migrations")]);
    assert!(stdout(&output).ends_with("1 migration is not applied yet: 20260101000000_initial\n"), "{}", stdout(&output));

    // Recorded as applied (as `diesel migration run` does); the table itself is not drift.
    cluster
        .psql(
            &migrated.database,
            "CREATE TABLE __diesel_schema_migrations (version varchar(50) PRIMARY KEY, run_on timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP);
             INSERT INTO __diesel_schema_migrations (version) VALUES ('20260101000000');",
        )
        .unwrap();
    // The folder holding `postgres/` is accepted too.
    let output = dcgen_verify(&features(), &url, &["--migrations", migrated.out.path().join("migrations").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(drift_lines(&output), vec![format!("{missing_index}; hint: someone changed the database by hand")]);
    assert!(stdout(&output).contains("every migration is applied, so the differences were made by hand"), "{}", stdout(&output));

    let report = verify::verify(&migrated.model, &url, &Options { migrations: Some(migrations.clone()) }).unwrap();
    assert_eq!(report.pending_migrations, Some(vec![]));

    let output = dcgen_verify(&features(), &url, &["--migrations", "/nonexistent/migrations"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot read the migrations folder `/nonexistent/migrations`"), "{}", stderr(&output));
}

/// The migration's default partition is expected; partitions created later by
/// operations are not drift.
#[test]
fn partitions_made_by_operations_are_not_drift() {
    let cluster = Cluster::shared();
    let migrated = migrate(cluster, "partitions", &features());
    let url = cluster.url(&migrated.database);
    cluster.psql(&migrated.database, "CREATE TABLE event_square PARTITION OF event FOR VALUES IN ('square');").unwrap();
    let report = verify::verify(&migrated.model, &url, &Options::default()).unwrap();
    assert!(!report.has_drift(), "{report}");

    cluster.psql(&migrated.database, "DROP TABLE event_default;").unwrap();
    let report = verify::verify(&migrated.model, &url, &Options::default()).unwrap();
    let lines: Vec<String> = report.differences.iter().map(|d| d.to_string()).collect();
    assert_eq!(lines, vec!["partition event_default of event is missing (expected PARTITION OF event DEFAULT); hint: run the pending migrations"]);
}

/// The check leaves nothing behind: its temporary tables are rolled back.
#[test]
fn verify_changes_nothing() {
    let cluster = Cluster::shared();
    let migrated = migrate(cluster, "readonly", &features());
    let objects = "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1, 2";
    let before = cluster.query(&migrated.database, objects).unwrap();
    let rows = "SELECT id, description, archive IS NULL FROM c_priority ORDER BY id";
    let rows_before = cluster.query(&migrated.database, rows).unwrap();
    verify::verify(&migrated.model, &cluster.url(&migrated.database), &Options::default()).unwrap();
    assert_eq!(cluster.query(&migrated.database, objects).unwrap(), before);
    assert_eq!(cluster.query(&migrated.database, rows).unwrap(), rows_before);
}

/// Trust authentication ignores the password, so a URL with one connects; it must
/// be masked in the report and in every error, however libpq spells it back.
#[test]
fn passwords_never_reach_the_output() {
    let cluster = Cluster::shared();
    let migrated = migrate(cluster, "password", &features());
    let with_password = |password: &str, database: &str| format!("postgres://postgres:{password}@127.0.0.1:{}/{database}", cluster.port());
    let masked = |database: &str| format!("postgres://postgres:***@127.0.0.1:{}/{database}", cluster.port());

    let clean = dcgen_verify(&features(), &with_password("Sup3r-S3cret", &migrated.database), &[]);
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    assert_eq!(stdout(&clean), format!("no drift: {} matches the spec (5 tables)\n", masked(&migrated.database)));

    cluster.psql(&migrated.database, "CREATE TABLE by_hand (id int);").unwrap();
    let drift = dcgen_verify(&features(), &with_password("Sup3r-S3cret", &migrated.database), &[]);
    assert_eq!(drift.status.code(), Some(1));
    assert!(stdout(&drift).ends_with(&format!("1 difference between the spec and {}\n", masked(&migrated.database))), "{}", stdout(&drift));

    // The server names the database; the password stays masked.
    let no_database = dcgen_verify(&features(), &with_password("Sup3r-S3cret", "no_such_database"), &[]);
    assert_eq!(no_database.status.code(), Some(2));
    let message = stderr(&no_database);
    assert!(message.starts_with(&format!("error: cannot connect to {}: ", masked("no_such_database"))), "{message}");
    assert!(message.contains("\"no_such_database\" does not exist"), "{message}");

    // libpq quotes a malformed percent-escape back, password and all.
    let malformed = dcgen_verify(&features(), &with_password("bad%zzSup3r", &migrated.database), &[]);
    assert_eq!(malformed.status.code(), Some(2));
    assert!(stderr(&malformed).contains("invalid percent-encoded token: \"***\""), "{}", stderr(&malformed));

    // Key/value connection strings too.
    let conninfo = format!("host=127.0.0.1 port={} user=postgres password=Sup3r-S3cret dbname=no_such_database", cluster.port());
    let keyword = dcgen_verify(&features(), &conninfo, &[]);
    assert_eq!(keyword.status.code(), Some(2));
    assert!(stderr(&keyword).contains("password=*** dbname=no_such_database"), "{}", stderr(&keyword));

    for output in [&clean, &drift, &no_database, &malformed, &keyword] {
        for secret in ["Sup3r-S3cret", "Sup3r", "zzSup3r"] {
            assert!(!stdout(output).contains(secret) && !stderr(output).contains(secret), "{secret} leaked:\n{}{}", stdout(output), stderr(output));
        }
    }
}

/// A spec in its own schema: an empty database lacks every table; migrated, it is
/// clean even beside a same-named table in `public`, and drift in it is found.
#[test]
fn a_schema_other_than_public() {
    let cluster = Cluster::shared();
    let spec = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(features()).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap().replace("postgres: public", "postgres: app");
        std::fs::write(spec.path().join(path.file_name().unwrap()), text).unwrap();
    }
    let (model, tree) = generate_fresh(spec.path());
    assert_eq!(model.project.schema_postgres, "app");
    let database = cluster.create_database("verify_schema").unwrap();
    let url = cluster.url(&database);

    let report = verify::verify(&model, &url, &Options::default()).unwrap();
    let lines: Vec<String> = report.differences.iter().map(|d| d.to_string()).collect();
    let mut names: Vec<&str> = model.tables.iter().map(|t| t.name.as_str()).collect();
    names.sort();
    assert_eq!(lines, names.iter().map(|n| format!("table {n} is missing; hint: run the pending migrations")).collect::<Vec<_>>());

    let out = tempfile::tempdir().unwrap();
    tree.write(out.path()).unwrap();
    let migration = std::fs::read_dir(out.path().join("migrations/postgres")).unwrap().next().unwrap().unwrap().path();
    // The migration creates the schema itself; a same-named table in `public` is no match.
    cluster.psql(&database, "CREATE TABLE public.\"order\" (x int);").unwrap();
    cluster.psql_file(&database, &migration.join("up.sql")).unwrap();
    let report = verify::verify(&model, &url, &Options::default()).unwrap();
    assert!(!report.has_drift(), "{report}");

    cluster.psql(&database, "ALTER TABLE app.\"order\" ALTER COLUMN note DROP DEFAULT;").unwrap();
    let report = verify::verify(&model, &url, &Options::default()).unwrap();
    let lines: Vec<String> = report.differences.iter().map(|d| d.to_string()).collect();
    assert_eq!(lines, vec!["column order.note: default differs: expected 'it''s \"quoted\"'::character varying, found none; hint: someone changed the database by hand"]);
}
