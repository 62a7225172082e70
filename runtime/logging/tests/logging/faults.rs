//! Faults for real: PostgreSQL stopped with `pg_ctl stop` and started again, Splunk answering 503, a queue far too small. Nothing may be lost or doubled.

use std::time::Duration;

use dc_logging::{HecSettings, Secret};
use pg_harness::Cluster;
use tracing::info;
use tracing_subscriber::layer::SubscriberExt;

use crate::support::{assert_every_seq_once, drain_and_finish, logging, seqs_in_logs, seqs_of_events, spilled_lines, Answer, Db, HecServer, TOKEN};

/// Events in the fault run: `make test` runs 20,000; `make soak-logging` sets 200,000.
fn fault_events() -> u64 {
    std::env::var("DC_LOGGING_FAULT_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000)
}

#[test]
fn postgres_stopped_and_splunk_busy_mid_run_lose_and_double_nothing() {
    let events = fault_events();
    // A cluster of its own: stopping the shared one would fail the other tests.
    let cluster = Cluster::start().expect("start a cluster");
    let db = Db::on(&cluster, "faults");
    let server = HecServer::start();
    let spill = tempfile::tempdir().unwrap();
    let mut hec = HecSettings::new(&server.url, Secret::new(TOKEN));
    hec.max_attempts = 3;
    let (layer, guard) = logging(spill.path(), Some(&db)).splunk(hec).batch_size(500).build().unwrap();
    let third = events / 3;
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for seq in 0..events {
            match seq {
                s if s == third => cluster.stop_server().expect("pg_ctl stop"),
                s if s == 2 * third => cluster.start_server().expect("pg_ctl start"),
                s if s == events / 2 => server.answer(Answer::Busy),
                s if s == events * 9 / 10 => server.answer(Answer::Success),
                _ => {}
            }
            info!(seq, "event");
            // A steady load rather than one burst, so each fault spans many batches.
            if seq % (events / 100).max(1) == 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    });
    let during = guard.stats();
    let stats = drain_and_finish(guard);
    let context = format!("{stats:?}, {} lines left in spill files", spilled_lines(spill.path()).len());
    assert_every_seq_once(&seqs_in_logs(&db, ""), events, &format!("PostgreSQL ({context})"));
    assert_every_seq_once(&seqs_of_events(&server.accepted_events()), events, &format!("Splunk ({context})"));
    assert!(spilled_lines(spill.path()).is_empty(), "spill files are empty");
    for sink in ["database", "splunk"] {
        let sink_stats = stats.sink(sink).unwrap();
        assert!(sink_stats.spilled > 0 && sink_stats.replayed >= sink_stats.spilled, "the {sink} fault really spilled and replayed: {stats:?}");
    }
    assert!(during.accepted >= events);
    assert_eq!(db.count("SELECT count(*) FROM runtime WHERE end_time IS NOT NULL AND exit_code = 0"), 1);
}

#[test]
fn a_flood_through_a_tiny_queue_spills_and_replays_everything() {
    let db = Db::new("flood");
    let spill = tempfile::tempdir().unwrap();
    let (layer, guard) = logging(spill.path(), Some(&db)).queue_size(4).queue_wait(Duration::ZERO).batch_size(50).build().unwrap();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let threads: Vec<_> = (0..4_u64)
        .map(|thread| {
            let dispatch = dispatch.clone();
            std::thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for n in 0..2500 {
                        info!(seq = thread * 2500 + n, "flood");
                    }
                })
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let stats = drain_and_finish(guard);
    assert!(stats.overflowed > 0, "the queue overflowed: {stats:?}");
    assert_every_seq_once(&seqs_in_logs(&db, ""), 10_000, "PostgreSQL");
    assert!(spilled_lines(spill.path()).is_empty());
}

/// 6,000 events in batches of 2,000 (cut by size only: a long flush interval),
/// each event's `seq` its place; the last event is `seq` 5999.
fn burst_in_batches_of_2000(db: &Db<'_>, spill: &std::path::Path, message: impl Fn(u64) -> &'static str) -> dc_logging::Stats {
    let (layer, guard) = logging(spill, Some(db)).queue_size(10_000).batch_size(2000).flush_interval(Duration::from_secs(30)).build().unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for seq in 0..6000_u64 {
            info!(seq, "{}", message(seq));
        }
    });
    drain_and_finish(guard)
}

#[test]
fn large_batches_go_over_two_connections_and_ids_keep_the_events_order() {
    let db = Db::new("two_connections");
    let spill = tempfile::tempdir().unwrap();
    // Each connection's backend writes its pid here, once: how many the sink used.
    db.cluster
        .psql(
            &db.name,
            "CREATE TABLE writers (pid int PRIMARY KEY);
             CREATE FUNCTION note_writer() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN INSERT INTO writers VALUES (pg_backend_pid()) ON CONFLICT DO NOTHING; RETURN NULL; END $$;
             CREATE TRIGGER note_writer AFTER INSERT ON logs FOR EACH STATEMENT EXECUTE FUNCTION note_writer();",
        )
        .unwrap();
    let stats = burst_in_batches_of_2000(&db, spill.path(), |_| "burst");
    let database = stats.sink("database").unwrap();
    assert_eq!((database.rejected, database.spilled, database.last_error.as_deref()), (0, database.replayed, None), "{stats:?}");
    // The first batch writes the runtime row, so one connection; the next two split.
    assert_eq!(db.count("SELECT count(*) FROM writers"), 2, "a second connection wrote logs rows");
    let in_id_order: Vec<u64> = db.query("SELECT (context_json::json->>'seq')::bigint FROM logs WHERE msg = 'burst' ORDER BY id").into_iter().map(|row| row[0].parse().unwrap()).collect();
    assert_eq!(in_id_order, (0..6000).collect::<Vec<u64>>(), "ids follow the events' order");
}

#[test]
fn a_batch_whose_second_connection_fails_commits_its_first_part_and_replays_the_rest() {
    let db = Db::new("second_fails");
    let spill = tempfile::tempdir().unwrap();
    // One row the database refuses, in the part of the third batch the second connection writes.
    db.cluster
        .psql(
            &db.name,
            "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF NEW.msg = 'poison' THEN RAISE EXCEPTION 'poisoned row' USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$;
             CREATE TRIGGER refuse_poison BEFORE INSERT ON logs FOR EACH ROW EXECUTE FUNCTION refuse_poison();",
        )
        .unwrap();
    let stats = burst_in_batches_of_2000(&db, spill.path(), |seq| if seq == 5500 { "poison" } else { "burst" });
    let database = stats.sink("database").unwrap();
    assert_eq!(database.rejected, 1, "the poisoned row is refused, in the rejected file: {stats:?}");
    // The second connection's part (the last 1,000 of the batch) waited in the spill file; the first part committed.
    assert!(database.spilled >= 1000 && database.replayed == database.spilled, "{stats:?}");
    let mut expected: Vec<u64> = (0..6000).collect();
    expected.retain(|seq| *seq != 5500);
    assert_eq!(seqs_in_logs(&db, ""), expected, "every other event once");
}
