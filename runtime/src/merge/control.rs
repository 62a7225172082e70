//! What a long-running process controls in a merge: [`CancelToken`] and [`ThreadBudget`].

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// Cancels merges from another thread: a merge checks it between phases,
/// while it waits for its lock, and every few thousand rows while it hashes
/// or writes; a cancelled merge rolls back and returns `MergeError::Cancelled`.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Hashing threads shared by every merge that holds the same budget. A
/// merge always hashes on its calling thread; it adds as many helper
/// threads as it asked for and the budget has free, and returns them when
/// hashing ends. Ten concurrent merges with the default (global) budget
/// therefore run at most as many helpers as the machine has cores.
#[derive(Clone, Debug)]
pub struct ThreadBudget(Arc<AtomicUsize>);

impl ThreadBudget {
    /// A budget of `threads` helper threads.
    pub fn new(threads: usize) -> ThreadBudget {
        ThreadBudget(Arc::new(AtomicUsize::new(threads)))
    }

    /// The process-wide budget every merge uses unless given another: one
    /// helper per core.
    pub fn global() -> &'static ThreadBudget {
        static GLOBAL: OnceLock<ThreadBudget> = OnceLock::new();
        GLOBAL.get_or_init(|| ThreadBudget::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)))
    }

    /// Helper threads free right now.
    pub fn available(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// Takes up to `wanted` helpers (maybe none); they return on drop.
    pub(crate) fn take(&self, wanted: usize) -> Helpers<'_> {
        let mut free = self.0.load(Ordering::Relaxed);
        loop {
            let count = free.min(wanted);
            match self.0.compare_exchange_weak(free, free - count, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Helpers { budget: self, count },
                Err(now) => free = now,
            }
        }
    }
}

/// Helper threads taken from a [`ThreadBudget`].
pub(crate) struct Helpers<'b> {
    budget: &'b ThreadBudget,
    pub count: usize,
}

impl Drop for Helpers<'_> {
    fn drop(&mut self) {
        self.budget.0.fetch_add(self.count, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_are_shared_and_returned() {
        let budget = ThreadBudget::new(3);
        let first = budget.take(2);
        let second = budget.take(2);
        assert_eq!((first.count, second.count, budget.available()), (2, 1, 0));
        assert_eq!(budget.take(5).count, 0);
        drop(first);
        assert_eq!(budget.available(), 2);
        drop(second);
        assert_eq!(budget.available(), 3);
    }

    #[test]
    fn a_token_cancels_its_clones() {
        let token = CancelToken::new();
        let clone = token.clone();
        assert!(!clone.is_cancelled());
        token.cancel();
        assert!(clone.is_cancelled());
    }
}
