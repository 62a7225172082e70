//! COPY in and out of tables known only at run time, through Diesel's COPY API, and PostgreSQL's binary COPY format.
//!
//! Diesel's public `copy_from` / `copy_to` take a target whose SQL is fixed
//! by its type (a `table!` type or a tuple of its columns). Merge's tables
//! come from `TableInfo` at run time, so [`DynamicTarget`] implements
//! Diesel's `CopyTarget` with SQL read from a thread-local that
//! [`copy_in`] and [`copy_out`] set around the one call that renders it.
//! This is the only place the runtime leans on a Diesel seam
//! (`CopyTarget::walk_target`); the merge tests exercise it on every run.

use std::cell::RefCell;
use std::io::{BufRead, Read, Write};

use diesel::pg::{CopyFormat, CopyTarget, Pg};
use diesel::query_builder::AstPass;
use diesel::connection::SimpleConnection;
use diesel::{ExecuteCopyFromDsl, PgConnection, QueryResult};

diesel::table! {
    /// Never queried: Diesel's `copy_from` wants a table type to hang the
    /// statement on; the SQL comes from [`DynamicTarget`].
    dc_runtime_copy_target (id) {
        id -> Int8,
    }
}

thread_local! {
    static TARGET_SQL: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A COPY target whose SQL (`"s"."t" ("a", "b")` or `(SELECT …)`) is set at run time.
struct DynamicTarget;

impl CopyTarget for DynamicTarget {
    type Table = dc_runtime_copy_target::table;
    type SqlType = diesel::sql_types::BigInt;

    fn walk_target(mut pass: AstPass<'_, '_, Pg>) -> QueryResult<()> {
        TARGET_SQL.with(|sql| pass.push_sql(&sql.borrow()));
        Ok(())
    }
}

/// Sets the target SQL for the duration of one COPY and clears it after,
/// also when the COPY fails.
struct TargetGuard;

impl TargetGuard {
    fn set(sql: &str) -> TargetGuard {
        TARGET_SQL.with(|target| {
            let mut target = target.borrow_mut();
            target.clear();
            target.push_str(sql);
        });
        TargetGuard
    }
}

impl Drop for TargetGuard {
    fn drop(&mut self) {
        TARGET_SQL.with(|target| target.borrow_mut().clear());
    }
}

/// `COPY <target> FROM STDIN (FORMAT binary)`; `write` produces the whole
/// binary stream (see [`BinaryWriter`]) in as many calls as it likes.
pub(crate) fn copy_in<E, F>(conn: &mut PgConnection, target: &str, write: F) -> Result<usize, E>
where
    E: From<diesel::result::Error> + std::error::Error,
    F: Fn(&mut dyn Write) -> Result<(), E>,
{
    let _guard = TargetGuard::set(target);
    diesel::copy_from(dc_runtime_copy_target::table)
        .from_raw_data(DynamicTarget, write)
        .with_format(CopyFormat::Binary)
        .execute(conn)
}

/// `COPY <query> TO STDOUT (FORMAT binary)`, each row handed to `row` as its
/// fields (`None` for NULL).
pub(crate) fn copy_out(
    conn: &mut PgConnection,
    query: &str,
    mut row: impl FnMut(&Tuple<'_>) -> Result<(), String>,
) -> Result<u64, CopyOutError> {
    let rows = {
        let _guard = TargetGuard::set(&format!("({query})"));
        let mut reader = diesel::copy_to(DynamicTarget).with_format(CopyFormat::Binary).load_raw(conn)?;
        let rows = read_binary(&mut reader, &mut row)?;
        // Read to the end of the COPY, so libpq leaves its COPY state.
        std::io::copy(&mut reader, &mut std::io::sink()).map_err(|e| CopyOutError::Format(e.to_string()))?;
        rows
    };
    // Diesel leaves the COPY's final command result unread, and libpq
    // refuses the next query until it is; a simple-protocol statement
    // (PQexec) collects it first.
    conn.batch_execute(super::sql::AFTER_COPY_OUT)?;
    Ok(rows)
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum CopyOutError {
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error("reading COPY output: {0}")]
    Format(String),
}

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// One row of COPY output: its fields, borrowed from the reader's buffer.
pub(crate) struct Tuple<'d> {
    data: &'d [u8],
    spans: &'d [Option<(usize, usize)>],
}

impl<'d> Tuple<'d> {
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Field `index`, `None` for NULL (and for a field the row does not have).
    pub fn get(&self, index: usize) -> Option<&'d [u8]> {
        self.spans.get(index).copied().flatten().map(|(start, end)| &self.data[start..end])
    }
}

fn read_binary(mut reader: impl BufRead, row: &mut impl FnMut(&Tuple<'_>) -> Result<(), String>) -> Result<u64, CopyOutError> {
    let bad = |what: &str| CopyOutError::Format(what.to_string());
    let mut header = [0_u8; 19];
    reader.read_exact(&mut header).map_err(|e| bad(&format!("header: {e}")))?;
    if &header[..11] != SIGNATURE {
        return Err(bad("not PostgreSQL's binary COPY format"));
    }
    let extension = u32::from_be_bytes([header[15], header[16], header[17], header[18]]) as usize;
    std::io::copy(&mut (&mut reader).take(extension as u64), &mut std::io::sink()).map_err(|e| bad(&e.to_string()))?;
    let mut data = Vec::new();
    let mut spans: Vec<Option<(usize, usize)>> = Vec::new();
    let mut rows = 0;
    loop {
        let mut count = [0_u8; 2];
        reader.read_exact(&mut count).map_err(|e| bad(&format!("tuple: {e}")))?;
        let count = i16::from_be_bytes(count);
        if count < 0 {
            return Ok(rows);
        }
        data.clear();
        spans.clear();
        for _ in 0..count {
            let mut length = [0_u8; 4];
            reader.read_exact(&mut length).map_err(|e| bad(&format!("field: {e}")))?;
            let length = i32::from_be_bytes(length);
            if length < 0 {
                spans.push(None);
                continue;
            }
            let start = data.len();
            data.resize(start + length as usize, 0);
            reader.read_exact(&mut data[start..]).map_err(|e| bad(&format!("field: {e}")))?;
            spans.push(Some((start, start + length as usize)));
        }
        row(&Tuple { data: &data, spans: &spans }).map_err(CopyOutError::Format)?;
        rows += 1;
    }
}

/// Builds a binary COPY stream: header, tuples, trailer. Public so other crates
/// that COPY rows of their own (dc-logging's `logs` sink) write the format once.
pub struct BinaryWriter {
    pub buf: Vec<u8>,
}

impl Default for BinaryWriter {
    fn default() -> Self {
        BinaryWriter::new()
    }
}

impl BinaryWriter {
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(1 << 16);
        buf.extend_from_slice(SIGNATURE);
        buf.extend_from_slice(&0_i32.to_be_bytes());
        buf.extend_from_slice(&0_i32.to_be_bytes());
        BinaryWriter { buf }
    }

    pub fn begin_tuple(&mut self, fields: usize) {
        self.buf.extend_from_slice(&(fields as i16).to_be_bytes());
    }

    pub fn null(&mut self) {
        self.buf.extend_from_slice(&(-1_i32).to_be_bytes());
    }

    pub fn field(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(bytes);
    }

    /// Reserves a length prefix; [`end_field`](Self::end_field) fills it.
    pub fn begin_field(&mut self) -> usize {
        self.buf.extend_from_slice(&[0; 4]);
        self.buf.len()
    }

    pub fn end_field(&mut self, start: usize) {
        let length = (self.buf.len() - start) as i32;
        self.buf[start - 4..start].copy_from_slice(&length.to_be_bytes());
    }

    pub fn trailer(&mut self) {
        self.buf.extend_from_slice(&(-1_i16).to_be_bytes());
    }

    /// Hands what is buffered to `out` once it is large enough to be worth a write.
    pub fn flush_if_full(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        if self.buf.len() >= 1 << 16 {
            out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    pub fn finish(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        self.trailer();
        out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_stream_reads_back() {
        let mut writer = BinaryWriter::new();
        writer.begin_tuple(2);
        writer.field(b"abc");
        writer.null();
        writer.begin_tuple(2);
        let start = writer.begin_field();
        writer.buf.extend_from_slice(&7_i64.to_be_bytes());
        writer.end_field(start);
        writer.field(b"");
        writer.trailer();
        let mut seen = Vec::new();
        let rows = read_binary(&writer.buf[..], &mut |tuple: &Tuple<'_>| {
            seen.push((0..tuple.len()).map(|i| tuple.get(i).map(<[u8]>::to_vec)).collect::<Vec<_>>());
            Ok(())
        })
        .unwrap();
        assert_eq!(rows, 2);
        assert_eq!(seen[0], vec![Some(b"abc".to_vec()), None]);
        assert_eq!(seen[1], vec![Some(7_i64.to_be_bytes().to_vec()), Some(vec![])]);
    }

    #[test]
    fn a_truncated_stream_is_an_error_not_a_panic() {
        let writer = BinaryWriter::new();
        let result = read_binary(&writer.buf[..], &mut |_: &Tuple<'_>| Ok(()));
        assert!(matches!(result, Err(CopyOutError::Format(_))));
    }
}
