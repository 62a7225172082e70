//! What the logging tests share: a migrated database on a real PostgreSQL, a pipeline built for a test, and an HTTP server on 127.0.0.1 that answers like Splunk's HEC.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dc_logging::{AppIdentity, LogSettings, Logging};
use dc_runtime::db::{self, DatabaseUrl};
use diesel::PgConnection;
use pg_harness::Cluster;
use serde_json::Value;

/// A fresh database with the framework's migrations.
pub struct Db<'c> {
    pub cluster: &'c Cluster,
    pub name: String,
}

impl Db<'static> {
    pub fn new(prefix: &str) -> Db<'static> {
        Db::on(Cluster::shared(), prefix)
    }
}

impl<'c> Db<'c> {
    pub fn on(cluster: &'c Cluster, prefix: &str) -> Db<'c> {
        let name = cluster.create_database(prefix).expect("create database");
        let db = Db { cluster, name };
        let mut conn = db.connect();
        db::run_migrations(&mut conn, dc_schema::MIGRATIONS, &db.url()).expect("migrations");
        db
    }

    pub fn url(&self) -> DatabaseUrl {
        DatabaseUrl::new(self.cluster.url(&self.name))
    }

    /// The URL as text, for a child process's environment (a test cluster's, no secret).
    pub fn url_text(&self) -> String {
        self.cluster.url(&self.name)
    }

    pub fn connect(&self) -> PgConnection {
        self.url().establish().expect("connect")
    }

    pub fn query(&self, sql: &str) -> Vec<Vec<String>> {
        self.cluster.query(&self.name, sql).expect("query")
    }

    pub fn scalar(&self, sql: &str) -> String {
        self.query(sql).first().and_then(|row| row.first()).cloned().unwrap_or_default()
    }

    pub fn count(&self, sql: &str) -> u64 {
        self.scalar(sql).parse().expect("a count")
    }
}

pub fn app() -> AppIdentity {
    AppIdentity::new("tests", "logging", "collector")
}

/// Settings for a test: no console, a private spill directory, quick flushes.
pub fn settings(spill: &Path) -> LogSettings {
    LogSettings {
        console: false,
        database: false,
        spill_dir: spill.to_path_buf(),
        flush_interval: Duration::from_millis(50),
        handle_sigterm: false,
        ..LogSettings::default()
    }
}

pub fn logging(spill: &Path, db: Option<&Db<'_>>) -> Logging {
    let logging = Logging::new(settings(spill)).app(app());
    match db {
        Some(db) => logging.database(db.url()),
        None => logging,
    }
}

/// Lines left to replay in the spill files under `dir` (rejected files excluded).
pub fn spilled_lines(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for path in files(dir) {
        if path.components().any(|c| c.as_os_str() == "rejected") || path.extension().is_none_or(|e| e != "jsonl") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        // Lines before the replay offset were delivered already.
        let mut offset_file = path.as_os_str().to_owned();
        offset_file.push(".replayed");
        let offset: usize = std::fs::read_to_string(offset_file).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0);
        // The first line names the file and its destination; it is no record.
        lines.extend(text.get(offset..).unwrap_or("").lines().filter(|line| !line.starts_with("{\"spill_file\"")).map(str::to_string));
    }
    lines
}

pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(files(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// How the HEC server answers the next request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Answer {
    Success,
    /// 503 `Server is busy`.
    Busy,
    /// 403 `Invalid token`.
    BadToken,
}

/// One request the server took.
#[derive(Clone, Debug)]
pub struct Received {
    pub authorization: Option<String>,
    pub channel: Option<String>,
    pub events: Vec<Value>,
    pub status: u16,
}

#[derive(Default)]
struct State {
    answer: Option<Answer>,
    /// Answer 503 to this many requests before going back to `answer`.
    busy_for: usize,
    requests: Vec<Received>,
}

/// An HTTP/1.1 server on 127.0.0.1 speaking the HEC event endpoint:
/// `POST /services/collector/event` with a token, events as JSON objects
/// one after another. An event whose `event.fields.invalid` is true gets
/// Splunk's 400 `Invalid data format` with its `invalid-event-number`.
pub struct HecServer {
    pub url: String,
    state: Arc<Mutex<State>>,
}

pub const TOKEN: &str = "11111111-2222-3333-4444-555555555555";

impl HecServer {
    pub fn start() -> HecServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let state = Arc::new(Mutex::new(State { answer: Some(Answer::Success), ..State::default() }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        HecServer { url, state }
    }

    pub fn answer(&self, answer: Answer) {
        self.state.lock().unwrap().answer = Some(answer);
    }

    pub fn busy_for(&self, requests: usize) {
        self.state.lock().unwrap().busy_for = requests;
    }

    pub fn requests(&self) -> Vec<Received> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Events the server accepted (answered 200 for).
    pub fn accepted_events(&self) -> Vec<Value> {
        self.requests().into_iter().filter(|r| r.status == 200).flat_map(|r| r.events).collect()
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
            }
        }
        let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let events: Vec<Value> = serde_json::Deserializer::from_slice(&body).into_iter::<Value>().map(|e| e.expect("events are JSON")).collect();
        let authorization = headers.get("authorization").cloned();
        let (status, text) = {
            let mut state = state.lock().unwrap();
            let answer = if state.busy_for > 0 {
                state.busy_for -= 1;
                Answer::Busy
            } else {
                state.answer.unwrap_or(Answer::Success)
            };
            let invalid = events.iter().position(|e| e["event"]["fields"]["invalid"] == Value::Bool(true));
            let (status, text, kept) = if authorization.as_deref() != Some(&format!("Splunk {TOKEN}")) || answer == Answer::BadToken {
                (403, r#"{"text":"Invalid token","code":4}"#.to_string(), Vec::new())
            } else if answer == Answer::Busy {
                (503, r#"{"text":"Server is busy","code":9}"#.to_string(), Vec::new())
            } else if let Some(index) = invalid {
                // Splunk indexes the events before the invalid one.
                (400, format!(r#"{{"text":"Invalid data format","code":6,"invalid-event-number":{index}}}"#), events[..index].to_vec())
            } else {
                (200, r#"{"text":"Success","code":0}"#.to_string(), events.clone())
            };
            state.requests.push(Received { authorization: authorization.clone(), channel: headers.get("x-splunk-request-channel").cloned(), events: kept, status: if status == 400 { 200 } else { status } });
            if status == 400 {
                state.requests.push(Received { authorization, channel: None, events: Vec::new(), status: 400 });
            }
            (status, text)
        };
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            403 => "Forbidden",
            _ => "Service Unavailable",
        };
        let response = format!("HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}", text.len());
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// The `seq` field of HEC events, sorted.
pub fn seqs_of_events(events: &[Value]) -> Vec<u64> {
    let mut seqs: Vec<u64> = events.iter().filter_map(|e| e["event"]["fields"]["seq"].as_u64()).collect();
    seqs.sort_unstable();
    seqs
}

/// The `seq` values in the logs table, sorted.
pub fn seqs_in_logs(db: &Db<'_>, filter: &str) -> Vec<u64> {
    let mut seqs: Vec<u64> = db
        .query(&format!("SELECT (context_json::json->>'seq')::bigint FROM logs WHERE context_json::json->>'seq' IS NOT NULL {filter}"))
        .into_iter()
        .map(|row| row[0].parse().expect("seq"))
        .collect();
    seqs.sort_unstable();
    seqs
}

/// Checks that `seqs` (sorted) is exactly `0..n`, and says what is missing or doubled if not
/// (without printing thousands of numbers).
pub fn assert_every_seq_once(seqs: &[u64], n: u64, what: &str) {
    if seqs.len() as u64 == n && seqs.iter().copied().eq(0..n) {
        return;
    }
    let mut doubled = Vec::new();
    for pair in seqs.windows(2) {
        if pair[0] == pair[1] {
            doubled.push(pair[0]);
        }
    }
    let present: std::collections::HashSet<u64> = seqs.iter().copied().collect();
    let missing: Vec<u64> = (0..n).filter(|s| !present.contains(s)).collect();
    panic!(
        "{what}: {} events for 0..{n}; {} missing (first {:?}), {} doubled (first {:?})",
        seqs.len(),
        missing.len(),
        &missing[..missing.len().min(10)],
        doubled.len(),
        &doubled[..doubled.len().min(10)]
    );
}

/// Flushes until no sink has records waiting in its spill file (at most 120 s), then finishes.
pub fn drain_and_finish(guard: dc_logging::LoggingGuard) -> dc_logging::Stats {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        // flush() is true once every sink took everything queued before it.
        let flushed = guard.flush();
        let stats = guard.stats();
        if flushed && stats.sinks.iter().all(|s| !s.backlog) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "spill files not replayed: {stats:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    guard.finish(dc_schema::enums::RuntimeExitCode::Finished)
}
