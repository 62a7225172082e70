//! Test support: databases on the shared throwaway cluster, manager processes (the real binary), apps registered from manifests, a webhook receiver on 127.0.0.1.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use dc_runtime::db::DatabaseUrl;
use pg_harness::Cluster;

pub const MANAGER: &str = env!("CARGO_BIN_EXE_dc-manager");
pub const DCCTL: &str = env!("CARGO_BIN_EXE_dcctl");

/// A database of its own, migrated, on a cluster.
pub struct TestDb {
    pub cluster: &'static Cluster,
    pub name: String,
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl TestDb {
    pub fn new(prefix: &str) -> TestDb {
        TestDb::on(Cluster::shared(), prefix)
    }

    pub fn on(cluster: &'static Cluster, prefix: &str) -> TestDb {
        let name = cluster.create_database(prefix).expect("create database");
        let url = cluster.url(&name);
        dc_manager::register::prepare_database(&DatabaseUrl::new(url.clone())).expect("migrations");
        TestDb { cluster, name, url, dir: tempfile::tempdir().expect("tempdir") }
    }

    /// Registers the apps of a manifest written here.
    pub fn register(&self, manifest: &str) {
        let path = self.dir.path().join("apps.yaml");
        std::fs::write(&path, manifest).unwrap();
        let apps = dc_manager::manifest::load(&path).unwrap_or_else(|e| panic!("{e}"));
        dc_manager::register::register(&DatabaseUrl::new(self.url.clone()), &apps).expect("register");
    }

    pub fn query(&self, sql: &str) -> Vec<Vec<String>> {
        self.cluster.query(&self.name, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    pub fn value(&self, sql: &str) -> String {
        self.query(sql).first().and_then(|row| row.first().cloned()).unwrap_or_default()
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.value(sql).parse().unwrap_or_else(|_| panic!("{sql}: not a number"))
    }

    pub fn execute(&self, sql: &str) {
        self.cluster.psql(&self.name, sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub fn app_id(&self, group: &str, parent: &str, name: &str) -> String {
        dc_manager::ids::app_id(group, parent, name)
    }

    /// Starts a manager process with test-sized settings.
    pub fn manager(&self, extra: &[&str]) -> ManagerProcess {
        ManagerProcess::start(&self.url, self.dir.path(), extra, &[])
    }

    /// A manager with extra environment variables (`DC_LOG_*`, say).
    pub fn manager_with_env(&self, extra: &[&str], env: &[(&str, &str)]) -> ManagerProcess {
        ManagerProcess::start(&self.url, self.dir.path(), extra, env)
    }

    pub fn dcctl(&self, args: &[&str]) -> std::process::Output {
        Command::new(DCCTL).args(args).env("DC_DB_MAIN_URL", &self.url).env("USER", "tester").output().expect("dcctl")
    }
}

static MANAGER_COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A real dc-manager process; killed with SIGKILL when dropped unless it was stopped.
pub struct ManagerProcess {
    pub child: Option<Child>,
    pub log: PathBuf,
}

impl ManagerProcess {
    pub fn start(url: &str, dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> ManagerProcess {
        let n = MANAGER_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = dir.join(format!("manager-{n}.log"));
        let file = std::fs::File::create(&log).unwrap();
        // Test-sized defaults; a flag in `extra` replaces its default (clap refuses repeats).
        let defaults = [("--lease-s", "2"), ("--poll-ms", "200"), ("--grace-s", "60"), ("--shutdown-s", "5")];
        let mut args: Vec<&str> = defaults.iter().filter(|(flag, _)| !extra.contains(flag)).flat_map(|(flag, value)| [*flag, *value]).collect();
        args.extend_from_slice(extra);
        let child = Command::new(MANAGER)
            .args(&args)
            .env("DC_DB_MAIN_URL", url)
            .env("RUST_LOG", "info")
            // The apps' output spills here when the database cannot take it, not into the crate directory.
            .env("DC_LOG_SPILL_DIR", dir.join("manager-spill"))
            .envs(env.iter().copied())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("start dc-manager");
        ManagerProcess { child: Some(child), log }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    pub fn sigkill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for a graceful exit; returns its exit status.
    pub fn sigterm(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("manager did not exit within {timeout:?} of SIGTERM; log:\n{}", std::fs::read_to_string(&self.log).unwrap_or_default());
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ManagerProcess {
    fn drop(&mut self) {
        self.sigkill();
    }
}

/// Polls `condition` until it holds; panics with `what` after `timeout`.
pub fn wait_for(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    loop {
        if condition() {
            return started.elapsed();
        }
        if started.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Processes on this host whose environment holds `DC_RUNTIME_ID=<id>` (an app run's whole tree).
pub fn processes_of_run(runtime_id: &str) -> Vec<i32> {
    let needle = format!("DC_RUNTIME_ID={runtime_id}");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
        if environ.split(|b| *b == 0).any(|v| v == needle.as_bytes()) && dc_manager::process::pid_alive(pid) {
            pids.push(pid);
        }
    }
    pids
}

/// A minimal HTTP/1.1 server on 127.0.0.1 that records request bodies and
/// answers each with its status: the first ones from `first`, then `status`.
pub struct Receiver {
    pub url: String,
    pub bodies: Arc<Mutex<Vec<String>>>,
    /// The status each request got, in order.
    pub answers: Arc<Mutex<Vec<u16>>>,
}

impl Receiver {
    pub fn start(status: u16) -> Receiver {
        Receiver::answering(&[], status)
    }

    /// Answers the first requests with `first` (e.g. 503s), then `status`.
    pub fn answering(first: &[u16], status: u16) -> Receiver {
        let mut queue: std::collections::VecDeque<u16> = first.iter().copied().collect();
        let answers = Arc::new(Mutex::new(Vec::new()));
        let answered = answers.clone();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let recorded = bodies.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0usize;
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                    line.clear();
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_ok() {
                    recorded.lock().unwrap().push(String::from_utf8_lossy(&body).into_owned());
                }
                let answer = queue.pop_front().unwrap_or(status);
                answered.lock().unwrap().push(answer);
                let mut stream = stream;
                let _ = write!(stream, "HTTP/1.1 {answer} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            }
        });
        Receiver { url, bodies, answers }
    }

    pub fn received(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` text from psql into seconds since the epoch.
pub fn epoch(text: &str) -> f64 {
    let time = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").unwrap_or_else(|e| panic!("{text}: {e}"));
    time.and_utc().timestamp_micros() as f64 / 1e6
}
