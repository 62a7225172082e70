//! `logs` rows encoded straight from log records into PostgreSQL's binary COPY format: no owned row structs, no per-row time-zone lookup, `context_json` written in place.
//!
//! The column list is Diesel's (`logs::` columns, checked against the
//! generated schema at compile time); only the values are written here.
//! The stream's framing is dc-runtime's [`BinaryWriter`]; this module writes the
//! values: text as UTF-8, `int4` 4 bytes big-endian, `timestamp` microseconds
//! since 2000-01-01 as 8 bytes big-endian.

use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Local, Offset, TimeZone, Utc};
use dc_runtime::BinaryWriter;
use dc_schema::schema::logs;
use diesel::pg::{CopyFormat, CopyTarget};
use diesel::{ExecuteCopyFromDsl, PgConnection, QueryResult};

use crate::record::{LogRecord, Record};

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Columns written per row (the list in [`copy_logs`]).
const LOG_COLUMNS: usize = 13;

/// One `logs` row to write: the record and its function id (resolved by the sink's cache).
pub(crate) struct LogToWrite {
    pub record: Arc<Record>,
    pub function_id: Option<String>,
    /// `logs.id` taken from its sequence beforehand, when a batch is written over two
    /// connections (so ids still follow the records' order); `None`: the column default.
    pub id: Option<i64>,
}

impl LogToWrite {
    fn log(&self) -> &LogRecord {
        match &*self.record {
            Record::Log(log) => log,
            _ => unreachable!("only log records are queued as logs rows"),
        }
    }
}

/// Local wall-clock time (what the tables store, like Python's `datetime.now()`)
/// with the zone offset looked up once per batch, or per row when the
/// offset changes inside the batch (a DST switch).
struct LocalClock {
    offset: Option<FixedOffset>,
}

impl LocalClock {
    fn for_batch(rows: &[LogToWrite]) -> LocalClock {
        let offset_at = |time: &DateTime<Utc>| Local.offset_from_utc_datetime(&time.naive_utc()).fix();
        let offset = match (rows.first(), rows.last()) {
            (Some(first), Some(last)) => {
                let (a, b) = (offset_at(&first.log().time), offset_at(&last.log().time));
                (a == b).then_some(a)
            }
            _ => None,
        };
        LocalClock { offset }
    }

    /// Microseconds since 2000-01-01 of the local wall-clock time.
    fn pg_micros(&self, time: &DateTime<Utc>) -> i64 {
        let offset = self.offset.unwrap_or_else(|| Local.offset_from_utc_datetime(&time.naive_utc()).fix());
        time.timestamp_micros() + offset.local_minus_utc() as i64 * 1_000_000 - PG_EPOCH_MICROS
    }
}

/// Writes `logs` rows through dc-runtime's binary COPY writer (the format is written once, there).
struct Encoder {
    out: BinaryWriter,
}

impl Encoder {
    fn text(&mut self, text: Option<&str>) {
        match text {
            Some(text) => self.out.field(text.as_bytes()),
            None => self.out.null(),
        }
    }

    fn int4(&mut self, value: Option<i32>) {
        match value {
            Some(value) => self.out.field(&value.to_be_bytes()),
            None => self.out.null(),
        }
    }

    fn int8(&mut self, value: i64) {
        self.out.field(&value.to_be_bytes());
    }

    /// The fields as a JSON object in the order written; NULL without fields.
    fn context_json(&mut self, log: &LogRecord) {
        if log.fields.is_empty() {
            return self.out.null();
        }
        let repeated = log.fields.iter().enumerate().any(|(i, (key, _))| log.fields[..i].iter().any(|(earlier, _)| earlier == key));
        if repeated {
            // A key given twice: the object keeps the last value (as the spill form's map does).
            return self.text(log.context_json().as_deref());
        }
        let start = self.out.begin_field();
        let buf = &mut self.out.buf;
        buf.push(b'{');
        for (index, (key, value)) in log.fields.iter().enumerate() {
            if index > 0 {
                buf.push(b',');
            }
            // Writing JSON into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *buf, key.as_ref());
            buf.push(b':');
            let _ = serde_json::to_writer(&mut *buf, value);
        }
        buf.push(b'}');
        self.out.end_field(start);
    }

    fn row(&mut self, row: &LogToWrite, clock: &LocalClock) {
        let log = row.log();
        let context = &log.context;
        match row.id {
            Some(id) => {
                self.out.begin_tuple(LOG_COLUMNS + 1);
                self.int8(id);
            }
            None => self.out.begin_tuple(LOG_COLUMNS),
        }
        self.text(context.app_id.as_deref());
        self.text(log.module.as_deref());
        self.text(log.file.as_deref());
        self.text(log.function.as_deref());
        self.text(row.function_id.as_deref());
        self.text(log.call_chain.as_deref());
        self.int4(context.instance_id);
        self.int4(log.line.map(|n| n.min(i32::MAX as u32) as i32));
        self.int4(Some(log.level.value()));
        self.text(Some(&log.message));
        self.context_json(log);
        self.text(context.runtime.as_deref());
        self.int8(clock.pg_micros(&log.time));
    }
}

/// `COPY logs (…) FROM STDIN (FORMAT binary)` of `rows`, in 64 KiB writes;
/// with the `id` column when the rows carry ids (all of them or none).
pub(crate) fn copy_logs(conn: &mut PgConnection, rows: &[LogToWrite]) -> QueryResult<usize> {
    // The column list, with `logs::id` in front or not (Diesel's COPY takes a flat tuple).
    macro_rules! columns {
        ($($first:expr,)?) => {
            (
                $($first,)?
                logs::app_id,
                logs::module_name,
                logs::module_path,
                logs::function_name,
                logs::function_id,
                logs::call_chain,
                logs::instance_id,
                logs::lineno,
                logs::log_level,
                logs::msg,
                logs::context_json,
                logs::runtime,
                logs::date_created,
            )
        };
    }
    // A row whose id is missing in a COPY with ids (or the reverse) has the
    // wrong field count: the server refuses the COPY, nothing is written.
    match rows.first().is_some_and(|row| row.id.is_some()) {
        true => copy_into(conn, columns!(logs::id,), rows),
        false => copy_into(conn, columns!(), rows),
    }
}

fn copy_into<C: CopyTarget<Table = logs::table>>(conn: &mut PgConnection, columns: C, rows: &[LogToWrite]) -> QueryResult<usize> {
    let clock = LocalClock::for_batch(rows);
    diesel::copy_from(logs::table)
        .from_raw_data(columns, |out: &mut dyn Write| -> QueryResult<()> {
            let io = |error: std::io::Error| diesel::result::Error::SerializationError(Box::new(error));
            let mut encoder = Encoder { out: BinaryWriter::new() };
            for row in rows {
                encoder.row(row, &clock);
                encoder.out.flush_if_full(out).map_err(io)?;
            }
            encoder.out.finish(out).map_err(io)
        })
        .with_format(CopyFormat::Binary)
        .execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_micros_match_chronos_own_conversion() {
        let time = Utc::now();
        let clock = LocalClock { offset: None };
        let expected = crate::record::local(time).and_utc().timestamp_micros() - PG_EPOCH_MICROS;
        assert_eq!(clock.pg_micros(&time), expected);
    }
}
