//! The diff at the heart of merge: incoming rows against the rows already in scope, decided in memory by sorting both sides.

use std::cmp::Ordering;

/// A value of a scope or compare-key column, comparable exactly on both
/// sides: read from a row through serde, or from PostgreSQL's binary output.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum KeyValue {
    Null,
    Bool(bool),
    Int(i64),
    Text(Box<str>),
    Uuid([u8; 16]),
    /// Days since 2000-01-01.
    Date(i32),
    /// Microseconds since 2000-01-01.
    Timestamp(i64),
}

impl std::fmt::Display for KeyValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyValue::Null => f.write_str("NULL"),
            KeyValue::Bool(b) => write!(f, "{b}"),
            KeyValue::Int(i) => write!(f, "{i}"),
            KeyValue::Text(t) => write!(f, "{t:?}"),
            KeyValue::Uuid(u) => write!(f, "{}", uuid::Uuid::from_bytes(*u)),
            KeyValue::Date(days) => write!(f, "day {days} after 2000-01-01"),
            KeyValue::Timestamp(micros) => write!(f, "{micros} µs after 2000-01-01"),
        }
    }
}

/// How merge finds a row again to archive, delete or update it: the
/// table's integer id, or the physical row address when it has none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Locator {
    Id(i64),
    Ctid { block: u32, offset: u16 },
}

/// One incoming row, reduced to what the diff needs.
#[derive(Clone, Debug)]
pub(crate) struct Incoming {
    pub sha: [u8; 32],
    /// The compare-key values; empty when comparing by sha.
    pub key: Box<[KeyValue]>,
    /// Position in the caller's slice.
    pub index: u32,
}

/// One row already in the table, in scope.
#[derive(Clone, Debug)]
pub(crate) struct Existing {
    pub locator: Locator,
    /// `None` when the stored `sha` is NULL or not 64 hex digits: such a row
    /// matches nothing and is replaced by the truth.
    pub sha: Option<[u8; 32]>,
    pub key: Box<[KeyValue]>,
    /// When it was archived (µs since 2000); `None` for an active row.
    pub archived_at: Option<i64>,
}

#[derive(Debug, Default, PartialEq)]
pub(crate) struct Plan {
    /// Incoming rows to insert (indices into the caller's slice), with their sha.
    pub inserts: Vec<(u32, [u8; 32])>,
    /// Rows updated in place (keyed merges): the incoming row and its sha,
    /// the stored row, and whether the stored row was archived and comes back.
    pub updates: Vec<(u32, [u8; 32], Locator, bool)>,
    /// Active rows the truth no longer has.
    pub gone: Vec<Locator>,
    pub unchanged: usize,
    /// Incoming rows that repeat an earlier one (same sha, or same key): `(first, repeat)`.
    pub duplicates: Vec<(u32, u32)>,
}

/// The first 8 bytes of a sha as a big-endian integer: ordered like the sha.
fn prefix(sha: &[u8; 32]) -> u64 {
    u64::from_be_bytes([sha[0], sha[1], sha[2], sha[3], sha[4], sha[5], sha[6], sha[7]])
}

/// The order `by_sha` walks incoming rows in: by sha, then position.
/// Comparing the first 8 bytes as one integer settles almost every pair.
fn compare_incoming(a: &Incoming, b: &Incoming) -> Ordering {
    prefix(&a.sha).cmp(&prefix(&b.sha)).then_with(|| a.sha.cmp(&b.sha)).then(a.index.cmp(&b.index))
}

fn compare_existing(a: &Existing, b: &Existing) -> Ordering {
    let (x, y) = (a.sha.unwrap_or_default(), b.sha.unwrap_or_default());
    prefix(&x).cmp(&prefix(&y)).then_with(|| x.cmp(&y)).then(a.locator.cmp(&b.locator))
}

/// Sorts a run of incoming rows for `by_sha`, on the thread that hashed them.
pub(crate) fn sort_incoming(rows: &mut [Incoming]) {
    rows.sort_unstable_by(compare_incoming);
}

/// Sorts the stored rows for `by_sha`, on the thread that read them.
pub(crate) fn sort_existing(rows: &mut [Existing]) {
    rows.sort_unstable_by(compare_existing);
}

/// Compares by sha: an incoming row whose sha is active is unchanged, a new
/// sha is inserted, an active sha missing from the truth is gone. Archived
/// rows are history and are not read: a sha that comes back is a new row.
pub(crate) fn by_sha(mut incoming: Vec<Incoming>, existing: Vec<Existing>) -> Plan {
    let mut plan = Plan::default();
    // Stable sorts: callers hand over runs they already sorted on other
    // threads (`sort_incoming`, `sort_existing`), which merge in linear time.
    if !incoming.is_sorted_by(|a, b| compare_incoming(a, b) != Ordering::Greater) {
        incoming.sort_by(compare_incoming);
    }
    // Rows without a readable sha can never match; they are simply gone.
    // In place: the existing rows can be the largest thing merge holds.
    let mut active = existing;
    active.retain(|e| {
        if e.archived_at.is_none() && e.sha.is_none() {
            plan.gone.push(e.locator);
        }
        e.archived_at.is_none() && e.sha.is_some()
    });
    if !active.is_sorted_by(|a, b| compare_existing(a, b) != Ordering::Greater) {
        active.sort_by(compare_existing);
    }
    let (mut i, mut e) = (0, 0);
    while i < incoming.len() || e < active.len() {
        let order = match (incoming.get(i), active.get(e)) {
            (Some(row), Some(stored)) => Some(row.sha).cmp(&stored.sha),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match order {
            Ordering::Greater => {
                plan.gone.push(active[e].locator);
                e += 1;
            }
            _ => {
                let sha = incoming[i].sha;
                let first = incoming[i].index;
                i += 1;
                while incoming.get(i).is_some_and(|row| row.sha == sha) {
                    plan.duplicates.push((first, incoming[i].index));
                    i += 1;
                }
                if order == Ordering::Equal {
                    plan.unchanged += 1;
                    e += 1;
                    // The same row stored twice (written outside merge): keep one.
                    while active.get(e).is_some_and(|stored| stored.sha == Some(sha)) {
                        plan.gone.push(active[e].locator);
                        e += 1;
                    }
                } else {
                    plan.inserts.push((first, sha));
                }
            }
        }
    }
    plan.inserts.sort_unstable_by_key(|&(index, _)| index);
    plan
}

/// Compares by key: the key names one row for life. Same key and sha:
/// unchanged. Same key, other sha: the row is updated in place (id and
/// creation time kept). A key only archived rows have: the most recently
/// archived one is updated and comes back. A new key is inserted; an active
/// key missing from the truth is gone.
pub(crate) fn by_key(mut incoming: Vec<Incoming>, mut existing: Vec<Existing>) -> Plan {
    let mut plan = Plan::default();
    incoming.sort_unstable_by(|a, b| a.key.cmp(&b.key).then(a.index.cmp(&b.index)));
    // Per key: active rows first, then archived ones, newest archive first.
    existing.sort_unstable_by(|a, b| {
        a.key.cmp(&b.key).then_with(|| match (a.archived_at, b.archived_at) {
            (None, None) => a.locator.cmp(&b.locator),
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => y.cmp(&x),
        })
    });
    let (mut i, mut e) = (0, 0);
    while i < incoming.len() || e < existing.len() {
        let order = match (incoming.get(i), existing.get(e)) {
            (Some(row), Some(stored)) => row.key.cmp(&stored.key),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        // The stored rows of this key.
        let group_end = if order == Ordering::Less {
            e
        } else {
            let key = &existing[e].key;
            e + existing[e..].iter().take_while(|stored| &stored.key == key).count()
        };
        let stored = &existing[e..group_end];
        if order == Ordering::Greater {
            plan.gone.extend(stored.iter().filter(|s| s.archived_at.is_none()).map(|s| s.locator));
            e = group_end;
            continue;
        }
        let row = incoming[i].clone();
        i += 1;
        while incoming.get(i).is_some_and(|next| next.key == row.key) {
            plan.duplicates.push((row.index, incoming[i].index));
            i += 1;
        }
        let actives: Vec<&Existing> = stored.iter().filter(|s| s.archived_at.is_none()).collect();
        if let Some(same) = actives.iter().find(|s| s.sha == Some(row.sha)) {
            plan.unchanged += 1;
            plan.gone.extend(actives.iter().filter(|s| s.locator != same.locator).map(|s| s.locator));
        } else if let Some((first, rest)) = actives.split_first() {
            plan.updates.push((row.index, row.sha, first.locator, false));
            plan.gone.extend(rest.iter().map(|s| s.locator));
        } else if let Some(latest) = stored.first() {
            plan.updates.push((row.index, row.sha, latest.locator, true));
        } else {
            plan.inserts.push((row.index, row.sha));
        }
        e = group_end;
    }
    plan.inserts.sort_unstable_by_key(|&(index, _)| index);
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(n: u8) -> [u8; 32] {
        [n; 32]
    }

    fn row(n: u8, index: u32) -> Incoming {
        Incoming { sha: sha(n), key: Box::new([]), index }
    }

    fn keyed(key: i64, n: u8, index: u32) -> Incoming {
        Incoming { sha: sha(n), key: Box::new([KeyValue::Int(key)]), index }
    }

    fn stored(id: i64, n: Option<u8>, archived_at: Option<i64>) -> Existing {
        Existing { locator: Locator::Id(id), sha: n.map(sha), key: Box::new([]), archived_at }
    }

    fn stored_key(id: i64, key: i64, n: u8, archived_at: Option<i64>) -> Existing {
        Existing { locator: Locator::Id(id), sha: Some(sha(n)), key: Box::new([KeyValue::Int(key)]), archived_at }
    }

    #[test]
    fn by_sha_inserts_new_keeps_same_archives_gone_and_counts_duplicates() {
        let incoming = vec![row(1, 0), row(3, 1), row(1, 2), row(4, 3)];
        let existing = vec![stored(10, Some(1), None), stored(11, Some(2), None), stored(12, None, None), stored(13, Some(1), None)];
        let plan = by_sha(incoming, existing);
        assert_eq!(plan.inserts, vec![(1, sha(3)), (3, sha(4))]);
        assert_eq!(plan.unchanged, 1);
        assert_eq!(plan.duplicates, vec![(0, 2)]);
        let mut gone = plan.gone.clone();
        gone.sort();
        // 11: sha gone; 12: unreadable sha; 13: a second copy of sha 1.
        assert_eq!(gone, vec![Locator::Id(11), Locator::Id(12), Locator::Id(13)]);
    }

    #[test]
    fn by_sha_ignores_archived_rows_so_a_returning_sha_is_a_new_row() {
        let plan = by_sha(vec![row(1, 0)], vec![stored(10, Some(1), Some(5))]);
        assert_eq!(plan.inserts, vec![(0, sha(1))]);
        assert!(plan.gone.is_empty());
    }

    #[test]
    fn by_key_updates_changed_revives_archived_and_archives_gone() {
        let incoming = vec![keyed(1, 1, 0), keyed(2, 9, 1), keyed(3, 3, 2), keyed(4, 4, 3), keyed(2, 7, 4)];
        let existing = vec![
            stored_key(10, 1, 1, None),
            stored_key(20, 2, 2, None),
            stored_key(30, 3, 3, Some(100)),
            stored_key(31, 3, 3, Some(200)),
            stored_key(50, 5, 5, None),
        ];
        let plan = by_key(incoming, existing);
        assert_eq!(plan.unchanged, 1);
        assert_eq!(plan.updates, vec![(1, sha(9), Locator::Id(20), false), (2, sha(3), Locator::Id(31), true)]);
        assert_eq!(plan.inserts, vec![(3, sha(4))]);
        assert_eq!(plan.gone, vec![Locator::Id(50)]);
        assert_eq!(plan.duplicates, vec![(1, 4)]);
    }
}
