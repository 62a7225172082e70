//! The spill file: records a sink could not deliver, as JSON lines with the sink's error, replayed in order once the sink is back, into the destination they were meant for and no other.
//!
//! Layout: `<spill dir>/<sink>/<YYYY-MM-DD>-<pid>-<file id>.jsonl`, one file
//! per sink, process, day and generation. Its first line names the file and
//! where its records go: `{"spill_file": {"id": "<uuid>", "sink": "database",
//! "destination": "postgresql://host:5432/db"}}` (a destination never holds a
//! secret); every other line is `{"error": "...", "record": {...}}`. A
//! pipeline replays only the files of its own destination: a record spilled
//! for database A waits for a process logging to A, whatever the settings of
//! the process that finds it.
//!
//! A file is held with `flock` by the process writing it, so a replayer never
//! takes a live process's file. Replay reads a file from its offset (kept in
//! `<file>.replayed`, written after the sink committed a chunk), and a file
//! read to its end is deleted (the live file of this process too: the next
//! spill starts a new file with a new id). A sink that can commit the
//! position with the records (the database: `log_spill_replay`, keyed by the
//! file id) makes replay exactly once across a crash between its commit and
//! the offset write; for the others that one chunk would be sent again.
//!
//! Lines written by the sink worker are fsync'd per batch; lines an app
//! thread writes when the queue is full are fsync'd by the next flush.
//! Records a sink refused for good (Splunk's 400 "invalid event") go to
//! `<sink>/rejected/` instead, which is never replayed.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{Local, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::record::Record;

#[derive(Serialize)]
struct LineOut<'a> {
    error: &'a str,
    record: &'a Record,
}

#[derive(Deserialize)]
struct LineIn {
    #[allow(dead_code)]
    error: String,
    record: Record,
}

/// The first line of a spill file.
#[derive(Serialize, Deserialize)]
struct HeaderLine {
    spill_file: FileHeader,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct FileHeader {
    /// Unique per file (a UUID): the key of the replay position a sink commits.
    id: String,
    sink: String,
    /// The sink's destination, without secrets.
    destination: String,
}

/// The spill files of one sink and destination.
pub(crate) struct Spill {
    dir: PathBuf,
    sink: String,
    destination: String,
    inner: Mutex<Inner>,
}

struct Inner {
    /// This process's file, locked; opened on first write.
    own: Option<OwnFile>,
    /// Files of earlier days or dead processes still to replay, oldest first.
    others: Vec<OtherFile>,
    /// Lines written since the last fsync (by app threads).
    dirty: bool,
    /// Files of dead processes this one is replaying, locked until done so
    /// no second replayer takes them.
    taken: Vec<(PathBuf, File)>,
}

#[derive(Clone)]
struct OtherFile {
    path: PathBuf,
    id: String,
    /// Where the records begin (after the header line).
    first_record: u64,
}

struct OwnFile {
    path: PathBuf,
    id: String,
    file: File,
    day: NaiveDate,
    /// Bytes written, and bytes replayed (both from the start of the file; the header counts as replayed).
    len: u64,
    replayed: u64,
}

/// One chunk read for replay.
pub(crate) struct Chunk {
    pub records: Vec<Arc<Record>>,
    /// File offset just past each record's line.
    pub ends: Vec<u64>,
    /// The file's id (its header), the key of a position committed with the records.
    pub file_id: String,
    path: PathBuf,
    /// Offset past the last line read (unreadable lines included).
    pub end: u64,
    is_own: bool,
}

fn io_error(path: &Path, error: std::io::Error) -> String {
    format!("spill file {}: {error}", path.display())
}

/// The header of the file at `path` and the offset just past it; `None` when the first line is not a header.
fn read_header(path: &Path) -> Option<(FileHeader, u64)> {
    let mut line = String::new();
    let read = BufReader::new(File::open(path).ok()?).read_line(&mut line).ok()?;
    if !line.ends_with('\n') {
        return None;
    }
    let header: HeaderLine = serde_json::from_str(&line).ok()?;
    Some((header.spill_file, read as u64))
}

impl Spill {
    /// Opens the sink's spill directory and lists what earlier processes
    /// left there for `destination`; files for other destinations are left
    /// where they are (and reported once).
    pub fn open(spill_dir: &Path, sink: &str, destination: &str) -> Result<Spill, String> {
        let dir = spill_dir.join(sink);
        fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        let mut others: Vec<(std::time::SystemTime, OtherFile)> = Vec::new();
        let mut elsewhere: Vec<String> = Vec::new();
        let mut unknown = 0;
        for path in fs::read_dir(&dir).map_err(|e| io_error(&dir, e))?.flatten().map(|entry| entry.path()) {
            if path.extension().is_none_or(|ext| ext != "jsonl") {
                continue;
            }
            let modified = fs::metadata(&path).and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH);
            match read_header(&path) {
                Some((header, first_record)) if header.destination == destination => others.push((modified, OtherFile { path, id: header.id, first_record })),
                Some((header, _)) => elsewhere.push(header.destination),
                // Empty: a writer that has not written its header yet, or nothing at all.
                None if fs::metadata(&path).map(|m| m.len()).unwrap_or(0) == 0 => {}
                None => unknown += 1,
            }
        }
        if !elsewhere.is_empty() {
            elsewhere.sort();
            elsewhere.dedup();
            eprintln!(
                "dc-logging: {sink}: spill files in {} hold records for {} (this process logs to {destination}); they wait for a process logging there",
                dir.display(),
                elsewhere.join(", ")
            );
        }
        if unknown > 0 {
            eprintln!("dc-logging: {sink}: {unknown} spill file(s) in {} have no header naming their destination; left as they are", dir.display());
        }
        // Names start with the day; within a day, the file written last goes last.
        others.sort_by_cached_key(|(modified, file)| (file_day(&file.path), *modified));
        Ok(Spill {
            dir,
            sink: sink.to_string(),
            destination: destination.to_string(),
            inner: Mutex::new(Inner { own: None, others: others.into_iter().map(|(_, file)| file).collect(), dirty: false, taken: Vec::new() }),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends `records` with `error`; fsync'd when `sync` (a sink's batch).
    pub fn append(&self, records: &[Arc<Record>], error: &str, sync: bool) -> Result<(), String> {
        if records.is_empty() {
            return Ok(());
        }
        let mut text = Vec::with_capacity(records.len() * 256);
        for record in records {
            serde_json::to_writer(&mut text, &LineOut { error, record }).map_err(|e| format!("spill: {e}"))?;
            text.push(b'\n');
        }
        let mut inner = self.lock();
        let own = self.own_file(&mut inner)?;
        own.file.write_all(&text).map_err(|e| io_error(&own.path, e))?;
        own.len += text.len() as u64;
        if sync {
            own.file.sync_data().map_err(|e| io_error(&own.path, e))?;
            inner.dirty = false;
        } else {
            inner.dirty = true;
        }
        Ok(())
    }

    /// fsyncs lines app threads wrote since the last sync.
    pub fn sync(&self) {
        let mut inner = self.lock();
        if inner.dirty {
            if let Some(own) = &inner.own {
                let _ = own.file.sync_data();
            }
            inner.dirty = false;
        }
    }

    /// This process's file, created (locked, its header written) on first
    /// use; at a new day the old one joins the files to replay.
    fn own_file<'a>(&self, inner: &'a mut Inner) -> Result<&'a mut OwnFile, String> {
        let today = Local::now().date_naive();
        if inner.own.as_ref().is_some_and(|own| own.day != today) {
            let old = inner.own.take().expect("checked");
            if old.replayed < old.len {
                let first_record = read_header(&old.path).map_or(0, |(_, end)| end);
                inner.others.push(OtherFile { path: old.path.clone(), id: old.id.clone(), first_record });
                // Replayed from here by this process, like any other file; it keeps the lock.
                inner.taken.push((old.path, old.file));
            } else {
                remove_with_offset(&old.path);
            }
        }
        if inner.own.is_none() {
            let id = uuid::Uuid::new_v4().to_string();
            let path = self.dir.join(format!("{}-{}-{}.jsonl", today.format("%Y-%m-%d"), std::process::id(), &id[..8]));
            let mut file = OpenOptions::new().create_new(true).append(true).read(true).open(&path).map_err(|e| io_error(&path, e))?;
            // SAFETY: flock on a descriptor we own; no memory is involved.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                return Err(io_error(&path, std::io::Error::last_os_error()));
            }
            let header = HeaderLine { spill_file: FileHeader { id: id.clone(), sink: self.sink.clone(), destination: self.destination.clone() } };
            let mut text = serde_json::to_vec(&header).map_err(|e| format!("spill: {e}"))?;
            text.push(b'\n');
            file.write_all(&text).map_err(|e| io_error(&path, e))?;
            let len = text.len() as u64;
            inner.own = Some(OwnFile { path, id, file, day: today, len, replayed: len });
        }
        Ok(inner.own.as_mut().expect("opened above"))
    }

    /// True while any record waits in a spill file of this sink.
    pub fn has_backlog(&self) -> bool {
        let inner = self.lock();
        !inner.others.is_empty() || inner.own.as_ref().is_some_and(|own| own.replayed < own.len)
    }

    /// The next up-to-`max` records to replay, oldest file first; `None`
    /// when nothing waits. A file another live process holds is skipped.
    /// Lines that do not parse (a write cut by a crash) are reported through
    /// `unreadable` and skipped.
    pub fn next_chunk(&self, max: usize, unreadable: &mut dyn FnMut(&Path, &str)) -> Result<Option<Chunk>, String> {
        loop {
            let (path, file_id, start, limit, is_own) = {
                let mut inner = self.lock();
                match inner.others.first().cloned() {
                    Some(other) => {
                        if !inner.taken.iter().any(|(taken, _)| taken == &other.path) {
                            match take(&other.path) {
                                Some(lock) => inner.taken.push((other.path.clone(), lock)),
                                None => {
                                    // A live process's file: it replays it itself.
                                    inner.others.remove(0);
                                    continue;
                                }
                            }
                        }
                        (other.path.clone(), other.id, read_offset(&other.path).max(other.first_record), u64::MAX, false)
                    }
                    None => match &inner.own {
                        Some(own) if own.replayed < own.len => (own.path.clone(), own.id.clone(), own.replayed, own.len, true),
                        _ => return Ok(None),
                    },
                }
            };
            let mut file = match File::open(&path) {
                Ok(file) => file,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    self.finish_file(&path, is_own);
                    continue;
                }
                Err(error) => return Err(io_error(&path, error)),
            };
            file.seek(SeekFrom::Start(start)).map_err(|e| io_error(&path, e))?;
            let mut reader = BufReader::new(file);
            let mut records = Vec::new();
            let mut ends = Vec::new();
            let mut end = start;
            let mut line = String::new();
            while records.len() < max && end < limit {
                line.clear();
                let read = reader.read_line(&mut line).map_err(|e| io_error(&path, e))?;
                if read == 0 || !line.ends_with('\n') {
                    // End of file, or a line still being written.
                    break;
                }
                end += read as u64;
                match serde_json::from_str::<LineIn>(&line) {
                    Ok(parsed) => {
                        records.push(Arc::new(parsed.record));
                        ends.push(end);
                    }
                    Err(error) => unreadable(&path, &format!("{error}: {}", line.trim_end())),
                }
            }
            if records.is_empty() && end == start {
                // Nothing complete left in this file.
                self.finish_file(&path, is_own);
                if is_own {
                    return Ok(None);
                }
                continue;
            }
            return Ok(Some(Chunk { records, ends, file_id, path, end, is_own }));
        }
    }

    /// Records that the sink committed the first `count` records of `chunk`
    /// (all of them: also any unreadable lines it skipped): the offset moves
    /// past them, and a file read to its end is deleted.
    pub fn committed(&self, mut chunk: Chunk, count: usize) -> Result<(), String> {
        if count == 0 {
            return Ok(());
        }
        if count < chunk.records.len() {
            chunk.end = chunk.ends[count - 1];
        }
        if chunk.is_own {
            let mut inner = self.lock();
            if let Some(own) = inner.own.as_mut().filter(|own| own.path == chunk.path) {
                own.replayed = chunk.end;
                if own.replayed >= own.len {
                    // Read to its end: gone; the next spill starts a file with a new id.
                    let own = inner.own.take().expect("matched above");
                    remove_with_offset(&own.path);
                    return Ok(());
                }
            }
            drop(inner);
            return write_offset(&chunk.path, chunk.end);
        }
        let len = fs::metadata(&chunk.path).map(|m| m.len()).unwrap_or(0);
        if chunk.end >= len {
            self.finish_file(&chunk.path, false);
            Ok(())
        } else {
            write_offset(&chunk.path, chunk.end)
        }
    }

    fn finish_file(&self, path: &Path, is_own: bool) {
        let mut inner = self.lock();
        if is_own {
            if inner.own.as_ref().is_some_and(|own| own.replayed >= own.len) {
                let own = inner.own.take().expect("checked");
                remove_with_offset(&own.path);
            }
            return;
        }
        remove_with_offset(path);
        inner.others.retain(|other| other.path != path);
        inner.taken.retain(|(taken, _)| taken != path);
    }

    /// Records a sink refused for good, with its answer; never replayed.
    pub fn reject(&self, records: &[(Arc<Record>, String)]) -> Result<(), String> {
        if records.is_empty() {
            return Ok(());
        }
        let dir = self.dir.join("rejected");
        fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        let path = dir.join(format!("{}-{}.jsonl", Local::now().format("%Y-%m-%d"), std::process::id()));
        let mut text = Vec::new();
        for (record, error) in records {
            serde_json::to_writer(&mut text, &LineOut { error, record }).map_err(|e| format!("spill: {e}"))?;
            text.push(b'\n');
        }
        let mut file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| io_error(&path, e))?;
        file.write_all(&text).map_err(|e| io_error(&path, e))?;
        file.sync_data().map_err(|e| io_error(&path, e))
    }
}

fn remove_with_offset(path: &Path) {
    let _ = fs::remove_file(path);
    let _ = fs::remove_file(offset_path(path));
}

fn file_day(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().chars().take(10).collect()).unwrap_or_default()
}

fn offset_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".replayed");
    PathBuf::from(name)
}

fn read_offset(path: &Path) -> u64 {
    fs::read_to_string(offset_path(path)).ok().and_then(|text| text.trim().parse().ok()).unwrap_or(0)
}

/// Written to a temporary file and renamed over the old offset, so a crash leaves the old or the new offset, never half of one.
fn write_offset(path: &Path, offset: u64) -> Result<(), String> {
    let target = offset_path(path);
    let mut temporary = target.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = File::create(&temporary).map_err(|e| io_error(&temporary, e))?;
    file.write_all(offset.to_string().as_bytes()).map_err(|e| io_error(&temporary, e))?;
    file.sync_data().map_err(|e| io_error(&temporary, e))?;
    fs::rename(&temporary, &target).map_err(|e| io_error(&target, e))
}

/// The file locked for replay, or `None` while a live process holds it
/// (its writer keeps an exclusive flock for its lifetime).
fn take(path: &Path) -> Option<File> {
    let file = File::open(path).ok()?;
    // SAFETY: flock on a descriptor we own.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    locked.then_some(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Context, DbObject};
    use chrono::Utc;

    fn record(n: usize) -> Arc<Record> {
        let _ = Context::default();
        Arc::new(Record::DbObject(DbObject {
            app_id: None,
            server_type: None,
            server_name: None,
            server_ip: None,
            database_name: None,
            database_schema: None,
            object_name: format!("t{n}"),
            object_type: "table".into(),
            used: Utc::now(),
        }))
    }

    fn names(chunk: &Chunk) -> Vec<String> {
        chunk.records.iter().map(|r| match &**r { Record::DbObject(o) => o.object_name.clone(), _ => unreachable!() }).collect()
    }

    #[test]
    fn replays_in_order_in_chunks_and_truncates_after_the_last_commit() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::open(dir.path(), "database", "postgresql://h:5432/a").unwrap();
        assert!(!spill.has_backlog());
        spill.append(&(0..5).map(record).collect::<Vec<_>>(), "down", true).unwrap();
        assert!(spill.has_backlog());
        let mut bad = |_: &Path, line: &str| panic!("unreadable {line}");
        let chunk = spill.next_chunk(3, &mut bad).unwrap().unwrap();
        assert_eq!(names(&chunk), ["t0", "t1", "t2"]);
        let first_id = chunk.file_id.clone();
        // Not committed: the same chunk comes again.
        let chunk = spill.next_chunk(3, &mut bad).unwrap().unwrap();
        assert_eq!(names(&chunk), ["t0", "t1", "t2"]);
        spill.committed(chunk, usize::MAX).unwrap();
        spill.append(&[record(5)], "down", false).unwrap();
        let chunk = spill.next_chunk(10, &mut bad).unwrap().unwrap();
        assert_eq!(names(&chunk), ["t3", "t4", "t5"]);
        spill.committed(chunk, usize::MAX).unwrap();
        assert!(!spill.has_backlog());
        assert!(spill.next_chunk(10, &mut bad).unwrap().is_none());
        // Read to its end: deleted; the next spill starts a new file under a new id.
        assert!(fs::read_dir(spill.dir()).unwrap().flatten().all(|e| e.path().extension().is_none_or(|x| x != "jsonl")));
        spill.append(&[record(6)], "down", true).unwrap();
        let chunk = spill.next_chunk(10, &mut bad).unwrap().unwrap();
        assert_ne!(chunk.file_id, first_id, "a new file, a new id");
        assert_eq!(names(&chunk), ["t6"]);
    }

    #[test]
    fn a_dead_process_file_is_replayed_from_its_offset_and_deleted_and_a_torn_line_reported() {
        let dir = tempfile::tempdir().unwrap();
        let sink_dir = dir.path().join("database");
        fs::create_dir_all(&sink_dir).unwrap();
        let old = sink_dir.join("2020-01-01-999999-0000.jsonl");
        let header = HeaderLine { spill_file: FileHeader { id: "f-1".into(), sink: "database".into(), destination: "postgresql://h:5432/a".into() } };
        let mut text = serde_json::to_string(&header).unwrap() + "\n";
        let header_len = text.len();
        for n in 0..4 {
            text.push_str(&serde_json::to_string(&LineOut { error: "e", record: &record(n) }).unwrap());
            text.push('\n');
        }
        let first_line = (header_len + text[header_len..].find('\n').unwrap() + 1) as u64;
        text.push_str("{\"error\": \"cut\", \"rec\n");
        fs::write(&old, text).unwrap();
        write_offset(&old, first_line).unwrap();
        let spill = Spill::open(dir.path(), "database", "postgresql://h:5432/a").unwrap();
        assert!(spill.has_backlog());
        let mut torn = Vec::new();
        let chunk = spill.next_chunk(10, &mut |_, line| torn.push(line.to_string())).unwrap().unwrap();
        assert_eq!(names(&chunk), ["t1", "t2", "t3"]);
        assert_eq!(chunk.file_id, "f-1");
        assert_eq!(torn.len(), 1, "the torn line is reported");
        spill.committed(chunk, usize::MAX).unwrap();
        assert!(!old.exists() && !offset_path(&old).exists());
        assert!(!spill.has_backlog());
    }

    #[test]
    fn a_file_locked_by_a_live_writer_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Spill::open(dir.path(), "hec", "http://h:8088/services/collector/event").unwrap();
        writer.append(&[record(1)], "down", true).unwrap();
        let other = Spill::open(dir.path(), "hec", "http://h:8088/services/collector/event").unwrap();
        assert!(other.has_backlog());
        assert!(other.next_chunk(10, &mut |_, _| {}).unwrap().is_none());
        assert!(!other.has_backlog());
        assert!(writer.has_backlog());
    }

    #[test]
    fn records_spilled_for_one_destination_are_never_replayed_into_another() {
        let dir = tempfile::tempdir().unwrap();
        {
            let for_a = Spill::open(dir.path(), "database", "postgresql://h:5432/a").unwrap();
            for_a.append(&[record(1), record(2)], "down", true).unwrap();
        }
        let for_b = Spill::open(dir.path(), "database", "postgresql://h:5432/b").unwrap();
        assert!(!for_b.has_backlog(), "B sees nothing of A's");
        assert!(for_b.next_chunk(10, &mut |_, _| {}).unwrap().is_none());
        for_b.append(&[record(3)], "down", true).unwrap();
        let chunk = for_b.next_chunk(10, &mut |_, _| {}).unwrap().unwrap();
        assert_eq!(names(&chunk), ["t3"]);
        for_b.committed(chunk, 1).unwrap();
        drop(for_b);
        let for_a = Spill::open(dir.path(), "database", "postgresql://h:5432/a").unwrap();
        let chunk = for_a.next_chunk(10, &mut |_, _| {}).unwrap().unwrap();
        assert_eq!(names(&chunk), ["t1", "t2"], "A's records wait for A");
        for_a.committed(chunk, 2).unwrap();
        assert!(!for_a.has_backlog());
        assert!(fs::read_dir(for_a.dir()).unwrap().flatten().all(|e| e.path().extension().is_none_or(|x| x != "jsonl")));
    }
}

#[cfg(test)]
mod stress {
    use super::*;
    use crate::record::DbObject;
    use chrono::Utc;

    fn record(n: usize) -> Arc<Record> {
        Arc::new(Record::DbObject(DbObject {
            app_id: None,
            server_type: None,
            server_name: None,
            server_ip: None,
            database_name: None,
            database_schema: None,
            object_name: n.to_string(),
            object_type: "table".into(),
            used: Utc::now(),
        }))
    }

    #[test]
    fn appends_racing_a_replay_that_sometimes_fails_are_each_replayed_once() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Arc::new(Spill::open(dir.path(), "stress", "nowhere").unwrap());
        let writer = {
            let spill = spill.clone();
            std::thread::spawn(move || {
                for n in 0..5000 {
                    spill.append(&[record(n)], "down", n % 100 == 0).unwrap();
                }
            })
        };
        let mut seen = Vec::new();
        let mut attempt = 0_u64;
        loop {
            let finished = writer.is_finished();
            match spill.next_chunk(500, &mut |_, line| panic!("unreadable {line}")).unwrap() {
                Some(chunk) => {
                    attempt += 1;
                    if attempt % 3 == 0 {
                        continue; // a failed delivery: not committed
                    }
                    for record in &chunk.records {
                        let Record::DbObject(o) = &**record else { unreachable!() };
                        seen.push(o.object_name.parse::<usize>().unwrap());
                    }
                    let all = chunk.records.len();
                    spill.committed(chunk, all).unwrap();
                }
                None if finished && !spill.has_backlog() => break,
                None => std::thread::yield_now(),
            }
        }
        writer.join().unwrap();
        assert!(seen.iter().copied().eq(0..5000), "{} replayed", seen.len());
    }
}
