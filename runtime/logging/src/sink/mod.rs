//! Sinks: where records go. Each runs on its own thread behind the router, batching, spilling and replaying on its own.

pub(crate) mod console;
pub(crate) mod database;
pub(crate) mod hec;

use std::sync::Arc;
use std::time::Instant;

use crate::record::Record;

/// What a sink did with a batch it took.
#[derive(Debug, Default)]
pub(crate) struct Delivered {
    /// Records the receiver refused for good (index in the batch, its answer):
    /// they go to the rejected file, never replayed.
    pub rejected: Vec<(usize, String)>,
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

pub(crate) trait Sink: Send {
    /// The sink's name, also its spill subdirectory.
    fn name(&self) -> &'static str;
    /// Delivers `batch` in order; all or nothing, apart from `rejected`.
    /// Retries inside stop at `deadline`.
    fn deliver(&mut self, batch: &[Arc<Record>], deadline: Option<Instant>) -> Result<Delivered, SinkError>;
}

/// Which records a sink takes.
pub(crate) type Accepts = fn(&Record) -> bool;

pub(crate) fn every_record(_: &Record) -> bool {
    true
}

pub(crate) fn log_records(record: &Record) -> bool {
    record.is_log()
}
