//! App processes: started in their own process group with their ids in the environment, output forwarded line by line, stopped with SIGTERM then SIGKILL.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::sync::{mpsc, watch};

use crate::output::{OutputSink, Stream};

/// Environment variables every app process gets.
pub const ENV_APP_ID: &str = "DC_APP_ID";
pub const ENV_RUNTIME_ID: &str = "DC_RUNTIME_ID";
pub const ENV_MANAGER_ID: &str = "DC_MANAGER_ID";
pub const ENV_SCHEDULED_TIME: &str = "DC_SCHEDULED_TIME";
/// The database the app reports to (the runtime API) and the framework reads.
pub const ENV_DB_URL: &str = "DC_DB_MAIN_URL";

/// What to start.
pub struct Launch<'a> {
    pub run_id: i64,
    pub app_id: &'a str,
    pub runtime_id: &'a str,
    pub manager_id: &'a str,
    pub scheduled_time: chrono::NaiveDateTime,
    pub command: &'a str,
    pub working_dir: Option<&'a str>,
    pub database_url: &'a str,
}

/// A stop request for a running process: SIGTERM to its group now, SIGKILL after `grace`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopRequest {
    pub grace: Duration,
}

/// A process that ended.
#[derive(Debug)]
pub struct Exited {
    pub run_id: i64,
    pub status: Option<ExitStatus>,
}

/// The manager's handle on a running process.
pub struct Running {
    pub pid: i32,
    stop: watch::Sender<Option<StopRequest>>,
}

impl Running {
    /// Asks for the process group to end (idempotent: the first request's grace counts).
    pub fn stop(&self, grace: Duration) {
        self.stop.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(StopRequest { grace });
                true
            } else {
                false
            }
        });
    }

    /// SIGKILL to the whole group at once (a lost lease: another manager owns the run now).
    pub fn kill_now(&self) {
        self.stop(Duration::ZERO);
        signal_group(self.pid, libc::SIGKILL);
    }
}

/// `sh -c COMMAND` in a new process group (its pgid is its pid), its output
/// to `sink`; `exited` hears when it ends. The process is not killed when the
/// manager drops the handle: only a stop request or a signal to the group ends it.
pub fn spawn(launch: &Launch<'_>, sink: Arc<dyn OutputSink>, exited: mpsc::UnboundedSender<Exited>) -> std::io::Result<Running> {
    let mut command = tokio::process::Command::new("sh");
    command
        .arg("-c")
        .arg(launch.command)
        .env(ENV_APP_ID, launch.app_id)
        .env(ENV_RUNTIME_ID, launch.runtime_id)
        .env(ENV_MANAGER_ID, launch.manager_id)
        .env(ENV_SCHEDULED_TIME, launch.scheduled_time.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string())
        .env(ENV_DB_URL, launch.database_url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(false);
    if let Some(dir) = launch.working_dir {
        command.current_dir(dir);
    }
    let mut child = command.spawn()?;
    let pid = child.id().map(|p| p as i32).unwrap_or(0);
    let (stop_tx, mut stop_rx) = watch::channel(None::<StopRequest>);
    let readers = [
        child.stdout.take().map(|out| forward(out, sink.clone(), launch.app_id.to_string(), launch.runtime_id.to_string(), Stream::Stdout)),
        child.stderr.take().map(|err| forward(err, sink.clone(), launch.app_id.to_string(), launch.runtime_id.to_string(), Stream::Stderr)),
    ];
    let run_id = launch.run_id;
    tokio::spawn(async move {
        let mut kill_at: Option<tokio::time::Instant> = None;
        let status = loop {
            tokio::select! {
                status = child.wait() => break status.ok(),
                changed = stop_rx.changed(), if kill_at.is_none() => {
                    if changed.is_err() {
                        // The manager dropped the handle: keep waiting for the process.
                        kill_at = Some(tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600));
                        continue;
                    }
                    if let Some(request) = *stop_rx.borrow() {
                        signal_group(pid, libc::SIGTERM);
                        kill_at = Some(tokio::time::Instant::now() + request.grace);
                    }
                }
                _ = sleep_until(kill_at) => {
                    signal_group(pid, libc::SIGKILL);
                    kill_at = Some(tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600));
                }
            }
        };
        // A run leaves nothing behind: whatever the leader left in its group goes with it.
        signal_group(pid, libc::SIGKILL);
        // The pipes end when the group is gone; a process that left the group
        // (setsid) may hold them open: its output is dropped after 2 s, not waited for.
        for mut reader in readers.into_iter().flatten() {
            if tokio::time::timeout(Duration::from_secs(2), &mut reader).await.is_err() {
                reader.abort();
            }
        }
        let _ = exited.send(Exited { run_id, status });
    });
    Ok(Running { pid, stop: stop_tx })
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A line longer than this is passed on in pieces of this size, so an app
/// that writes without newlines cannot make the manager hold its output.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Reads one pipe to its end, line by line, whatever the bytes: text that is
/// not UTF-8 is passed on with replacement characters rather than ending the
/// read (a reader that stopped would leave the pipe full and the app blocked
/// on its next write).
fn forward(
    pipe: impl AsyncRead + Unpin + Send + 'static,
    sink: Arc<dyn OutputSink>,
    app_id: String,
    runtime_id: String,
    stream: Stream,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match (&mut reader).take(MAX_LINE_BYTES as u64).read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                    }
                    sink.line(&app_id, &runtime_id, stream, &String::from_utf8_lossy(&line));
                }
            }
        }
    })
}

/// Sends `signal` to the process group `pgid`; a group that is gone is fine.
pub fn signal_group(pgid: i32, signal: i32) {
    if pgid > 1 {
        // SAFETY: killpg has no memory-safety preconditions.
        unsafe { libc::killpg(pgid, signal) };
    }
}

/// The process's own status as the runtime row stores it: its exit code, or
/// minus the signal that ended it.
pub fn process_status(status: &ExitStatus) -> Option<i32> {
    status.code().or_else(|| status.signal().map(|s| -s))
}

/// SIGKILL to every process on this host whose environment carries
/// `DC_RUNTIME_ID=<runtime_id>`: an orphaned run's whole tree, even parts
/// that left its process group. Returns how many were signalled.
pub fn kill_runtime_processes(runtime_id: &str) -> usize {
    let needle = format!("{ENV_RUNTIME_ID}={runtime_id}");
    let mut killed = 0;
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
        if environ.split(|b| *b == 0).any(|var| var == needle.as_bytes()) {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed += 1;
        }
    }
    killed
}

/// True if a process with this pid exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next()).is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}
