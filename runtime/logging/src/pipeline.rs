//! The road from an app thread to the sinks: a bounded queue, a router thread, one worker thread per sink, and shutdown.
//!
//! The no-loss rule, in one place:
//!
//! - an app thread pushes onto the bounded queue; when it is full it waits
//!   `queue_wait`, then writes the record to every sink's spill file itself;
//! - the router hands each record to the queue of every sink that takes it,
//!   waiting up to `queue_wait` on a full one; a sink whose queue stays full
//!   that long gets the record in its spill file instead, and further records
//!   too without waiting until its queue is half empty, so a stuck sink holds
//!   back the others once, not per record;
//! - a sink worker writes batches; a batch it cannot deliver goes to its
//!   spill file with the error, and while its spill file holds records it
//!   replays them first, so records reach the sink in order;
//! - shutdown stops taking records (later ones go straight to the spill
//!   file), drains queues and batches until the deadline, and spills the rest.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crossbeam_channel::{Receiver, SendTimeoutError, Sender, TryRecvError, TrySendError};
use dc_schema::enums::RuntimeExitCode;

use crate::pool::RecordPool;
use crate::record::{Context, Record, RuntimeEnded};
use crate::sink::{Accepts, Deadline, Replayed, Sink, SinkError};
use crate::spill::Spill;

thread_local! {
    /// Set on the pipeline's own threads: events raised there (by reqwest,
    /// say) are not logged, or a failing sink would log its own failure forever.
    static PIPELINE_THREAD: Cell<bool> = const { Cell::new(false) };
}

pub(crate) fn on_pipeline_thread() -> bool {
    PIPELINE_THREAD.with(Cell::get)
}

/// Marks a thread a pipeline thread starts (a sink's helper) as one of the pipeline's.
pub(crate) fn mark_pipeline_thread() {
    PIPELINE_THREAD.with(|flag| flag.set(true));
}

pub(crate) enum Msg {
    Record(Arc<Record>),
    Flush(Sender<()>),
    Shutdown(Instant, Sender<()>),
}

/// Counters of one sink.
#[derive(Default)]
pub(crate) struct SinkCounters {
    delivered: AtomicU64,
    spilled: AtomicU64,
    replayed: AtomicU64,
    rejected: AtomicU64,
    already: AtomicU64,
    last_error: Mutex<Option<String>>,
}

pub(crate) struct SinkHandle {
    name: &'static str,
    accepts: Accepts,
    tx: Sender<Msg>,
    spill: Arc<Spill>,
    counters: Arc<SinkCounters>,
}

/// What the pipeline has done so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Records the app handed over (every one of them is delivered or in a spill file).
    pub accepted: u64,
    /// Records an app thread wrote to the spill files itself (queue full, or after shutdown).
    pub overflowed: u64,
    pub sinks: Vec<SinkStats>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SinkStats {
    pub name: &'static str,
    /// Records the sink committed (replayed ones included).
    pub delivered: u64,
    /// Records written to the sink's spill file.
    pub spilled: u64,
    /// Records taken back from the spill file and delivered (the batch
    /// parked there at shutdown included).
    pub replayed: u64,
    /// Records the receiver refused for good (in the `rejected` file).
    pub rejected: u64,
    /// Replayed records the destination already held (committed by a process
    /// that died before it moved the spill file's offset), not written again.
    pub already_delivered: u64,
    /// Whether the spill file still holds records.
    pub backlog: bool,
    pub last_error: Option<String>,
}

impl Stats {
    /// Records in spill files, across sinks.
    pub fn spilled(&self) -> u64 {
        self.sinks.iter().map(|s| s.spilled).sum()
    }

    pub fn sink(&self, name: &str) -> Option<&SinkStats> {
        self.sinks.iter().find(|s| s.name == name)
    }
}

/// Tuning of the pipeline (from [`crate::LogSettings`]).
#[derive(Clone, Debug)]
pub(crate) struct PipelineOptions {
    pub queue_size: usize,
    pub queue_wait: Duration,
    pub batch_size: usize,
    pub flush_interval: Duration,
    pub shutdown_timeout: Duration,
}

/// What the layer and the guard share.
pub(crate) struct Shared {
    tx: Sender<Msg>,
    pub context: Arc<Context>,
    /// Log records the app threads fill in and the sink workers give back.
    pub pool: Arc<RecordPool>,
    options: PipelineOptions,
    sinks: Vec<SinkHandle>,
    accepted: AtomicU64,
    overflowed: AtomicU64,
    /// ERROR events: the runtime row's `except_cnt`.
    pub errors: AtomicU64,
    /// Set when shutdown begins; records after it go to the spill file.
    closed: AtomicBool,
    /// Submissions under way; shutdown waits for them after `closed` is set.
    in_flight: AtomicU64,
    shutdown_done: Mutex<bool>,
    pub started: DateTime<Utc>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Database objects already recorded by this process.
    pub db_objects_seen: Mutex<std::collections::HashSet<String>>,
    /// Console output flushed at shutdown.
    pub console: Option<crate::sink::console::Console>,
    /// Set when shutdown begins; workers stop delivering and replaying at it,
    /// whatever they are doing, so no record is held only in memory then.
    shutdown_deadline: Arc<OnceLock<Instant>>,
}

/// A sink with how to route to it.
pub(crate) struct SinkSetup {
    pub sink: Box<dyn Sink>,
    pub accepts: Accepts,
    pub spill: Arc<Spill>,
}

impl Shared {
    /// Starts the router and one worker per sink.
    pub fn start(context: Arc<Context>, options: PipelineOptions, sinks: Vec<SinkSetup>, console: Option<crate::sink::console::Console>, started: DateTime<Utc>) -> Arc<Shared> {
        let shutdown_deadline = Arc::new(OnceLock::new());
        // As many records as the queue holds: a burst that fills it takes no fresh memory.
        let pool = Arc::new(RecordPool::prefilled(options.queue_size, &context));
        let mut threads = Vec::new();
        let mut handles = Vec::new();
        for setup in sinks {
            let (sink_tx, sink_rx) = crossbeam_channel::bounded(options.queue_size);
            let counters = Arc::new(SinkCounters::default());
            let name = setup.sink.name();
            handles.push(SinkHandle { name, accepts: setup.accepts, tx: sink_tx, spill: setup.spill.clone(), counters: counters.clone() });
            let worker = Worker::new(setup, sink_rx, counters, &options, shutdown_deadline.clone(), pool.clone());
            threads.push(std::thread::Builder::new().name(format!("dc-log-{name}")).spawn(move || worker.run()).expect("spawn a logging thread"));
        }
        // One sink: the app threads feed its queue directly (its worker skips
        // what it does not take); a router would only add a thread and a hop.
        let tx = match handles.as_slice() {
            [only] => only.tx.clone(),
            _ => {
                let (tx, rx) = crossbeam_channel::bounded(options.queue_size);
                let routes: Vec<Route> = handles.iter().map(|h| Route { accepts: h.accepts, tx: h.tx.clone(), spill: h.spill.clone(), counters: h.counters.clone(), overflowing: false }).collect();
                let queue_wait = options.queue_wait;
                threads.push(std::thread::Builder::new().name("dc-log-router".into()).spawn(move || route(rx, routes, queue_wait)).expect("spawn the logging router"));
                tx
            }
        };
        Arc::new(Shared {
            tx,
            context,
            pool,
            options,
            sinks: handles,
            accepted: AtomicU64::new(0),
            overflowed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            in_flight: AtomicU64::new(0),
            shutdown_done: Mutex::new(false),
            started,
            threads: Mutex::new(threads),
            db_objects_seen: Mutex::new(Default::default()),
            console,
            shutdown_deadline,
        })
    }

    /// Hands a record to the pipeline. Never blocks while the queue has
    /// room; when it is full, waits `queue_wait` and then spills.
    pub fn submit(&self, record: Record) {
        self.submit_shared(Arc::new(record));
    }

    /// [`submit`](Shared::submit) of a record already in its `Arc` (one from the pool).
    pub fn submit_shared(&self, record: Arc<Record>) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.accepted.fetch_add(1, Ordering::Relaxed);
        if self.closed.load(Ordering::SeqCst) {
            self.overflow(record, "logging had shut down when this record was written", true);
        } else {
            match self.tx.try_send(Msg::Record(record)) {
                Ok(()) => {}
                Err(TrySendError::Full(msg)) => match self.tx.send_timeout(msg, self.options.queue_wait) {
                    Ok(()) => {}
                    Err(SendTimeoutError::Timeout(Msg::Record(record))) => {
                        self.overflow(record, &format!("the logging queue ({} records) stayed full for {} ms", self.options.queue_size, self.options.queue_wait.as_millis()), false)
                    }
                    Err(SendTimeoutError::Disconnected(Msg::Record(record))) => self.overflow(record, "the logging router has stopped", true),
                    Err(_) => unreachable!("only records are submitted"),
                },
                Err(TrySendError::Disconnected(Msg::Record(record))) => self.overflow(record, "the logging router has stopped", true),
                Err(_) => unreachable!("only records are submitted"),
            }
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    /// Writes a record the queue could not take to the spill file of every sink that takes it.
    fn overflow(&self, record: Arc<Record>, reason: &str, sync: bool) {
        self.overflowed.fetch_add(1, Ordering::Relaxed);
        for sink in self.sinks.iter().filter(|s| (s.accepts)(&record)) {
            spill_or_report(&sink.spill, &sink.counters, std::slice::from_ref(&record), reason, sync);
        }
        self.pool.give_back(record);
    }

    /// Waits until every sink has written what it held (or spilled it), at most `timeout`.
    pub fn flush(&self, timeout: Duration) -> bool {
        if self.closed.load(Ordering::SeqCst) {
            return true;
        }
        let deadline = Instant::now() + timeout;
        let (ack_tx, ack_rx) = crossbeam_channel::bounded(self.sinks.len().max(1));
        if self.tx.send_timeout(Msg::Flush(ack_tx), timeout).is_err() {
            return false;
        }
        let acked = (0..self.sinks.len()).all(|_| ack_rx.recv_deadline(deadline).is_ok());
        if let Some(console) = &self.console {
            console.flush(deadline);
        }
        acked
    }

    /// Ends the runtime row (when there is one), drains every queue within
    /// the shutdown timeout, and spills what is left. Runs once; later calls
    /// wait for the first and return.
    pub fn shutdown(&self, exit_code: Option<RuntimeExitCode>) {
        let mut done = self.shutdown_done.lock().unwrap_or_else(|p| p.into_inner());
        if *done {
            return;
        }
        *done = true;
        if let Some(runtime) = &self.context.runtime {
            self.submit(Record::RuntimeEnded(RuntimeEnded {
                context: self.context.clone(),
                runtime: runtime.clone(),
                start: self.started,
                end: Utc::now(),
                except_cnt: self.errors.load(Ordering::Relaxed) as i64,
                exit_code,
                http: crate::http::metrics().summary(),
            }));
        }
        let deadline = *self.shutdown_deadline.get_or_init(|| Instant::now() + self.options.shutdown_timeout);
        self.closed.store(true, Ordering::SeqCst);
        // Submissions that saw `closed` unset are in the queue once they finish.
        while self.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::yield_now();
        }
        let (ack_tx, ack_rx) = crossbeam_channel::bounded(self.sinks.len().max(1));
        // Workers get the deadline; the grace covers a write that was under way when it passed.
        let grace = Duration::from_secs(2);
        if self.tx.send_deadline(Msg::Shutdown(deadline, ack_tx), deadline + grace).is_ok() {
            for _ in 0..self.sinks.len() {
                if ack_rx.recv_deadline(deadline + grace).is_err() {
                    eprintln!("dc-logging: a sink did not finish within the shutdown timeout ({} ms)", self.options.shutdown_timeout.as_millis());
                    break;
                }
            }
        }
        // The threads end right after their acks; waiting for them releases
        // the spill files' locks before the guard returns.
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        while threads.iter().any(|t| !t.is_finished()) && Instant::now() < deadline + grace {
            std::thread::sleep(Duration::from_millis(1));
        }
        for thread in threads.into_iter().filter(|t| t.is_finished()) {
            let _ = thread.join();
        }
        if let Some(console) = &self.console {
            console.flush(deadline + grace);
        }
    }

    pub fn stats(&self) -> Stats {
        Stats {
            accepted: self.accepted.load(Ordering::Relaxed),
            overflowed: self.overflowed.load(Ordering::Relaxed),
            sinks: self
                .sinks
                .iter()
                .map(|s| SinkStats {
                    name: s.name,
                    delivered: s.counters.delivered.load(Ordering::Relaxed),
                    spilled: s.counters.spilled.load(Ordering::Relaxed),
                    replayed: s.counters.replayed.load(Ordering::Relaxed),
                    rejected: s.counters.rejected.load(Ordering::Relaxed),
                    already_delivered: s.counters.already.load(Ordering::Relaxed),
                    backlog: s.spill.has_backlog(),
                    last_error: s.counters.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
                })
                .collect(),
        }
    }
}

fn spill_or_report(spill: &Spill, counters: &SinkCounters, records: &[Arc<Record>], reason: &str, sync: bool) {
    match spill.append(records, reason, sync) {
        Ok(()) => {
            counters.spilled.fetch_add(records.len() as u64, Ordering::Relaxed);
        }
        // The last resort: the records on stderr, so they are still somewhere.
        Err(error) => {
            eprintln!("dc-logging: could not write the spill file ({error}); the {} record(s) follow:", records.len());
            for record in records {
                eprintln!("{}", serde_json::to_string(record).unwrap_or_default());
            }
        }
    }
}

struct Route {
    accepts: Accepts,
    tx: Sender<Msg>,
    spill: Arc<Spill>,
    counters: Arc<SinkCounters>,
    /// The sink's queue stayed full for `queue_wait`: records go to its
    /// spill file without waiting until the queue is half empty again.
    overflowing: bool,
}

impl Route {
    /// Hands `record` to the sink: waits up to `wait` on a full queue (so a
    /// sink that is only slower than the app slows the app, as the bounded
    /// queue promises), but not while the sink is known to be stuck.
    fn send(&mut self, record: Arc<Record>, wait: Duration) {
        if self.overflowing && self.tx.len() <= self.tx.capacity().unwrap_or(0) / 2 {
            self.overflowing = false;
        }
        let refused = if self.overflowing {
            match self.tx.try_send(Msg::Record(record)) {
                Ok(()) => None,
                Err(TrySendError::Full(msg) | TrySendError::Disconnected(msg)) => Some(msg),
            }
        } else {
            match self.tx.send_timeout(Msg::Record(record), wait) {
                Ok(()) => None,
                Err(SendTimeoutError::Timeout(msg) | SendTimeoutError::Disconnected(msg)) => Some(msg),
            }
        };
        if let Some(Msg::Record(record)) = refused {
            self.overflowing = true;
            spill_or_report(&self.spill, &self.counters, &[record], "the sink's queue stayed full", false);
        }
    }
}

/// Polls rather than blocks while the queue is empty: a receiver parked in
/// `recv` makes every send a futex wake-up on the app thread, a syscall per
/// event; a poller that sleeps a little (1 ms, growing to `IDLE_POLL_MAX` when
/// nothing comes) costs the app thread nothing and keeps flush and shutdown
/// answers within that bound.
const IDLE_POLL_MIN: Duration = Duration::from_millis(1);
const IDLE_POLL_MAX: Duration = Duration::from_millis(20);

/// The next message, or `None` after sleeping (at most until `until`) when none waits;
/// `Err` once every sender is gone and the queue is empty.
fn poll(rx: &Receiver<Msg>, idle: &mut Duration, until: Option<Instant>) -> Result<Option<Msg>, ()> {
    match rx.try_recv() {
        Ok(msg) => {
            *idle = IDLE_POLL_MIN;
            Ok(Some(msg))
        }
        Err(TryRecvError::Disconnected) => Err(()),
        Err(TryRecvError::Empty) => {
            let nap = match until {
                Some(until) => (*idle).min(until.saturating_duration_since(Instant::now())),
                None => *idle,
            };
            std::thread::sleep(nap);
            *idle = (*idle * 2).min(IDLE_POLL_MAX);
            Ok(None)
        }
    }
}

fn route(rx: Receiver<Msg>, mut routes: Vec<Route>, queue_wait: Duration) {
    PIPELINE_THREAD.with(|flag| flag.set(true));
    let mut idle = IDLE_POLL_MIN;
    while let Ok(next) = poll(&rx, &mut idle, None) {
        let Some(msg) = next else {
            continue;
        };
        match msg {
            Msg::Record(record) => {
                for route in routes.iter_mut().filter(|r| (r.accepts)(&record)) {
                    route.send(record.clone(), queue_wait);
                }
            }
            Msg::Flush(ack) => {
                for route in &routes {
                    let _ = route.tx.send(Msg::Flush(ack.clone()));
                }
            }
            Msg::Shutdown(deadline, ack) => {
                for route in &routes {
                    let _ = route.tx.send(Msg::Shutdown(deadline, ack.clone()));
                }
                return;
            }
        }
    }
}

/// First wait after a failed delivery; doubled per failure up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Records per replayed chunk at least: each chunk costs a commit and an fsync'd offset.
const REPLAY_CHUNK: usize = 2000;

struct Worker {
    sink: Box<dyn Sink>,
    /// Records the sink takes (without a router in front, the rest arrive too).
    accepts: Accepts,
    rx: Receiver<Msg>,
    spill: Arc<Spill>,
    counters: Arc<SinkCounters>,
    batch_size: usize,
    flush_interval: Duration,
    /// After a failure, batches go straight to the spill file until then.
    retry_at: Option<Instant>,
    backoff: Duration,
    last_error: String,
    reported_spilled: u64,
    shutdown_deadline: Arc<OnceLock<Instant>>,
    /// Where delivered and spilled log records go back for reuse.
    pool: Arc<RecordPool>,
}

impl Worker {
    fn new(setup: SinkSetup, rx: Receiver<Msg>, counters: Arc<SinkCounters>, options: &PipelineOptions, shutdown_deadline: Arc<OnceLock<Instant>>, pool: Arc<RecordPool>) -> Worker {
        let SinkSetup { sink, accepts, spill } = setup;
        Worker {
            sink,
            accepts,
            rx,
            spill,
            counters,
            batch_size: options.batch_size,
            flush_interval: options.flush_interval,
            retry_at: None,
            backoff: FIRST_BACKOFF,
            last_error: String::new(),
            reported_spilled: 0,
            shutdown_deadline,
            pool,
        }
    }

    /// `given`, or the shutdown deadline once shutdown has begun, whichever comes first.
    fn deadline(&self, given: Option<Instant>) -> Deadline {
        Deadline { given, shutdown: self.shutdown_deadline.clone() }
    }

    fn run(mut self) {
        PIPELINE_THREAD.with(|flag| flag.set(true));
        let mut batch: Vec<Arc<Record>> = Vec::with_capacity(self.batch_size);
        let mut next_flush = Instant::now() + self.flush_interval;
        let mut idle = IDLE_POLL_MIN;
        loop {
            match poll(&self.rx, &mut idle, Some(next_flush)) {
                Ok(Some(Msg::Record(record))) => {
                    if !(self.accepts)(&record) {
                        self.pool.give_back(record);
                        continue;
                    }
                    batch.push(record);
                    if batch.len() >= self.batch_size {
                        self.flush(&mut batch, None);
                        next_flush = Instant::now() + self.flush_interval;
                    }
                }
                Ok(Some(Msg::Flush(ack))) => {
                    // An explicit flush tries the sink even during a backoff.
                    self.retry_at = None;
                    self.flush(&mut batch, None);
                    let _ = ack.send(());
                }
                Ok(Some(Msg::Shutdown(deadline, ack))) => {
                    while let Ok(msg) = self.rx.try_recv() {
                        match msg {
                            Msg::Record(record) if (self.accepts)(&record) => batch.push(record),
                            Msg::Record(_) => {}
                            Msg::Flush(ack) => drop(ack.send(())),
                            Msg::Shutdown(..) => {}
                        }
                    }
                    self.shutdown(&mut batch, deadline);
                    let _ = ack.send(());
                    return;
                }
                Ok(None) => {
                    if Instant::now() >= next_flush {
                        self.flush(&mut batch, None);
                        next_flush = Instant::now() + self.flush_interval;
                    }
                }
                Err(()) => {
                    self.flush(&mut batch, Some(Instant::now() + Duration::from_secs(5)));
                    return;
                }
            }
        }
    }

    /// At shutdown the batch is parked in the spill file first (fsync'd),
    /// then the spill file is replayed until the deadline. Whatever happens
    /// after that (the process exits mid-write, say), every record is in
    /// the spill file until the sink committed it.
    fn shutdown(&mut self, batch: &mut Vec<Arc<Record>>, deadline: Instant) {
        self.spill.sync();
        if !batch.is_empty() {
            let reason = match self.last_error.as_str() {
                "" => "parked at shutdown, before delivery".to_string(),
                last => format!("parked at shutdown, before delivery; the sink's last error: {last}"),
            };
            if let Err(error) = self.spill.append(batch, &reason, true).map(|()| self.counters.spilled.fetch_add(batch.len() as u64, Ordering::Relaxed)) {
                // Cannot park it: deliver straight away, spilling what fails.
                eprintln!("dc-logging: {}: {error}", self.sink.name());
                self.retry_at = None;
                self.flush(batch, Some(deadline));
                return;
            }
            batch.clear();
        }
        self.retry_at = None;
        if let Err(error) = self.replay(Some(deadline)) {
            self.failed(&error);
            eprintln!(
                "dc-logging: {}: records left in {} for the next start ({})",
                self.sink.name(),
                self.spill.dir().display(),
                error.message
            );
        }
        self.report_spilled();
    }

    /// Writes `batch` (emptying it): the spill backlog first, then the batch
    /// in chunks; what cannot be written goes to the spill file.
    fn flush(&mut self, batch: &mut Vec<Arc<Record>>, deadline: Option<Instant>) {
        self.spill.sync();
        if batch.is_empty() && !self.spill.has_backlog() {
            return;
        }
        if self.retry_at.is_some_and(|at| Instant::now() < at) {
            // Still waiting after a failure: straight to the spill file.
            spill_or_report(&self.spill, &self.counters, batch, &self.last_error, true);
            self.pool.give_back_all(batch.drain(..));
        } else {
            if !batch.is_empty() && self.spill.has_backlog() {
                // Behind the backlog, in order, and on disk while the backlog replays.
                spill_or_report(&self.spill, &self.counters, batch, "queued behind records waiting in the spill file", true);
                self.pool.give_back_all(batch.drain(..));
            }
            if let Err(error) = self.write(batch, deadline) {
                self.failed(&error);
                spill_or_report(&self.spill, &self.counters, batch, &error.message, true);
                self.pool.give_back_all(batch.drain(..));
            }
        }
        self.report_spilled();
    }

    fn write(&mut self, batch: &mut Vec<Arc<Record>>, deadline: Option<Instant>) -> Result<(), SinkError> {
        self.replay(deadline)?;
        while !batch.is_empty() {
            let deadline = self.deadline(deadline);
            if deadline.get().is_some_and(|d| Instant::now() >= d) {
                return Err(SinkError::new(format!("shutdown deadline passed before delivery (last error: {})", self.last_error_or_none())));
            }
            let take = batch.len().min(self.batch_size);
            let delivered = match self.sink.deliver(&batch[..take], &deadline) {
                Ok(delivered) => delivered,
                Err(error) => {
                    self.counters.delivered.fetch_add(error.done as u64, Ordering::Relaxed);
                    self.pool.give_back_all(batch.drain(..error.done.min(take)));
                    return Err(error);
                }
            };
            self.succeeded();
            self.reject(&batch[..take], &delivered.rejected);
            self.counters.delivered.fetch_add((take - delivered.rejected.len()) as u64, Ordering::Relaxed);
            self.pool.give_back_all(batch.drain(..take));
        }
        Ok(())
    }

    /// Delivers what the spill files hold, oldest first, committing chunk by chunk.
    fn replay(&mut self, deadline: Option<Instant>) -> Result<(), SinkError> {
        loop {
            let deadline = self.deadline(deadline);
            if deadline.get().is_some_and(|d| Instant::now() >= d) {
                return Err(SinkError::new("shutdown deadline passed while replaying the spill file"));
            }
            let sink_name = self.sink.name();
            let chunk = self
                .spill
                .next_chunk(self.batch_size.max(REPLAY_CHUNK), &mut |path, line| eprintln!("dc-logging: {sink_name}: skipping an unreadable line of {}: {line}", path.display()))
                .map_err(SinkError::new)?;
            let Some(chunk) = chunk else {
                return Ok(());
            };
            let count = chunk.records.len() as u64;
            let replayed = Replayed { records: &chunk.records, file_id: &chunk.file_id, ends: &chunk.ends, end: chunk.end };
            let delivered = match self.sink.deliver_replayed(&replayed, &deadline) {
                Ok(delivered) => delivered,
                Err(error) => {
                    if error.done > 0 {
                        let done = error.done as u64;
                        self.spill.committed(chunk, error.done).map_err(SinkError::new)?;
                        self.counters.replayed.fetch_add(done, Ordering::Relaxed);
                        self.counters.delivered.fetch_add(done, Ordering::Relaxed);
                    }
                    return Err(error);
                }
            };
            failpoint("replay-committed");
            self.succeeded();
            self.reject(&chunk.records, &delivered.rejected);
            let all = chunk.records.len();
            self.spill.committed(chunk, all).map_err(SinkError::new)?;
            let written = count - delivered.already as u64;
            self.counters.replayed.fetch_add(written, Ordering::Relaxed);
            self.counters.already.fetch_add(delivered.already as u64, Ordering::Relaxed);
            self.counters.delivered.fetch_add(written - delivered.rejected.len() as u64, Ordering::Relaxed);
        }
    }

    fn reject(&self, records: &[Arc<Record>], rejected: &[(usize, String)]) {
        if rejected.is_empty() {
            return;
        }
        let lines: Vec<(Arc<Record>, String)> = rejected.iter().map(|(index, answer)| (records[*index].clone(), answer.clone())).collect();
        if let Err(error) = self.spill.reject(&lines) {
            eprintln!("dc-logging: {}: {error}", self.sink.name());
        }
        self.counters.rejected.fetch_add(rejected.len() as u64, Ordering::Relaxed);
        eprintln!("dc-logging: {}: {} record(s) refused by the receiver, kept in {}/rejected: {}", self.sink.name(), rejected.len(), self.spill.dir().display(), rejected[0].1);
    }

    fn failed(&mut self, error: &SinkError) {
        self.retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        if self.last_error != error.message {
            self.last_error = error.message.clone();
        }
        *self.counters.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error.message.clone());
    }

    fn succeeded(&mut self) {
        self.retry_at = None;
        self.backoff = FIRST_BACKOFF;
        if !self.last_error.is_empty() {
            self.last_error.clear();
            *self.counters.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    fn last_error_or_none(&self) -> &str {
        if self.last_error.is_empty() {
            "none"
        } else {
            &self.last_error
        }
    }

    /// The spilled-records counter, logged once per flush when it moved.
    fn report_spilled(&mut self) {
        let spilled = self.counters.spilled.load(Ordering::Relaxed);
        if spilled != self.reported_spilled {
            self.reported_spilled = spilled;
            eprintln!(
                "dc-logging: {}: {spilled} record(s) spilled to {} so far (replayed: {}); last error: {}",
                self.sink.name(),
                self.spill.dir().display(),
                self.counters.replayed.load(Ordering::Relaxed),
                self.last_error_or_none()
            );
        }
    }
}

/// `DC_LOG_TEST_FAILPOINT=<name>`: the process kills itself with SIGKILL
/// when it reaches that point (for the crash tests: `replay-committed` is
/// just after a replayed chunk committed, before the spill file's offset
/// moved). Unset in any real deployment; read once.
fn failpoint(name: &str) {
    static FAILPOINT: OnceLock<Option<String>> = OnceLock::new();
    if FAILPOINT.get_or_init(|| std::env::var("DC_LOG_TEST_FAILPOINT").ok()).as_deref() == Some(name) {
        eprintln!("dc-logging: failpoint {name}: SIGKILL");
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
}
