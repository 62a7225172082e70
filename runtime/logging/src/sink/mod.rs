//! Sinks: where records go. Each runs on its own thread behind the router, batching, spilling and replaying on its own.

pub(crate) mod console;
pub(crate) mod copy;
pub(crate) mod database;
pub(crate) mod hec;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::record::Record;

/// What a sink did with a batch it took.
#[derive(Debug, Default)]
pub(crate) struct Delivered {
    /// Records the receiver refused for good (index in the batch, its answer):
    /// they go to the rejected file, never replayed.
    pub rejected: Vec<(usize, String)>,
    /// Replayed records the destination already held (committed with their
    /// replay position by a process that died before it moved the file's
    /// offset): not written again.
    pub already: usize,
}

/// A chunk of a spill file being replayed: its records and where each ends in the file.
pub(crate) struct Replayed<'a> {
    pub records: &'a [Arc<Record>],
    /// The spill file's id (its header line).
    pub file_id: &'a str,
    /// Offset in the file just past each record's line.
    pub ends: &'a [u64],
    /// Offset past the chunk (unreadable lines after the last record included).
    pub end: u64,
}

/// A batch the sink could not deliver; its records go to the spill file with `message`.
#[derive(Debug)]
pub(crate) struct SinkError {
    pub message: String,
    /// How many leading records of the batch were delivered before the failure.
    pub done: usize,
}

impl SinkError {
    pub fn new(message: impl Into<String>) -> SinkError {
        SinkError { message: message.into(), done: 0 }
    }
}

/// When a sink must stop retrying: a given moment, or the shutdown
/// deadline once shutdown has begun (read on every check, so a retry loop
/// that started before shutdown still stops in time).
#[derive(Clone)]
pub(crate) struct Deadline {
    pub given: Option<Instant>,
    pub shutdown: Arc<OnceLock<Instant>>,
}

impl Deadline {
    pub fn get(&self) -> Option<Instant> {
        match (self.given, self.shutdown.get().copied()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

pub(crate) trait Sink: Send {
    /// The sink's name, also its spill subdirectory.
    fn name(&self) -> &'static str;
    /// Delivers `batch` in order; all or nothing, apart from `rejected`.
    /// Retries inside stop at `deadline`.
    fn deliver(&mut self, batch: &[Arc<Record>], deadline: &Deadline) -> Result<Delivered, SinkError>;
    /// Where the records go, without secrets (`postgresql://host:port/db`, the
    /// HEC endpoint): written in each spill file so its records are replayed
    /// into this destination only.
    fn destination(&self) -> String;
    /// Delivers a replayed chunk. A sink that can commit the replay position
    /// with the records (the database) does, and skips what an earlier
    /// process committed: exactly once across a crash. Others deliver it as a batch.
    fn deliver_replayed(&mut self, chunk: &Replayed<'_>, deadline: &Deadline) -> Result<Delivered, SinkError> {
        self.deliver(chunk.records, deadline)
    }
}

/// Which records a sink takes.
pub(crate) type Accepts = fn(&Record) -> bool;

pub(crate) fn every_record(_: &Record) -> bool {
    true
}

pub(crate) fn log_records(record: &Record) -> bool {
    record.is_log()
}
