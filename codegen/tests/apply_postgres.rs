//! Every spec's PostgreSQL migration on a real PostgreSQL: up, check the catalog says
//! what the spec says, down, check nothing is left, up again.

use dcgen::model::{Dialect, Model};
use pg_harness::Cluster;

use crate::support::{all_specs, generate_fresh};

#[test]
fn postgres_migrations_apply_roll_back_and_reapply() {
    let cluster = Cluster::shared();
    for (name, spec) in all_specs() {
        let (model, tree) = generate_fresh(&spec);
        if !model.has_dialect(dcgen::model::Dialect::Postgres) {
            continue;
        }
        let out = tempfile::tempdir().unwrap();
        tree.write(out.path()).unwrap();
        let migration = std::fs::read_dir(out.path().join("migrations/postgres")).unwrap().next().unwrap().unwrap().path();
        let database = cluster.create_database(&name).unwrap();
        let baseline = catalog_objects(cluster, &database);

        cluster.psql_file(&database, &migration.join("up.sql")).unwrap_or_else(|e| panic!("{name}: up.sql failed: {e}"));
        check_catalog_matches_model(cluster, &database, &model, &name);

        cluster.psql_file(&database, &migration.join("down.sql")).unwrap_or_else(|e| panic!("{name}: down.sql failed: {e}"));
        assert_eq!(catalog_objects(cluster, &database), baseline, "{name}: down.sql left objects behind");

        cluster.psql_file(&database, &migration.join("up.sql")).unwrap_or_else(|e| panic!("{name}: up.sql failed the second time: {e}"));
        check_catalog_matches_model(cluster, &database, &model, &name);
    }
}

/// Tables, views, sequences, indexes, functions, triggers and types in `public`.
fn catalog_objects(cluster: &Cluster, database: &str) -> Vec<Vec<String>> {
    cluster
        .query(
            database,
            "SELECT 'class', relname, relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
             UNION ALL SELECT 'function', proname, '' FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
             UNION ALL SELECT 'trigger', tgname, '' FROM pg_trigger WHERE NOT tgisinternal
             UNION ALL SELECT 'type', typname, '' FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public'
             ORDER BY 1, 2, 3",
        )
        .unwrap()
}

fn single(cluster: &Cluster, database: &str, sql: &str) -> String {
    let rows = cluster.query(database, sql).unwrap();
    rows.first().and_then(|r| r.first()).cloned().unwrap_or_default()
}

fn check_catalog_matches_model(cluster: &Cluster, database: &str, model: &Model, spec: &str) {
    for table in &model.tables {
        let columns = single(cluster, database, &format!(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '{}'", table.name));
        assert_eq!(columns, table.columns.len().to_string(), "{spec}: columns of {}", table.name);

        for check in table.checks.iter().filter(|c| c.kind.exists_on(Dialect::Postgres)) {
            let found = single(cluster, database, &format!("SELECT count(*) FROM pg_constraint WHERE contype = 'c' AND conname = '{}' AND conrelid = 'public.\"{}\"'::regclass", check.name, table.name));
            assert_eq!(found, "1", "{spec}: check {} on {}", check.name, table.name);
        }
        for index in &table.indexes {
            let definition = single(cluster, database, &format!("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND indexname = '{}'", index.name));
            assert!(!definition.is_empty(), "{spec}: index {} missing", index.name);
            assert_eq!(definition.contains(" WHERE "), index.predicate.is_some(), "{spec}: partial index {}: {definition}", index.name);
            assert_eq!(definition.starts_with("CREATE UNIQUE"), index.unique, "{spec}: uniqueness of {}", index.name);
        }
        for foreign_key in &table.foreign_keys {
            let found = single(cluster, database, &format!("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conname = '{}' AND conrelid = 'public.\"{}\"'::regclass", foreign_key.name, table.name));
            assert_eq!(found, "1", "{spec}: foreign key {}", foreign_key.name);
        }
        for trigger in &table.triggers {
            let found = single(cluster, database, &format!("SELECT count(*) FROM pg_trigger WHERE tgname = '{}' AND tgrelid = 'public.\"{}\"'::regclass", trigger.name, table.name));
            assert_eq!(found, "1", "{spec}: trigger {}", trigger.name);
        }
        if let Some(comment) = &table.comment {
            let found = single(cluster, database, &format!("SELECT obj_description('public.\"{}\"'::regclass, 'pg_class')", table.name));
            assert_eq!(&found, comment, "{spec}: comment on {}", table.name);
        }
        if let Some(enum_id) = table.codebook_of {
            let values = &model.enum_(enum_id).values;
            let rows = single(cluster, database, &format!("SELECT count(*) FROM \"{}\"", table.name));
            assert_eq!(rows, values.len().to_string(), "{spec}: codebook {} rows", table.name);
            let archived = single(cluster, database, &format!("SELECT count(*) FROM \"{}\" WHERE archive IS NOT NULL", table.name));
            assert_eq!(archived, values.iter().filter(|v| v.deprecated).count().to_string(), "{spec}: archived rows of {}", table.name);
        }
    }
    check_modified_trigger_fires(cluster, database, model, spec);
}

/// The `on_update: now` trigger really keeps the column current. Tables whose NOT NULL
/// columns all have defaults take a row from `INSERT … DEFAULT VALUES`; every spec with
/// triggers must have at least one such table, so the check cannot pass vacuously.
fn check_modified_trigger_fires(cluster: &Cluster, database: &str, model: &Model, spec: &str) {
    let mut exercised = 0;
    for table in model.tables.iter().filter(|t| !t.triggers.is_empty()) {
        let column = table.column(table.triggers[0].column).name.clone();
        let key = table.column(table.primary_key.columns[0]).name.clone();
        if cluster.psql(database, &format!("INSERT INTO \"{}\" DEFAULT VALUES", table.name)).is_err() {
            continue;
        }
        let before = single(cluster, database, &format!("SELECT count(*) FROM \"{}\" WHERE \"{column}\" IS NULL", table.name));
        cluster.psql(database, &format!("UPDATE \"{t}\" SET \"{key}\" = \"{key}\"", t = table.name)).unwrap();
        let after = single(cluster, database, &format!("SELECT count(*) FROM \"{}\" WHERE \"{column}\" IS NULL", table.name));
        assert_eq!(after, "0", "{spec}: trigger did not set {}.{column} (before the update {before} rows had it NULL)", table.name);
        cluster.psql(database, &format!("DELETE FROM \"{}\"", table.name)).unwrap();
        exercised += 1;
    }
    let has_triggers = model.tables.iter().any(|t| !t.triggers.is_empty());
    assert!(!has_triggers || exercised > 0, "{spec}: no table with an on_update trigger could be exercised");
}
