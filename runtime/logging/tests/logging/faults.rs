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
