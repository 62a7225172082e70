//! Real child processes (this test binary run again) that panic, get SIGTERM, or flood the queue: every record they accepted reaches the database or the spill file.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use dc_logging::{LogSettings, Logging};
use dc_runtime::db::DatabaseUrl;
use dc_schema::enums::RuntimeExitCode;
use serde_json::Value;
use tracing::info;

use crate::support::{assert_every_seq_once, drain_and_finish, app, logging, seqs_in_logs, spilled_lines, Db};

const ROLE: &str = "DC_LOGGING_CHILD";
const DATABASE: &str = "DC_LOGGING_CHILD_DATABASE";
const SPILL: &str = "DC_LOGGING_CHILD_SPILL";

/// The child's side; run only by the tests below.
#[test]
#[ignore = "helper: run in a child process by the tests in this module"]
fn child() {
    let role = std::env::var(ROLE).expect("run by the tests in children.rs only");
    let mut settings = LogSettings { console: false, spill_dir: std::env::var(SPILL).unwrap().into(), ..LogSettings::default() };
    if role == "flood" {
        settings.queue_size = 4;
        settings.queue_wait = Duration::ZERO;
        settings.batch_size = 100;
    }
    let guard = Logging::new(settings).app(app()).database(DatabaseUrl::new(std::env::var(DATABASE).unwrap())).install().unwrap();
    match role.as_str() {
        "panic" => {
            for seq in 0..1000_u64 {
                info!(seq, "before the panic");
            }
            panic!("the child panics");
        }
        "sigterm" => {
            let mut seq = 0_u64;
            loop {
                info!(seq, "until the signal");
                seq += 1;
                if seq == 2000 {
                    println!("CHILD-READY");
                }
                if seq % 10 == 0 {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }
        "flood" => {
            let threads: Vec<_> = (0..4_u64)
                .map(|thread| {
                    std::thread::spawn(move || {
                        for n in 0..10_000 {
                            info!(seq = thread * 10_000 + n, payload = "x".repeat(200), "flood");
                        }
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            let stats = guard.finish(RuntimeExitCode::Finished);
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let peak_kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).unwrap().trim().trim_end_matches(" kB").parse().unwrap();
            println!("CHILD-OVERFLOWED={} CHILD-PEAK-KB={peak_kb}", stats.overflowed);
        }
        other => panic!("unknown child role {other}"),
    }
}

fn child_command(role: &str, db: &Db<'_>, spill: &std::path::Path) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--ignored", "--exact", "children::child", "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(DATABASE, db.url_text())
        .env(SPILL, spill)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// The `seq` of every log record left in the spill files.
fn spilled_seqs(spill: &std::path::Path) -> Vec<u64> {
    spilled_lines(spill)
        .iter()
        .filter_map(|line| {
            let line: Value = serde_json::from_str(line).ok()?;
            let fields = line["record"]["fields"].as_array()?;
            fields.iter().find(|pair| pair[0] == "seq").and_then(|pair| pair[1].as_u64())
        })
        .collect()
}

#[test]
fn a_child_that_panics_delivers_every_record_and_ends_its_runtime() {
    let db = Db::new("child_panic");
    let spill = tempfile::tempdir().unwrap();
    let output = child_command("panic", &db, spill.path()).output().unwrap();
    assert!(!output.status.success(), "the child failed by its panic");
    assert_every_seq_once(&seqs_in_logs(&db, ""), 1000, &format!("PostgreSQL (child stderr: {})", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(db.query("SELECT log_level, msg FROM logs WHERE msg LIKE 'panic:%'"), vec![vec!["40".to_string(), "panic: the child panics".into()]]);
    assert_eq!(db.query("SELECT exit_code IS NULL, except_cnt, end_time IS NOT NULL FROM runtime"), vec![vec!["t".to_string(), "1".into(), "t".into()]]);
    assert!(spilled_lines(spill.path()).is_empty());
}

#[test]
fn a_child_killed_by_sigterm_leaves_every_accepted_record_in_the_database_or_the_spill_file() {
    let db = Db::new("child_sigterm");
    let spill = tempfile::tempdir().unwrap();
    let mut child = child_command("sigterm", &db, spill.path()).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("CHILD-READY") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "the child ended before it was ready");
    }
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.signal(), Some(libc::SIGTERM), "the child died of the signal after draining: {status:?}");
    let mut seen = seqs_in_logs(&db, "");
    seen.extend(spilled_seqs(spill.path()));
    seen.sort_unstable();
    let last = *seen.last().unwrap();
    assert!(last >= 2000);
    assert_every_seq_once(&seen, last + 1, &format!("database and spill file together (child stderr: {stderr})"));
    // The next start replays what the child spilled (the end of its runtime row too, if it was late).
    let (_, guard) = logging(spill.path(), Some(&db)).build::<tracing_subscriber::Registry>().unwrap();
    let own_runtime = guard.runtime_id().unwrap().to_string();
    drain_and_finish(guard);
    assert_eq!(db.query(&format!("SELECT exit_code, end_time IS NOT NULL FROM runtime WHERE runtime <> '{own_runtime}'")), vec![vec!["1".to_string(), "t".into()]]);
    assert_every_seq_once(&seqs_in_logs(&db, ""), last + 1, "PostgreSQL after the replay");
    assert!(spilled_lines(spill.path()).is_empty());
}

#[test]
fn a_child_flooding_a_tiny_queue_stays_small_and_loses_nothing() {
    let db = Db::new("child_flood");
    let spill = tempfile::tempdir().unwrap();
    let output = child_command("flood", &db, spill.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let report = stdout.lines().find_map(|l| l.find("CHILD-OVERFLOWED=").map(|at| &l[at..])).unwrap_or_else(|| panic!("no report from the child: {stdout}"));
    let numbers: Vec<u64> = report.split(' ').map(|part| part.split_once('=').unwrap().1.parse().unwrap()).collect();
    assert!(numbers[0] > 0, "the queue overflowed: {report}");
    assert!(numbers[1] < 64 * 1024, "peak RSS under 64 MiB: {report}");
    let mut seen = seqs_in_logs(&db, "");
    seen.extend(spilled_seqs(spill.path()));
    seen.sort_unstable();
    assert_every_seq_once(&seen, 40_000, &format!("database and spill file (child stderr: {})", String::from_utf8_lossy(&output.stderr)));
    // The next start replays what the child left.
    let (_, guard) = logging(spill.path(), Some(&db)).build::<tracing_subscriber::Registry>().unwrap();
    drain_and_finish(guard);
    assert_every_seq_once(&seqs_in_logs(&db, ""), 40_000, "PostgreSQL after the replay");
    assert!(spilled_lines(spill.path()).is_empty());
}
