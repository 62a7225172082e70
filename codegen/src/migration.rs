//! The next migration: planned from the head snapshot of a history that chains
//! ([`history`]), refused when it would lose data unacknowledged or cannot be
//! expressed, rendered for every dialect, and added to the tree with its snapshot and
//! sum line. `rebase` does the same from an earlier point of the history.

use std::path::{Path, PathBuf};

use crate::history::{self, Migration, SumLine};
use crate::model::{Dialect, Model};
use crate::{emit, plan, snapshot, write::FileTree, Error, GenOptions};

/// The migration the spec still needs: the plan from the history's head (or from
/// nothing) to the spec's model, with the model it refers into.
pub struct Pending {
    pub before: Model,
    pub plan: plan::Plan,
}

/// The pending migration of `model` against the migrations in `out`. The history must
/// chain and the head snapshot be valid: what `gen` builds on, `check` checks.
pub fn pending(model: &Model, out: &Path) -> Result<Pending, Error> {
    // The head first: what is wrong inside it (or that it belongs to another project)
    // says more than that its hash is not the one the sum file recorded.
    let before = snapshot::read_head(out)?.unwrap_or_else(|| Model::empty_like(model));
    same_project(&before, model, out)?;
    history::check(out)?;
    Ok(Pending { plan: plan::diff(&before, model), before })
}

fn same_project(before: &Model, model: &Model, out: &Path) -> Result<(), Error> {
    if before.project.name != model.project.name {
        return Err(Error::Migrations(format!(
            "the migrations in `{}` belong to project `{}`, not `{}`: point --out at this spec's generated crate",
            out.display(),
            before.project.name,
            model.project.name
        )));
    }
    Ok(())
}

/// Refuse what no migration may do: unsupported changes always, changes that lose data
/// unless allowed or acknowledged.
pub fn refuse(pending: &Pending, options: &GenOptions) -> Result<(), Error> {
    if !pending.plan.unsupported.is_empty() {
        return Err(Error::Unsupported(pending.plan.unsupported.clone()));
    }
    let refused: Vec<plan::DestructiveChange> =
        pending.plan.destructive.iter().filter(|c| !options.allow_destructive && !options.acknowledged.contains(&c.key)).cloned().collect();
    if !refused.is_empty() {
        return Err(Error::Destructive(refused));
    }
    Ok(())
}

/// Render a pending migration for every dialect: (dialect, up.sql, down.sql). The
/// dialects render on threads of their own (each is megabytes for a large spec).
pub fn render(model: &Model, pending: &Pending, title: &str) -> Result<Vec<(Dialect, String, String)>, Error> {
    let render_one = |dialect: Dialect| {
        let (up, down) = match dialect {
            Dialect::Postgres => emit::postgres::migration(&pending.before, model, &pending.plan, title)?,
            Dialect::Mssql => emit::mssql::migration(&pending.before, model, &pending.plan, title)?,
        };
        Ok::<_, Error>((dialect, up, down))
    };
    let dialects: Vec<Dialect> = [Dialect::Postgres, Dialect::Mssql].into_iter().filter(|d| model.has_dialect(*d)).collect();
    std::thread::scope(|scope| {
        let threads: Vec<_> = dialects.iter().map(|d| scope.spawn(move || render_one(*d))).collect();
        threads.into_iter().map(|t| t.join().unwrap_or(Err(Error::Panicked))).collect()
    })
}

/// `gen`: the next migration into `tree`, when the spec changed since the last one.
pub fn add_next(model: &Model, out: &Path, options: &GenOptions, tree: &mut FileTree) -> Result<(), Error> {
    let pending = pending(model, out)?;
    if pending.plan.is_empty() {
        return Ok(());
    }
    refuse(&pending, options)?;
    let sum = history::read_sum(out, history::Read::Strict)?.unwrap_or_default();
    let version = options.version.clone().unwrap_or_else(|| history::next_version(history::migrations(out).ok().and_then(|m| m.last().map(|m| m.version.clone())).as_deref()));
    let name = options.name.clone().unwrap_or_else(|| plan::describe(&pending.plan, &pending.before, model));
    add(model, &pending, Migration { version, name }, sum, tree)
}

/// Write `migration` (planned as `pending`, after the migrations of `sum`) into `tree`:
/// its SQL per dialect, its snapshot (also the head), and the sum with its line.
fn add(model: &Model, pending: &Pending, migration: Migration, mut sum: Vec<SumLine>, tree: &mut FileTree) -> Result<(), Error> {
    let folder = migration.folder();
    let title = format!("Migration {folder} of the {} schema.", model.project.name);
    // The snapshot (megabytes of JSON for a large spec) is written and hashed while the
    // SQL renders.
    let (scripts, snapshot) = std::thread::scope(|scope| {
        let snapshot = scope.spawn(|| snapshot::to_text(model).map(|text| (snapshot::hash(text.as_bytes()), text)));
        (render(model, pending, &title), snapshot.join().unwrap_or(Err(Error::Panicked)))
    });
    let (scripts, (snapshot_hash, text)) = (scripts?, snapshot?);
    let files: Vec<(String, &str)> =
        scripts.iter().flat_map(|(dialect, up, down)| [(format!("{}/down.sql", dialect.name()), down.as_str()), (format!("{}/up.sql", dialect.name()), up.as_str())]).collect();
    let files_hash = history::files_hash_of(files.iter().map(|(name, text)| (name.as_str(), text.as_bytes())));
    for (dialect, up, down) in scripts {
        tree.add(format!("migrations/{}/{folder}/up.sql", dialect.name()), up);
        tree.add(format!("migrations/{}/{folder}/down.sql", dialect.name()), down);
    }
    let parent = sum.last().map_or(history::NO_PARENT.to_string(), |line| line.snapshot.clone());
    sum.push(SumLine { parent, snapshot: snapshot_hash, files: files_hash, migration: migration.clone() });
    tree.add(migration.snapshot_path(), text.clone());
    tree.add(snapshot::HEAD_FILE, text);
    tree.add(history::SUM_FILE, history::render_sum(&sum));
    Ok(())
}

/// What `rebase` writes and removes.
pub struct Rebased {
    pub tree: FileTree,
    /// Files and folders of the migrations it replaced, relative to OUT.
    pub remove: Vec<PathBuf>,
    /// `<version>_<name>` of the re-planned migration.
    pub folder: String,
}

/// `dcgen rebase VERSION…`: set the named migrations aside, and plan one migration
/// (named like the newest of them, versioned after every other) from the snapshot the
/// remaining history leaves to the spec's model. Run after merging a branch whose
/// migrations came in beside yours; the sum file may still hold conflict markers.
pub fn rebase(model: &Model, out: &Path, versions: &[String], options: &GenOptions) -> Result<Rebased, Error> {
    let folders = history::migrations(out)?;
    let mut mine = Vec::new();
    for version in versions {
        match folders.iter().find(|m| &m.version == version) {
            Some(m) => mine.push(m.clone()),
            None => {
                return Err(Error::Migrations(format!(
                    "there is no migration with version `{version}` in `{}` (there are: {})",
                    out.display(),
                    folders.iter().map(|m| m.folder()).collect::<Vec<_>>().join(", ")
                )))
            }
        }
    }
    let Some(newest_mine) = mine.iter().max().cloned() else {
        return Err(Error::Migrations("name the version of the migration to re-plan, e.g. `dcgen rebase 20260102000000`".into()));
    };
    let others: Vec<Migration> = folders.iter().filter(|m| !mine.contains(m)).cloned().collect();
    let sum = history::read_sum(out, history::Read::BothSidesOfAConflict)?.unwrap_or_default();
    let others_sum: Vec<SumLine> = sum.into_iter().filter(|line| !mine.contains(&line.migration)).collect();
    // The head is rewritten below, so only the other migrations must chain here.
    let problems: Vec<String> = history::problems(out, &others, Some(&others_sum))?
        .into_iter()
        .filter(|p| !p.starts_with(&format!("`{}`", out.join(snapshot::HEAD_FILE).display())))
        .collect();
    if !problems.is_empty() {
        return Err(Error::History(format!(
            "the migrations other than {} do not form one history, so there is nothing to re-plan onto:\nerror: {}",
            mine.iter().map(|m| format!("`{}`", m.folder())).collect::<Vec<_>>().join(", "),
            problems.join("\nerror: ")
        )));
    }
    let before = match others_sum.last() {
        None => Model::empty_like(model),
        Some(line) if line.snapshot == history::UNRECORDED => {
            return Err(Error::History(format!(
                "migration `{}` has no kept snapshot (it predates them), so dcgen cannot re-plan onto it; restore the head snapshot it left and plan again with `dcgen gen`",
                line.migration.folder()
            )))
        }
        Some(line) => snapshot::read(&out.join(line.migration.snapshot_path()))?,
    };
    same_project(&before, model, out)?;
    let pending = Pending { plan: plan::diff(&before, model), before };
    if pending.plan.is_empty() {
        return Err(Error::Migrations(format!(
            "the other migrations already cover the spec, so {} has nothing left to do: delete its folders and its line in `{}`",
            mine.iter().map(|m| format!("`{}`", m.folder())).collect::<Vec<_>>().join(", "),
            history::SUM_FILE
        )));
    }
    refuse(&pending, options)?;
    let version = options.version.clone().unwrap_or_else(|| history::next_version(others.last().map(|m| m.version.as_str())));
    let migration = Migration { version, name: newest_mine.name.clone() };
    let mut tree = FileTree::default();
    add(model, &pending, migration.clone(), others_sum, &mut tree)?;
    let mut remove = Vec::new();
    for old in mine.iter().filter(|m| **m != migration) {
        for dialect in [Dialect::Postgres, Dialect::Mssql] {
            remove.push(Path::new("migrations").join(dialect.name()).join(old.folder()));
        }
        remove.push(old.snapshot_path());
    }
    Ok(Rebased { tree, remove, folder: migration.folder() })
}
