//! Replay across a crash and across a change of destination: a process SIGKILLed between the commit of a replayed chunk and the spill file's offset write doubles nothing, and records spilled for one destination never reach another.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use dc_logging::{HecSettings, Logging, Secret};
use dc_runtime::db::DatabaseUrl;
use dc_schema::enums::RuntimeExitCode;
use tracing::info;
use tracing_subscriber::layer::SubscriberExt;

use crate::support::{app, assert_every_seq_once, drain_and_finish, logging, seqs_in_logs, seqs_of_events, settings, spilled_lines, Answer, Db, HecServer, TOKEN};

const DATABASE: &str = "DC_LOGGING_REPLAYER_DATABASE";
const SPILL: &str = "DC_LOGGING_REPLAYER_SPILL";

/// Renames the test's database away, so a pipeline pointed at it cannot connect
/// (its records spill), and back. The destination (host, port, name) stays the same.
fn take_away(db: &Db<'_>) {
    db.cluster.psql("postgres", &format!("ALTER DATABASE \"{0}\" RENAME TO \"{0}_away\"", db.name)).expect("rename the database away");
}

fn bring_back(db: &Db<'_>) {
    db.cluster.psql("postgres", &format!("ALTER DATABASE \"{0}_away\" RENAME TO \"{0}\"", db.name)).expect("rename the database back");
}

/// Logs `seqs` through a pipeline to `db` while its database is away: every record ends in the spill file.
fn spill_for(db: &Db<'_>, spill: &std::path::Path, seqs: std::ops::Range<u64>) {
    let (layer, guard) = logging(spill, Some(db)).batch_size(500).shutdown_timeout(Duration::from_secs(1)).build().unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for seq in seqs.clone() {
            info!(seq, "spilled while the database was away");
        }
    });
    let stats = guard.finish(RuntimeExitCode::Finished);
    assert_eq!(stats.sink("database").unwrap().delivered, 0, "nothing reached the database: {stats:?}");
}

/// The child's side: replays what it finds, and dies by the failpoint after the first replayed chunk committed.
#[test]
#[ignore = "helper: run in a child process by the crash test below"]
fn replayer() {
    let settings = dc_logging::LogSettings { console: false, handle_sigterm: false, spill_dir: std::env::var(SPILL).expect("run by the crash test only").into(), ..dc_logging::LogSettings::default() };
    let _guard = Logging::new(settings).app(app()).database(DatabaseUrl::new(std::env::var(DATABASE).unwrap())).install().unwrap();
    // The failpoint ends the process; if it never fires, this returns and the test sees a clean exit.
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_replayer_killed_between_its_commit_and_the_offset_write_doubles_and_loses_nothing() {
    const EVENTS: u64 = 5_000;
    let db = Db::new("replay_crash");
    let spill = tempfile::tempdir().unwrap();
    take_away(&db);
    spill_for(&db, spill.path(), 0..EVENTS);
    bring_back(&db);
    assert_eq!(spilled_lines(spill.path()).len() as u64, EVENTS + 2, "every event, the runtime start and end, in the spill file");

    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "replay::replayer", "--nocapture", "--test-threads=1"])
        .env("DC_LOG_TEST_FAILPOINT", "replay-committed")
        .env(DATABASE, db.url_text())
        .env(SPILL, spill.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.signal(), Some(libc::SIGKILL), "the replayer died by the failpoint: {stderr}");
    let committed = seqs_in_logs(&db, "");
    assert!(!committed.is_empty() && (committed.len() as u64) < EVENTS, "one chunk committed before the kill: {} rows ({stderr})", committed.len());
    assert_eq!(db.count("SELECT count(*) FROM log_spill_replay"), 1, "its position committed with it");
    // The kill came before the offset moved: the spill file still holds the committed chunk.
    assert_eq!(spilled_lines(spill.path()).len() as u64, EVENTS + 2 + 1, "the spill file as before, with the replayer's own runtime start");

    let (_, guard) = logging(spill.path(), Some(&db)).build::<tracing_subscriber::Registry>().unwrap();
    let stats = drain_and_finish(guard);
    assert_every_seq_once(&seqs_in_logs(&db, ""), EVENTS, "PostgreSQL after the crash and the second replay");
    let database = stats.sink("database").unwrap();
    assert!(database.already_delivered as usize >= committed.len(), "the committed chunk was found in the database and skipped: {stats:?}");
    assert!(spilled_lines(spill.path()).is_empty());
    // The spilling run, the killed replayer and the last one: one runtime row each.
    assert_eq!(db.count("SELECT count(*) FROM runtime"), 3);
}

#[test]
fn records_spilled_for_one_database_wait_for_it_and_never_reach_another() {
    let db_a = Db::new("destination_a");
    let db_b = Db::new("destination_b");
    let spill = tempfile::tempdir().unwrap();
    take_away(&db_a);
    spill_for(&db_a, spill.path(), 0..300);
    bring_back(&db_a);

    // Settings changed: the same spill directory, another database.
    let (layer, guard) = logging(spill.path(), Some(&db_b)).build().unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for seq in 0..100_u64 {
            info!(seq, "for b");
        }
    });
    let stats = drain_and_finish(guard);
    // Its 100 events, its runtime start and end: nothing of A's.
    assert_eq!(stats.sink("database").unwrap().delivered, 102, "B delivered its own records only: {stats:?}");
    assert_every_seq_once(&seqs_in_logs(&db_b, ""), 100, "database B");
    assert_eq!(db_b.count("SELECT count(*) FROM logs WHERE msg <> 'for b'"), 0);
    assert_eq!(spilled_lines(spill.path()).len(), 302, "A's records wait in the spill file");

    let (_, guard) = logging(spill.path(), Some(&db_a)).build::<tracing_subscriber::Registry>().unwrap();
    drain_and_finish(guard);
    assert_every_seq_once(&seqs_in_logs(&db_a, ""), 300, "database A, once it is back");
    assert!(spilled_lines(spill.path()).is_empty());
}

#[test]
fn events_spilled_for_one_hec_endpoint_are_never_sent_to_another() {
    let server_a = HecServer::start();
    let server_b = HecServer::start();
    server_a.answer(Answer::BadToken);
    let spill = tempfile::tempdir().unwrap();
    let hec = |server: &HecServer| HecSettings::new(&server.url, Secret::new(TOKEN));
    let emit = |logging: Logging, seqs: std::ops::Range<u64>| {
        let (layer, guard) = logging.build().unwrap();
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            for seq in seqs {
                info!(seq, "event");
            }
        });
        guard
    };
    emit(logging(spill.path(), None).splunk(hec(&server_a)), 0..50).finish(RuntimeExitCode::Finished);
    assert_eq!(spilled_lines(spill.path()).len(), 50);

    let guard = emit(Logging::new(settings(spill.path())).app(app()).splunk(hec(&server_b)), 100..110);
    drain_and_finish(guard);
    assert_eq!(seqs_of_events(&server_b.accepted_events()), (100..110).collect::<Vec<_>>(), "B got its own events only");
    assert_eq!(spilled_lines(spill.path()).len(), 50, "A's events wait");

    server_a.answer(Answer::Success);
    drain_and_finish(emit(logging(spill.path(), None).splunk(hec(&server_a)), 50..60));
    assert_every_seq_once(&seqs_of_events(&server_a.accepted_events()), 60, "endpoint A, once it takes the token");
    assert!(spilled_lines(spill.path()).is_empty());
}
