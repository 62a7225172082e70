//! The one error type of the harness; every message says what went wrong and what to do about it.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while starting, using or stopping a throwaway cluster.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(
        "PostgreSQL server programs not found ({missing} missing; looked in: {searched}): \
         install PostgreSQL 15 (apt-get install postgresql-15) or set PG_BIN to the directory \
         holding initdb, pg_ctl, postgres and psql"
    )]
    BinariesNotFound { missing: String, searched: String },

    #[error(
        "PG_BIN={bin_dir} has no {missing}: point PG_BIN at the directory holding initdb, \
         pg_ctl, postgres and psql (for example /usr/lib/postgresql/15/bin), or unset it"
    )]
    IncompletePgBin { bin_dir: PathBuf, missing: String },

    #[error(
        "running as root, but there is no `postgres` system user to run the server as \
         (PostgreSQL refuses to run as root): create one (useradd --system postgres, or \
         apt-get install postgresql) or run the tests as a non-root user"
    )]
    NoServerUser,

    #[error("could not run {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("could not reserve a free TCP port on 127.0.0.1: {0}")]
    NoFreePort(#[source] io::Error),

    #[error("initdb failed ({status}) for {data_dir}:\n{output}")]
    InitdbFailed {
        status: String,
        data_dir: PathBuf,
        output: String,
    },

    #[error(
        "the PostgreSQL server did not start: pg_ctl said:\n{pg_ctl_output}\n\
         server log {log_path} (kept with its cluster directory for inspection; the next \
         pg-harness run deletes it), last lines:\n{log_tail}"
    )]
    StartFailed {
        pg_ctl_output: String,
        log_path: PathBuf,
        log_tail: String,
    },

    #[error("could not stop the PostgreSQL server of {data_dir}: {detail}")]
    StopFailed { data_dir: PathBuf, detail: String },

    #[error("SQL failed in database {database:?}:\n{stderr}")]
    Sql { database: String, stderr: String },
}

impl HarnessError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> HarnessError {
        let path = path.into();
        move |source| HarnessError::Io { path, source }
    }

    pub(crate) fn spawn(program: impl Into<String>) -> impl FnOnce(io::Error) -> HarnessError {
        let program = program.into();
        move |source| HarnessError::Spawn { program, source }
    }
}
