//! Every statement the manager sends to PostgreSQL, over tokio-postgres; values are always bound, never spliced.
//!
//! Time is the database's: `NOW_UTC` is read on the server, so leases and
//! schedules never depend on one manager's clock. Every write a run's owner
//! makes says `fencing_token = <its token>`: a manager that lost its lease
//! (paused, partitioned, presumed dead) writes nothing.

use std::collections::HashMap;
use std::time::Duration;

use chrono::NaiveDateTime;
use dc_schema::enums::{CmdFlag, CmdName, FatalFlag, MissedRunPolicy, OverlapPolicy, RunStatus, RuntimeExitCode, ScheduledRunKind};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, GenericClient, NoTls, Transaction};

use crate::policy::{self, DueRun, Policies};

/// The server's time in UTC, as the framework's `datetime` columns hold it.
const NOW_UTC: &str = "timezone('utc', clock_timestamp())";
/// The channel managers LISTEN on; the command trigger and the manager's own notices use it.
pub const CHANNEL: &str = "dc_manager";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] tokio_postgres::Error),
    #[error("{0}")]
    Data(String),
}

/// Opens a connection whose driver runs on its own task. The URL never appears in an error.
pub async fn connect(url: &dc_runtime::db::DatabaseUrl) -> Result<Client, String> {
    let config = url.with_secret(|url| url.parse::<tokio_postgres::Config>()).map_err(|error| format!("cannot read the database URL {url}: {}", url.redact(&error.to_string())))?;
    match config.connect(NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "database connection ended");
                }
            });
            Ok(client)
        }
        Err(error) => Err(format!("cannot connect to {url}: {}", url.redact(&error.to_string()))),
    }
}

/// The trigger that wakes every manager when a command is written to `apps`,
/// by dcctl or by a plain SQL UPDATE. The spec language has no key for raw
/// triggers, so the manager installs it (idempotently, under an advisory
/// lock) instead of a generated migration.
pub async fn install_notify_trigger(client: &mut Client) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    tx.batch_execute(&format!(
        "SELECT pg_advisory_xact_lock(hashtext('dc_manager_install'));
         CREATE OR REPLACE FUNCTION dc_manager_notify_command() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           PERFORM pg_notify('{CHANNEL}', 'command ' || COALESCE(NEW.app, ''));
           RETURN NULL;
         END $$;
         CREATE OR REPLACE TRIGGER dc_manager_command AFTER INSERT OR UPDATE OF cmd_name, cmd_flag, cmd_time, cmd_by ON apps
           FOR EACH ROW WHEN (NEW.cmd_flag = {pending} AND NEW.cmd_name IS NOT NULL)
           EXECUTE FUNCTION dc_manager_notify_command();",
        pending = CmdFlag::Pending.value()
    ))
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn now(client: &impl GenericClient) -> Result<NaiveDateTime, StoreError> {
    // Typed (no parameters): one round trip, no prepare.
    let rows = client.query_typed(&format!("SELECT {NOW_UTC}"), &[]).await?;
    rows.first().map(|row| row.get(0)).ok_or_else(|| StoreError::Data("the server's time was not returned".into()))
}

/// A run this manager holds a lease on, with what it needs to start it.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub run_id: i64,
    pub app_id: String,
    pub scheduled_time: NaiveDateTime,
    pub kind: ScheduledRunKind,
    pub token: i64,
    pub command: String,
    pub working_dir: Option<String>,
    pub stop_timeout: Duration,
    /// Set when the run is already marked running with this runtime row
    /// written (a command's run, begun in the command's own transaction).
    pub runtime_id: Option<String>,
}

/// A run whose owner is gone: its lease expired, or its manager's process on this host is dead.
#[derive(Clone, Debug)]
pub struct Orphan {
    pub run_id: i64,
    pub app_id: String,
    pub runtime_id: Option<String>,
    pub host: Option<String>,
    pub owner: Option<String>,
}

/// Another manager holding claimed or running rows, and when the earliest of
/// its leases expires as [`take_orphans`] counts it.
#[derive(Clone, Debug)]
pub struct LeaseOwner {
    pub owner: String,
    /// Seconds from now (the server's clock) until its earliest lease expires; 0 or less: expired.
    pub expires_in_s: Option<f64>,
}

/// Managers holding claimed or running rows (`me` among them: a run of mine
/// whose lease ran out without my holding its process is taken too), to
/// check which are dead and when the next lease runs out (the scheduler wakes then).
pub async fn lease_owners(client: &Client, lease: Duration) -> Result<Vec<LeaseOwner>, StoreError> {
    let rows = client
        .query_typed(
            &format!(
                "SELECT lease_owner::text,
                        extract(epoch FROM min(GREATEST(lease_expires, timezone('utc', pg_postmaster_start_time()) + make_interval(secs => $1))) - {NOW_UTC})::float8
                 FROM scheduled_runs WHERE state IN {ACTIVE_STATES} AND lease_owner IS NOT NULL GROUP BY lease_owner"
            ),
            &[(&lease.as_secs_f64(), Type::FLOAT8)],
        )
        .await?;
    Ok(rows.iter().map(|row| LeaseOwner { owner: row.get(0), expires_in_s: row.get(1) }).collect())
}

/// Claimed runs that never started go back to due; running ones whose
/// owner is gone are locked and returned for [`end_orphan`].
///
/// A lease counts as expired only once PostgreSQL itself has been up for a
/// lease (`lease` is this manager's): while the database was down no owner
/// could renew, so after a restart every owner gets one full lease to
/// reconnect, renew and record what ended meanwhile before its runs are
/// taken. A dead owner on this host (`dead_owners`) is taken at once.
pub async fn take_orphans(tx: &Transaction<'_>, dead_owners: &[String], lease: Duration) -> Result<(u64, Vec<Orphan>), StoreError> {
    let expired = format!("GREATEST(lease_expires, timezone('utc', pg_postmaster_start_time()) + make_interval(secs => $2)) < {NOW_UTC}");
    let released = tx
        .execute(
            &format!(
                "UPDATE scheduled_runs SET state = 'due', lease_owner = NULL, lease_expires = NULL, heartbeat = NULL, fencing_token = fencing_token + 1
                 WHERE state = 'claimed' AND ({expired} OR lease_owner = ANY($1))"
            ),
            &[&dead_owners, &lease.as_secs_f64()],
        )
        .await?;
    let rows = tx
        .query(
            &format!(
                "SELECT id, app_id, runtime_id, host, lease_owner FROM scheduled_runs
                 WHERE state = 'running' AND ({expired} OR lease_owner = ANY($1))
                 ORDER BY id FOR UPDATE SKIP LOCKED"
            ),
            &[&dead_owners, &lease.as_secs_f64()],
        )
        .await?;
    let orphans = rows
        .iter()
        .map(|row| Orphan { run_id: row.get(0), app_id: row.get(1), runtime_id: row.get(2), host: row.get(3), owner: row.get(4) })
        .collect();
    Ok((released, orphans))
}

/// Records an orphan as ended (`orphan_pid`) and takes the lease from its owner for good.
pub async fn end_orphan(tx: &Transaction<'_>, orphan: &Orphan, reason: &str, me: &str) -> Result<(), StoreError> {
    tx.execute(
        &format!(
            "UPDATE scheduled_runs SET state = 'done', ended_at = {NOW_UTC}, reason = $2, lease_owner = NULL, lease_expires = NULL, heartbeat = NULL,
               fencing_token = fencing_token + 1 WHERE id = $1"
        ),
        &[&orphan.run_id, &reason],
    )
    .await?;
    if let Some(runtime_id) = &orphan.runtime_id {
        finish_runtime(tx, runtime_id, &orphan.app_id, RuntimeExitCode::OrphanPid, None, me).await?;
    }
    refresh_app(tx, &orphan.app_id).await
}

async fn finish_runtime(tx: &Transaction<'_>, runtime_id: &str, app_id: &str, exit: RuntimeExitCode, process_status: Option<i32>, me: &str) -> Result<(), StoreError> {
    tx.execute(
        &format!(
            "UPDATE runtime SET end_time = {NOW_UTC},
               totals = floor(extract(epoch FROM {NOW_UTC} - start_time))::int,
               totalm = floor(extract(epoch FROM {NOW_UTC} - start_time) / 60)::int,
               totalh = floor(extract(epoch FROM {NOW_UTC} - start_time) / 3600)::int,
               exit_code = $2, process_status = $3, manager_id = COALESCE(manager_id, $4),
               task_size = (SELECT task_size FROM apps WHERE app = $5)
             WHERE runtime = $1"
        ),
        &[&runtime_id, &exit.value(), &process_status, &me, &app_id],
    )
    .await?;
    Ok(())
}

/// `run_status` and `app_pids` from the app's running rows; a stopped app stays stopped until its next run.
const REFRESH_APP: &str = "UPDATE apps SET
           run_status = CASE WHEN EXISTS (SELECT 1 FROM scheduled_runs WHERE app_id = $1 AND state = 'running') THEN $2
                             WHEN run_status = $3 THEN $3 ELSE $4 END,
           app_pids = (SELECT json_agg(pid ORDER BY pid)::text FROM scheduled_runs WHERE app_id = $1 AND state = 'running' AND pid IS NOT NULL)
         WHERE app = $1";

async fn refresh_app(tx: &Transaction<'_>, app_id: &str) -> Result<(), StoreError> {
    tx.execute(REFRESH_APP, &[&app_id, &RunStatus::Running.value(), &RunStatus::Stopped.value(), &RunStatus::NotRunning.value()]).await?;
    Ok(())
}

fn refresh_app_step(app_id: &str) -> Step {
    Step::new(REFRESH_APP)
        .bind(app_id.to_string(), Type::TEXT)
        .bind(RunStatus::Running.value(), Type::INT4)
        .bind(RunStatus::Stopped.value(), Type::INT4)
        .bind(RunStatus::NotRunning.value(), Type::INT4)
}

/// An app whose next occurrence is due, to be written as scheduled_runs rows.
#[derive(Clone, Debug)]
pub struct DueApp {
    pub app_id: String,
    pub next_run: Option<NaiveDateTime>,
    pub schedule: String,
    pub time_zone: String,
}

/// Locks up to `limit` enabled apps whose `next_run` has come (or was never computed).
pub async fn due_apps(tx: &Transaction<'_>, now: NaiveDateTime, limit: i64) -> Result<Vec<DueApp>, StoreError> {
    let rows = tx
        .query_typed(
            "SELECT a.app, a.next_run, s.schedule, s.time_zone FROM apps a JOIN app_schedules s ON s.app_id = a.app
             WHERE a.archive IS NULL AND s.archive IS NULL AND NOT COALESCE(a.disable, true) AND s.schedule IS NOT NULL
               AND (a.next_run IS NULL OR a.next_run <= $1)
             ORDER BY a.next_run NULLS FIRST LIMIT $2 FOR UPDATE OF a SKIP LOCKED",
            &[(&now, Type::TIMESTAMP), (&limit, Type::INT8)],
        )
        .await?;
    Ok(rows.iter().map(|row| DueApp { app_id: row.get(0), next_run: row.get(1), schedule: row.get(2), time_zone: row.get(3) }).collect())
}

/// Writes occurrences as due rows (a second manager's identical rows conflict
/// and are dropped) and each app's next occurrence.
pub async fn write_occurrences(tx: &Transaction<'_>, runs: &[(String, NaiveDateTime)], next: &[(String, Option<NaiveDateTime>)]) -> Result<u64, StoreError> {
    let mut inserted = 0;
    if !runs.is_empty() {
        let apps: Vec<&str> = runs.iter().map(|r| r.0.as_str()).collect();
        let times: Vec<NaiveDateTime> = runs.iter().map(|r| r.1).collect();
        inserted = tx
            .execute(
                "INSERT INTO scheduled_runs (app_id, scheduled_time, kind, state)
                 SELECT app, at, 'schedule', 'due' FROM unnest($1::text[], $2::timestamp[]) AS v(app, at)
                 ON CONFLICT (app_id, scheduled_time) DO NOTHING",
                &[&apps, &times],
            )
            .await?;
    }
    if !next.is_empty() {
        let apps: Vec<&str> = next.iter().map(|r| r.0.as_str()).collect();
        let times: Vec<Option<NaiveDateTime>> = next.iter().map(|r| r.1).collect();
        tx.execute(
            "UPDATE apps SET next_run = v.next FROM unnest($1::text[], $2::timestamp[]) AS v(app, next) WHERE apps.app = v.app",
            &[&apps, &times],
        )
        .await?;
    }
    Ok(inserted)
}

/// What one pass over due runs did.
#[derive(Debug, Default)]
pub struct ClaimOutcome {
    pub claimed: Vec<Claimed>,
    pub skipped: usize,
    pub stop_requested: u64,
}

/// Locks apps with due runs (one manager decides for an app at a time),
/// found from the due runs (index on state, scheduled_time), not by a
/// probe per app: the tick stays flat in the number of registered apps.
/// applies the policies, records skips and claims the runs that start.
pub async fn claim_due(tx: &Transaction<'_>, now: NaiveDateTime, me: &str, lease: Duration, grace: Duration, limit: i64) -> Result<ClaimOutcome, StoreError> {
    let apps = tx
        .query_typed(
            "SELECT a.app, COALESCE(a.disable, true), s.overlap, s.missed_run, s.run_all_deadline_s, s.command, s.working_dir, s.stop_timeout_s
             FROM apps a JOIN app_schedules s ON s.app_id = a.app
             WHERE a.app IN (SELECT r.app_id FROM scheduled_runs r WHERE r.state = 'due' AND r.scheduled_time <= $1)
             LIMIT $2 FOR UPDATE OF a SKIP LOCKED",
            &[(&now, Type::TIMESTAMP), (&limit, Type::INT8)],
        )
        .await?;
    let mut outcome = ClaimOutcome::default();
    if apps.is_empty() {
        return Ok(outcome);
    }
    let app_ids: Vec<String> = apps.iter().map(|row| row.get(0)).collect();
    let due_rows = tx
        .query(
            "SELECT id, app_id, scheduled_time, kind FROM scheduled_runs WHERE app_id = ANY($1) AND state = 'due' AND scheduled_time <= $2 ORDER BY app_id, scheduled_time, id",
            &[&app_ids, &now],
        )
        .await?;
    let mut due: HashMap<String, Vec<DueRun>> = HashMap::new();
    for row in &due_rows {
        let kind: String = row.get(3);
        due.entry(row.get(1)).or_default().push(DueRun { id: row.get(0), scheduled_time: row.get(2), kind: run_kind(&kind)? });
    }
    let active_rows = tx
        .query("SELECT app_id, count(*) FROM scheduled_runs WHERE app_id = ANY($1) AND state IN ('claimed', 'running') GROUP BY app_id", &[&app_ids])
        .await?;
    let active: HashMap<String, i64> = active_rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    let (mut skip_ids, mut skip_reasons, mut start_ids, mut replace_apps) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut config: HashMap<String, (String, Option<String>, Duration)> = HashMap::new();
    for row in &apps {
        let app_id: String = row.get(0);
        let overlap: String = row.get(2);
        let missed: String = row.get(3);
        let policies = Policies {
            overlap: OverlapPolicy::from_value(&overlap).map_err(|e| StoreError::Data(e.to_string()))?,
            missed_run: MissedRunPolicy::from_value(&missed).map_err(|e| StoreError::Data(e.to_string()))?,
            run_all_deadline: chrono::Duration::seconds(row.get::<_, i32>(4) as i64),
            grace: chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX),
        };
        let runs = due.remove(&app_id).unwrap_or_default();
        let decision = policy::decide(&policies, now, &runs, active.get(&app_id).copied().unwrap_or(0) as usize, row.get(1));
        for (id, reason) in decision.skip {
            skip_ids.push(id);
            skip_reasons.push(reason);
        }
        start_ids.extend(decision.start);
        if decision.stop_active {
            replace_apps.push(app_id.clone());
        }
        config.insert(app_id, (row.get(5), row.get(6), Duration::from_secs(row.get::<_, i32>(7).max(0) as u64)));
    }
    if !skip_ids.is_empty() {
        outcome.skipped = skip_ids.len();
        tx.execute(
            &format!(
                "UPDATE scheduled_runs SET state = 'skipped', reason = v.reason, ended_at = {NOW_UTC}
                 FROM unnest($1::bigint[], $2::text[]) AS v(id, reason) WHERE scheduled_runs.id = v.id"
            ),
            &[&skip_ids, &skip_reasons],
        )
        .await?;
    }
    if !replace_apps.is_empty() {
        outcome.stop_requested = request_stop(tx, &replace_apps, RuntimeExitCode::Replaced).await?;
    }
    if !start_ids.is_empty() {
        let rows = tx
            .query(
                &format!(
                    "UPDATE scheduled_runs SET state = 'claimed', lease_owner = $2, lease_expires = {NOW_UTC} + make_interval(secs => $3),
                       heartbeat = {NOW_UTC}, fencing_token = fencing_token + 1
                     WHERE id = ANY($1) AND state = 'due' RETURNING id, app_id, scheduled_time, kind, fencing_token"
                ),
                &[&start_ids, &me, &lease.as_secs_f64()],
            )
            .await?;
        for row in rows {
            let app_id: String = row.get(1);
            let kind: String = row.get(3);
            let (command, working_dir, stop_timeout) = config.get(&app_id).cloned().unwrap_or_default();
            outcome.claimed.push(Claimed {
                run_id: row.get(0),
                app_id,
                scheduled_time: row.get(2),
                kind: run_kind(&kind)?,
                token: row.get(4),
                command,
                working_dir,
                stop_timeout,
                runtime_id: None,
            });
        }
    }
    Ok(outcome)
}

fn run_kind(text: &str) -> Result<ScheduledRunKind, StoreError> {
    ScheduledRunKind::from_value(text).map_err(|e| StoreError::Data(e.to_string()))
}

/// Asks the owners of the apps' running runs to stop them; the runs' runtime rows get `code`.
async fn request_stop(tx: &Transaction<'_>, app_ids: &[String], code: RuntimeExitCode) -> Result<u64, StoreError> {
    let count = tx
        .execute(
            "UPDATE scheduled_runs SET stop_requested = $2 WHERE app_id = ANY($1) AND state IN ('claimed', 'running') AND stop_requested IS NULL",
            &[&app_ids, &code.value()],
        )
        .await?;
    if count > 0 {
        tx.execute("SELECT pg_notify($1, 'stop')", &[&CHANNEL]).await?;
    }
    Ok(count)
}

/// Writes the run's runtime row and marks it running, if this manager still
/// holds it. `false`: the lease was lost, nothing was written, do not start.
pub async fn begin_run(client: &Client, run: &Claimed, runtime_id: &str, me: &str, host: &str) -> Result<bool, StoreError> {
    // One statement (data-modifying CTEs commit together), sent with its
    // types (no prepare): a single round trip between the claim and the process.
    let started: i64 = client
        .query_typed(
            &format!(
                "WITH run AS (
                   UPDATE scheduled_runs SET state = 'running', runtime_id = $3, host = $4, started_at = {NOW_UTC}
                   WHERE id = $1 AND fencing_token = $2 AND state = 'claimed' RETURNING app_id
                 ), runtime_row AS (
                   INSERT INTO runtime (runtime, app_id, start_time, exit_code, manager_id) SELECT $3, app_id, {NOW_UTC}, NULL, $5 FROM run
                 ), app AS (
                   UPDATE apps SET run_status = $6, last_run = {NOW_UTC}, runtime_id = $3, task_size = NULL, progress = NULL, solved = 0, failed = 0, eta = NULL
                   WHERE app IN (SELECT app_id FROM run)
                 )
                 SELECT count(*) FROM run"
            ),
            &[
                (&run.run_id, Type::INT8),
                (&run.token, Type::INT8),
                (&runtime_id, Type::TEXT),
                (&host, Type::TEXT),
                (&me, Type::TEXT),
                (&RunStatus::Running.value(), Type::INT4),
            ],
        )
        .await?
        .first()
        .map_or(0, |row| row.get(0));
    Ok(started == 1)
}

/// Records the started process's id and the app's `run_status`/`app_pids`:
/// BEGIN, both updates and COMMIT pipelined, one round trip.
pub async fn set_pid(client: &Client, run_id: i64, token: i64, app_id: &str, pid: i32) -> Result<bool, StoreError> {
    let steps = [
        Step::new("BEGIN"),
        Step::new("WITH set AS (UPDATE scheduled_runs SET pid = $3 WHERE id = $1 AND fencing_token = $2 AND state = 'running' RETURNING 1) SELECT count(*) FROM set")
            .bind(run_id, Type::INT8)
            .bind(token, Type::INT8)
            .bind(pid, Type::INT4),
        refresh_app_step(app_id),
        Step::new("COMMIT"),
    ];
    let answers = match pipeline(client, &steps).await {
        Ok(answers) => answers,
        Err(error) => {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(error);
        }
    };
    Ok(answers[1].first().is_some_and(|row| row.get::<_, i64>(0) == 1))
}

/// How a run ended, as the owner saw it.
#[derive(Clone, Debug)]
pub struct RunEnd {
    pub run_id: i64,
    pub token: i64,
    pub app_id: String,
    pub runtime_id: String,
    pub exit: RuntimeExitCode,
    pub process_status: Option<i32>,
    pub reason: String,
}

/// What recording a run's end led to.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Recorded { became_fatal: bool },
    /// Another manager holds the run now; nothing was written.
    LeaseLost,
}

/// Records a run's end under its fencing token, and makes the app fatal
/// after `failure_threshold` consecutive failed runs (since the last enable).
pub async fn end_run(client: &mut Client, end: &RunEnd, me: &str) -> Result<Ended, StoreError> {
    let tx = client.transaction().await?;
    let updated = tx
        .execute(
            &format!(
                "UPDATE scheduled_runs SET state = 'done', ended_at = {NOW_UTC}, reason = $3, lease_owner = NULL, lease_expires = NULL, heartbeat = NULL
                 WHERE id = $1 AND fencing_token = $2 AND state = 'running'"
            ),
            &[&end.run_id, &end.token, &end.reason],
        )
        .await?;
    if updated != 1 {
        tx.rollback().await?;
        return Ok(Ended::LeaseLost);
    }
    finish_runtime(&tx, &end.runtime_id, &end.app_id, end.exit, end.process_status, me).await?;
    refresh_app(&tx, &end.app_id).await?;
    let mut became_fatal = false;
    if end.exit == RuntimeExitCode::Failed {
        became_fatal = check_fatal(&tx, &end.app_id).await?;
    }
    tx.commit().await?;
    Ok(Ended::Recorded { became_fatal })
}

/// N consecutive failed runs (finished and failed runs counted; runs killed
/// by a command or the manager neither break nor extend the streak) since
/// the app was last enabled make it fatal: flagged, disabled, an alert due.
async fn check_fatal(tx: &Transaction<'_>, app_id: &str) -> Result<bool, StoreError> {
    let row = tx
        .query_one(
            "WITH since AS (
               SELECT COALESCE(max(cmd_exec), '-infinity'::timestamp) AS t FROM command_log WHERE app_id = $1 AND cmd_name = 'enable' AND cmd_flag = $4
             ), recent AS (
               SELECT r.exit_code FROM runtime r, since WHERE r.app_id = $1 AND r.start_time > since.t AND r.exit_code IN ($2, $3)
               ORDER BY r.start_time DESC, r.id DESC
               LIMIT (SELECT failure_threshold FROM app_schedules WHERE app_id = $1)
             )
             SELECT count(*) FILTER (WHERE exit_code = $3), (SELECT failure_threshold FROM app_schedules WHERE app_id = $1) FROM recent",
            &[&app_id, &RuntimeExitCode::Finished.value(), &RuntimeExitCode::Failed.value(), &CmdFlag::Executed.value()],
        )
        .await?;
    let failures: i64 = row.get(0);
    let threshold: Option<i32> = row.get(1);
    let Some(threshold) = threshold else { return Ok(false) };
    if failures < threshold as i64 {
        return Ok(false);
    }
    let message = format!("{failures} consecutive failed runs (threshold {threshold}); the app was disabled");
    let updated = tx
        .execute(
            &format!(
                "UPDATE apps SET fatal_flag = $2, fatal_msg = $3, fatal_time = {NOW_UTC}, disable = true, next_run = NULL
                 WHERE app = $1 AND fatal_flag IS NULL"
            ),
            &[&app_id, &FatalFlag::UnexpectedBehaviour.value(), &message],
        )
        .await?;
    if updated == 1 {
        tx.execute("SELECT pg_notify($1, 'fatal')", &[&CHANNEL]).await?;
    }
    Ok(updated == 1)
}

/// Renews the leases of the runs this manager holds; returns the ones it lost.
pub async fn heartbeat(client: &Client, held: &[(i64, i64)], lease: Duration) -> Result<Vec<i64>, StoreError> {
    if held.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = held.iter().map(|h| h.0).collect();
    let tokens: Vec<i64> = held.iter().map(|h| h.1).collect();
    let rows = client
        .query(
            &format!(
                "UPDATE scheduled_runs SET lease_expires = {NOW_UTC} + make_interval(secs => $3), heartbeat = {NOW_UTC}
                 FROM unnest($1::bigint[], $2::bigint[]) AS v(id, token)
                 WHERE scheduled_runs.id = v.id AND scheduled_runs.fencing_token = v.token AND scheduled_runs.state IN ('claimed', 'running')
                 RETURNING scheduled_runs.id"
            ),
            &[&ids, &tokens, &lease.as_secs_f64()],
        )
        .await?;
    let kept: std::collections::HashSet<i64> = rows.iter().map(|row| row.get(0)).collect();
    Ok(ids.into_iter().filter(|id| !kept.contains(id)).collect())
}

/// Stop requests on runs this manager holds: (run id, the exit code to record).
pub async fn stop_requests(client: &Client, me: &str) -> Result<Vec<(i64, RuntimeExitCode)>, StoreError> {
    let rows = client
        .query_typed(
            "SELECT id, stop_requested FROM scheduled_runs WHERE lease_owner = $1 AND state = 'running' AND stop_requested IS NOT NULL",
            &[(&me, Type::TEXT)],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let code: i32 = row.get(1);
            Ok((row.get(0), RuntimeExitCode::from_value(code).map_err(|e| StoreError::Data(e.to_string()))?))
        })
        .collect()
}

/// A command found pending on an app, locked by this manager's open command transaction.
#[derive(Clone, Debug)]
pub struct PendingCommand {
    pub app_id: String,
    pub name: CmdName,
    pub by: Option<String>,
    pub time: Option<NaiveDateTime>,
    pub disabled: bool,
    pub overlap: OverlapPolicy,
    pub command: Option<String>,
    pub working_dir: Option<String>,
    pub stop_timeout: Duration,
    /// The app's claimed and running runs, counted after its row was locked.
    pub active: i64,
    /// An id reserved from `scheduled_runs`' sequence for the run this command may
    /// start, so its runtime id is known before the one write that records it.
    pub reserved_run_id: i64,
}

/// What a command does, decided from the locked command alone (no I/O).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandEffect {
    /// Not executed; the reason says why.
    Refused,
    /// A run of the app: `stop_first` stops the active runs with that code;
    /// `start_now` claims it for this manager and starts it in this transaction
    /// (else it waits as a due run until the stopped ones are gone).
    Start { stop_first: Option<RuntimeExitCode>, start_now: bool },
    Stop,
    Enable,
    Disable,
}

/// A command's decision: its flag, the reason `command_log` records, its effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandDecision {
    pub flag: CmdFlag,
    pub reason: String,
    pub effect: CommandEffect,
}

/// Decides one command: start and restart respect `disable`, a missing
/// command and the overlap policy; stop needs something running.
pub fn decide_command(command: &PendingCommand) -> CommandDecision {
    let refused = |reason: String| CommandDecision { flag: CmdFlag::NotExecuted, reason, effect: CommandEffect::Refused };
    let executed = |reason: String, effect| CommandDecision { flag: CmdFlag::Executed, reason, effect };
    let active = command.active;
    match command.name {
        CmdName::Start | CmdName::Restart if command.disabled => refused("the app is disabled; enable it first".to_string()),
        CmdName::Start | CmdName::Restart if command.command.is_none() => {
            refused("the app has no command registered; register it from a manifest (dcctl register)".to_string())
        }
        CmdName::Start if active > 0 && command.overlap == OverlapPolicy::Forbid => {
            refused(format!("the app is already running ({active} run(s)) and its overlap policy is forbid; use restart"))
        }
        CmdName::Start | CmdName::Restart => {
            let stop_code = if command.name == CmdName::Start { RuntimeExitCode::CmdStart } else { RuntimeExitCode::CmdReset };
            let must_stop = active > 0 && (command.name == CmdName::Restart || command.overlap == OverlapPolicy::Replace);
            // With nothing to wait for, this manager claims the run itself and starts it at once.
            let start_now = !must_stop || command.overlap == OverlapPolicy::Allow;
            let what = if must_stop { "stopping the running run, then starting" } else { "starting" };
            executed(what.to_string(), CommandEffect::Start { stop_first: must_stop.then_some(stop_code), start_now })
        }
        CmdName::Stop if active == 0 => refused("the app is not running".to_string()),
        CmdName::Stop => executed(format!("stopping {active} run(s)"), CommandEffect::Stop),
        CmdName::Enable => executed("enabled; the schedule resumes from now".to_string(), CommandEffect::Enable),
        CmdName::Disable => executed(if active > 0 { format!("disabled; stopping {active} run(s)") } else { "disabled".to_string() }, CommandEffect::Disable),
    }
}

/// One executed (or refused) command, and the run it started, if any.
#[derive(Clone, Debug)]
pub struct CommandOutcome {
    pub command: PendingCommand,
    pub decision: CommandDecision,
    /// Claimed, marked running and its runtime row written, in the command's
    /// own transaction (already committed): the process is the next step.
    pub started: Option<Claimed>,
}

/// A statement with its parameters and their types, for [`pipeline`].
struct Step {
    sql: String,
    params: Vec<(Box<dyn ToSql + Sync + Send>, Type)>,
}

impl Step {
    fn new(sql: impl Into<String>) -> Step {
        Step { sql: sql.into(), params: Vec::new() }
    }

    fn bind(mut self, value: impl ToSql + Sync + Send + 'static, ty: Type) -> Step {
        self.params.push((Box::new(value), ty));
        self
    }
}

/// Sends the statements back to back and then reads their answers: one round
/// trip for all (tokio-postgres pipelines requests on one connection).
/// `query_typed` sends Parse, Bind and Execute at once, so there is no
/// separate prepare round trip either. Each future is polled once, in order,
/// before any answer is awaited, so the server receives them in this order.
/// Inside BEGIN … COMMIT a failed statement makes the rest fail and COMMIT
/// roll back; the first error is returned.
async fn pipeline(client: &Client, steps: &[Step]) -> Result<Vec<Vec<tokio_postgres::Row>>, StoreError> {
    let mut pending: Vec<_> = steps
        .iter()
        .map(|step| {
            let params: Vec<(&(dyn ToSql + Sync), Type)> = step.params.iter().map(|(value, ty)| (value.as_ref() as &(dyn ToSql + Sync), ty.clone())).collect();
            Box::pin(async move { client.query_typed(&step.sql, &params).await })
        })
        .collect();
    let mut early = Vec::with_capacity(pending.len());
    for future in pending.iter_mut() {
        early.push(futures_util::poll!(future.as_mut()));
    }
    let mut answers = Vec::with_capacity(pending.len());
    let mut first_error = None;
    for (future, early) in pending.into_iter().zip(early) {
        let answer = match early {
            std::task::Poll::Ready(answer) => answer,
            std::task::Poll::Pending => future.await,
        };
        match answer {
            Ok(rows) => answers.push(rows),
            Err(error) => {
                first_error.get_or_insert(error);
                answers.push(Vec::new());
            }
        }
    }
    match first_error {
        Some(error) => Err(error.into()),
        None => Ok(answers),
    }
}

const ACTIVE_STATES: &str = "('claimed', 'running')";

/// Which apps to look at for pending commands.
#[derive(Clone, Copy, Debug)]
pub enum CommandScope<'a> {
    /// The apps the notifications named (the trigger's payload): found by
    /// their key. Registered apps carry `cmd_flag` 0 with no command, so a
    /// search of every pending flag reads every app (~30 ms over 10,000 apps
    /// on a loaded machine); the notified path never does.
    Apps(&'a [String]),
    /// Every app: the poll's fallback and after the LISTEN connection was
    /// (re)made, for notifications that were lost.
    All,
}

/// Locks up to `limit` apps with a pending command (another manager skips
/// them) in a transaction left open for [`execute_commands`]; none pending:
/// the transaction is ended here. One round trip: BEGIN, the locking SELECT
/// and the count of each app's active runs are pipelined; the count is a
/// statement of its own so its snapshot is taken after the locks are held
/// (a run another manager claimed just before is counted).
pub async fn take_commands(client: &Client, scope: CommandScope<'_>, limit: i64) -> Result<Vec<PendingCommand>, StoreError> {
    let pending = CmdFlag::Pending.value();
    // The pending flag as a literal, so the partial index ix_apps_cmd_time (WHERE cmd_flag = 0) serves the search of all.
    let (apps, apps_of_runs) = match scope {
        CommandScope::Apps(_) => ("a.app = ANY($2)", "app_id = ANY($1)"),
        CommandScope::All => ("true", "app_id IN (SELECT app FROM apps WHERE cmd_flag = 0 AND cmd_name IS NOT NULL)"),
    };
    let mut lock = Step::new(format!(
        "SELECT a.app, a.cmd_name, a.cmd_by, a.cmd_time, COALESCE(a.disable, true), s.overlap, s.command, s.working_dir, s.stop_timeout_s,
                nextval(pg_get_serial_sequence('scheduled_runs', 'id'))
         FROM apps a LEFT JOIN app_schedules s ON s.app_id = a.app
         WHERE a.cmd_flag = {pending} AND a.cmd_name IS NOT NULL AND a.app IS NOT NULL AND {apps}
         ORDER BY a.cmd_time NULLS FIRST LIMIT $1 FOR UPDATE OF a SKIP LOCKED"
    ))
    .bind(limit, Type::INT8);
    let mut count = Step::new(format!("SELECT app_id::text, count(*) FROM scheduled_runs WHERE state IN {ACTIVE_STATES} AND {apps_of_runs} GROUP BY app_id"));
    if let CommandScope::Apps(ids) = scope {
        lock = lock.bind(ids.to_vec(), Type::TEXT_ARRAY);
        count = count.bind(ids.to_vec(), Type::TEXT_ARRAY);
    }
    let steps = [Step::new("BEGIN"), lock, count];
    let answers = match pipeline(client, &steps).await {
        Ok(answers) => answers,
        Err(error) => {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(error);
        }
    };
    if answers[1].is_empty() {
        client.batch_execute("COMMIT").await?;
        return Ok(Vec::new());
    }
    let active: HashMap<String, i64> = answers[2].iter().map(|row| (row.get(0), row.get(1))).collect();
    let commands = answers[1]
        .iter()
        .map(|row| {
            let name: i32 = row.get(1);
            let overlap: Option<String> = row.get(5);
            let app_id: String = row.get(0);
            Ok(PendingCommand {
                active: active.get(&app_id).copied().unwrap_or(0),
                app_id,
                name: CmdName::from_value(name).map_err(|e| StoreError::Data(e.to_string()))?,
                by: row.get(2),
                time: row.get(3),
                disabled: row.get(4),
                overlap: overlap.as_deref().map(OverlapPolicy::from_value).transpose().map_err(|e| StoreError::Data(e.to_string()))?.unwrap_or(OverlapPolicy::Forbid),
                command: row.get(6),
                working_dir: row.get(7),
                stop_timeout: Duration::from_secs(row.get::<_, Option<i32>>(8).unwrap_or(10).max(0) as u64),
                reserved_run_id: row.get(9),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>();
    match commands {
        Ok(commands) => Ok(commands),
        Err(error) => {
            client.batch_execute("ROLLBACK").await?;
            Err(error)
        }
    }
}

/// Carries out the commands [`take_commands`] locked and commits, in one
/// round trip: each command's effect on the app and its runs, its flag and
/// execution time, its `command_log` row, and for a start the run claimed
/// by this manager, marked running and its runtime row written (as
/// [`begin_run`] does for a scheduled run) — all in the command's own
/// transaction, then COMMIT. The caller starts the processes of the
/// returned runs once this returns: after the commit, so a run whose record
/// was not committed never has a process.
pub async fn execute_commands(client: &Client, commands: Vec<PendingCommand>, me: &str, host: &str, lease: Duration) -> Result<Vec<CommandOutcome>, StoreError> {
    let mut steps = Vec::new();
    // (outcome, index of the step whose answer is the started run's scheduled time)
    let mut outcomes: Vec<(CommandOutcome, Option<usize>)> = Vec::new();
    let lease_s = lease.as_secs_f64();
    for command in commands {
        let decision = decide_command(&command);
        let app = command.app_id.clone();
        let mut run_step = None;
        let mut started = None;
        match &decision.effect {
            CommandEffect::Refused => {}
            CommandEffect::Start { stop_first, start_now } => {
                if let Some(code) = stop_first {
                    steps.push(request_stop_step(&app, *code));
                }
                let run_id = command.reserved_run_id;
                if *start_now {
                    // The local clock will do for the id: run, token and manager make it unique.
                    let runtime_id = crate::ids::runtime_id(&app, run_id, COMMAND_RUN_TOKEN, me, chrono::Utc::now().naive_utc());
                    run_step = Some(steps.len());
                    steps.push(
                        Step::new(format!(
                            "WITH run AS (
                               INSERT INTO scheduled_runs (id, app_id, scheduled_time, kind, state, lease_owner, lease_expires, heartbeat, fencing_token, runtime_id, host, started_at)
                               VALUES ($1, $2, {NOW_UTC}, 'command', 'running', $3, {NOW_UTC} + make_interval(secs => $4), {NOW_UTC}, $5, $6, $7, {NOW_UTC})
                               RETURNING app_id, scheduled_time
                             ), runtime_row AS (
                               INSERT INTO runtime (runtime, app_id, start_time, exit_code, manager_id) SELECT $6, app_id, {NOW_UTC}, NULL, $3 FROM run
                             ), app AS (
                               UPDATE apps SET run_status = $8, last_run = {NOW_UTC}, runtime_id = $6, task_size = NULL, progress = NULL, solved = 0, failed = 0, eta = NULL
                               WHERE app IN (SELECT app_id FROM run)
                             )
                             SELECT scheduled_time FROM run"
                        ))
                        .bind(run_id, Type::INT8)
                        .bind(app.clone(), Type::TEXT)
                        .bind(me.to_string(), Type::TEXT)
                        .bind(lease_s, Type::FLOAT8)
                        .bind(COMMAND_RUN_TOKEN, Type::INT8)
                        .bind(runtime_id.clone(), Type::TEXT)
                        .bind(host.to_string(), Type::TEXT)
                        .bind(RunStatus::Running.value(), Type::INT4),
                    );
                    started = Some(Claimed {
                        run_id,
                        app_id: app.clone(),
                        scheduled_time: NaiveDateTime::default(),
                        kind: ScheduledRunKind::Command,
                        token: COMMAND_RUN_TOKEN,
                        command: command.command.clone().unwrap_or_default(),
                        working_dir: command.working_dir.clone(),
                        stop_timeout: command.stop_timeout,
                        runtime_id: Some(runtime_id),
                    });
                } else {
                    // Waits as a due run (claimed by a scheduling pass) until the stopped runs are gone.
                    steps.push(
                        Step::new(format!("INSERT INTO scheduled_runs (id, app_id, scheduled_time, kind, state, fencing_token) VALUES ($1, $2, {NOW_UTC}, 'command', 'due', $3)"))
                            .bind(run_id, Type::INT8)
                            .bind(app.clone(), Type::TEXT)
                            .bind(COMMAND_RUN_TOKEN, Type::INT8),
                    );
                }
            }
            CommandEffect::Stop => {
                steps.push(request_stop_step(&app, RuntimeExitCode::CmdStop));
                steps.push(skip_waiting_step(&app, "stopped by command"));
                steps.push(Step::new("UPDATE apps SET run_status = $2 WHERE app = $1").bind(app.clone(), Type::TEXT).bind(RunStatus::Stopped.value(), Type::INT4));
            }
            CommandEffect::Enable => {
                steps.push(
                    Step::new("UPDATE apps SET disable = false, fatal_flag = NULL, fatal_msg = NULL, fatal_time = NULL, next_run = NULL WHERE app = $1").bind(app.clone(), Type::TEXT),
                );
            }
            CommandEffect::Disable => {
                steps.push(Step::new("UPDATE apps SET disable = true, next_run = NULL WHERE app = $1").bind(app.clone(), Type::TEXT));
                steps.push(request_stop_step(&app, RuntimeExitCode::CmdDisable));
                steps.push(skip_waiting_step(&app, "app disabled"));
            }
        }
        steps.push(
            Step::new(format!(
                "WITH flagged AS (UPDATE apps SET cmd_flag = $2, cmd_exec = {NOW_UTC} WHERE app = $1 RETURNING cmd_exec)
                 INSERT INTO command_log (app_id, cmd_by, cmd_name, cmd_time, cmd_flag, cmd_exec, cmd_reason) SELECT $1, $3, $4, $5, $2, cmd_exec, $6 FROM flagged"
            ))
            .bind(app.clone(), Type::TEXT)
            .bind(decision.flag.value(), Type::INT4)
            .bind(command.by.clone(), Type::TEXT)
            .bind(command.name.key().to_string(), Type::TEXT)
            .bind(command.time, Type::TIMESTAMP)
            .bind(decision.reason.clone(), Type::TEXT),
        );
        outcomes.push((CommandOutcome { command, decision, started }, run_step));
    }
    steps.push(Step::new("COMMIT"));
    let answers = match pipeline(client, &steps).await {
        Ok(answers) => answers,
        Err(error) => {
            // A failed statement already made COMMIT roll back; after a broken
            // pipeline, make sure no transaction stays open.
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(error);
        }
    };
    outcomes
        .into_iter()
        .map(|(mut outcome, run_step)| {
            if let (Some(run), Some(step)) = (outcome.started.as_mut(), run_step) {
                let row = answers[step].first().ok_or_else(|| StoreError::Data(format!("the command run of app {} was not written", run.app_id)))?;
                run.scheduled_time = row.get(0);
            }
            Ok(outcome)
        })
        .collect()
}

/// The fencing token of a run a command created (claimed once, at its insert).
const COMMAND_RUN_TOKEN: i64 = 1;

/// [`request_stop`] for one app as a pipeline step; owners are woken only if something is to stop.
fn request_stop_step(app_id: &str, code: RuntimeExitCode) -> Step {
    Step::new(format!(
        "WITH stopping AS (
           UPDATE scheduled_runs SET stop_requested = $2 WHERE app_id = $1 AND state IN {ACTIVE_STATES} AND stop_requested IS NULL RETURNING id
         )
         SELECT pg_notify('{CHANNEL}', 'stop')::text FROM (SELECT 1 FROM stopping LIMIT 1) s"
    ))
    .bind(app_id.to_string(), Type::TEXT)
    .bind(code.value(), Type::INT4)
}

/// The app's due runs skipped (a stop or disable command), as a pipeline step.
fn skip_waiting_step(app_id: &str, reason: &str) -> Step {
    Step::new(format!("UPDATE scheduled_runs SET state = 'skipped', reason = $2, ended_at = {NOW_UTC} WHERE app_id = $1 AND state = 'due'"))
        .bind(app_id.to_string(), Type::TEXT)
        .bind(reason.to_string(), Type::TEXT)
}

/// A fatal app whose alert is not sent yet.
#[derive(Clone, Debug)]
pub struct PendingAlert {
    pub app_id: String,
    pub group: String,
    pub parent: String,
    pub name: String,
    pub message: String,
    pub fatal_time: Option<NaiveDateTime>,
}

/// Locks fatal apps whose alert is due (`unexpected_behaviour`): the outbox.
/// The lock is held while the alert is sent, so one manager sends it.
pub async fn pending_alerts(tx: &Transaction<'_>) -> Result<Vec<PendingAlert>, StoreError> {
    let rows = tx
        .query(
            "SELECT app, group_name, parent_name, app_name, COALESCE(fatal_msg, ''), fatal_time FROM apps WHERE fatal_flag = $1 LIMIT 20 FOR UPDATE SKIP LOCKED",
            &[&FatalFlag::UnexpectedBehaviour.value()],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| PendingAlert { app_id: row.get(0), group: row.get(1), parent: row.get(2), name: row.get(3), message: row.get(4), fatal_time: row.get(5) })
        .collect())
}

pub async fn alert_sent(tx: &Transaction<'_>, app_id: &str) -> Result<(), StoreError> {
    tx.execute("UPDATE apps SET fatal_flag = $2 WHERE app = $1", &[&app_id, &FatalFlag::AppStoppedAlertSent.value()]).await?;
    Ok(())
}

/// What an app reports about its current run (the runtime API); `None` leaves a value as it is.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    pub task_size: Option<i32>,
    pub progress: Option<i32>,
    pub solved: Option<i32>,
    pub failed: Option<i32>,
    pub eta: Option<NaiveDateTime>,
}

/// Writes an app's progress, only while `runtime_id` is its current run.
pub async fn report_progress(client: &Client, app_id: &str, runtime_id: &str, progress: &Progress) -> Result<bool, StoreError> {
    let updated = client
        .execute(
            "UPDATE apps SET task_size = COALESCE($3, task_size), progress = COALESCE($4, progress), solved = COALESCE($5, solved),
               failed = COALESCE($6, failed), eta = COALESCE($7, eta)
             WHERE app = $1 AND runtime_id = $2",
            &[&app_id, &runtime_id, &progress.task_size, &progress.progress, &progress.solved, &progress.failed, &progress.eta],
        )
        .await?;
    Ok(updated == 1)
}

/// An app as `dcctl` names it: `group/parent/name`, its 64-hex id, or a name that is unique.
#[derive(Clone, Debug)]
pub struct AppRef {
    pub app_id: String,
    pub label: String,
}

/// Finds one app; the error says what was looked for and what exists.
pub async fn find_app(client: &Client, name: &str) -> Result<AppRef, String> {
    let parts: Vec<&str> = name.split('/').collect();
    let rows = match parts.as_slice() {
        [group, parent, app] => client
            .query("SELECT app, group_name || '/' || parent_name || '/' || app_name FROM apps WHERE group_name = $1 AND parent_name = $2 AND app_name = $3 AND archive IS NULL", &[group, parent, app])
            .await,
        [single] => client
            .query("SELECT app, group_name || '/' || parent_name || '/' || app_name FROM apps WHERE (app = $1 OR app_name = $1) AND archive IS NULL ORDER BY 2", &[single])
            .await,
        _ => return Err(format!("`{name}` is not an app name; write GROUP/PARENT/NAME, the app's id, or its name alone if it is unique")),
    }
    .map_err(|e| format!("looking up the app: {e}"))?;
    match rows.len() {
        1 => Ok(AppRef { app_id: rows[0].get(0), label: rows[0].get(1) }),
        0 => Err(format!("no app `{name}`; `dcctl status` lists the registered apps, `dcctl register MANIFEST` adds apps")),
        _ => {
            let names: Vec<String> = rows.iter().map(|r| r.get::<_, String>(1)).collect();
            Err(format!("`{name}` names {} apps ({}); write GROUP/PARENT/NAME", names.len(), names.join(", ")))
        }
    }
}

/// Writes a command exactly as any SQL client may: name, who, when, pending.
pub async fn issue_command(client: &Client, app_id: &str, name: CmdName, by: &str) -> Result<NaiveDateTime, StoreError> {
    Ok(client
        .query_one(
            &format!("UPDATE apps SET cmd_name = $2, cmd_by = $3, cmd_time = {NOW_UTC}, cmd_flag = $4, cmd_exec = NULL WHERE app = $1 RETURNING cmd_time"),
            &[&app_id, &name.value(), &by, &CmdFlag::Pending.value()],
        )
        .await?
        .get(0))
}

/// The command's outcome once a manager executed it: (flag, reason).
pub async fn command_outcome(client: &Client, app_id: &str, issued: NaiveDateTime) -> Result<Option<(CmdFlag, Option<String>)>, StoreError> {
    let row = client
        .query_opt("SELECT cmd_flag, cmd_reason FROM command_log WHERE app_id = $1 AND cmd_time = $2 ORDER BY id DESC LIMIT 1", &[&app_id, &issued])
        .await?;
    row.map(|row| Ok((CmdFlag::from_value(row.get(0)).map_err(|e| StoreError::Data(e.to_string()))?, row.get(1)))).transpose()
}

/// One line of `dcctl status`.
#[derive(Clone, Debug)]
pub struct AppStatus {
    pub label: String,
    pub state: String,
    pub schedule: Option<String>,
    pub last_run: Option<NaiveDateTime>,
    pub next_run: Option<NaiveDateTime>,
    pub failures: i64,
    pub fatal: Option<String>,
}

pub async fn app_statuses(client: &Client) -> Result<Vec<AppStatus>, StoreError> {
    let rows = client
        .query(
            "SELECT a.group_name || '/' || a.parent_name || '/' || a.app_name,
                    CASE WHEN a.fatal_flag IS NOT NULL THEN 'fatal' WHEN COALESCE(a.disable, true) THEN 'disabled'
                         WHEN a.run_status = $1 THEN 'running' WHEN a.run_status = $2 THEN 'stopped' ELSE 'idle' END,
                    s.schedule, s.time_zone, a.last_run, a.next_run,
                    (SELECT count(*) FROM (SELECT exit_code, row_number() OVER (ORDER BY start_time DESC, id DESC) AS n,
                                                  sum(CASE WHEN exit_code = $3 THEN 0 ELSE 1 END) OVER (ORDER BY start_time DESC, id DESC) AS ok
                                           FROM runtime WHERE app_id = a.app AND exit_code IN ($3, $4)) r WHERE ok = 0),
                    a.fatal_msg
             FROM apps a LEFT JOIN app_schedules s ON s.app_id = a.app WHERE a.archive IS NULL ORDER BY 1",
            &[&RunStatus::Running.value(), &RunStatus::Stopped.value(), &RuntimeExitCode::Failed.value(), &RuntimeExitCode::Finished.value()],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let schedule: Option<String> = row.get(2);
            let zone: Option<String> = row.get(3);
            AppStatus {
                label: row.get(0),
                state: row.get(1),
                schedule: schedule.map(|s| format!("{s} ({})", zone.unwrap_or_else(|| "UTC".into()))),
                last_run: row.get(4),
                next_run: row.get(5),
                failures: row.get(6),
                fatal: row.get(7),
            }
        })
        .collect())
}

/// One line of `dcctl runs`.
#[derive(Clone, Debug)]
pub struct RunRow {
    pub scheduled_time: NaiveDateTime,
    pub kind: String,
    pub state: String,
    pub start_time: Option<NaiveDateTime>,
    pub end_time: Option<NaiveDateTime>,
    pub exit_code: Option<String>,
    pub process_status: Option<i32>,
    pub reason: Option<String>,
}

pub async fn recent_runs(client: &Client, app_id: &str, limit: i64) -> Result<Vec<RunRow>, StoreError> {
    let rows = client
        .query(
            "SELECT r.scheduled_time, r.kind, r.state, t.start_time, t.end_time, c.description, t.process_status, r.reason
             FROM scheduled_runs r LEFT JOIN runtime t ON t.runtime = r.runtime_id LEFT JOIN c_runtime_codes c ON c.id = t.exit_code
             WHERE r.app_id = $1 ORDER BY r.scheduled_time DESC, r.id DESC LIMIT $2",
            &[&app_id, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| RunRow {
            scheduled_time: row.get(0),
            kind: row.get(1),
            state: row.get(2),
            start_time: row.get(3),
            end_time: row.get(4),
            exit_code: row.get(5),
            process_status: row.get(6),
            reason: row.get(7),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(name: CmdName, active: i64, overlap: OverlapPolicy) -> PendingCommand {
        PendingCommand {
            app_id: "a".into(),
            name,
            by: None,
            time: None,
            disabled: false,
            overlap,
            command: Some("true".into()),
            working_dir: None,
            stop_timeout: Duration::from_secs(1),
            active,
            reserved_run_id: 7,
        }
    }

    #[test]
    fn start_claims_at_once_unless_it_must_wait_for_a_stop() {
        let start = |active, overlap| decide_command(&command(CmdName::Start, active, overlap)).effect;
        assert_eq!(start(0, OverlapPolicy::Forbid), CommandEffect::Start { stop_first: None, start_now: true });
        assert_eq!(start(1, OverlapPolicy::Allow), CommandEffect::Start { stop_first: None, start_now: true });
        assert_eq!(start(1, OverlapPolicy::Replace), CommandEffect::Start { stop_first: Some(RuntimeExitCode::CmdStart), start_now: false });
        let forbid = decide_command(&command(CmdName::Start, 1, OverlapPolicy::Forbid));
        assert_eq!((forbid.flag, forbid.effect), (CmdFlag::NotExecuted, CommandEffect::Refused));
        assert!(forbid.reason.contains("use restart"), "{}", forbid.reason);
        let restart = |overlap| decide_command(&command(CmdName::Restart, 1, overlap)).effect;
        assert_eq!(restart(OverlapPolicy::Forbid), CommandEffect::Start { stop_first: Some(RuntimeExitCode::CmdReset), start_now: false });
        // allow: the old run is stopped, and the new one does not wait for it.
        assert_eq!(restart(OverlapPolicy::Allow), CommandEffect::Start { stop_first: Some(RuntimeExitCode::CmdReset), start_now: true });
    }

    #[test]
    fn refusals_say_why() {
        let mut disabled = command(CmdName::Start, 0, OverlapPolicy::Forbid);
        disabled.disabled = true;
        assert_eq!(decide_command(&disabled).reason, "the app is disabled; enable it first");
        let mut no_command = command(CmdName::Restart, 0, OverlapPolicy::Forbid);
        no_command.command = None;
        assert!(decide_command(&no_command).reason.contains("dcctl register"));
        let stop = decide_command(&command(CmdName::Stop, 0, OverlapPolicy::Forbid));
        assert_eq!((stop.flag, stop.reason.as_str()), (CmdFlag::NotExecuted, "the app is not running"));
        assert_eq!(decide_command(&command(CmdName::Stop, 2, OverlapPolicy::Forbid)).effect, CommandEffect::Stop);
        assert_eq!(decide_command(&command(CmdName::Disable, 0, OverlapPolicy::Forbid)).reason, "disabled");
        assert_eq!(decide_command(&command(CmdName::Enable, 0, OverlapPolicy::Forbid)).effect, CommandEffect::Enable);
    }
}
