//! What lands in the tables: logs rows, call chains, function timings, runtime rows, HTTP metrics and the dependency map.

use std::time::Duration;

use dc_logging::ids::{function_id, runtime_id};
use dc_schema::enums::RuntimeExitCode;
use dc_schema::models::NewAppGroups;
use tracing::{info, info_span, warn, Instrument};
use tracing_subscriber::layer::SubscriberExt;

use crate::support::{app, logging, Db, HecServer, TOKEN};

#[test]
fn every_column_of_a_logs_row_comes_from_the_event() {
    let db = Db::new("logs_row");
    let spill = tempfile::tempdir().unwrap();
    let (layer, guard) = logging(spill.path(), Some(&db)).build().unwrap();
    let runtime = guard.runtime_id().unwrap().to_string();
    let app_id = guard.app_id().unwrap().to_string();
    let line = tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let outer = info_span!("collect_prices");
        let _outer = outer.enter();
        let inner = info_span!("parse_page", page = 3);
        let _inner = inner.enter();
        warn!(count = 3, shop = "zagreb", ratio = 0.5, fresh = true, "price {} changed", "milk");
        line!() - 1
    });
    let stats = guard.finish(RuntimeExitCode::Finished);
    assert!(stats.sinks.iter().all(|s| !s.backlog && s.rejected == 0), "{stats:?}");
    let rows = db.query(
        "SELECT app_id, module_name, module_path, function_name, function_id, call_chain, instance_id, lineno, log_level, msg, context_json, runtime, sha IS NULL, date_created > now() - interval '1 minute' FROM logs",
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    let module = module_path!();
    let expected = [
        app_id.as_str(),
        module,
        file!(),
        "parse_page",
        &function_id(&app_id, module, "parse_page"),
        "collect_prices -> parse_page",
        &std::process::id().to_string(),
        &line.to_string(),
        "30",
        "price milk changed",
        r#"{"count":3,"shop":"zagreb","ratio":0.5,"fresh":true}"#,
        &runtime,
        "t",
        "t",
    ];
    assert_eq!(rows[0], expected.map(str::to_string));
    assert_eq!(app_id, app().app_id());
}

#[test]
fn the_call_chain_follows_nested_spans_and_tokio_tasks() {
    let db = Db::new("call_chain");
    let spill = tempfile::tempdir().unwrap();
    let (layer, guard) = logging(spill.path(), Some(&db)).build().unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    tracing::subscriber::with_default(subscriber, || {
        use tracing::instrument::WithSubscriber;
        let root = info_span!("run");
        let _root = root.enter();
        info!("at the root");
        tokio.block_on(
            async {
                let mut tasks = Vec::new();
                for shop in 0..3 {
                    let task = async move {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        let page = info_span!("page");
                        async { info!(shop, "inside a task") }.instrument(page).await;
                    };
                    tasks.push(tokio::spawn(task.instrument(info_span!("shop")).with_current_subscriber()));
                }
                for task in tasks {
                    task.await.unwrap();
                }
            }
            .instrument(info_span!("fetch_all")),
        );
    });
    guard.finish(RuntimeExitCode::Finished);
    assert_eq!(db.query("SELECT call_chain FROM logs WHERE msg = 'at the root'"), vec![vec!["run".to_string()]]);
    let chains = db.query("SELECT call_chain, function_name FROM logs WHERE msg = 'inside a task' ORDER BY context_json");
    assert_eq!(chains.len(), 3);
    for chain in chains {
        assert_eq!(chain, ["run -> fetch_all -> shop -> page", "page"]);
    }
}

#[tracing::instrument(fields(task_size = items.len(), solved, failed))]
fn process(items: &[u32]) -> u32 {
    let even = items.iter().filter(|n| *n % 2 == 0).count();
    tracing::Span::current().record("solved", even).record("failed", items.len() - even);
    info!("processed");
    even as u32
}

#[tracing::instrument(fields(task_size = 5, solved = 0, failed = 0))]
async fn download() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
    tracing::Span::current().record("solved", 5);
}

#[test]
fn instrumented_functions_write_function_log_rows_and_register_once_in_app_functions() {
    let db = Db::new("functions");
    let spill = tempfile::tempdir().unwrap();
    let (layer, guard) = logging(spill.path(), Some(&db)).build().unwrap();
    let app_id = guard.app_id().unwrap().to_string();
    let runtime = guard.runtime_id().unwrap().to_string();
    let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        process(&[1, 2, 3, 4, 6]);
        process(&[7]);
        tokio.block_on(download());
    });
    guard.finish(RuntimeExitCode::Finished);
    let module = module_path!();
    let process_hash = function_id(&app_id, module, "process");
    let download_hash = function_id(&app_id, module, "download");
    let rows = db.query(&format!(
        "SELECT function_hash = '{process_hash}', function_no, task_size, solved, failed, totals, totalm, totalh, runtime = '{runtime}', app_id = main_app, \
         thread_id > 0, end_time >= start_time, sha IS NOT NULL FROM function_log ORDER BY function_no"
    ));
    let rows: Vec<Vec<&str>> = rows.iter().map(|r| r.iter().map(String::as_str).collect()).collect();
    assert_eq!(
        rows,
        vec![
            vec!["t", "1", "5", "3", "2", "0", "0", "0", "t", "t", "t", "t", "t"],
            vec!["t", "2", "1", "0", "1", "0", "0", "0", "t", "t", "t", "t", "t"],
            vec!["f", "3", "5", "5", "0", "1", "0", "0", "t", "t", "t", "t", "t"],
        ]
    );
    assert_eq!(db.count(&format!("SELECT count(*) FROM function_log WHERE function_hash = '{download_hash}'")), 1);
    let functions = db.query("SELECT function_name, filepath, app_id, first_seen <= last_seen, sha IS NOT NULL FROM app_functions ORDER BY function_name");
    assert_eq!(
        functions,
        vec![
            vec!["download".to_string(), module.to_string(), app_id.clone(), "t".into(), "t".into()],
            vec!["process".to_string(), module.to_string(), app_id.clone(), "t".into(), "t".into()],
        ]
    );
    // last_seen is the end of the latest call; logs inside join their function.
    assert_eq!(db.scalar(&format!("SELECT last_seen = (SELECT max(end_time) FROM function_log WHERE function_hash = '{process_hash}') FROM app_functions WHERE function_hash = '{process_hash}'")), "t");
    assert_eq!(db.count(&format!("SELECT count(*) FROM logs WHERE function_id = '{process_hash}'")), 2);
}

#[test]
fn the_runtime_row_starts_and_ends_with_totals_errors_and_the_exit_code() {
    let db = Db::new("runtime_row");
    let spill = tempfile::tempdir().unwrap();
    let (layer, guard) = logging(spill.path(), Some(&db)).build().unwrap();
    let runtime = guard.runtime_id().unwrap().to_string();
    guard.flush();
    // Started: the app is registered, the row has a start and no end.
    assert_eq!(db.query(&format!("SELECT app_id, start_time IS NOT NULL, end_time IS NULL, sha IS NOT NULL FROM runtime WHERE runtime = '{runtime}'")), vec![vec![app().app_id(), "t".into(), "t".into(), "t".into()]]);
    assert_eq!(db.query("SELECT group_name, parent_name, app_name, app FROM apps"), vec![vec!["tests".to_string(), "logging".into(), "collector".into(), app().app_id()]]);
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::error!("first failure");
        info!("fine");
        tracing::error!(code = 7, "second failure");
    });
    std::thread::sleep(Duration::from_millis(1100));
    guard.finish(RuntimeExitCode::CmdStop);
    let row = db.query(&format!("SELECT except_cnt, exit_code, totals >= 1, totalm, totalh, end_time > start_time FROM runtime WHERE runtime = '{runtime}'"));
    assert_eq!(row, vec![vec!["2", "5", "t", "0", "0", "t"].into_iter().map(String::from).collect::<Vec<_>>()]);
    // The id is the documented hash of app id, start time and process id.
    let start = chrono::NaiveDateTime::parse_from_str(&db.scalar(&format!("SELECT start_time FROM runtime WHERE runtime = '{runtime}'")), "%Y-%m-%d %H:%M:%S%.f").unwrap();
    assert_eq!(runtime, runtime_id(&app().app_id(), start, std::process::id()));
}

#[test]
fn a_guard_dropped_by_a_panic_ends_the_runtime_without_an_exit_code_and_a_plain_drop_as_finished() {
    let db = Db::new("runtime_panic");
    let spill = tempfile::tempdir().unwrap();
    let (_, guard) = logging(spill.path(), Some(&db)).build::<tracing_subscriber::Registry>().unwrap();
    let panicked = guard.runtime_id().unwrap().to_string();
    let result = std::thread::spawn(move || {
        let _guard = guard;
        panic!("the app failed");
    })
    .join();
    assert!(result.is_err());
    let (_, guard) = logging(spill.path(), Some(&db)).build::<tracing_subscriber::Registry>().unwrap();
    let dropped = guard.runtime_id().unwrap().to_string();
    drop(guard);
    assert_eq!(db.query(&format!("SELECT exit_code IS NULL, end_time IS NOT NULL FROM runtime WHERE runtime = '{panicked}'")), vec![vec!["t".to_string(), "t".into()]]);
    assert_eq!(db.scalar(&format!("SELECT exit_code FROM runtime WHERE runtime = '{dropped}'")), "0");
}

#[test]
fn requests_through_the_http_client_fill_the_runtime_rows_http_columns() {
    let db = Db::new("http_metrics");
    let server = HecServer::start();
    let spill = tempfile::tempdir().unwrap();
    let (_, guard) = logging(spill.path(), Some(&db)).build::<tracing_subscriber::Registry>().unwrap();
    let runtime = guard.runtime_id().unwrap().to_string();
    let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = dc_logging::http::client(3);
    let endpoint = format!("{}/services/collector/event", server.url);
    tokio.block_on(async {
        for _ in 0..3 {
            let response = client.post(&endpoint).header("Authorization", format!("Splunk {TOKEN}")).body("{}").send().await.unwrap();
            assert_eq!(response.status(), 200);
        }
        // Two 503s, retried by the client: three attempts, two of them errors.
        server.busy_for(2);
        let response = client.post(&endpoint).header("Authorization", format!("Splunk {TOKEN}")).body("{}").send().await.unwrap();
        assert_eq!(response.status(), 200);
        // A 403 is not retried.
        let response = client.post(&endpoint).body("{}").send().await.unwrap();
        assert_eq!(response.status(), 403);
    });
    guard.finish(RuntimeExitCode::Finished);
    let row = db.query(&format!("SELECT request_count, avg_response_ms >= 0, p95_response_ms >= avg_response_ms, error_rate FROM runtime WHERE runtime = '{runtime}'"));
    assert_eq!(row, vec![vec!["7".to_string(), "t".into(), "t".into(), (300.0_f64 / 7.0).to_string()]]);
}

#[test]
fn each_merged_table_is_recorded_once_in_app_db_objects() {
    let db = Db::new("dependency_map");
    let spill = tempfile::tempdir().unwrap();
    let (layer, guard) = logging(spill.path(), Some(&db)).build().unwrap();
    let mut conn = db.connect();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let merge = dc_runtime::Merge::new(NewAppGroups::TABLE).unwrap();
        for round in 0..3 {
            let rows = vec![NewAppGroups { name: Some(format!("group {round}")) }];
            dc_logging::dependency::merge(&merge, &mut conn, &rows).unwrap();
        }
    });
    guard.finish(RuntimeExitCode::Finished);
    assert_eq!(
        db.query("SELECT app_id, server_type, server_ip, database_name, database_schema, object_name, object_type, last_use_date IS NOT NULL, sha IS NOT NULL FROM app_db_objects"),
        vec![vec![app().app_id(), "postgres".into(), "127.0.0.1".into(), db.name.clone(), "public".into(), "app_groups".into(), "table".into(), "t".into(), "t".into()]]
    );
    // A second process records it again: the row is kept, its last use moves.
    let before = db.scalar("SELECT last_use_date FROM app_db_objects");
    let (layer, guard) = logging(spill.path(), Some(&db)).build().unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let merge = dc_runtime::Merge::new(NewAppGroups::TABLE).unwrap();
        dc_logging::dependency::merge(&merge, &mut conn, &[NewAppGroups { name: Some("group 9".into()) }]).unwrap();
    });
    guard.finish(RuntimeExitCode::Finished);
    assert_eq!(db.count("SELECT count(*) FROM app_db_objects"), 1);
    assert!(db.scalar("SELECT last_use_date FROM app_db_objects") > before);
}

#[test]
fn events_that_name_their_owner_are_filed_under_it_and_a_wrong_owner_stays_with_the_process() {
    use dc_logging::layer::{OWNER_APP_FIELD, OWNER_ERROR_FIELD};
    let db = Db::new("logs_owner");
    let spill = tempfile::tempdir().unwrap();
    // The owner: an app run with its app and runtime rows, as dc-manager writes them before a child starts.
    let (_, owner) = logging(spill.path(), Some(&db)).build::<tracing_subscriber::Registry>().unwrap();
    let (app_id, runtime) = (owner.app_id().unwrap().to_string(), owner.runtime_id().unwrap().to_string());
    owner.finish(RuntimeExitCode::Finished);
    let runtimes_before = db.count("SELECT count(*) FROM runtime");

    // The relay (a manager): no app, no runtime of its own.
    let relay_spill = tempfile::tempdir().unwrap();
    let settings = crate::support::settings(relay_spill.path());
    let (layer, relay) = dc_logging::Logging::new(settings).database(db.url()).no_runtime().build().unwrap();
    assert_eq!((relay.app_id(), relay.runtime_id()), (None, None));
    let too_long = "x".repeat(65);
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let _span = info_span!("relay_loop").entered();
        info!(dc.app_id = app_id.as_str(), dc.runtime_id = runtime.as_str(), stream = "stdout", "owned out");
        tracing::error!(dc.app_id = %app_id, dc.runtime_id = %runtime, stream = "stderr", "owned err");
        info!(stream = "none", "the relay's own");
        warn!(dc.app_id = app_id.as_str(), "owner without runtime");
        warn!(dc.app_id = too_long.as_str(), dc.runtime_id = runtime.as_str(), "owner too long");
    });
    let stats = relay.finish(RuntimeExitCode::Finished);
    assert!(stats.sinks.iter().all(|sink| !sink.backlog && sink.last_error.is_none()), "{stats:?}");

    let rows = db.query(
        "SELECT msg, coalesce(app_id, 'NULL'), coalesce(runtime, 'NULL'), log_level, coalesce(context_json, ''), coalesce(function_name, 'NULL'), coalesce(module_name, 'NULL'), coalesce(instance_id::text, 'NULL')
         FROM logs WHERE msg <> '' AND (app_id IS NULL OR msg LIKE 'owne%') ORDER BY id",
    );
    let msgs: Vec<&str> = rows.iter().map(|row| row[0].as_str()).collect();
    assert_eq!(msgs, ["owned out", "owned err", "the relay's own", "owner without runtime", "owner too long"], "{rows:?}");
    // Owned: the owner's ids, the level, the stream in context_json, nothing of the relay's code.
    assert_eq!(rows[0][1..], [app_id.as_str(), runtime.as_str(), "20", r#"{"stream":"stdout"}"#, "NULL", "NULL", "NULL"]);
    assert_eq!(rows[1][1..], [app_id.as_str(), runtime.as_str(), "40", r#"{"stream":"stderr"}"#, "NULL", "NULL", "NULL"]);
    // The relay's own event: no app, no runtime, its span and module.
    assert_eq!(rows[2][1..4], ["NULL", "NULL", "20"]);
    assert_eq!(rows[2][5], "relay_loop");
    // Wrong owners: kept, under the relay's (empty) ids, with the given values and what is wrong.
    for (row, problem) in [(&rows[3], "dc.runtime_id is missing"), (&rows[4], "dc.app_id is 65 characters long")] {
        assert_eq!(row[1..4], ["NULL", "NULL", "30"], "{row:?}");
        let context: serde_json::Value = serde_json::from_str(&row[4]).unwrap();
        assert!(context[OWNER_ERROR_FIELD].as_str().unwrap().starts_with(problem), "{context}");
        assert!(context[OWNER_APP_FIELD].is_string(), "{context}");
    }
    // The owned ERROR is the owner's line, not an exception of the owner's runtime row (already ended) nor the relay's.
    assert_eq!(db.count("SELECT count(*) FROM runtime"), runtimes_before, "the relay made no runtime row");
}

#[test]
fn a_record_reused_from_the_pool_carries_nothing_of_the_event_before() {
    let db = Db::new("logs_reuse");
    let spill = tempfile::tempdir().unwrap();
    // A queue (and so a record pool) of one, flushed after each event: every
    // event after the first is written into the record the one before used.
    let (layer, guard) = logging(spill.path(), Some(&db)).queue_size(1).build().unwrap();
    let (app_id, runtime) = (guard.app_id().unwrap().to_string(), guard.runtime_id().unwrap().to_string());
    let long = "longer than the spare buffer a pooled record keeps for a string field";
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        {
            let _span = info_span!("outer").entered();
            warn!(shop = "zagreb", count = 3, note = long, fresh = true, ratio = 1.5, "first {}", "event");
        }
        assert!(guard.flush());
        info!(count = "three", "second");
        assert!(guard.flush());
        info!("third");
        assert!(guard.flush());
        info!(dc.app_id = app_id.as_str(), dc.runtime_id = runtime.as_str(), stream = "stdout", "fourth, owned");
        assert!(guard.flush());
        info!(n = 5, "fifth");
    });
    let stats = guard.finish(RuntimeExitCode::Finished);
    assert!(stats.sinks.iter().all(|s| !s.backlog && s.rejected == 0 && s.spilled == s.replayed), "{stats:?}");
    let rows = db.query(
        "SELECT msg, log_level, coalesce(context_json, 'NULL'), coalesce(function_name, 'NULL'), coalesce(call_chain, 'NULL'), coalesce(module_name, 'NULL'), coalesce(lineno::text, 'NULL') <> 'NULL' FROM logs ORDER BY id",
    );
    let module = module_path!();
    let expected = [
        ["first event", "30", &format!(r#"{{"shop":"zagreb","count":3,"note":"{long}","fresh":true,"ratio":1.5}}"#), "outer", "outer", module, "t"],
        ["second", "20", r#"{"count":"three"}"#, "NULL", "NULL", module, "t"],
        ["third", "20", "NULL", "NULL", "NULL", module, "t"],
        ["fourth, owned", "20", r#"{"stream":"stdout"}"#, "NULL", "NULL", "NULL", "f"],
        ["fifth", "20", r#"{"n":5}"#, "NULL", "NULL", module, "t"],
    ];
    assert_eq!(rows, expected.map(|row| row.map(str::to_string)).to_vec());
}
