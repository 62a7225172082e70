//! HTTP for apps: a reqwest client with retries (reqwest-retry) that counts every attempt and its response time for the runtime row.
//!
//! [`client`] stacks two middlewares: `RetryTransientMiddleware` (jittered
//! exponential backoff on timeouts, connection errors, 5xx, 408 and 429)
//! outside, and [`Metrics`] inside it, so each attempt is one request in
//! the counts. At the end of the runtime, [`HttpMetrics::summary`] gives
//! `request_count`, `avg_response_ms`, `p95_response_ms` and `error_rate`
//! (percent of attempts with a transport error or a status ≥ 400).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use hdrhistogram::Histogram;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};
use reqwest_retry::policies::ExponentialBackoff;
use reqwest_retry::RetryTransientMiddleware;

use crate::record::HttpSummary;

/// Counts of the process's HTTP requests made through [`client`].
pub struct HttpMetrics {
    requests: AtomicU64,
    errors: AtomicU64,
    total_micros: AtomicU64,
    /// Response times in milliseconds, for the 95th percentile.
    histogram: Mutex<Histogram<u64>>,
}

impl HttpMetrics {
    fn new() -> HttpMetrics {
        HttpMetrics {
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            total_micros: AtomicU64::new(0),
            histogram: Mutex::new(Histogram::new(3).expect("3 significant figures is valid")),
        }
    }

    /// Records one request: how long it took and whether it failed.
    pub fn record(&self, elapsed: std::time::Duration, failed: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.total_micros.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        let millis = elapsed.as_millis() as u64;
        let _ = self.histogram.lock().unwrap_or_else(|p| p.into_inner()).record(millis);
    }

    /// The runtime row's HTTP columns; `None` when no request was made.
    pub fn summary(&self) -> Option<HttpSummary> {
        let requests = self.requests.load(Ordering::Relaxed);
        if requests == 0 {
            return None;
        }
        let errors = self.errors.load(Ordering::Relaxed);
        let p95 = self.histogram.lock().unwrap_or_else(|p| p.into_inner()).value_at_quantile(0.95);
        Some(HttpSummary {
            request_count: requests as i64,
            avg_response_ms: (self.total_micros.load(Ordering::Relaxed) / requests / 1000) as i64,
            p95_response_ms: p95 as i64,
            error_rate: errors as f64 * 100.0 / requests as f64,
        })
    }
}

/// The process's HTTP metrics (one runtime per process).
pub fn metrics() -> &'static HttpMetrics {
    static METRICS: OnceLock<HttpMetrics> = OnceLock::new();
    METRICS.get_or_init(HttpMetrics::new)
}

/// The counting middleware; [`client`] installs it.
pub struct Metrics;

#[async_trait::async_trait]
impl Middleware for Metrics {
    async fn handle(&self, req: reqwest::Request, extensions: &mut http::Extensions, next: Next<'_>) -> reqwest_middleware::Result<reqwest::Response> {
        let started = Instant::now();
        let result = next.run(req, extensions).await;
        let failed = match &result {
            Ok(response) => response.status().as_u16() >= 400,
            Err(_) => true,
        };
        metrics().record(started.elapsed(), failed);
        result
    }
}

/// A client that retries transient failures up to `max_retries` times and counts every attempt.
pub fn client(max_retries: u32) -> ClientWithMiddleware {
    client_from(reqwest::Client::new(), max_retries)
}

/// [`client`] around a reqwest client of your own (timeouts, headers, proxy).
pub fn client_from(inner: reqwest::Client, max_retries: u32) -> ClientWithMiddleware {
    let policy = ExponentialBackoff::builder().build_with_max_retries(max_retries);
    ClientBuilder::new(inner).with(RetryTransientMiddleware::new_with_policy(policy)).with(Metrics).build()
}
