//! Which due runs of one app start now, which wait, which are skipped: the missed-run and overlap policies as one pure function.
//!
//! A run is *late* when it is more than the grace period past its scheduled
//! time: the manager was down, or it waited behind a running one. The
//! missed-run policy prunes the due runs first (each pruned run is recorded as
//! skipped, with the reason), then the overlap policy says whether any starts:
//!
//! - `skip`: late runs are skipped; on-time ones stay.
//! - `run_once` (default): only the latest due run stays; earlier ones are skipped.
//! - `run_all`: runs older than the run_all deadline are skipped; the rest stay.
//! - `forbid` (default): while a run of the app is active, nothing starts;
//!   otherwise the oldest remaining run starts (the others wait their turn).
//! - `replace`: like forbid, but the active run is asked to stop first.
//! - `allow`: every remaining run starts, beside the active ones.
//!
//! Runs made by a start or restart command are never pruned: a command is
//! carried out, whatever the schedule's policy.

use chrono::{Duration, NaiveDateTime};
use dc_schema::enums::{MissedRunPolicy, OverlapPolicy, ScheduledRunKind};

/// A due run (scheduled time reached, not started).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueRun {
    pub id: i64,
    pub scheduled_time: NaiveDateTime,
    pub kind: ScheduledRunKind,
}

/// One app's policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policies {
    pub overlap: OverlapPolicy,
    pub missed_run: MissedRunPolicy,
    pub run_all_deadline: Duration,
    /// How late a run may start and still be on time.
    pub grace: Duration,
}

/// What to do with one app's due runs now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Runs to claim and start, oldest first.
    pub start: Vec<i64>,
    /// Runs recorded as skipped, with why.
    pub skip: Vec<(i64, String)>,
    /// Ask the active runs to stop (overlap `replace`).
    pub stop_active: bool,
}

/// Decides for one app. `due` is sorted by scheduled time; `active` counts
/// its claimed and running runs; `disabled` skips everything that is not a
/// command (commands on a disabled app are refused before they get here).
pub fn decide(policies: &Policies, now: NaiveDateTime, due: &[DueRun], active: usize, disabled: bool) -> Decision {
    let mut decision = Decision::default();
    let mut kept: Vec<&DueRun> = Vec::with_capacity(due.len());
    let latest_scheduled = due.iter().rev().find(|run| run.kind == ScheduledRunKind::Schedule).map(|run| run.id);
    for run in due {
        if run.kind == ScheduledRunKind::Command {
            kept.push(run);
            continue;
        }
        if disabled {
            decision.skip.push((run.id, "app disabled".to_string()));
            continue;
        }
        let late_by = now - run.scheduled_time;
        let reason = match policies.missed_run {
            MissedRunPolicy::Skip if late_by > policies.grace => {
                Some(format!("missed: {} late, more than the grace of {} (policy skip)", seconds(late_by), seconds(policies.grace)))
            }
            MissedRunPolicy::RunOnce if Some(run.id) != latest_scheduled => Some("missed: collapsed into a later run (policy run_once)".to_string()),
            MissedRunPolicy::RunAll if late_by > policies.run_all_deadline => {
                Some(format!("missed: {} late, past the run_all deadline of {}", seconds(late_by), seconds(policies.run_all_deadline)))
            }
            _ => None,
        };
        match reason {
            Some(reason) => decision.skip.push((run.id, reason)),
            None => kept.push(run),
        }
    }
    if kept.is_empty() {
        return decision;
    }
    match policies.overlap {
        OverlapPolicy::Allow => decision.start.extend(kept.iter().map(|run| run.id)),
        OverlapPolicy::Forbid | OverlapPolicy::Replace if active > 0 => {
            decision.stop_active = policies.overlap == OverlapPolicy::Replace;
        }
        OverlapPolicy::Forbid | OverlapPolicy::Replace => decision.start.push(kept[0].id),
    }
    decision
}

fn seconds(duration: Duration) -> String {
    format!("{}s", duration.num_milliseconds() as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + second, 0).unwrap().naive_utc()
    }

    fn run(id: i64, second: i64) -> DueRun {
        DueRun { id, scheduled_time: at(second), kind: ScheduledRunKind::Schedule }
    }

    fn command(id: i64, second: i64) -> DueRun {
        DueRun { id, scheduled_time: at(second), kind: ScheduledRunKind::Command }
    }

    fn policies(overlap: OverlapPolicy, missed_run: MissedRunPolicy) -> Policies {
        Policies { overlap, missed_run, run_all_deadline: Duration::seconds(100), grace: Duration::seconds(5) }
    }

    /// Three runs 10 s apart; the manager comes back at second 200.
    fn after_downtime() -> Vec<DueRun> {
        vec![run(1, 0), run(2, 150), run(3, 198)]
    }

    #[test]
    fn run_once_starts_the_latest_and_skips_the_rest() {
        let decision = decide(&policies(OverlapPolicy::Forbid, MissedRunPolicy::RunOnce), at(200), &after_downtime(), 0, false);
        assert_eq!(decision.start, [3]);
        assert_eq!(decision.skip.iter().map(|s| s.0).collect::<Vec<_>>(), [1, 2]);
        assert!(decision.skip[0].1.contains("run_once"));
    }

    #[test]
    fn skip_starts_only_on_time_runs() {
        let decision = decide(&policies(OverlapPolicy::Forbid, MissedRunPolicy::Skip), at(200), &after_downtime(), 0, false);
        assert_eq!(decision.start, [3]);
        assert_eq!(decision.skip.iter().map(|s| s.0).collect::<Vec<_>>(), [1, 2]);
        assert!(decision.skip[1].1.contains("policy skip"), "{:?}", decision.skip);
    }

    #[test]
    fn run_all_starts_the_oldest_within_the_deadline_one_at_a_time() {
        let decision = decide(&policies(OverlapPolicy::Forbid, MissedRunPolicy::RunAll), at(200), &after_downtime(), 0, false);
        assert_eq!(decision.start, [2]);
        assert_eq!(decision.skip.len(), 1);
        assert!(decision.skip[0].1.contains("run_all deadline"));
        let allowed = decide(&policies(OverlapPolicy::Allow, MissedRunPolicy::RunAll), at(200), &after_downtime(), 0, false);
        assert_eq!(allowed.start, [2, 3]);
    }

    #[test]
    fn forbid_waits_while_a_run_is_active() {
        let decision = decide(&policies(OverlapPolicy::Forbid, MissedRunPolicy::RunAll), at(200), &[run(3, 198)], 1, false);
        assert_eq!(decision, Decision::default());
    }

    #[test]
    fn replace_stops_the_active_run_and_waits_for_it() {
        let decision = decide(&policies(OverlapPolicy::Replace, MissedRunPolicy::RunOnce), at(200), &[run(3, 198)], 1, false);
        assert!(decision.stop_active);
        assert!(decision.start.is_empty());
        let free = decide(&policies(OverlapPolicy::Replace, MissedRunPolicy::RunOnce), at(200), &[run(3, 198)], 0, false);
        assert_eq!(free.start, [3]);
        assert!(!free.stop_active);
    }

    #[test]
    fn allow_starts_beside_the_active_run() {
        let decision = decide(&policies(OverlapPolicy::Allow, MissedRunPolicy::RunOnce), at(200), &[run(3, 198)], 2, false);
        assert_eq!(decision.start, [3]);
    }

    #[test]
    fn waiting_runs_are_pruned_as_they_become_late() {
        // Behind an active run, under skip, a run 6 s late is skipped even though nothing starts.
        let decision = decide(&policies(OverlapPolicy::Forbid, MissedRunPolicy::Skip), at(200), &[run(3, 194)], 1, false);
        assert_eq!(decision.start, Vec::<i64>::new());
        assert_eq!(decision.skip.len(), 1);
    }

    #[test]
    fn commands_are_never_pruned_and_disabled_apps_skip_scheduled_runs() {
        let due = [run(1, 0), command(2, 10), run(3, 199)];
        let decision = decide(&policies(OverlapPolicy::Forbid, MissedRunPolicy::Skip), at(200), &due, 0, true);
        assert_eq!(decision.start, [2]);
        assert_eq!(decision.skip, [(1, "app disabled".to_string()), (3, "app disabled".to_string())]);
    }
}
