//! Schedules: cron expressions read in an IANA time zone, and fixed intervals; when each run is due, in UTC.
//!
//! The DST rule (README "Manager"): a cron expression names wall-clock times.
//! - A wall-clock time that does not exist (the hour skipped when clocks go
//!   forward) runs once, at the first instant after the gap (02:30 on a
//!   spring-forward night in New York runs at 03:00 EDT). Every occurrence in
//!   the gap collapses into that one instant, together with an occurrence at
//!   the gap's end itself, so nothing runs twice.
//! - A wall-clock time that exists twice (the hour repeated when clocks go
//!   back) runs once, at its first instant; the repeated pass has no runs.
//!
//! A fixed interval (`every 15m`) is elapsed time, aligned to the Unix epoch
//! in UTC: daylight saving never changes it, so its time zone does not matter.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Duration as ChronoDuration, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;

/// When an app runs.
#[derive(Clone, Debug)]
pub struct Schedule {
    kind: Kind,
    time_zone: Tz,
    text: String,
}

#[derive(Clone, Debug)]
enum Kind {
    Cron(Box<Cron>),
    Every(Duration),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("`{text}` is not a cron expression: {message}; write 5 fields (minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\"), 6 with seconds first, or an interval like \"every 15m\"")]
    Cron { text: String, message: String },
    #[error("`{text}` is not an interval: {message}; write \"every\" and a positive number with a unit s, m, h or d, e.g. \"every 90s\" or \"every 6h\"")]
    Interval { text: String, message: String },
    #[error("`{0}` is not an IANA time zone; use a name like \"UTC\", \"Europe/Berlin\" or \"America/New_York\"")]
    TimeZone(String),
}

impl Schedule {
    /// Parses `text` (a cron expression or `every <n><unit>`) for `time_zone`.
    pub fn parse(text: &str, time_zone: &str) -> Result<Schedule, ScheduleError> {
        let zone = Tz::from_str(time_zone.trim()).map_err(|_| ScheduleError::TimeZone(time_zone.to_string()))?;
        let trimmed = text.trim();
        let kind = if let Some(rest) = trimmed.strip_prefix("every") {
            Kind::Every(parse_interval(trimmed, rest)?)
        } else {
            let cron = croner::parser::CronParser::builder()
                .seconds(croner::parser::Seconds::Optional)
                .build()
                .parse(trimmed)
                .map_err(|error| ScheduleError::Cron { text: trimmed.to_string(), message: error.to_string() })?;
            Kind::Cron(Box::new(cron))
        };
        Ok(Schedule { kind, time_zone: zone, text: trimmed.to_string() })
    }

    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// The first run strictly after `after` (UTC), or `None` if the
    /// expression never matches again.
    pub fn next_after(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        match &self.kind {
            Kind::Every(interval) => Some(next_interval(*interval, after)),
            Kind::Cron(cron) => self.next_cron(cron, after),
        }
    }

    /// Every run in `(after, until]`, oldest first; at most `limit` of the
    /// newest ones, with the count of older ones left out.
    pub fn runs_between(&self, after: NaiveDateTime, until: NaiveDateTime, limit: usize) -> (Vec<NaiveDateTime>, u64) {
        let mut runs = std::collections::VecDeque::new();
        let mut dropped = 0u64;
        let mut cursor = after;
        // An interval can jump straight to the window it needs.
        if let Kind::Every(interval) = &self.kind {
            let step = ChronoDuration::from_std(*interval).unwrap_or(ChronoDuration::MAX);
            let span = until - after;
            if limit > 0 && span > step * (limit as i32 + 1) {
                let skip_to = until - step * (limit as i32 + 1);
                dropped = ((skip_to - after).num_milliseconds() / step.num_milliseconds().max(1)).max(0) as u64;
                cursor = skip_to;
                if let Some(first) = self.next_after(cursor) {
                    // Count what lies between `after` and the first kept run exactly.
                    dropped = count_interval(*interval, after, first);
                }
            }
        }
        while let Some(next) = self.next_after(cursor) {
            if next > until {
                break;
            }
            runs.push_back(next);
            if runs.len() > limit {
                runs.pop_front();
                dropped += 1;
            }
            cursor = next;
        }
        (runs.into_iter().collect(), dropped)
    }

    fn next_cron(&self, cron: &Cron, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let zone = self.time_zone;
        // Wall clock of `after` in the app's zone; searched as if it were UTC,
        // so the cron crate sees no daylight saving and the rule above is ours.
        // Whole seconds: the cron crate carries a fraction of `after` into the
        // occurrence it finds (05.93 would give 06.93), and cron occurrences are
        // whole seconds. An occurrence at the floor itself is not after `after`
        // unless `after` had no fraction, which the `instant > after` check sorts.
        let mut wall = Utc.from_utc_datetime(&after).with_timezone(&zone).naive_local().with_nanosecond(0).unwrap_or(after);
        // A year of misses cannot happen for a valid expression; the bound
        // only guards against an expression that never matches again.
        for _ in 0..100_000 {
            let next_wall = cron.find_next_occurrence(&Utc.from_utc_datetime(&wall), false).ok()?.naive_utc().with_nanosecond(0)?;
            let instant = wall_to_instant(zone, next_wall);
            if instant > after {
                return Some(instant);
            }
            wall = next_wall;
        }
        None
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.text, self.time_zone)
    }
}

/// The UTC instant a wall-clock time names in `zone`, by the DST rule above.
pub fn wall_to_instant(zone: Tz, wall: NaiveDateTime) -> NaiveDateTime {
    match zone.from_local_datetime(&wall) {
        LocalResult::Single(time) => time.naive_utc(),
        LocalResult::Ambiguous(first, _) => first.naive_utc(),
        LocalResult::None => gap_end(zone, wall),
    }
}

/// The first instant after the gap `wall` falls in: the first wall-clock
/// minute that exists. Transitions happen on whole minutes in every zone in
/// use, and no gap is longer than a day.
fn gap_end(zone: Tz, wall: NaiveDateTime) -> NaiveDateTime {
    let mut minute = wall.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(wall);
    for _ in 0..(24 * 60 + 1) {
        minute += ChronoDuration::minutes(1);
        match zone.from_local_datetime(&minute) {
            LocalResult::Single(time) => return time.naive_utc(),
            LocalResult::Ambiguous(first, _) => return first.naive_utc(),
            LocalResult::None => {}
        }
    }
    // Unreachable for real zones; the instant read with the offset before the gap.
    DateTime::<Utc>::from_naive_utc_and_offset(wall, Utc).naive_utc()
}

fn parse_interval(text: &str, rest: &str) -> Result<Duration, ScheduleError> {
    let error = |message: &str| ScheduleError::Interval { text: text.to_string(), message: message.to_string() };
    let spec = rest.trim();
    if spec.is_empty() {
        return Err(error("the length is missing"));
    }
    let split = spec.find(|c: char| !c.is_ascii_digit()).ok_or_else(|| error("the unit is missing"))?;
    let (number, unit) = spec.split_at(split);
    let number: u64 = number.parse().map_err(|_| error("the length is not a whole number"))?;
    if number == 0 {
        return Err(error("the length must be greater than zero"));
    }
    let seconds = match unit.trim() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        other => return Err(error(&format!("unknown unit `{other}`"))),
    };
    Ok(Duration::from_secs(number.checked_mul(seconds).ok_or_else(|| error("the length is too large"))?))
}

fn epoch_millis(time: NaiveDateTime) -> i64 {
    time.and_utc().timestamp_millis()
}

fn next_interval(interval: Duration, after: NaiveDateTime) -> NaiveDateTime {
    let step = interval.as_millis().max(1) as i64;
    let millis = epoch_millis(after);
    let next = (millis.div_euclid(step) + 1) * step;
    DateTime::<Utc>::from_timestamp_millis(next).map(|t| t.naive_utc()).unwrap_or(after)
}

/// How many interval runs lie in `(after, before)`.
fn count_interval(interval: Duration, after: NaiveDateTime, before: NaiveDateTime) -> u64 {
    let step = interval.as_millis().max(1) as i64;
    let first = epoch_millis(after).div_euclid(step) + 1;
    let last = (epoch_millis(before) - 1).div_euclid(step);
    (last - first + 1).max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn utc(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn local(zone: Tz, instants: &[NaiveDateTime]) -> Vec<String> {
        instants.iter().map(|t| Utc.from_utc_datetime(t).with_timezone(&zone).format("%m-%d %H:%M %Z").to_string()).collect()
    }

    /// Every run of `expression` in `zone` during the 48 hours around a DST
    /// change day, as local times with their zone abbreviation.
    fn runs_around(expression: &str, zone: &str, day: NaiveDate) -> Vec<String> {
        let schedule = Schedule::parse(expression, zone).unwrap();
        let start = day.pred_opt().unwrap().and_hms_opt(12, 0, 0).unwrap();
        let end = day.succ_opt().unwrap().and_hms_opt(12, 0, 0).unwrap();
        let (runs, dropped) = schedule.runs_between(start, end, 10_000);
        assert_eq!(dropped, 0);
        let mut unique = runs.clone();
        unique.dedup();
        assert_eq!(unique, runs, "a run happened twice");
        assert!(runs.windows(2).all(|w| w[0] < w[1]));
        local(schedule.time_zone(), &runs)
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    // Golden: daily at 02:30, across the four 2026 changes. The skipped 02:30
    // runs once at the gap's end; the repeated one runs once.
    #[test]
    fn cron_occurrences_are_whole_seconds_whatever_the_fraction_of_the_start() {
        let every_second = Schedule::parse("* * * * * *", "UTC").unwrap();
        let start = utc("2026-12-02 07:57:05") + ChronoDuration::microseconds(929_224);
        assert_eq!(every_second.next_after(start), Some(utc("2026-12-02 07:57:06")));
        assert_eq!(every_second.next_after(utc("2026-12-02 07:57:05")), Some(utc("2026-12-02 07:57:06")));
        // The manager asks for the runs from just before next_run: next_run itself is one.
        let (runs, _) = every_second.runs_between(utc("2026-12-02 07:57:05") - ChronoDuration::microseconds(1), start, 10);
        assert_eq!(runs, [utc("2026-12-02 07:57:05")]);
        let daily = Schedule::parse("30 2 * * *", "Europe/Berlin").unwrap();
        assert_eq!(daily.next_after(utc("2026-06-01 00:29:59") + ChronoDuration::microseconds(999_999)), Some(utc("2026-06-01 00:30:00")));
    }

    #[test]
    fn new_york_spring_forward_daily_in_the_gap_runs_once_after_it() {
        // 2026-03-08: 02:00 EST -> 03:00 EDT.
        assert_eq!(runs_around("30 2 * * *", "America/New_York", day(2026, 3, 8)), ["03-08 03:00 EDT", "03-09 02:30 EDT"]);
    }

    #[test]
    fn new_york_fall_back_daily_in_the_repeated_hour_runs_once() {
        // 2026-11-01: 02:00 EDT -> 01:00 EST; 01:30 happens twice.
        assert_eq!(runs_around("30 1 * * *", "America/New_York", day(2026, 11, 1)), ["11-01 01:30 EDT", "11-02 01:30 EST"]);
    }

    #[test]
    fn berlin_spring_forward_daily_in_the_gap_runs_once_after_it() {
        // 2026-03-29: 02:00 CET -> 03:00 CEST.
        assert_eq!(runs_around("30 2 * * *", "Europe/Berlin", day(2026, 3, 29)), ["03-29 03:00 CEST", "03-30 02:30 CEST"]);
    }

    #[test]
    fn berlin_fall_back_daily_in_the_repeated_hour_runs_once() {
        // 2026-10-25: 03:00 CEST -> 02:00 CET; 02:30 happens twice.
        assert_eq!(runs_around("30 2 * * *", "Europe/Berlin", day(2026, 10, 25)), ["10-25 02:30 CEST", "10-26 02:30 CET"]);
    }

    // Golden: every 30 minutes across each change: the gap's runs collapse
    // into the one at its end, the repeated hour runs once, nothing else moves.
    #[test]
    fn new_york_half_hourly_across_both_changes() {
        let spring = runs_around("*/30 0-4 * * *", "America/New_York", day(2026, 3, 8));
        assert_eq!(
            spring,
            [
                "03-08 00:00 EST", "03-08 00:30 EST", "03-08 01:00 EST", "03-08 01:30 EST",
                // 02:00 and 02:30 do not exist: once, at 03:00, with 03:00's own run.
                "03-08 03:00 EDT", "03-08 03:30 EDT", "03-08 04:00 EDT", "03-08 04:30 EDT",
                "03-09 00:00 EDT", "03-09 00:30 EDT", "03-09 01:00 EDT", "03-09 01:30 EDT",
                "03-09 02:00 EDT", "03-09 02:30 EDT", "03-09 03:00 EDT", "03-09 03:30 EDT", "03-09 04:00 EDT", "03-09 04:30 EDT",
            ]
        );
        let fall = runs_around("*/30 0-3 * * *", "America/New_York", day(2026, 11, 1));
        assert_eq!(
            fall,
            [
                "11-01 00:00 EDT", "11-01 00:30 EDT", "11-01 01:00 EDT", "11-01 01:30 EDT",
                // The repeated 01:00-01:59 (EST) has no runs.
                "11-01 02:00 EST", "11-01 02:30 EST", "11-01 03:00 EST", "11-01 03:30 EST",
                "11-02 00:00 EST", "11-02 00:30 EST", "11-02 01:00 EST", "11-02 01:30 EST",
                "11-02 02:00 EST", "11-02 02:30 EST", "11-02 03:00 EST", "11-02 03:30 EST",
            ]
        );
    }

    #[test]
    fn berlin_quarter_hourly_across_both_changes() {
        let spring = runs_around("*/15 2-3 * * *", "Europe/Berlin", day(2026, 3, 29));
        assert_eq!(
            spring,
            [
                "03-29 03:00 CEST", "03-29 03:15 CEST", "03-29 03:30 CEST", "03-29 03:45 CEST",
                "03-30 02:00 CEST", "03-30 02:15 CEST", "03-30 02:30 CEST", "03-30 02:45 CEST",
                "03-30 03:00 CEST", "03-30 03:15 CEST", "03-30 03:30 CEST", "03-30 03:45 CEST",
            ]
        );
        let fall = runs_around("*/15 2-3 * * *", "Europe/Berlin", day(2026, 10, 25));
        assert_eq!(
            fall,
            [
                "10-25 02:00 CEST", "10-25 02:15 CEST", "10-25 02:30 CEST", "10-25 02:45 CEST",
                "10-25 03:00 CET", "10-25 03:15 CET", "10-25 03:30 CET", "10-25 03:45 CET",
                "10-26 02:00 CET", "10-26 02:15 CET", "10-26 02:30 CET", "10-26 02:45 CET",
                "10-26 03:00 CET", "10-26 03:15 CET", "10-26 03:30 CET", "10-26 03:45 CET",
            ]
        );
    }

    /// Hourly across a whole year in both zones: exactly one run per wall-clock
    /// hour that exists, none for the skipped hour, one for the repeated hour.
    #[test]
    fn hourly_for_all_of_2026_none_skipped_none_twice() {
        for zone in ["America/New_York", "Europe/Berlin"] {
            let schedule = Schedule::parse("0 * * * *", zone).unwrap();
            let (runs, dropped) = schedule.runs_between(utc("2025-12-31 23:59:59"), utc("2026-12-31 23:59:59"), 100_000);
            assert_eq!(dropped, 0);
            // One run per UTC hour of 2026 (8760), less the second pass of the
            // repeated hour; the skipped hour's run is the one at the gap's end.
            assert_eq!(runs.len(), 8760 - 1, "{zone}");
            assert!(runs.windows(2).all(|w| w[0] < w[1]), "{zone}: not strictly increasing");
            // Never more than two hours between runs (the repeated hour), never less than one.
            assert!(runs.windows(2).all(|w| (w[1] - w[0]).num_minutes() == 60 || (w[1] - w[0]).num_minutes() == 120), "{zone}");
        }
    }

    #[test]
    fn intervals_are_elapsed_time_aligned_to_the_epoch() {
        let schedule = Schedule::parse("every 15m", "Europe/Berlin").unwrap();
        assert_eq!(schedule.next_after(utc("2026-03-29 00:59:59")), Some(utc("2026-03-29 01:00:00")));
        assert_eq!(schedule.next_after(utc("2026-03-29 01:00:00")), Some(utc("2026-03-29 01:15:00")));
        let (runs, dropped) = schedule.runs_between(utc("2026-03-29 00:00:00"), utc("2026-03-29 02:00:00"), 3);
        assert_eq!(runs, [utc("2026-03-29 01:30:00"), utc("2026-03-29 01:45:00"), utc("2026-03-29 02:00:00")]);
        assert_eq!(dropped, 5);
    }

    #[test]
    fn limits_keep_the_newest_and_count_the_rest() {
        let schedule = Schedule::parse("*/10 * * * *", "UTC").unwrap();
        let (runs, dropped) = schedule.runs_between(utc("2026-01-01 00:00:00"), utc("2026-01-01 01:00:00"), 2);
        assert_eq!(runs, [utc("2026-01-01 00:50:00"), utc("2026-01-01 01:00:00")]);
        assert_eq!(dropped, 4);
    }

    #[test]
    fn seconds_field_is_optional() {
        let schedule = Schedule::parse("*/5 * * * * *", "UTC").unwrap();
        assert_eq!(schedule.next_after(utc("2026-01-01 00:00:00")), Some(utc("2026-01-01 00:00:05")));
    }

    #[test]
    fn bad_schedules_say_how_to_fix_them() {
        let error = Schedule::parse("61 * * * *", "UTC").unwrap_err().to_string();
        assert!(error.starts_with("`61 * * * *` is not a cron expression"), "{error}");
        assert!(error.contains("\"0 2 * * *\""), "{error}");
        assert_eq!(
            Schedule::parse("every 0m", "UTC").unwrap_err().to_string(),
            "`every 0m` is not an interval: the length must be greater than zero; write \"every\" and a positive number with a unit s, m, h or d, e.g. \"every 90s\" or \"every 6h\""
        );
        assert!(Schedule::parse("every 5 fortnights", "UTC").unwrap_err().to_string().contains("unknown unit `fortnights`"));
        assert_eq!(
            Schedule::parse("0 * * * *", "Mars/Olympus").unwrap_err(),
            ScheduleError::TimeZone("Mars/Olympus".to_string())
        );
    }
}
