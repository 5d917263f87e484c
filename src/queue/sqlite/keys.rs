//! Deliveries' keys: `seq`, the integer primary key, orders deliveries as they were committed
//! and as they were accepted: the acceptance's millisecond times [`PER_MS`], or one more than
//! the last key when that is higher. So a time is a key range (the purge, the `since` filters,
//! the kept bodies) without an index on any time column.

use std::sync::atomic::{AtomicI64, Ordering};

/// Keys per millisecond before a burst borrows the next millisecond's.
const PER_MS: i64 = 4096;

/// The first key a delivery accepted at `ms` (or later) can have.
pub(super) fn first_at(ms: i64) -> i64 {
    ms.saturating_mul(PER_MS)
}

/// The key after `last` for a delivery accepted at `ms`.
pub(super) fn after(last: i64, ms: i64) -> i64 {
    last.saturating_add(1).max(first_at(ms))
}

/// The last key given, shared by the writer's statements; it starts from the table's highest.
#[derive(Debug)]
pub(super) struct Keys {
    last: AtomicI64,
}

impl Keys {
    pub(super) fn starting_after(last: i64) -> Keys {
        Keys {
            last: AtomicI64::new(last),
        }
    }

    /// A new key for a delivery accepted at `ms`. Only the writer thread calls it; a batch run
    /// again after a failure takes new keys, leaving gaps, never a repeat.
    pub(super) fn next(&self, ms: i64) -> i64 {
        let mut key = 0;
        let _ = self
            .last
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                key = after(last, ms);
                Some(key)
            });
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_time_and_never_repeat() {
        let keys = Keys::starting_after(0);
        let a = keys.next(1_000);
        let b = keys.next(1_000);
        let c = keys.next(999);
        let d = keys.next(1_001);
        assert_eq!(a, first_at(1_000));
        assert_eq!(
            (b, c),
            (a + 1, a + 2),
            "a burst or an earlier time takes the next key"
        );
        assert_eq!(d, first_at(1_001));
        assert!(first_at(1_000) < first_at(1_001) && a < d);
    }
}
