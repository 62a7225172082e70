//! The Splunk HTTP Event Collector sink: log records as batched JSON events, retried with jittered backoff on 503, 429, other 5xx and timeouts.
//!
//! Answers, as Splunk gives them:
//!
//! - 200 `{"text":"Success","code":0}`: delivered;
//! - 503 (`Server is busy`), 429, other 5xx, a timeout or a refused
//!   connection: retried after a jittered exponential backoff
//!   (`retry-policies`), at most `max_attempts` times, then the batch fails
//!   and waits in the spill file;
//! - 400 (`Invalid data format`, `code` 6) with `invalid-event-number` N:
//!   the events before N were indexed, N is refused for good (kept in the
//!   rejected file with the answer), the rest is sent again; without N the
//!   whole batch is refused;
//! - 401 and 403 (`Invalid token`, `code` 4): no retry; the batch goes to
//!   the spill file with the answer, and is replayed once the token works.
//!
//! The token is sent in `Authorization: Splunk <token>` and appears in no
//! message: errors are passed through [`Secret::redact`].

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::blocking::Client;
use retry_policies::policies::ExponentialBackoff;
use retry_policies::{Jitter, RetryDecision, RetryPolicy};
use serde_json::{json, Map, Value};

use super::{Deadline, Delivered, Sink, SinkError};
use crate::record::{LogRecord, Record};
use crate::settings::HecSettings;

pub(crate) struct HecSink {
    client: Client,
    endpoint: String,
    settings: HecSettings,
    channel: String,
    host: String,
    backoff: ExponentialBackoff,
}

enum Answer {
    Delivered,
    /// Worth another attempt.
    Busy(String),
    /// Event `index` (counted from the first event sent) is invalid.
    InvalidEvent { index: Option<usize>, answer: String },
    /// Not worth another attempt (bad token, wrong URL).
    Refused(String),
}

impl HecSink {
    pub fn new(settings: HecSettings) -> Result<HecSink, String> {
        let client = Client::builder().timeout(settings.timeout).build().map_err(|e| settings.token.redact(&format!("building the HTTP client for Splunk: {e}")))?;
        let backoff = ExponentialBackoff::builder()
            .retry_bounds(Duration::from_millis(100), Duration::from_secs(5))
            .jitter(Jitter::Bounded)
            .build_with_max_retries(settings.max_attempts.saturating_sub(1));
        Ok(HecSink {
            client,
            endpoint: settings.endpoint(),
            channel: settings.channel.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            host: hostname(),
            settings,
            backoff,
        })
    }

    fn event(&self, log: &LogRecord) -> Value {
        let mut event = Map::new();
        event.insert("message".into(), log.message.clone().into());
        event.insert("level".into(), log.level.description().into());
        event.insert("target".into(), log.target.as_ref().into());
        let mut optional = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                event.insert(key.into(), value);
            }
        };
        optional("module", log.module.as_deref().map(Value::from));
        optional("file", log.file.as_deref().map(Value::from));
        optional("line", log.line.map(Value::from));
        optional("function", log.function.as_deref().map(Value::from));
        optional("call_chain", log.call_chain.as_deref().map(Value::from));
        optional("app_id", log.context.app_id.as_deref().map(Value::from));
        optional("runtime", log.context.runtime.as_deref().map(Value::from));
        optional("instance_id", log.context.instance_id.map(Value::from));
        if !log.fields.is_empty() {
            event.insert("fields".into(), Value::Object(log.fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()));
        }
        let mut envelope = json!({
            "time": log.time.timestamp_micros() as f64 / 1e6,
            "host": self.host,
            "sourcetype": self.settings.sourcetype.as_deref().unwrap_or("_json"),
            "event": event,
        });
        if let Some(source) = &self.settings.source {
            envelope["source"] = source.as_str().into();
        }
        if let Some(index) = &self.settings.index {
            envelope["index"] = index.as_str().into();
        }
        envelope
    }

    fn post(&self, body: Vec<u8>) -> Answer {
        let response = self
            .client
            .post(&self.endpoint)
            .header("Authorization", format!("Splunk {}", self.settings.token.expose()))
            .header("X-Splunk-Request-Channel", &self.channel)
            .header("Content-Type", "application/json")
            .body(body)
            .send();
        let response = match response {
            Ok(response) => response,
            // Timeouts, refused and reset connections: try again.
            Err(error) => return Answer::Busy(self.settings.token.redact(&format!("sending to Splunk at {}: {error}", self.endpoint))),
        };
        let status = response.status();
        let text = self.settings.token.redact(&response.text().unwrap_or_default());
        let answer = format!("Splunk answered {status}: {}", text.trim());
        match status.as_u16() {
            200..=299 => Answer::Delivered,
            400 => {
                let index = serde_json::from_str::<Value>(&text).ok().and_then(|v| v.get("invalid-event-number").and_then(Value::as_u64)).map(|n| n as usize);
                Answer::InvalidEvent { index, answer }
            }
            429 | 500..=599 => Answer::Busy(answer),
            _ => Answer::Refused(answer),
        }
    }
}

impl Sink for HecSink {
    fn destination(&self) -> String {
        hec_destination(&self.endpoint)
    }

    fn name(&self) -> &'static str {
        "splunk"
    }

    fn deliver(&mut self, batch: &[Arc<Record>], deadline: &Deadline) -> Result<Delivered, SinkError> {
        let events: Vec<Vec<u8>> = batch
            .iter()
            .map(|record| match &**record {
                Record::Log(log) => serde_json::to_vec(&self.event(log)).unwrap_or_default(),
                _ => Vec::new(),
            })
            .collect();
        let mut delivered = Delivered::default();
        let mut first = 0;
        let mut retries = 0;
        let started = SystemTime::now();
        while first < batch.len() {
            let body: Vec<u8> = events[first..].iter().filter(|e| !e.is_empty()).flat_map(|e| e.iter().copied().chain(std::iter::once(b'\n'))).collect();
            if body.is_empty() {
                break;
            }
            match self.post(body) {
                Answer::Delivered => return Ok(delivered),
                Answer::InvalidEvent { index: Some(index), answer } if first + index < batch.len() => {
                    delivered.rejected.push((first + index, answer));
                    first += index + 1;
                }
                Answer::InvalidEvent { answer, .. } => {
                    delivered.rejected.extend((first..batch.len()).map(|i| (i, answer.clone())));
                    return Ok(delivered);
                }
                Answer::Refused(answer) => return Err(SinkError { message: answer, done: first }),
                Answer::Busy(answer) => {
                    let RetryDecision::Retry { execute_after } = self.backoff.should_retry(started, retries) else {
                        return Err(SinkError { message: format!("{answer} (gave up after {} attempts)", retries + 1), done: first });
                    };
                    let wait = execute_after.duration_since(SystemTime::now()).unwrap_or_default();
                    if deadline.get().is_some_and(|d| Instant::now() + wait >= d) {
                        return Err(SinkError { message: format!("{answer} (no time left to retry before the shutdown deadline)"), done: first });
                    }
                    std::thread::sleep(wait);
                    retries += 1;
                }
            }
        }
        Ok(delivered)
    }
}

fn hostname() -> String {
    let mut buffer = [0_u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it.
    let ok = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } == 0;
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(0);
    if ok {
        String::from_utf8_lossy(&buffer[..end]).into_owned()
    } else {
        "localhost".into()
    }
}

/// The endpoint as scheme, host, port and path: no user-info, query or fragment (the token travels in a header, never here).
fn hec_destination(endpoint: &str) -> String {
    match url::Url::parse(endpoint) {
        Ok(url) => format!("{}://{}:{}{}", url.scheme(), url.host_str().unwrap_or(""), url.port_or_known_default().unwrap_or(0), url.path()),
        Err(_) => endpoint.split(['?', '#']).next().unwrap_or("").to_string(),
    }
}
