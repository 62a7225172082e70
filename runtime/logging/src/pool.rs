//! Log records reused between the app threads and the sink workers, allocated (and their memory touched) when logging starts.
//!
//! Why: a burst of events outruns the database sink, so every record of the
//! burst is alive at once. Built from fresh heap memory, each new page of
//! them is a minor page fault (about a microsecond, in the kernel) taken
//! inside some `info!` on the app thread — in the bench, 17 of every 100
//! calls, which was the app thread's whole p99. So the pool holds as many
//! records as the queue does, made up front: the app thread takes one, fills
//! it in place (the message and string fields reuse their buffers), and the
//! sink worker gives it back once it has delivered or spilled it. In steady
//! state the app thread allocates nothing new; when the pool is empty (the
//! records are still in some queue or batch) it allocates a record as before.
//!
//! A record goes back only when the worker holds the last reference to it
//! (`Arc::get_mut`); one another sink still holds simply is not reused.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use crossbeam_channel::{Receiver, Sender};
use dc_schema::enums::LogLevel;

use crate::record::{Context, LogRecord, Record};

/// Records a pool holds at most, whatever the queue size: ~120 MB up front (~0.9 KB each).
/// A larger queue (`DC_LOG_QUEUE_SIZE`) still works; its records beyond this
/// are allocated as they come.
const POOL_MAX: usize = 131_072;
/// Message bytes a pooled record has room for before it grows.
const MESSAGE_CAPACITY: usize = 96;
/// Fields a pooled record has room for, each with a string buffer of `FIELD_TEXT_CAPACITY`.
const FIELDS_CAPACITY: usize = 4;
const FIELD_TEXT_CAPACITY: usize = 24;

pub(crate) struct RecordPool {
    give: Sender<Arc<Record>>,
    take: Receiver<Arc<Record>>,
}

impl RecordPool {
    /// A pool of `size` log records (at most [`POOL_MAX`]), all allocated now.
    pub fn prefilled(size: usize, context: &Arc<Context>) -> RecordPool {
        let size = size.min(POOL_MAX);
        let (give, take) = crossbeam_channel::bounded(size.max(1));
        for _ in 0..size {
            let _ = give.try_send(Arc::new(Record::Log(blank(context))));
        }
        RecordPool { give, take }
    }

    /// A record only the caller holds, to fill in; `None` when the pool is empty.
    pub fn take(&self) -> Option<Arc<Record>> {
        self.take.try_recv().ok()
    }

    /// Keeps `record` for reuse when nobody else holds it and the pool has room; drops it otherwise.
    pub fn give_back(&self, mut record: Arc<Record>) {
        if Arc::get_mut(&mut record).is_some_and(|record| record.is_log()) {
            let _ = self.give.try_send(record);
        }
    }

    pub fn give_back_all(&self, records: impl IntoIterator<Item = Arc<Record>>) {
        for record in records {
            self.give_back(record);
        }
    }
}

/// A log record for when the pool is empty: allocated as the event needs.
pub(crate) fn unpooled(context: &Arc<Context>) -> Arc<Record> {
    Arc::new(Record::Log(empty(context, String::new(), Vec::new())))
}

/// The log record inside a record from [`RecordPool::take`] or [`unpooled`], to fill in.
pub(crate) fn log_mut(record: &mut Arc<Record>) -> &mut LogRecord {
    match Arc::get_mut(record) {
        Some(Record::Log(log)) => log,
        // `give_back` keeps only log records nobody else holds, and the pool hands each out once.
        _ => unreachable!("a record from the pool is a log record only its taker holds"),
    }
}

/// An empty log record with its buffers allocated (and, being written by the
/// allocator, touched): the fields hold spare string buffers that the next
/// event's string fields write into.
fn blank(context: &Arc<Context>) -> LogRecord {
    let mut fields = Vec::with_capacity(FIELDS_CAPACITY);
    fields.extend((0..FIELDS_CAPACITY).map(|_| (Cow::Borrowed(""), serde_json::Value::String(String::with_capacity(FIELD_TEXT_CAPACITY)))));
    empty(context, String::with_capacity(MESSAGE_CAPACITY), fields)
}

/// A log record with nothing in it yet but `context` and the given (empty) buffers.
fn empty(context: &Arc<Context>, message: String, fields: Vec<(Cow<'static, str>, serde_json::Value)>) -> LogRecord {
    LogRecord {
        context: context.clone(),
        time: DateTime::<Utc>::UNIX_EPOCH,
        level: LogLevel::Info,
        target: Cow::Borrowed(""),
        module: None,
        file: None,
        line: None,
        function: None,
        call_chain: None,
        message,
        fields,
    }
}

/// Writes an event's fields over a reused record's, keeping the string
/// buffers where a string field lands on a string field; [`FieldWriter::finish`]
/// drops what is left of the old ones.
pub(crate) struct FieldWriter<'a> {
    fields: &'a mut Vec<(Cow<'static, str>, serde_json::Value)>,
    used: usize,
}

impl<'a> FieldWriter<'a> {
    pub fn new(fields: &'a mut Vec<(Cow<'static, str>, serde_json::Value)>) -> FieldWriter<'a> {
        FieldWriter { fields, used: 0 }
    }

    pub fn value(&mut self, name: &'static str, value: serde_json::Value) {
        match self.fields.get_mut(self.used) {
            Some(slot) => *slot = (Cow::Borrowed(name), value),
            None => self.fields.push((Cow::Borrowed(name), value)),
        }
        self.used += 1;
    }

    /// A string field, written by `write` into a reused buffer when there is one.
    pub fn text(&mut self, name: &'static str, write: impl FnOnce(&mut String)) {
        match self.fields.get_mut(self.used) {
            Some((slot_name, serde_json::Value::String(text))) => {
                *slot_name = Cow::Borrowed(name);
                text.clear();
                write(text);
            }
            _ => {
                let mut text = String::new();
                write(&mut text);
                self.value(name, serde_json::Value::String(text));
                return;
            }
        }
        self.used += 1;
    }

    /// Ends the event's fields: the old ones past them go.
    pub fn finish(self) {
        self.fields.truncate(self.used);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(record: &mut Arc<Record>) -> &mut LogRecord {
        log_mut(record)
    }

    #[test]
    fn a_record_comes_back_only_when_nobody_else_holds_it() {
        let context = Arc::new(Context::default());
        let pool = RecordPool::prefilled(2, &context);
        let first = pool.take().unwrap();
        let second = pool.take().unwrap();
        assert!(pool.take().is_none(), "two records were made");
        let held_elsewhere = second.clone();
        pool.give_back(first);
        pool.give_back(second);
        assert!(pool.take().is_some(), "the first came back");
        assert!(pool.take().is_none(), "the second is still held by another sink");
        drop(held_elsewhere);
    }

    #[test]
    fn fields_written_over_a_used_record_are_the_events_own() {
        let context = Arc::new(Context::default());
        let pool = RecordPool::prefilled(1, &context);
        let mut record = pool.take().unwrap();
        let mut fields = FieldWriter::new(&mut log(&mut record).fields);
        fields.text("shop", |s| s.push_str("zagreb"));
        fields.value("price", 7.into());
        fields.value("fresh", true.into());
        fields.text("note", |s| s.push('x'));
        fields.finish();
        assert_eq!(log(&mut record).context_json().unwrap(), r#"{"shop":"zagreb","price":7,"fresh":true,"note":"x"}"#);

        pool.give_back(record);
        let mut record = pool.take().unwrap();
        let mut fields = FieldWriter::new(&mut log(&mut record).fields);
        fields.value("n", 1.into());
        fields.text("city", |s| s.push_str("split"));
        fields.finish();
        assert_eq!(log(&mut record).context_json().unwrap(), r#"{"n":1,"city":"split"}"#);
    }
}
