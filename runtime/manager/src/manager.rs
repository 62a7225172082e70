//! The manager process: one loop that wakes on NOTIFY, on a child's exit or every poll interval, and each time records, renews, rescues, commands, schedules and starts.
//!
//! States of a run (scheduled_runs.state) and who moves them:
//!
//! ```text
//!  due ──claim (policy says start)──▶ claimed ──runtime row written──▶ running ──exit recorded──▶ done
//!   │                                    │  lease expired: back to due           │  lease expired or owner dead:
//!   └──policy says skip──▶ skipped       │  (nothing ran)                        │  done, exit code orphan_pid
//! ```
//!
//! Everything a step needs is read from the database at that step; the
//! manager's memory holds only its own children. A manager may die at any
//! line: what it held is found by its lease expiring (or, on the same host,
//! by its process being gone) and finished by another manager.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dc_runtime::db::DatabaseUrl;
use dc_schema::enums::{CmdFlag, RuntimeExitCode};
use futures_util::StreamExt;
use tokio::sync::{mpsc, Notify};
use tokio_postgres::{AsyncMessage, Client};
use tokio_util::sync::CancellationToken;

use crate::notify::{Alert, Notifier};
use crate::output::OutputSink;
use crate::process::{self, Exited, Launch, Running};
use crate::schedule::Schedule;
use crate::store::{self, Claimed, CommandScope, Ended, RunEnd, StoreError};

/// How a manager runs.
pub struct Config {
    pub database_url: DatabaseUrl,
    /// `host:pid:nonce`, unique per manager process.
    pub manager_id: String,
    pub host: String,
    /// How long a claim lasts without renewal (default 30 s); renewed every third of it.
    pub lease: Duration,
    /// The fallback poll when no notification comes (default 1 s).
    pub poll: Duration,
    /// How late a run may start and still count as on time (default 60 s).
    pub grace: Duration,
    /// On SIGTERM, how long running apps may go on before they are stopped (default 30 s).
    pub shutdown_timeout: Duration,
    /// Occurrences written per app per tick at most; older missed ones are counted in the log.
    pub backfill_limit: usize,
    pub notifiers: Vec<Box<dyn Notifier>>,
    pub sink: Arc<dyn OutputSink>,
}

impl Config {
    pub fn new(database_url: DatabaseUrl) -> Config {
        let host = hostname();
        let nonce: u32 = std::process::id() ^ (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0));
        Config {
            database_url,
            manager_id: format!("{host}:{}:{nonce:08x}", std::process::id()),
            host,
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(1),
            grace: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(30),
            backfill_limit: 1000,
            notifiers: Vec::new(),
            sink: Arc::new(crate::output::TracingSink),
        }
    }
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "localhost".to_string())
}

#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error("{0}")]
    Prepare(String),
}

/// One of this manager's running processes.
struct Child {
    running: Running,
    token: i64,
    app_id: String,
    runtime_id: String,
    stop_timeout: Duration,
    /// Set once a stop was asked for: the exit code the run gets.
    stop_code: Option<RuntimeExitCode>,
}

/// A manager's state between ticks: its children and what it could not record yet.
pub struct Manager {
    config: Config,
    children: HashMap<i64, Child>,
    /// Ends not yet recorded (the database was unreachable).
    unrecorded: Vec<RunEnd>,
    exits: mpsc::UnboundedSender<Exited>,
    schedules: HashMap<(String, String), Option<Schedule>>,
    last_heartbeat: Instant,
    shutting_down: Option<Instant>,
    /// When, shutting down, the last child ended (ends not recorded yet are retried from then).
    children_gone: Option<Instant>,
    /// An app became fatal in this tick: the alert task is woken.
    became_fatal: bool,
    /// When scheduling (rescue, occurrences, claims) last ran.
    last_schedule: Option<Instant>,
    /// Set by the LISTEN task when a command notification arrives.
    command_notified: Arc<AtomicBool>,
    /// The apps those notifications named (looked up by key, not searched for).
    notified_apps: Arc<Mutex<HashSet<String>>>,
    /// Set when notifications may have been lost (the LISTEN connection was
    /// made again): the next look for commands searches every app.
    look_at_all: Arc<AtomicBool>,
    /// When the earliest lease another manager holds runs out: a scheduling
    /// pass runs then (not at the next poll), so a dead manager's runs are
    /// rescued as soon as its lease allows.
    next_lease_expiry: Option<Instant>,
}

/// Runs a manager until `shutdown` is cancelled and its apps have ended.
pub async fn run(mut config: Config, shutdown: CancellationToken) -> Result<(), ManagerError> {
    crate::register::prepare_database_async(&config.database_url).await.map_err(ManagerError::Prepare)?;
    let wake = Arc::new(Notify::new());
    let alert_wake = Arc::new(Notify::new());
    let notifiers = std::mem::take(&mut config.notifiers);
    let alerter = (!notifiers.is_empty()).then(|| tokio::spawn(send_alerts(config.database_url.clone(), notifiers, config.poll, alert_wake.clone(), shutdown.clone())));
    let (mut manager, mut exit_events) = Manager::new(config);
    let heard = Heard { command: manager.command_notified.clone(), apps: manager.notified_apps.clone(), look_at_all: manager.look_at_all.clone() };
    let listener = tokio::spawn(listen(manager.config.database_url.clone(), wake.clone(), heard, shutdown.clone()));
    tracing::info!(manager_id = %manager.config.manager_id, lease_s = manager.config.lease.as_secs_f64(), "manager started");
    let mut client: Option<Client> = None;
    let mut failures = 0u32;
    loop {
        while let Ok(exited) = exit_events.try_recv() {
            manager.exited(exited);
        }
        if client.as_ref().is_none_or(|c| c.is_closed()) {
            client = match store::connect(&manager.config.database_url).await {
                Ok(mut c) => match store::install_notify_trigger(&mut c).await {
                    Ok(()) => {
                        if failures > 0 {
                            tracing::info!("database reachable again");
                        }
                        failures = 0;
                        Some(c)
                    }
                    Err(error) => {
                        tracing::warn!(%error, "preparing the connection");
                        None
                    }
                },
                Err(error) => {
                    failures += 1;
                    if failures == 1 || failures % 30 == 0 {
                        tracing::warn!(%error, "database unreachable; apps keep running, retrying");
                    }
                    None
                }
            };
        }
        if let Some(c) = client.as_mut() {
            match manager.tick(c).await {
                Ok(()) => {
                    if std::mem::take(&mut manager.became_fatal) {
                        alert_wake.notify_one();
                    }
                }
                Err(error) => tracing::warn!(error = %redact(&manager.config.database_url, &error.to_string()), "tick failed; retrying"),
            }
        }
        if manager.shutting_down.is_some() && manager.children.is_empty() {
            if manager.unrecorded.is_empty() {
                break;
            }
            // The database is away: the ends are retried for one more lease
            // (another manager could take the runs over after that anyway),
            // then written to the log in full, so no outcome goes unsaid.
            let children_gone = *manager.children_gone.get_or_insert_with(Instant::now);
            if children_gone.elapsed() >= manager.config.lease {
                for end in &manager.unrecorded {
                    tracing::error!(app_id = %end.app_id, runtime_id = %end.runtime_id, run_id = end.run_id, exit = end.exit.key(), process_status = ?end.process_status, reason = %end.reason, "run end not recorded: the database stayed unreachable; another manager records the run as an orphan");
                }
                break;
            }
        }
        // Unreachable: retry with a backoff (50 ms doubling up to the poll), not in a spin.
        let wait = if client.is_none() { manager.config.poll.min(Duration::from_millis(50) * 2u32.pow(failures.min(5))) } else { manager.idle_for() };
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            Some(exited) = exit_events.recv() => manager.exited(exited),
            _ = shutdown.cancelled(), if manager.shutting_down.is_none() => {
                tracing::info!(running = manager.children.len(), "shutting down: no new runs; running apps get {:?} to finish", manager.config.shutdown_timeout);
                manager.shutting_down = Some(Instant::now() + manager.config.shutdown_timeout);
            }
        }
    }
    listener.abort();
    if let Some(alerter) = alerter {
        alerter.abort();
    }
    tracing::info!(manager_id = %manager.config.manager_id, "manager stopped");
    Ok(())
}

fn redact(url: &DatabaseUrl, text: &str) -> String {
    url.redact(text)
}

impl Manager {
    /// A manager and the channel its children's exits arrive on.
    pub fn new(config: Config) -> (Manager, mpsc::UnboundedReceiver<Exited>) {
        let (exits, exit_events) = mpsc::unbounded_channel();
        let lease = config.lease;
        let manager = Manager {
            config,
            children: HashMap::new(),
            unrecorded: Vec::new(),
            exits,
            schedules: HashMap::new(),
            last_heartbeat: Instant::now() - lease,
            shutting_down: None,
            children_gone: None,
            became_fatal: false,
            last_schedule: None,
            command_notified: Arc::new(AtomicBool::new(false)),
            notified_apps: Arc::new(Mutex::new(HashSet::new())),
            look_at_all: Arc::new(AtomicBool::new(true)),
            next_lease_expiry: None,
        };
        (manager, exit_events)
    }

    fn me(&self) -> &str {
        &self.config.manager_id
    }

    /// A child ended: what the run's runtime row will say.
    fn exited(&mut self, exited: Exited) {
        let Some(child) = self.children.remove(&exited.run_id) else { return };
        let status = exited.status.as_ref().and_then(process::process_status);
        let (exit, reason) = match (child.stop_code, exited.status) {
            (Some(code), _) => (code, format!("stopped ({})", code.key())),
            (None, Some(status)) if status.success() => (RuntimeExitCode::Finished, "exited with status 0".to_string()),
            (None, Some(exit_status)) => (RuntimeExitCode::Failed, describe_status(exit_status)),
            (None, None) => (RuntimeExitCode::Failed, "the process could not be waited for".to_string()),
        };
        self.unrecorded.push(RunEnd { run_id: exited.run_id, token: child.token, app_id: child.app_id, runtime_id: child.runtime_id, exit, process_status: status, reason });
    }

    async fn tick(&mut self, client: &mut Client) -> Result<(), StoreError> {
        self.record_ends(client).await?;
        self.renew_leases(client).await?;
        if let Some(deadline) = self.shutting_down {
            if Instant::now() >= deadline {
                for child in self.children.values_mut() {
                    if child.stop_code.is_none() {
                        child.stop_code = Some(RuntimeExitCode::ManagerExit);
                        child.running.stop(child.stop_timeout);
                    }
                }
            }
            return Ok(());
        }
        // Scheduling (rescue, occurrences, claims) runs once per poll
        // interval or when a foreign lease runs out, not on every wake: a
        // tick woken by a command or a child's exit does only the quick part,
        // and a command that arrives during scheduling is taken between its steps.
        let schedule_now = self.last_schedule.is_none_or(|at| at.elapsed() >= self.config.poll) || self.next_lease_expiry.is_some_and(|at| Instant::now() >= at);
        // Commands first: their runs start before anything else. Looked for
        // when notified, and on every scheduling pass (a lost notification
        // costs at most a poll).
        if schedule_now {
            self.look_at_all.store(true, Ordering::Relaxed);
        }
        if schedule_now || self.command_notified.load(Ordering::Relaxed) {
            self.commands(client).await?;
        }
        self.honour_stop_requests(client).await?;
        if !schedule_now {
            return Ok(());
        }
        self.last_schedule = Some(Instant::now());
        self.next_lease_expiry = None;
        self.rescue_orphans(client).await?;
        self.commands_if_notified(client).await?;
        self.write_occurrences(client).await?;
        self.commands_if_notified(client).await?;
        let runs = self.claim_due(client).await?;
        self.start_all(client, runs).await?;
        self.honour_stop_requests(client).await
    }

    /// Executes pending commands and starts the runs they claimed.
    async fn commands(&mut self, client: &mut Client) -> Result<(), StoreError> {
        self.command_notified.store(false, Ordering::Relaxed);
        let runs = self.execute_commands(client).await?;
        self.start_all(client, runs).await
    }

    async fn commands_if_notified(&mut self, client: &mut Client) -> Result<(), StoreError> {
        if self.command_notified.load(Ordering::Relaxed) {
            self.commands(client).await?;
        }
        Ok(())
    }

    /// How long the loop may sleep: until the next scheduling pass, heartbeat or foreign lease expiry.
    fn idle_for(&self) -> Duration {
        let until_heartbeat = (self.config.lease / 3).saturating_sub(self.last_heartbeat.elapsed());
        let until_schedule = self.last_schedule.map_or(Duration::ZERO, |at| self.config.poll.saturating_sub(at.elapsed()));
        let until_lease_expiry = self.next_lease_expiry.map_or(Duration::MAX, |at| at.saturating_duration_since(Instant::now()));
        until_heartbeat.min(until_schedule).min(until_lease_expiry).max(Duration::from_millis(5))
    }

    async fn record_ends(&mut self, client: &mut Client) -> Result<(), StoreError> {
        while let Some(end) = self.unrecorded.first().cloned() {
            let ended = store::end_run(client, &end, &self.config.manager_id).await?;
            self.unrecorded.remove(0);
            match ended {
                Ended::Recorded { became_fatal } => {
                    tracing::info!(app_id = %end.app_id, runtime_id = %end.runtime_id, exit = end.exit.key(), reason = %end.reason, "run ended");
                    if became_fatal {
                        self.became_fatal = true;
                        tracing::error!(app_id = %end.app_id, "app disabled after consecutive failed runs");
                    }
                }
                Ended::LeaseLost => tracing::warn!(app_id = %end.app_id, run_id = end.run_id, "run ended after its lease was taken over; another manager recorded it"),
            }
        }
        Ok(())
    }

    async fn renew_leases(&mut self, client: &mut Client) -> Result<(), StoreError> {
        if self.last_heartbeat.elapsed() < self.config.lease / 3 {
            return Ok(());
        }
        let held: Vec<(i64, i64)> = self.children.iter().map(|(id, child)| (*id, child.token)).collect();
        let lost = store::heartbeat(client, &held, self.config.lease).await?;
        self.last_heartbeat = Instant::now();
        for run_id in lost {
            // Another manager owns this run now: our process must not go on beside its record.
            if let Some(child) = self.children.remove(&run_id) {
                tracing::error!(app_id = %child.app_id, run_id, "lease lost; killing the process group");
                child.running.kill_now();
            }
        }
        Ok(())
    }

    /// The database side of one tick, without starting anything: rescue
    /// orphans, write due occurrences, apply the policies and claim the runs
    /// that start now (returned). The benchmark times exactly this.
    pub async fn schedule(&mut self, client: &mut Client) -> Result<Vec<Claimed>, StoreError> {
        self.rescue_orphans(client).await?;
        self.write_occurrences(client).await?;
        self.claim_due(client).await
    }

    /// Executes pending commands; returns the runs they started, whose
    /// processes are to be spawned at once (their runtime rows are written).
    /// Two round trips whatever the command: the locking read, then every
    /// write and the commit pipelined (see `store::execute_commands`).
    pub async fn execute_commands(&mut self, client: &mut Client) -> Result<Vec<Claimed>, StoreError> {
        let notified: Vec<String> = std::mem::take(&mut *self.notified_apps.lock().unwrap_or_else(|e| e.into_inner())).into_iter().collect();
        let all = self.look_at_all.swap(false, Ordering::Relaxed);
        let scope = if all { CommandScope::All } else { CommandScope::Apps(&notified) };
        if !all && notified.is_empty() {
            return Ok(Vec::new());
        }
        tracing::debug!(all, apps = notified.len(), "looking for commands");
        let commands = match store::take_commands(client, scope, 100).await {
            Ok(commands) => commands,
            Err(error) => {
                // Looked at again on the next tick.
                self.look_at_all.store(true, Ordering::Relaxed);
                self.command_notified.store(true, Ordering::Relaxed);
                return Err(error);
            }
        };
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        tracing::debug!(commands = commands.len(), "commands locked");
        let outcomes = match store::execute_commands(client, commands, &self.config.manager_id, &self.config.host, self.config.lease).await {
            Ok(outcomes) => outcomes,
            Err(error) => {
                // Rolled back: the commands are still pending; looked for on the next tick.
                self.look_at_all.store(true, Ordering::Relaxed);
                self.command_notified.store(true, Ordering::Relaxed);
                return Err(error);
            }
        };
        tracing::debug!("commands committed");
        let mut to_start = Vec::new();
        for outcome in outcomes {
            let command = &outcome.command;
            let executed = outcome.decision.flag == CmdFlag::Executed;
            tracing::info!(app_id = %command.app_id, command = command.name.key(), by = command.by.as_deref().unwrap_or(""), executed, reason = %outcome.decision.reason, "command");
            to_start.extend(outcome.started);
        }
        Ok(to_start)
    }

    async fn rescue_orphans(&mut self, client: &mut Client) -> Result<(), StoreError> {
        let owners = store::lease_owners(client, self.config.lease).await?;
        let asked = Instant::now();
        let mut dead = Vec::new();
        let mut expired = false;
        for owner in owners {
            let mine = owner.owner == self.config.manager_id;
            if !mine && owner_is_dead_here(&owner.owner, &self.config.host) {
                dead.push(owner.owner);
            } else if owner.expires_in_s.is_some_and(|s| s <= 0.0) {
                expired = true;
            } else if let Some(seconds) = owner.expires_in_s.filter(|_| !mine) {
                // Mine are renewed in time; the next of another manager's
                // leases to run out is woken for, a few ms late so the
                // server's clock has passed it when the pass checks.
                let at = asked + Duration::from_secs_f64(seconds) + Duration::from_millis(5);
                self.next_lease_expiry = Some(self.next_lease_expiry.map_or(at, |next| next.min(at)));
            }
        }
        // Nothing dead here and no lease run out: nothing to take, no transaction.
        if dead.is_empty() && !expired {
            return Ok(());
        }
        let tx = client.transaction().await?;
        let (released, orphans) = store::take_orphans(&tx, &dead, self.config.lease).await?;
        if released > 0 {
            tracing::warn!(released, "claimed runs whose manager is gone are due again");
        }
        for orphan in &orphans {
            let mut killed = 0;
            if orphan.host.as_deref() == Some(self.config.host.as_str()) {
                if let Some(runtime_id) = &orphan.runtime_id {
                    killed = process::kill_runtime_processes(runtime_id);
                }
            }
            let reason = format!("orphan: its manager {} is gone ({killed} process(es) killed here)", orphan.owner.as_deref().unwrap_or("?"));
            tracing::warn!(app_id = %orphan.app_id, run_id = orphan.run_id, %reason, "orphan run");
            store::end_orphan(&tx, orphan, &reason, self.me()).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn write_occurrences(&mut self, client: &mut Client) -> Result<(), StoreError> {
        let tx = client.transaction().await?;
        let now = store::now(&tx).await?;
        let apps = store::due_apps(&tx, now, 1000).await?;
        if apps.is_empty() {
            return Ok(());
        }
        let mut runs = Vec::new();
        let mut next = Vec::new();
        for app in apps {
            let key = (app.schedule.clone(), app.time_zone.clone());
            let schedule = self
                .schedules
                .entry(key)
                .or_insert_with(|| match Schedule::parse(&app.schedule, &app.time_zone) {
                    Ok(schedule) => Some(schedule),
                    Err(error) => {
                        tracing::error!(app_id = %app.app_id, %error, "the app's schedule cannot be read; it does not run until it is registered again");
                        None
                    }
                })
                .clone();
            let Some(schedule) = schedule else {
                next.push((app.app_id, Some(now + chrono::Duration::days(1))));
                continue;
            };
            if let Some(first) = app.next_run {
                let (due, dropped) = schedule.runs_between(first - chrono::Duration::microseconds(1), now, self.config.backfill_limit);
                if dropped > 0 {
                    tracing::warn!(app_id = %app.app_id, dropped, "older missed runs not written (more than the backfill limit)");
                }
                runs.extend(due.into_iter().map(|at| (app.app_id.clone(), at)));
            }
            next.push((app.app_id, schedule.next_after(now)));
        }
        store::write_occurrences(&tx, &runs, &next).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn claim_due(&mut self, client: &mut Client) -> Result<Vec<Claimed>, StoreError> {
        let tx = client.transaction().await?;
        let now = store::now(&tx).await?;
        let outcome = store::claim_due(&tx, now, self.me(), self.config.lease, self.config.grace, 500).await?;
        tx.commit().await?;
        if outcome.skipped > 0 {
            tracing::info!(skipped = outcome.skipped, "runs skipped by policy");
        }
        Ok(outcome.claimed)
    }

    /// Writes the runtime row (unless a command's transaction did), then
    /// starts the process; a spawn failure is a failed run.
    /// Returns what `set_pid` needs once the process runs.
    async fn start(&mut self, client: &mut Client, run: Claimed) -> Result<Option<(i64, i64, String, i32)>, StoreError> {
        let runtime_id = match run.runtime_id.clone() {
            Some(runtime_id) => runtime_id,
            None => {
                // The id only has to be unique (run, token and manager make it so): the local clock will do.
                let started = chrono::Utc::now().naive_utc();
                let runtime_id = crate::ids::runtime_id(&run.app_id, run.run_id, run.token, self.me(), started);
                if !store::begin_run(client, &run, &runtime_id, &self.config.manager_id, &self.config.host).await? {
                    tracing::warn!(app_id = %run.app_id, run_id = run.run_id, "lease lost before the start; another manager has the run");
                    return Ok(None);
                }
                runtime_id
            }
        };
        // The child connects with the manager's settings: the URL goes into its
        // environment only (process::spawn), never into a log line.
        let database_url = self.config.database_url.with_secret(str::to_owned);
        let launch = Launch {
            run_id: run.run_id,
            app_id: &run.app_id,
            runtime_id: &runtime_id,
            manager_id: &self.config.manager_id,
            scheduled_time: run.scheduled_time,
            command: &run.command,
            working_dir: run.working_dir.as_deref(),
            database_url: &database_url,
        };
        match process::spawn(&launch, self.config.sink.clone(), self.exits.clone()) {
            Ok(running) => {
                let pid = running.pid;
                tracing::debug!(pid, "spawned");
                tracing::info!(app_id = %run.app_id, runtime_id = %runtime_id, pid, kind = run.kind.value(), "run started");
                self.children.insert(
                    run.run_id,
                    Child { running, token: run.token, app_id: run.app_id.clone(), runtime_id, stop_timeout: run.stop_timeout, stop_code: None },
                );
                return Ok(Some((run.run_id, run.token, run.app_id, pid)));
            }
            Err(error) => {
                tracing::error!(app_id = %run.app_id, %error, "the app could not be started");
                self.unrecorded.push(RunEnd {
                    run_id: run.run_id,
                    token: run.token,
                    app_id: run.app_id,
                    runtime_id,
                    exit: RuntimeExitCode::Failed,
                    process_status: None,
                    reason: format!("failed to start: {error}"),
                });
            }
        }
        Ok(None)
    }

    /// Starts the runs: every process first, then their pids recorded and
    /// spawn failures recorded as failed runs (bookkeeping no process waits for).
    async fn start_all(&mut self, client: &mut Client, runs: Vec<Claimed>) -> Result<(), StoreError> {
        if runs.is_empty() {
            return Ok(());
        }
        let mut spawned = Vec::new();
        for run in runs {
            spawned.extend(self.start(client, run).await?);
        }
        for (run_id, token, app_id, pid) in spawned {
            store::set_pid(client, run_id, token, &app_id, pid).await?;
        }
        self.record_ends(client).await
    }

    async fn honour_stop_requests(&mut self, client: &mut Client) -> Result<(), StoreError> {
        if self.children.is_empty() {
            return Ok(());
        }
        for (run_id, code) in store::stop_requests(client, self.me()).await? {
            if let Some(child) = self.children.get_mut(&run_id) {
                if child.stop_code.is_none() {
                    tracing::info!(app_id = %child.app_id, run_id, exit = code.key(), "stopping the run: SIGTERM to its process group");
                    child.stop_code = Some(code);
                    child.running.stop(child.stop_timeout);
                }
            }
        }
        Ok(())
    }
}

fn describe_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "ended".to_string(),
    }
}

/// A lease owner (`host:pid:nonce`) on this host whose process is gone.
fn owner_is_dead_here(owner: &str, host: &str) -> bool {
    let mut parts = owner.rsplitn(3, ':');
    let (_nonce, pid, owner_host) = (parts.next(), parts.next(), parts.next());
    match (owner_host, pid.and_then(|p| p.parse::<i32>().ok())) {
        // A reused pid looks alive: then the lease has to expire, the safe way round.
        (Some(owner_host), Some(pid)) if owner_host == host => !process::pid_alive(pid),
        _ => false,
    }
}

/// Sends fatal-app alerts on a connection and task of its own, so a slow
/// webhook never delays commands or schedules. An app's alert row is
/// locked while it is sent (one manager sends it); a notifier that failed
/// is retried on the next pass, and the ones that delivered are not sent
/// again by this manager.
async fn send_alerts(url: DatabaseUrl, notifiers: Vec<Box<dyn Notifier>>, poll: Duration, wake: Arc<Notify>, shutdown: CancellationToken) {
    let mut client: Option<Client> = None;
    // (app, fatal time) -> the notifiers that delivered its alert.
    let mut delivered: HashMap<(String, Option<chrono::NaiveDateTime>), Vec<bool>> = HashMap::new();
    while !shutdown.is_cancelled() {
        if client.as_ref().is_none_or(|c| c.is_closed()) {
            client = store::connect(&url).await.ok();
        }
        if let Some(c) = client.as_mut() {
            if let Err(error) = send_pending_alerts(c, &notifiers, &mut delivered).await {
                tracing::warn!(error = %url.redact(&error.to_string()), "sending alerts failed; retrying");
            }
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.cancelled() => {}
        }
    }
}

async fn send_pending_alerts(
    client: &mut Client,
    notifiers: &[Box<dyn Notifier>],
    delivered: &mut HashMap<(String, Option<chrono::NaiveDateTime>), Vec<bool>>,
) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    let pending = store::pending_alerts(&tx).await?;
    for alert in pending {
        let alert = Alert { app_id: alert.app_id, group: alert.group, parent: alert.parent, name: alert.name, message: alert.message, fatal_time: alert.fatal_time };
        let key = (alert.app_id.clone(), alert.fatal_time);
        let done = delivered.entry(key.clone()).or_insert_with(|| vec![false; notifiers.len()]);
        for (notifier, done) in notifiers.iter().zip(done.iter_mut()) {
            if *done {
                continue;
            }
            match notifier.send(&alert).await {
                Ok(()) => *done = true,
                Err(error) => tracing::warn!(app_id = %alert.app_id, notifier = notifier.describe(), %error, "alert not delivered; retrying"),
            }
        }
        if done.iter().all(|d| *d) {
            store::alert_sent(&tx, &alert.app_id).await?;
            delivered.remove(&key);
            tracing::info!(app_id = %alert.app_id, "fatal alert sent");
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Keeps a LISTEN connection open and wakes the loop on every notification;
/// reconnects after the database restarts (and wakes once then, since
/// notifications sent while it was away are lost).
/// What the LISTEN task tells the loop.
#[derive(Clone)]
struct Heard {
    command: Arc<AtomicBool>,
    apps: Arc<Mutex<HashSet<String>>>,
    look_at_all: Arc<AtomicBool>,
}

async fn listen(url: DatabaseUrl, wake: Arc<Notify>, heard: Heard, shutdown: CancellationToken) {
    let mut backoff = Duration::from_millis(50);
    while !shutdown.is_cancelled() {
        let connected = match url.with_secret(|url| url.parse::<tokio_postgres::Config>()) {
            Ok(config) => config.connect(tokio_postgres::NoTls).await,
            Err(error) => Err(error),
        };
        match connected {
            Ok((client, mut connection)) => {
                let notified = wake.clone();
                let seen = heard.clone();
                let driver = tokio::spawn(async move {
                    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(message) = messages.next().await {
                        match message {
                            Ok(AsyncMessage::Notification(note)) => {
                                if let Some(app) = note.payload().strip_prefix("command") {
                                    tracing::debug!("command notification");
                                    match app.trim() {
                                        "" => seen.look_at_all.store(true, Ordering::Relaxed),
                                        app => {
                                            seen.apps.lock().unwrap_or_else(|e| e.into_inner()).insert(app.to_string());
                                        }
                                    }
                                    seen.command.store(true, Ordering::Relaxed);
                                }
                                notified.notify_one();
                            }
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                });
                if client.batch_execute(&format!("LISTEN {}", store::CHANNEL)).await.is_ok() {
                    backoff = Duration::from_millis(50);
                    // Notifications sent while it was away are lost: look at every app once.
                    heard.look_at_all.store(true, Ordering::Relaxed);
                    heard.command.store(true, Ordering::Relaxed);
                    wake.notify_one();
                }
                tokio::select! {
                    _ = driver => {}
                    _ = shutdown.cancelled() => return,
                }
            }
            Err(error) => tracing::debug!(error = %url.redact(&error.to_string()), "LISTEN connection failed"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}
