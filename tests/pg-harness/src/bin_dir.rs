//! Finding the directory that holds the PostgreSQL server programs.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::HarnessError;

/// The programs the harness runs; all must come from one installation so versions match.
const REQUIRED_PROGRAMS: [&str; 4] = ["initdb", "pg_ctl", "postgres", "psql"];

/// Debian's layout for the version this project targets; tried before anything version-agnostic.
const DEBIAN_POSTGRES_15_BIN: &str = "/usr/lib/postgresql/15/bin";

/// `PG_BIN` if set (it must be complete: a wrong override should fail loudly, not fall back),
/// otherwise the first complete candidate among Debian's PostgreSQL 15 directory,
/// `pg_config --bindir`, and the real directory of an `initdb` found on `PATH`.
pub(crate) fn locate() -> Result<PathBuf, HarnessError> {
    if let Some(overridden) = env::var_os("PG_BIN").filter(|value| !value.is_empty()) {
        let bin_dir = PathBuf::from(overridden);
        return match missing_programs(&bin_dir) {
            None => Ok(bin_dir),
            Some(missing) => Err(HarnessError::IncompletePgBin { bin_dir, missing }),
        };
    }

    let candidates = candidate_dirs();
    if let Some(found) = candidates
        .iter()
        .find(|dir| missing_programs(dir).is_none())
    {
        return Ok(found.clone());
    }
    let missing = candidates
        .first()
        .and_then(|dir| missing_programs(dir))
        .unwrap_or_else(|| REQUIRED_PROGRAMS.join(", "));
    let searched = candidates
        .iter()
        .map(|dir| dir.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    Err(HarnessError::BinariesNotFound { missing, searched })
}

fn candidate_dirs() -> Vec<PathBuf> {
    let mut candidates = vec![PathBuf::from(DEBIAN_POSTGRES_15_BIN)];
    if let Some(dir) = pg_config_bindir() {
        candidates.push(dir);
    }
    // /usr/local/bin/initdb may be a symlink into the real bin dir, whose siblings we also need.
    if let Some(dir) = find_on_path("initdb")
        .and_then(|initdb| initdb.canonicalize().ok())
        .and_then(|real| real.parent().map(Path::to_path_buf))
    {
        candidates.push(dir);
    }
    candidates.dedup();
    candidates
}

fn pg_config_bindir() -> Option<PathBuf> {
    let output = Command::new("pg_config").arg("--bindir").output().ok()?;
    if !output.status.success() {
        return None;
    }
    let dir = String::from_utf8(output.stdout).ok()?;
    let dir = dir.trim();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// `None` when every required program is present, else a comma-separated list of the absent ones.
fn missing_programs(bin_dir: &Path) -> Option<String> {
    let missing: Vec<&str> = REQUIRED_PROGRAMS
        .iter()
        .copied()
        .filter(|program| !bin_dir.join(program).is_file())
        .collect();
    (!missing.is_empty()).then(|| missing.join(", "))
}
