//! The migration history in OUT: the migration folders, the schema snapshot each one
//! leaves (`migrations/snapshots/<version>_<name>.json`), and the sum file
//! (`migrations/migrations.sum`) that chains them: per migration the hash of the
//! snapshot it was planned from (its parent), of the snapshot it leaves, and of its
//! files. Two branches that each add a migration break the chain where they meet, and
//! an edited migration no longer matches its files hash; both are found here without
//! git, and the per-migration snapshots let `rebase` re-plan onto the merged history.

use std::path::{Path, PathBuf};

use crate::snapshot;

pub const SUM_FILE: &str = "migrations/migrations.sum";
pub const SNAPSHOTS_DIR: &str = "migrations/snapshots";
/// The dialect folders under `migrations/`, in the order their files are hashed.
const DIALECT_DIRS: [&str; 2] = ["postgres", "mssql"];
/// The parent of the first migration: nothing was there before it.
pub const NO_PARENT: &str = "none";
/// The snapshot of a migration from before snapshots were kept (`dcgen rehash`).
pub const UNRECORDED: &str = "unrecorded";

const SUM_HEADER: &str = "# dcgen migration history: one line per migration, oldest first. Written by `dcgen gen`, `dcgen rebase` and\n\
# `dcgen rehash`; checked by `dcgen check --out`. Do not edit. Fields: version_name, then the sha3-256 of the\n\
# schema snapshot the migration was planned from (parent), of the snapshot it leaves, and of its SQL files.\n";

/// A migration folder, `<version>_<name>`, present in at least one dialect.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Migration {
    pub version: String,
    pub name: String,
}

impl Migration {
    pub fn folder(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }

    /// Where this migration's snapshot is kept, relative to OUT.
    pub fn snapshot_path(&self) -> PathBuf {
        Path::new(SNAPSHOTS_DIR).join(format!("{}.json", self.folder()))
    }
}

/// One line of the sum file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SumLine {
    pub migration: Migration,
    pub parent: String,
    pub snapshot: String,
    pub files: String,
}

impl SumLine {
    fn render(&self) -> String {
        format!("{} parent={} snapshot={} files={}\n", self.migration.folder(), self.parent, self.snapshot, self.files)
    }
}

pub fn render_sum(lines: &[SumLine]) -> String {
    let mut text = SUM_HEADER.to_string();
    for line in lines {
        text.push_str(&line.render());
    }
    text
}

/// The migration folders in `out`, oldest first, from every dialect's folder.
pub fn migrations(out: &Path) -> Result<Vec<Migration>, crate::Error> {
    let mut found = Vec::new();
    for dialect in DIALECT_DIRS {
        let dir = out.join("migrations").join(dialect);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let entry = entry.map_err(|e| crate::Error::Io(dir.clone(), e))?;
            if !entry.path().is_dir() {
                continue;
            }
            if let Some((version, name)) = entry.file_name().to_string_lossy().split_once('_') {
                found.push(Migration { version: version.to_string(), name: name.to_string() });
            }
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// The current UTC time as `YYYYMMDDHHMMSS`, bumped past `newest` so versions always
/// sort in creation order.
pub fn next_version(newest: Option<&str>) -> String {
    let now: u64 = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string().parse().unwrap_or(0);
    let newest = newest.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    now.max(newest + 1).to_string()
}

/// The hash of a migration's files in every dialect (name, length and bytes of each),
/// so an edited, added or removed file changes it.
pub fn files_hash(out: &Path, migration: &Migration) -> Result<String, crate::Error> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for dialect in DIALECT_DIRS {
        let dir = out.join("migrations").join(dialect).join(migration.folder());
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut names: Vec<String> = entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let bytes = std::fs::read(&path).map_err(|e| crate::Error::Io(path.clone(), e))?;
            files.push((format!("{dialect}/{name}"), bytes));
        }
    }
    Ok(files_hash_of(files.iter().map(|(n, b)| (n.as_str(), b.as_slice()))))
}

/// [`files_hash`] of files not yet written: (`<dialect>/<file name>`, bytes), in
/// dialect order and, within one, by file name.
pub fn files_hash_of<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let files: Vec<(String, &[u8])> = files.into_iter().map(|(name, bytes)| (format!("{name}\0{}\0", bytes.len()), bytes)).collect();
    snapshot::hash_of_parts(files.iter().flat_map(|(header, bytes)| [header.as_bytes(), *bytes]))
}

/// How strictly the sum file is read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Conflict markers are an error (`check`, `gen`).
    Strict,
    /// Lines from both sides of a merge conflict are kept (`rebase`, which rewrites it).
    BothSidesOfAConflict,
}

/// The sum file's lines, sorted by version; `None` when there is no sum file.
pub fn read_sum(out: &Path, mode: Read) -> Result<Option<Vec<SumLine>>, crate::Error> {
    let path = out.join(SUM_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| crate::Error::Io(path.clone(), e))?;
    let shown = path.display();
    let mut lines = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let number = number + 1;
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if ["<<<<<<<", "=======", ">>>>>>>", "|||||||"].iter().any(|m| line.starts_with(m)) {
            if mode == Read::Strict {
                return Err(crate::Error::History(format!(
                    "`{shown}` has a merge-conflict marker at line {number}: two branches each added migrations.\n  \
                     = help: keep every migration folder, then re-plan the migration that is yours (not yet applied to any shared \
                     database) after the others: `dcgen rebase --spec SPEC --out OUT <its version>`; it rewrites this file"
                )));
            }
            continue;
        }
        let bad = || crate::Error::History(format!(
            "`{shown}` line {number} is not `<version>_<name> parent=<hash> snapshot=<hash> files=<hash>`.\n  \
             = help: restore the file from version control; it is written by dcgen, not by hand"
        ));
        let mut fields = line.split(' ');
        let (Some(folder), Some(parent), Some(snapshot), Some(files), None) = (fields.next(), fields.next(), fields.next(), fields.next(), fields.next()) else {
            return Err(bad());
        };
        let (Some((version, name)), Some(parent), Some(snapshot), Some(files)) =
            (folder.split_once('_'), parent.strip_prefix("parent="), snapshot.strip_prefix("snapshot="), files.strip_prefix("files="))
        else {
            return Err(bad());
        };
        let line = SumLine {
            migration: Migration { version: version.into(), name: name.into() },
            parent: parent.into(),
            snapshot: snapshot.into(),
            files: files.into(),
        };
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    lines.sort_by(|a, b| a.migration.cmp(&b.migration));
    Ok(Some(lines))
}

/// Every way the sum file, the migration folders, their snapshots and the head snapshot
/// disagree, each with its fix. Empty for a consistent history (or none at all).
pub fn problems(out: &Path, folders: &[Migration], sum: Option<&[SumLine]>) -> Result<Vec<String>, crate::Error> {
    let Some(sum) = sum else {
        return Ok(if folders.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "`{}` holds migrations but no `{SUM_FILE}`, which records the order they were planned in.\n  \
                 = help: if these migrations are as dcgen wrote them, record them with `dcgen rehash --out {}`",
                out.display(),
                out.display()
            )]
        });
    };
    let mut found = Vec::new();
    for folder in folders {
        if !sum.iter().any(|line| &line.migration == folder) {
            found.push(format!(
                "migration `{}` has no line in `{SUM_FILE}` (copied in without it, or its line was lost in a merge).\n  \
                 = help: if it came with a merge, take the sum file's lines from both sides; if it is yours, `dcgen rebase --spec SPEC --out OUT {}` \
                 re-plans it after the others",
                folder.folder(),
                folder.version
            ));
        }
    }
    for (i, line) in sum.iter().enumerate() {
        let migration = &line.migration;
        if !folders.contains(migration) {
            found.push(format!(
                "`{SUM_FILE}` records migration `{}`, but its folder is missing.\n  = help: restore `migrations/*/{}` from version control",
                migration.folder(),
                migration.folder()
            ));
            continue;
        }
        let expected_parent = if i == 0 { NO_PARENT } else { sum[i - 1].snapshot.as_str() };
        if line.parent != expected_parent {
            found.push(fork_problem(sum, i));
        }
        if files_hash(out, migration)? != line.files {
            found.push(format!(
                "the files of migration `{}` changed since dcgen wrote them (`migrations/*/{}/`).\n  \
                 = help: a migration that ran anywhere must not change: restore it from version control and make the change in the spec; \
                 if the edit is deliberate and it never ran, record it with `dcgen rehash --out OUT`",
                migration.folder(),
                migration.folder()
            ));
        }
        if line.snapshot != UNRECORDED {
            let path = out.join(migration.snapshot_path());
            match std::fs::read(&path) {
                Ok(bytes) if snapshot::hash(&bytes) == line.snapshot => {}
                Ok(_) => found.push(format!(
                    "`{}` is not the snapshot recorded for migration `{}`.\n  = help: restore it from version control",
                    path.display(),
                    migration.folder()
                )),
                Err(_) => found.push(format!(
                    "the snapshot of migration `{}` (`{}`) is missing.\n  = help: restore it from version control",
                    migration.folder(),
                    path.display()
                )),
            }
        }
    }
    if let Some(newest) = sum.last().filter(|line| line.snapshot != UNRECORDED && folders.contains(&line.migration)) {
        let head = out.join(snapshot::HEAD_FILE);
        let bytes = std::fs::read(&head).ok();
        let has_markers = bytes.as_deref().is_some_and(|b| String::from_utf8_lossy(b).lines().any(|l| l.starts_with("<<<<<<<")));
        // A head with conflict markers is the fork reported above, or a snapshot error.
        if !has_markers && bytes.as_deref().map(snapshot::hash).as_deref() != Some(newest.snapshot.as_str()) {
            found.push(format!(
                "`{}` is not the schema the newest migration `{}` leaves.\n  = help: copy `{}` over it (the snapshot kept for that migration), or restore it from version control",
                head.display(),
                newest.migration.folder(),
                out.join(newest.migration.snapshot_path()).display()
            ));
        }
    }
    Ok(found)
}

/// A migration whose parent is not the snapshot before it: name the migration it was
/// really planned after, so the fix can name both.
fn fork_problem(sum: &[SumLine], i: usize) -> String {
    let line = &sum[i];
    let previous = &sum[i - 1].migration;
    let planned_after = if line.parent == NO_PARENT {
        "an empty schema (it is a first migration)".to_string()
    } else {
        match sum[..i].iter().rev().find(|other| other.snapshot == line.parent) {
            Some(other) => format!("the schema after `{}`", other.migration.folder()),
            None => "a schema that no migration here leaves".to_string(),
        }
    };
    format!(
        "migration `{}` was planned from {planned_after}, but `{}` comes before it: two branches each added a migration, \
         and the merged history does not chain.\n  \
         = help: re-plan the migration that is yours (not yet applied to any shared database) after the others with \
         `dcgen rebase --spec SPEC --out OUT <its version>`: `{}` for `{}`, or `{}` for `{}`",
        line.migration.folder(),
        previous.folder(),
        line.migration.version,
        line.migration.folder(),
        previous.version,
        previous.folder()
    )
}

/// Everything wrong with the history in `out`, as one error; `Ok` when it chains.
pub fn check(out: &Path) -> Result<(), crate::Error> {
    let folders = migrations(out)?;
    let sum = read_sum(out, Read::Strict)?;
    let found = problems(out, &folders, sum.as_deref())?;
    if found.is_empty() {
        Ok(())
    } else {
        Err(crate::Error::History(found.join("\nerror: ")))
    }
}

/// The sum lines of `out` recomputed from its files: `dcgen rehash`. Recorded parents
/// are kept (a fork stays visible); files hashes are taken as they are now; a migration
/// with no line gets one chained to the line before it, with its kept snapshot or, for
/// the newest, the head snapshot (then also kept as its own).
pub fn rehash(out: &Path) -> Result<crate::write::FileTree, crate::Error> {
    let folders = migrations(out)?;
    let recorded = read_sum(out, Read::Strict)?.unwrap_or_default();
    let mut lines: Vec<SumLine> = Vec::new();
    let mut tree = crate::write::FileTree::default();
    for (i, migration) in folders.iter().enumerate() {
        let files = files_hash(out, migration)?;
        if let Some(line) = recorded.iter().find(|l| &l.migration == migration) {
            lines.push(SumLine { files, ..line.clone() });
            continue;
        }
        let parent = lines.last().map_or(NO_PARENT.to_string(), |l| l.snapshot.clone());
        let kept = out.join(migration.snapshot_path());
        let snapshot = if let Ok(bytes) = std::fs::read(&kept) {
            snapshot::hash(&bytes)
        } else if i + 1 == folders.len() {
            let head = out.join(snapshot::HEAD_FILE);
            let text = std::fs::read_to_string(&head).map_err(|e| crate::Error::Io(head.clone(), e))?;
            snapshot::parse(&text, &head)?;
            tree.add(migration.snapshot_path(), text.clone());
            snapshot::hash(text.as_bytes())
        } else {
            UNRECORDED.to_string()
        };
        lines.push(SumLine { migration: migration.clone(), parent, snapshot, files });
    }
    tree.add(SUM_FILE, render_sum(&lines));
    Ok(tree)
}
