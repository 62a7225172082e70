//! The `Database` handle against a real PostgreSQL (pg-harness): built from
//! the environment as an app builds it, with hostile passwords, and never
//! showing a password. One test, since it sets process-wide variables.

use std::time::Duration;

use dc_runtime::db::{Database, DatabaseUrl, DbError, PoolOptions, FALLBACK_VARIABLE, PART_VARIABLES, URL_VARIABLE};
use diesel::sql_types::Text;
use diesel::RunQueryDsl;
use pg_harness::Cluster;

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

fn current_database(database: &Database) -> String {
    let mut conn = database.get().unwrap();
    diesel::sql_query("SELECT current_database() AS name").get_result::<Name>(&mut conn).unwrap().name
}

fn clear_environment() {
    for name in PART_VARIABLES.iter().chain([&URL_VARIABLE, &FALLBACK_VARIABLE]) {
        std::env::remove_var(name);
    }
}

#[test]
fn the_environment_pool_connects_for_real_and_never_shows_a_password() {
    let cluster = Cluster::shared();
    let (parts_db, url_db, fallback_db) = (
        cluster.create_database("db_parts").unwrap(),
        cluster.create_database("db_url").unwrap(),
        cluster.create_database("db_fallback").unwrap(),
    );
    // The cluster trusts local connections, so any password gets in; what
    // is tested is that a hostile one survives the trip into the URL.
    let password = "p@ss:w/rd%41ö?#&password=x Secret";
    clear_environment();
    assert!(matches!(Database::from_env(), Err(DbError::MissingUrl)));

    // DC_DB_MAIN_* parts.
    std::env::set_var("DC_DB_MAIN_HOST", "127.0.0.1");
    std::env::set_var("DC_DB_MAIN_PORT", cluster.port().to_string());
    std::env::set_var("DC_DB_MAIN_USER", "postgres");
    std::env::set_var("DC_DB_MAIN_PASSWORD", password);
    std::env::set_var("DC_DB_MAIN_DATABASE", &parts_db);
    // DATABASE_URL is only the fallback.
    std::env::set_var("DATABASE_URL", cluster.url(&fallback_db));
    let database = Database::from_env().unwrap();
    assert_eq!(current_database(&database), parts_db);
    // Every migration of the framework schema, once.
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../generated/migrations/postgres")).unwrap().count();
    assert_eq!(database.run_migrations(dc_schema::MIGRATIONS).unwrap().len(), migrations);
    assert!(database.run_migrations(dc_schema::MIGRATIONS).unwrap().is_empty());
    let shown = format!("{} {:?} {database:?}", database.url(), database.url());
    assert!(!shown.contains("Secret") && !shown.contains("w/rd") && !shown.contains("w%2Frd"), "{shown}");
    assert!(shown.contains(&format!("postgres://postgres:***@127.0.0.1:{}/{parts_db}", cluster.port())), "{shown}");

    // DC_DB_MAIN_URL wins over the parts.
    std::env::set_var("DC_DB_MAIN_URL", cluster.url(&url_db));
    assert_eq!(current_database(&Database::from_env().unwrap()), url_db);

    // DATABASE_URL when nothing else is set.
    clear_environment();
    std::env::set_var("DATABASE_URL", cluster.url(&fallback_db));
    assert_eq!(current_database(&Database::from_env().unwrap()), fallback_db);
    clear_environment();

    // Nothing listens on port 1: the error names the URL, redacted.
    let options = PoolOptions { max_size: 1, connection_timeout: Duration::from_millis(300) };
    for url in [
        "postgres://app:Sup3r-Secret%21pw@127.0.0.1:1/db".to_string(),
        "postgres://app:Sup3r-Secret@pw@127.0.0.1:1/db".to_string(),
        "postgres://app:Sup3r-Secret%E2%82%AC@[::1]:1/db".to_string(),
        "postgres://127.0.0.1:1/db?user=app&password=Sup3r-Secret".to_string(),
        "postgres://app:Sup3r-Secret@127.0.0.1:notaport/db".to_string(),
        "postgres://app:Sup3r-Secret%zz@127.0.0.1:1/db".to_string(),
        "postgres://app:%4€Sup3r-Secret@127.0.0.1:1/db".to_string(),
        "mysql://app:Sup3r-Secret@127.0.0.1:1/db".to_string(),
        "host=127.0.0.1 port=1 password=Sup3r-Secret".to_string(),
    ] {
        let bad = DatabaseUrl::new(url.clone());
        let error = Database::connect(bad.clone(), &options).unwrap_err();
        let single = bad.establish().map(|_| ()).unwrap_err();
        let shown = format!("{error} {error:?} {single} {single:?} {bad} {bad:?}");
        assert!(!shown.contains("Sup3r") && !shown.contains("Secret"), "{url}: {shown}");
        assert!(matches!(error, DbError::Connect { .. } | DbError::InvalidUrl { .. }), "{url}: {error}");
    }
}
