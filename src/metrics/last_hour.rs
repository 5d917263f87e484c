//! One vendor's webhooks of the last hour, accepted and refused, for the admin overview: sixty
//! one-minute buckets in this process's memory, so counting a webhook is one atomic add (two
//! when it starts a minute) and reading takes no query. Each replica counts what it answered
//! since it started.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::Outcome;

/// Minutes in the window.
const MINUTES: usize = 60;
/// A bucket's word: the minute it counts (since the window was made) above, its count below.
const COUNT_BITS: u32 = 40;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

/// Accepted and refused webhooks of the last hour, by minute.
pub(super) struct LastHour {
    since: Instant,
    accepted: [AtomicU64; MINUTES],
    refused: [AtomicU64; MINUTES],
}

/// What a vendor's webhooks of the last hour came to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HourCounts {
    /// Committed (`accepted`) or delivered in the request (`delivered`).
    pub accepted: u64,
    /// Answered with a problem; duplicates are neither accepted nor refused.
    pub rejected: u64,
}

impl LastHour {
    pub(super) fn new() -> LastHour {
        LastHour {
            since: Instant::now(),
            accepted: std::array::from_fn(|_| AtomicU64::new(0)),
            refused: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Counts one webhook answered with `outcome`.
    pub(super) fn record(&self, outcome: Outcome) {
        let minute = self.minute();
        match outcome {
            Outcome::Accepted | Outcome::Delivered => add(&self.accepted, minute),
            Outcome::Duplicate => {}
            _ => add(&self.refused, minute),
        }
    }

    /// The webhooks of the current minute and the 59 before it.
    pub(super) fn counts(&self) -> HourCounts {
        let minute = self.minute();
        HourCounts {
            accepted: sum(&self.accepted, minute),
            rejected: sum(&self.refused, minute),
        }
    }

    fn minute(&self) -> u64 {
        self.since.elapsed().as_secs() / 60
    }
}

/// Adds one to `minute`'s bucket, starting it again when it still counts an hour ago.
fn add(buckets: &[AtomicU64; MINUTES], minute: u64) {
    let bucket = &buckets[(minute % MINUTES as u64) as usize];
    let tag = minute << COUNT_BITS;
    let mut word = bucket.load(Ordering::Relaxed);
    loop {
        if word & !COUNT_MASK == tag {
            bucket.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // Another minute's count: this webhook starts the bucket, unless another one just did.
        match bucket.compare_exchange_weak(word, tag | 1, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(now) => word = now,
        }
    }
}

/// The counts of the buckets of `minute` and the 59 minutes before it.
fn sum(buckets: &[AtomicU64; MINUTES], minute: u64) -> u64 {
    let oldest = minute.saturating_sub(MINUTES as u64 - 1);
    buckets
        .iter()
        .map(|bucket| bucket.load(Ordering::Relaxed))
        .filter(|word| (oldest..=minute).contains(&(word >> COUNT_BITS)))
        .map(|word| word & COUNT_MASK)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets() -> [AtomicU64; MINUTES] {
        std::array::from_fn(|_| AtomicU64::new(0))
    }

    #[test]
    fn a_bucket_counts_its_minute_and_starts_again_an_hour_later() {
        let counted = buckets();
        add(&counted, 3);
        add(&counted, 3);
        add(&counted, 4);
        assert_eq!(sum(&counted, 4), 3);
        assert_eq!(
            sum(&counted, 62),
            3,
            "minute 3 is within the hour of minute 62"
        );
        assert_eq!(sum(&counted, 63), 1, "minute 3 is an hour before minute 63");
        add(&counted, 63);
        assert_eq!(
            sum(&counted, 63),
            2,
            "the bucket of minute 3 counts minute 63 now"
        );
        assert_eq!(sum(&counted, 200), 0);
    }

    #[test]
    fn duplicates_are_neither_accepted_nor_refused() {
        let last_hour = LastHour::new();
        for outcome in [
            Outcome::Accepted,
            Outcome::Delivered,
            Outcome::Duplicate,
            Outcome::SchemaInvalid,
            Outcome::Unauthenticated,
        ] {
            last_hour.record(outcome);
        }
        let counts = last_hour.counts();
        assert_eq!(
            counts,
            HourCounts {
                accepted: 2,
                rejected: 2
            }
        );
    }
}
