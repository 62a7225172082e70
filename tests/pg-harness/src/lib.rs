//! Throwaway PostgreSQL clusters for tests and benchmarks: `initdb` + `pg_ctl` on a private
//! socket directory and a free port on 127.0.0.1, deleted afterwards. Never a mock.
//!
//! ```no_run
//! let cluster = pg_harness::Cluster::shared();
//! let database = cluster.create_database("example").unwrap();
//! cluster.psql(&database, "CREATE TABLE t (id int); INSERT INTO t VALUES (1);").unwrap();
//! assert_eq!(cluster.query(&database, "SELECT id FROM t").unwrap(), vec![vec!["1".to_string()]]);
//! ```
//!
//! When the tests run as root, initdb, pg_ctl and the server run as the `postgres` system user
//! (the server refuses root), and the cluster directory is chowned to that user. `psql` always
//! runs as the calling user and connects over TCP with trust authentication.

mod bin_dir;
mod error;
mod server_user;

use std::fs;
use std::io::{self, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

pub use error::HarnessError;
use server_user::ServerUser;

/// Cluster directories are named with this prefix so abandoned ones can be recognised and reaped.
const CLUSTER_DIR_PREFIX: &str = "pg-harness-";
/// Holds the pid of the process that owns a cluster directory; a dead owner means abandoned.
const OWNER_PID_FILE: &str = "owner.pid";
/// The superuser initdb creates; trust auth lets any local client connect as it.
const SUPERUSER: &str = "postgres";
/// A freshly reserved port can be taken by someone else before the server binds it; retry then.
const PORT_ATTEMPTS: usize = 5;
/// psql separates fields with this; it is a control character no test data contains.
const FIELD_SEPARATOR: &str = "\u{1f}";
/// How many lines of the server log go into a start-failure message.
const LOG_TAIL_LINES: usize = 30;

/// A running throwaway PostgreSQL cluster. Dropping it (or [`Cluster::stop`]) stops the server
/// and deletes its directory.
pub struct Cluster {
    /// `None` once torn down; the mutex lets the at-exit hook tear down the shared `&'static`
    /// cluster exactly once, which a plain `TempDir` field could not.
    cluster_dir: Mutex<Option<tempfile::TempDir>>,
    root: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_path: PathBuf,
    port: u16,
    bin_dir: PathBuf,
    server_user: ServerUser,
}

impl Cluster {
    /// initdb (trust auth, UTF8, locale C), then `pg_ctl -w start` on `127.0.0.1:<free port>` with a
    /// private unix socket directory, and fsync, synchronous_commit and full_page_writes off:
    /// the data is thrown away, so durability only costs time.
    pub fn start() -> Result<Cluster, HarnessError> {
        let bin_dir = bin_dir::locate()?;
        let server_user = ServerUser::detect()?;
        let base = temp_base(server_user);
        reap_abandoned_clusters(&base, &bin_dir, server_user);

        let cluster_dir = tempfile::Builder::new()
            .prefix(CLUSTER_DIR_PREFIX)
            // Private to the server user: the data dir inside must be 0700 anyway.
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir_in(&base)
            .map_err(HarnessError::io(&base))?;
        let root = cluster_dir.path().to_path_buf();
        let owner_pid_path = root.join(OWNER_PID_FILE);
        fs::write(&owner_pid_path, std::process::id().to_string())
            .map_err(HarnessError::io(&owner_pid_path))?;
        server_user.take_ownership(&root)?;

        let socket_dir = root.join("socket");
        fs::create_dir(&socket_dir).map_err(HarnessError::io(&socket_dir))?;
        server_user.take_ownership(&socket_dir)?;

        let data_dir = root.join("data");
        let log_path = root.join("server.log");
        run_initdb(&bin_dir, server_user, &root, &data_dir)?;
        append_settings(&data_dir, &socket_dir)?;

        let mut attempt = 1;
        let port = loop {
            let port = reserve_free_port()?;
            match start_server(&bin_dir, server_user, &root, &data_dir, &log_path, port) {
                Ok(()) => break port,
                Err(StartFailure {
                    port_taken: true, ..
                }) if attempt < PORT_ATTEMPTS => attempt += 1,
                Err(StartFailure { error, .. }) => {
                    // A half-started server must not outlive us; keep the directory so the
                    // log named in the error can still be read (the next run reaps it).
                    let _ = stop_server(&bin_dir, server_user, &root, &data_dir, "immediate");
                    let _ = cluster_dir.keep();
                    return Err(error);
                }
            }
        };

        Ok(Cluster {
            cluster_dir: Mutex::new(Some(cluster_dir)),
            root,
            data_dir,
            socket_dir,
            log_path,
            port,
            bin_dir,
            server_user,
        })
    }

    /// The process-wide cluster, started on first use and stopped and deleted when the process
    /// exits (an `atexit` hook, which runs when `cargo test` finishes, pass or fail).
    ///
    /// Panics if the cluster cannot start: callers are tests, for which that is the failure
    /// report. Use [`Cluster::try_shared`] to handle the error instead.
    pub fn shared() -> &'static Cluster {
        match Cluster::try_shared() {
            Ok(cluster) => cluster,
            Err(error) => {
                panic!("pg-harness: could not start the shared PostgreSQL cluster: {error}")
            }
        }
    }

    /// [`Cluster::shared`] without the panic; a failed start is remembered, not retried.
    pub fn try_shared() -> Result<&'static Cluster, &'static HarnessError> {
        SHARED_CLUSTER
            .get_or_init(|| {
                let started = Cluster::start();
                if started.is_ok() {
                    SHARED_CLUSTER_OWNER_PID.store(std::process::id(), Ordering::SeqCst);
                    // SAFETY: the hook is a plain `extern "C" fn` that never unwinds.
                    let status = unsafe { libc::atexit(stop_shared_cluster_at_exit) };
                    if status != 0 {
                        let _ = writeln!(io::stderr(), "pg-harness: atexit registration failed; the shared cluster in {} will be reaped by the next run", shared_root_hint(&started));
                    }
                }
                started
            })
            .as_ref()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>`
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    /// The data directory (`PGDATA`) of this cluster.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The private directory holding the server's unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The server's log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The directory the PostgreSQL programs come from (`PG_BIN` or the one found).
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The postmaster's pid as recorded in `postmaster.pid`, or `None` if the server is down.
    pub fn postmaster_pid(&self) -> Option<i32> {
        read_postmaster_pid(&self.data_dir)
    }

    /// `CREATE DATABASE` with a name unique across tests and processes
    /// (`<prefix>_<pid>_<counter>`, prefix reduced to `[a-z0-9_]`); returns the name.
    pub fn create_database(&self, prefix: &str) -> Result<String, HarnessError> {
        static DATABASE_COUNTER: AtomicU64 = AtomicU64::new(1);
        let counter = DATABASE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "{}_{}_{counter}",
            identifier_safe(prefix),
            std::process::id()
        );
        self.psql(SUPERUSER, &format!("CREATE DATABASE \"{name}\";"))?;
        Ok(name)
    }

    /// Runs `sql` as a script (`psql -X -v ON_ERROR_STOP=1`, statements one by one, so
    /// `CREATE DATABASE` and friends work) and returns psql's stdout. The error carries stderr,
    /// which holds the server's message.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, HarnessError> {
        self.run_psql(database, &[], Some(sql))
    }

    /// Like [`Cluster::psql`] for a file of SQL (`psql -f <path>`).
    pub fn psql_file(&self, database: &str, path: &Path) -> Result<String, HarnessError> {
        let file_argument = path.as_os_str().to_string_lossy().into_owned();
        self.run_psql(database, &["-f", &file_argument], None)
    }

    /// Runs `sql` and returns the rows of its results, each a list of column values as text.
    /// NULL comes back as an empty string; values must not contain the 0x1F control character.
    pub fn query(&self, database: &str, sql: &str) -> Result<Vec<Vec<String>>, HarnessError> {
        // Unaligned, tuples only, quiet; records end in a NUL byte (psql -0), which PostgreSQL
        // text can never contain, so values with newlines and empty results stay unambiguous.
        let stdout = self.run_psql(
            database,
            &["-q", "-A", "-t", "-F", FIELD_SEPARATOR, "-0"],
            Some(sql),
        )?;
        Ok(stdout
            .split_terminator('\0')
            .map(|record| record.split(FIELD_SEPARATOR).map(str::to_string).collect())
            .collect())
    }

    /// Stops the server like a crash (`pg_ctl stop -m immediate`) and keeps its data, so
    /// [`Cluster::start_again`] brings the same databases back on the same port: for tests of
    /// clients that must survive a database that goes away.
    pub fn stop_keeping_data(&self) -> Result<(), HarnessError> {
        stop_server(&self.bin_dir, self.server_user, &self.root, &self.data_dir, "immediate")
    }

    /// Starts a server stopped by [`Cluster::stop_keeping_data`] again, on the same port
    /// (the same start as [`Cluster::start_server`]).
    pub fn start_again(&self) -> Result<(), HarnessError> {
        self.start_server()
    }

    /// [`Cluster::stop_keeping_data`] then [`Cluster::start_again`].
    pub fn restart(&self) -> Result<(), HarnessError> {
        self.stop_keeping_data()?;
        self.start_again()
    }

    /// Stops the server and deletes the cluster directory; the same as dropping the cluster.
    /// Problems are reported on stderr; there is nothing a caller could do about them.
    pub fn stop(self) {
        drop(self);
    }

    /// Stops the server with `pg_ctl stop` (fast mode: sessions are ended, committed data is
    /// kept) and keeps the cluster, for fault tests: clients lose their connections until
    /// [`Cluster::start_server`].
    pub fn stop_server(&self) -> Result<(), HarnessError> {
        stop_server(&self.bin_dir, self.server_user, &self.root, &self.data_dir, "fast")
    }

    /// Starts a server stopped by [`Cluster::stop_server`] again, on the same port, and waits
    /// until it accepts connections.
    pub fn start_server(&self) -> Result<(), HarnessError> {
        start_server(
            &self.bin_dir,
            self.server_user,
            &self.root,
            &self.data_dir,
            &self.log_path,
            self.port,
        )
        .map_err(|failure| failure.error)
    }

    fn run_psql(
        &self,
        database: &str,
        extra_args: &[&str],
        stdin_sql: Option<&str>,
    ) -> Result<String, HarnessError> {
        let psql = self.bin_dir.join("psql");
        let mut command = Command::new(&psql);
        without_pg_environment(&mut command);
        // -X (--no-psqlrc): a developer's ~/.psqlrc must not change output; -w: never prompt.
        command
            .args([
                "-X",
                "-w",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                SUPERUSER,
            ])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-d")
            .arg(database)
            .args(extra_args)
            .env("PGCONNECT_TIMEOUT", "10")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if stdin_sql.is_some() {
            command.args(["-f", "-"]).stdin(Stdio::piped());
        } else {
            command.stdin(Stdio::null());
        }

        let output = run_with_stdin(command, stdin_sql, &psql)?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            let stderr = String::from_utf8_lossy(&output.stderr)
                .trim_end()
                .to_string();
            let stderr = if stderr.is_empty() {
                format!("psql exited with {} and printed nothing", output.status)
            } else {
                stderr
            };
            Err(HarnessError::Sql {
                database: database.to_string(),
                stderr,
            })
        }
    }

    /// Stops the server and deletes the directory, once; later calls do nothing.
    fn teardown(&self) -> Result<(), HarnessError> {
        let mut guard = self
            .cluster_dir
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(cluster_dir) = guard.take() else {
            return Ok(());
        };
        let stopped = stop_server(&self.bin_dir, self.server_user, &self.root, &self.data_dir, "immediate");
        if stopped.is_err() {
            // The server may still use its files; leave them for the next run's reaper.
            let _ = cluster_dir.keep();
            return stopped;
        }
        cluster_dir.close().map_err(HarnessError::io(&self.root))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(error) = self.teardown() {
            let _ = writeln!(io::stderr(), "pg-harness: {error}");
        }
    }
}

static SHARED_CLUSTER: OnceLock<Result<Cluster, HarnessError>> = OnceLock::new();

/// The process that started the shared cluster; a forked child inherits the atexit hook and
/// must not stop its parent's server when it exits.
static SHARED_CLUSTER_OWNER_PID: AtomicU32 = AtomicU32::new(0);

extern "C" fn stop_shared_cluster_at_exit() {
    if SHARED_CLUSTER_OWNER_PID.load(Ordering::SeqCst) != std::process::id() {
        return;
    }
    if let Some(Ok(cluster)) = SHARED_CLUSTER.get() {
        if let Err(error) = cluster.teardown() {
            let _ = writeln!(
                io::stderr(),
                "pg-harness: stopping the shared cluster at exit: {error}"
            );
        }
    }
}

fn shared_root_hint(started: &Result<Cluster, HarnessError>) -> String {
    started
        .as_ref()
        .map(|cluster| cluster.root.display().to_string())
        .unwrap_or_default()
}

/// Where cluster directories go. Root's server user must be able to reach it, and root's
/// `TMPDIR` might point somewhere private, so root always uses /tmp.
fn temp_base(server_user: ServerUser) -> PathBuf {
    match server_user {
        ServerUser::Switched { .. } => PathBuf::from("/tmp"),
        ServerUser::Current => std::env::temp_dir(),
    }
}

/// A server-side program run as the server user: no inherited PG* variables (PGDATA, PGPORT,
/// PGOPTIONS... would silently redirect it), C locale so messages are English and stable, and
/// the cluster directory as working directory, since the caller's may be unreadable to it.
fn server_command(program: &Path, server_user: ServerUser, working_dir: &Path) -> Command {
    let mut command = Command::new(program);
    without_pg_environment(&mut command);
    command
        .env("LC_ALL", "C")
        .env("LANG", "C")
        .current_dir(working_dir);
    server_user.apply(&mut command);
    command
}

fn without_pg_environment(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PG") {
            command.env_remove(name);
        }
    }
}

fn run_initdb(
    bin_dir: &Path,
    server_user: ServerUser,
    root: &Path,
    data_dir: &Path,
) -> Result<(), HarnessError> {
    let initdb = bin_dir.join("initdb");
    let output = server_command(&initdb, server_user, root)
        .arg("-D")
        .arg(data_dir)
        // --no-sync: the cluster is thrown away, so waiting for the disk is wasted time.
        .args([
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(HarnessError::spawn(initdb.display().to_string()))?;
    if output.status.success() {
        return Ok(());
    }
    Err(HarnessError::InitdbFailed {
        status: output.status.to_string(),
        data_dir: data_dir.to_path_buf(),
        output: combined_output(&output),
    })
}

fn append_settings(data_dir: &Path, socket_dir: &Path) -> Result<(), HarnessError> {
    let config_path = data_dir.join("postgresql.conf");
    let socket_dir_literal = socket_dir.to_string_lossy().replace('\'', "''");
    // The port is passed on the pg_ctl command line instead, so a port retry needs no rewrite.
    let settings = format!(
        "\n# pg-harness: a throwaway test cluster; durability is pointless here, speed is not.\n\
         listen_addresses = '127.0.0.1'\n\
         unix_socket_directories = '{socket_dir_literal}'\n\
         fsync = off\n\
         synchronous_commit = off\n\
         full_page_writes = off\n"
    );
    let mut config = fs::OpenOptions::new()
        .append(true)
        .open(&config_path)
        .map_err(HarnessError::io(&config_path))?;
    config
        .write_all(settings.as_bytes())
        .map_err(HarnessError::io(&config_path))
}

/// Binds port 0 to let the kernel pick a free port, then releases it for the server.
fn reserve_free_port() -> Result<u16, HarnessError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(HarnessError::NoFreePort)?;
    let port = listener
        .local_addr()
        .map_err(HarnessError::NoFreePort)?
        .port();
    Ok(port)
}

struct StartFailure {
    /// Someone else bound the port between reservation and start: worth another try.
    port_taken: bool,
    error: HarnessError,
}

fn start_server(
    bin_dir: &Path,
    server_user: ServerUser,
    root: &Path,
    data_dir: &Path,
    log_path: &Path,
    port: u16,
) -> Result<(), StartFailure> {
    let pg_ctl = bin_dir.join("pg_ctl");
    let output = server_command(&pg_ctl, server_user, root)
        .arg("-D")
        .arg(data_dir)
        .arg("-l")
        .arg(log_path)
        .args(["-w", "-t", "60", "-o"])
        .arg(format!("-p {port}"))
        .arg("start")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| StartFailure {
            port_taken: false,
            error: HarnessError::spawn(pg_ctl.display().to_string())(source),
        })?;
    if output.status.success() {
        return Ok(());
    }
    let log_tail = tail_of_file(log_path, LOG_TAIL_LINES);
    let port_taken = log_tail.contains("Address already in use");
    Err(StartFailure {
        port_taken,
        error: HarnessError::StartFailed {
            pg_ctl_output: combined_output(&output),
            log_path: log_path.to_path_buf(),
            log_tail,
        },
    })
}

/// `pg_ctl stop -m <mode>` (immediate for teardown: the data is discarded, so a clean
/// checkpoint is wasted work);
/// if pg_ctl itself fails, SIGQUIT to the postmaster, which is what immediate mode sends.
fn stop_server(
    bin_dir: &Path,
    server_user: ServerUser,
    root: &Path,
    data_dir: &Path,
    mode: &str,
) -> Result<(), HarnessError> {
    let Some(postmaster_pid) = read_postmaster_pid(data_dir) else {
        return Ok(());
    };
    let pg_ctl = bin_dir.join("pg_ctl");
    let pg_ctl_result = server_command(&pg_ctl, server_user, root)
        .arg("-D")
        .arg(data_dir)
        .args(["-m", mode, "-w", "-t", "60", "stop"])
        .stdin(Stdio::null())
        .output();
    let pg_ctl_problem = match pg_ctl_result {
        // pg_ctl returns once postmaster.pid is gone, a moment before the process itself is;
        // wait for that too, so "stopped" means no server process remains.
        Ok(output) if output.status.success() => {
            return if wait_for_exit(postmaster_pid, Duration::from_secs(10)) {
                Ok(())
            } else {
                Err(HarnessError::StopFailed {
                    data_dir: data_dir.to_path_buf(),
                    detail: format!(
                        "postmaster {postmaster_pid} still running 10 s after pg_ctl stop"
                    ),
                })
            };
        }
        Ok(output) => format!(
            "pg_ctl stop failed ({}): {}",
            output.status,
            combined_output(&output)
        ),
        Err(error) => format!("could not run {}: {error}", pg_ctl.display()),
    };
    // A stale pid file's pid may since belong to an unrelated process: never signal that.
    if !process_is_alive(postmaster_pid) || !process_is_postgres(postmaster_pid) {
        return Ok(());
    }
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(postmaster_pid, libc::SIGQUIT) };
    if wait_for_exit(postmaster_pid, Duration::from_secs(10)) {
        return Ok(());
    }
    Err(HarnessError::StopFailed {
        data_dir: data_dir.to_path_buf(),
        detail: format!("{pg_ctl_problem}; postmaster {postmaster_pid} survived SIGQUIT"),
    })
}

/// Polls until `pid` is gone (or a zombie); false if it is still running at the deadline.
fn wait_for_exit(pid: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !process_is_alive(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// The first line of `postmaster.pid`, which exists only while the server runs.
fn read_postmaster_pid(data_dir: &Path) -> Option<i32> {
    let contents = fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    contents.lines().next()?.trim().parse().ok()
}

/// True unless the process is gone or a zombie (a zombie holds no resources and, here, could
/// linger because the container's init may not reap orphans promptly).
fn process_is_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the parenthesised command name, which may itself hold spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

fn process_is_postgres(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|name| matches!(name.trim(), "postgres" | "postmaster"))
}

/// Deletes cluster directories whose owning process is gone (killed by a signal, so its
/// at-exit hook never ran), stopping their servers first. Best effort: failures are ignored.
fn reap_abandoned_clusters(base: &Path, bin_dir: &Path, server_user: ServerUser) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .starts_with(CLUSTER_DIR_PREFIX)
        {
            continue;
        }
        let cluster_root = entry.path();
        // No owner file yet means another process is still creating it.
        let Some(owner_pid) = fs::read_to_string(cluster_root.join(OWNER_PID_FILE))
            .ok()
            .and_then(|text| text.trim().parse::<i32>().ok())
        else {
            continue;
        };
        if process_is_alive(owner_pid) {
            continue;
        }
        if stop_server(
            bin_dir,
            server_user,
            &cluster_root,
            &cluster_root.join("data"),
            "immediate",
        )
        .is_ok()
        {
            let _ = fs::remove_dir_all(&cluster_root);
        }
    }
}

/// Runs `command`, feeding `stdin_text` from another thread so a large script cannot deadlock
/// against a child that is blocked writing a large result.
fn run_with_stdin(
    mut command: Command,
    stdin_text: Option<&str>,
    program: &Path,
) -> Result<Output, HarnessError> {
    let mut child = command
        .spawn()
        .map_err(HarnessError::spawn(program.display().to_string()))?;
    let writer = match (stdin_text, child.stdin.take()) {
        (Some(text), Some(mut stdin)) => {
            let text = text.to_owned();
            // A write error means psql exited early; its stderr tells why, so it is ignored here.
            Some(thread::spawn(move || {
                let _ = stdin.write_all(text.as_bytes());
            }))
        }
        _ => None,
    };
    let output = child
        .wait_with_output()
        .map_err(HarnessError::spawn(program.display().to_string()))?;
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    Ok(output)
}

fn combined_output(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    format!("{}\n{}", stdout.trim_end(), stderr.trim_end())
        .trim()
        .to_string()
}

fn tail_of_file(path: &Path, line_count: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(line_count)..].join("\n")
        }
        Err(error) => format!("(could not read {}: {error})", path.display()),
    }
}

/// Lower-cases and replaces anything outside `[a-z0-9_]`, so the name needs no quoting
/// surprises and stays well under PostgreSQL's 63-byte identifier limit.
fn identifier_safe(prefix: &str) -> String {
    let mut name: String = prefix
        .chars()
        .take(32)
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, "db_");
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_safe_keeps_names_plain() {
        assert_eq!(identifier_safe("My-Test"), "my_test");
        assert_eq!(identifier_safe(""), "db_");
        assert_eq!(identifier_safe("1abc"), "db_1abc");
        assert_eq!(identifier_safe(&"x".repeat(100)).len(), 32);
    }
}
