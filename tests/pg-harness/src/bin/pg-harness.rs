//! `pg-harness run -- CMD ARGS...`: runs a command against a throwaway PostgreSQL cluster,
//! for benchmarks and scripted checks that are not Rust tests.

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicI32, Ordering};

use pg_harness::Cluster;

const USAGE: &str = "\
usage: pg-harness run -- CMD [ARGS...]

Starts a throwaway PostgreSQL cluster (initdb + pg_ctl, 127.0.0.1 on a free port), creates a
fresh database, runs CMD with these variables set, then stops and deletes the cluster:
  DATABASE_URL     postgres://postgres@127.0.0.1:<port>/<database> (trust auth, no password)
  PG_HARNESS_PORT  the server's TCP port
Exits with CMD's exit code (128 + signal number if CMD was killed by a signal).

Environment: PG_BIN  directory holding initdb, pg_ctl, postgres and psql
                     (default: /usr/lib/postgresql/15/bin, pg_config --bindir, or PATH)";

/// Exit code for a usage mistake, like most command-line tools.
const USAGE_EXIT: u8 = 2;
/// Exit code when the harness itself fails (cluster start, spawn), distinct from usage errors.
const HARNESS_FAILURE_EXIT: u8 = 1;

fn main() -> ExitCode {
    let arguments: Vec<OsString> = std::env::args_os().skip(1).collect();
    let command_line = match parse_arguments(&arguments) {
        Ok(command_line) => command_line,
        Err(exit) => return exit,
    };
    match run(command_line) {
        Ok(exit) => exit,
        Err(message) => {
            let _ = writeln!(io::stderr(), "pg-harness: {message}");
            ExitCode::from(HARNESS_FAILURE_EXIT)
        }
    }
}

/// Accepts exactly `run -- CMD [ARGS...]` (and `-h`/`--help`); anything else prints the usage.
fn parse_arguments(arguments: &[OsString]) -> Result<&[OsString], ExitCode> {
    let as_str: Vec<Option<&str>> = arguments.iter().map(|argument| argument.to_str()).collect();
    match as_str.as_slice() {
        [Some("-h" | "--help" | "help")] => {
            println!("{USAGE}");
            Err(ExitCode::SUCCESS)
        }
        [Some("run"), Some("--"), _, ..] => Ok(&arguments[2..]),
        _ => {
            let _ = writeln!(io::stderr(), "{USAGE}");
            Err(ExitCode::from(USAGE_EXIT))
        }
    }
}

fn run(command_line: &[OsString]) -> Result<ExitCode, String> {
    let (program, program_arguments) = command_line.split_first().ok_or("no command given")?;
    let cluster = Cluster::start().map_err(|error| error.to_string())?;
    let database = cluster
        .create_database("run")
        .map_err(|error| error.to_string())?;

    let mut child = Command::new(program)
        .args(program_arguments)
        .env("DATABASE_URL", cluster.url(&database))
        .env("PG_HARNESS_PORT", cluster.port().to_string())
        .spawn()
        .map_err(|error| format!("could not run {}: {error}", program.to_string_lossy()))?;
    // Survive Ctrl-C and forward termination so the cluster is always stopped below.
    CHILD_PID.store(child.id() as i32, Ordering::SeqCst);
    install_signal_handlers();
    let status = child
        .wait()
        .map_err(|error| format!("waiting for {}: {error}", program.to_string_lossy()))?;

    cluster.stop();
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => i32::from(HARNESS_FAILURE_EXIT),
    };
    Ok(ExitCode::from(
        u8::try_from(code).unwrap_or(HARNESS_FAILURE_EXIT),
    ))
}

/// The running child, for the signal handler; 0 while there is none.
static CHILD_PID: AtomicI32 = AtomicI32::new(0);

/// Ctrl-C (SIGINT, SIGQUIT) already reaches the child through the terminal's process group, so
/// we only need to not die from it; SIGTERM and SIGHUP are sent to us alone, so we pass them on.
/// A handler (not SIG_IGN) is used because exec resets handlers but keeps ignored signals,
/// and the child must keep default signal behaviour.
fn install_signal_handlers() {
    for signal in [libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only performs async-signal-safe operations (atomic load, kill);
        // sigaction's struct is fully initialised before the call.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction =
                forward_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

extern "C" fn forward_signal(signal: libc::c_int) {
    let child_pid = CHILD_PID.load(Ordering::SeqCst);
    if child_pid > 0 && (signal == libc::SIGTERM || signal == libc::SIGHUP) {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(child_pid, signal) };
    }
}
