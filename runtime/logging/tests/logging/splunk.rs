//! The Splunk HEC sink against a server on 127.0.0.1 that answers as Splunk does.

use dc_logging::{HecSettings, Secret};
use dc_schema::enums::RuntimeExitCode;
use tracing::info;
use tracing_subscriber::layer::SubscriberExt;

use crate::support::{assert_every_seq_once, logging, seqs_of_events, spilled_lines, Answer, HecServer, TOKEN};

fn hec(server: &HecServer) -> HecSettings {
    let mut hec = HecSettings::new(&server.url, Secret::new(TOKEN));
    hec.channel = Some("c0ffee00-0000-4000-8000-000000000001".into());
    hec.index = Some("collectors".into());
    hec
}

fn emit(layer: impl tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync + 'static, seqs: std::ops::Range<u64>) {
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for seq in seqs {
            info!(seq, shop = "split", "price checked");
        }
    });
}

#[test]
fn every_event_arrives_with_the_token_channel_and_fields() {
    let server = HecServer::start();
    let spill = tempfile::tempdir().unwrap();
    let (layer, guard) = logging(spill.path(), None).splunk(hec(&server)).batch_size(64).build().unwrap();
    emit(layer, 0..500);
    let stats = guard.finish(RuntimeExitCode::Finished);
    assert_eq!(stats.sink("splunk").unwrap().delivered, 500, "{stats:?}");
    let requests = server.requests();
    assert!(requests.len() >= 500 / 64, "batched: {} requests", requests.len());
    assert!(requests.iter().all(|r| r.authorization.as_deref() == Some(&*format!("Splunk {TOKEN}")) && r.channel.as_deref() == Some("c0ffee00-0000-4000-8000-000000000001")));
    let events = server.accepted_events();
    assert_eq!(seqs_of_events(&events), (0..500).collect::<Vec<_>>());
    let event = &events[0];
    assert_eq!(event["index"], "collectors");
    assert_eq!(event["sourcetype"], "_json");
    assert_eq!(event["event"]["message"], "price checked");
    assert_eq!(event["event"]["level"], "INFO");
    assert_eq!(event["event"]["fields"]["shop"], "split");
    assert!(event["time"].as_f64().unwrap() > 1.6e9);
    assert!(spilled_lines(spill.path()).is_empty());
}

#[test]
fn busy_answers_are_retried_with_backoff_and_nothing_is_lost() {
    let server = HecServer::start();
    server.busy_for(3);
    let spill = tempfile::tempdir().unwrap();
    let (layer, guard) = logging(spill.path(), None).splunk(hec(&server)).build().unwrap();
    emit(layer, 0..200);
    let stats = guard.finish(RuntimeExitCode::Finished);
    assert_every_seq_once(&seqs_of_events(&server.accepted_events()), 200, "Splunk");
    assert_eq!(server.requests().iter().filter(|r| r.status == 503).count(), 3);
    let splunk = stats.sink("splunk").unwrap();
    assert_eq!((splunk.delivered, splunk.backlog), (200, false), "{stats:?}");
    assert!(spilled_lines(spill.path()).is_empty());
}

#[test]
fn a_refused_token_spills_with_the_answer_and_the_next_start_replays_exactly_once() {
    let server = HecServer::start();
    server.answer(Answer::BadToken);
    let spill = tempfile::tempdir().unwrap();
    let (layer, guard) = logging(spill.path(), None).splunk(hec(&server)).build().unwrap();
    emit(layer, 0..300);
    guard.flush();
    let stats = guard.finish(RuntimeExitCode::Finished);
    let splunk = stats.sink("splunk").unwrap();
    assert_eq!((splunk.delivered, splunk.spilled), (0, 300), "{stats:?}");
    // 403 is not retried: one request per batch.
    assert!(server.requests().iter().all(|r| r.status == 403));
    let lines = spilled_lines(spill.path());
    assert_eq!(lines.len(), 300);
    assert!(lines[0].contains("Invalid token") && lines[0].contains("403"), "{}", lines[0]);
    let everything = format!("{stats:?}{}", lines.join("\n"));
    assert!(!everything.contains(TOKEN), "the token leaked");

    // Next start, token accepted: the spill file is replayed before new events.
    server.answer(Answer::Success);
    let (layer, guard) = logging(spill.path(), None).splunk(hec(&server)).build().unwrap();
    emit(layer, 300..310);
    let stats = guard.finish(RuntimeExitCode::Finished);
    // The 300 from the spill file, and the 10 new ones parked at shutdown.
    assert_eq!(stats.sink("splunk").unwrap().replayed, 310, "{stats:?}");
    let seqs: Vec<u64> = server.accepted_events().iter().filter_map(|e| e["event"]["fields"]["seq"].as_u64()).collect();
    assert_eq!(seqs, (0..310).collect::<Vec<_>>(), "in order, each once");
    assert!(spilled_lines(spill.path()).is_empty());
}

#[test]
fn an_invalid_event_is_rejected_with_the_answer_and_the_rest_of_its_batch_is_delivered() {
    let server = HecServer::start();
    let spill = tempfile::tempdir().unwrap();
    let (layer, guard) = logging(spill.path(), None).splunk(hec(&server)).build().unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for seq in 0..20_u64 {
            info!(seq, invalid = seq == 7, "event");
        }
    });
    let stats = guard.finish(RuntimeExitCode::Finished);
    let splunk = stats.sink("splunk").unwrap();
    assert_eq!((splunk.delivered, splunk.rejected, splunk.backlog), (19, 1, false), "{stats:?}");
    let expected: Vec<u64> = (0..20).filter(|&n| n != 7).collect();
    assert_eq!(seqs_of_events(&server.accepted_events()), expected);
    let rejected: Vec<String> = crate::support::files(spill.path())
        .into_iter()
        .filter(|p| p.components().any(|c| c.as_os_str() == "rejected"))
        .flat_map(|p| std::fs::read_to_string(p).unwrap().lines().map(str::to_string).collect::<Vec<_>>())
        .collect();
    assert_eq!(rejected.len(), 1);
    assert!(rejected[0].contains("Invalid data format") && rejected[0].contains("[\"seq\",7]"), "{}", rejected[0]);
}
