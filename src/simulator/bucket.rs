//! Flow's per-client rate bucket: 3000 tokens, refilled 1000/s, 25 per call.
//!
//! Time is passed in, never read here, so the arithmetic is tested with explicit instants.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// Tokens a full bucket holds.
pub(super) const CAPACITY: u64 = 3000;
/// Tokens added back per second, continuously.
pub(super) const REFILL_PER_SEC: u64 = 1000;
/// Tokens one call costs.
pub(super) const COST: u64 = 25;
/// Below this level (after charging) Flow slows the caller down instead of refusing it.
pub(super) const DELAY_BELOW: u64 = 750;

/// The bucket counts in micro-tokens: at 1000 tokens/s one nanosecond refills exactly one, so
/// refills and waits are exact integers rather than rounded floats.
const MICRO: u64 = 1_000_000;
const NANOS_PER_MICRO_TOKEN: u64 = 1_000_000_000 / (REFILL_PER_SEC * MICRO);

/// What the bucket decided about one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admission {
    /// Served; answer only after `delay` (zero when the bucket is comfortably full).
    Admitted { delay: Duration },
    /// Refused with 429; `retry_after_secs` is whole seconds, at least 1.
    Rejected { retry_after_secs: u64 },
}

/// One client's bucket.
#[derive(Debug, Clone)]
pub(super) struct Bucket {
    micro_tokens: u64,
    updated: Instant,
}

impl Bucket {
    pub(super) fn full(now: Instant) -> Bucket {
        Bucket {
            micro_tokens: CAPACITY * MICRO,
            updated: now,
        }
    }

    /// Whole tokens left at `now`, after refilling.
    #[cfg(test)]
    fn level(&mut self, now: Instant) -> u64 {
        self.refill(now);
        self.micro_tokens / MICRO
    }

    fn refill(&mut self, now: Instant) {
        // An instant older than the last update adds nothing and does not rewind the clock.
        let Some(elapsed) = now.checked_duration_since(self.updated) else {
            return;
        };
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let added = nanos / NANOS_PER_MICRO_TOKEN;
        self.micro_tokens = self
            .micro_tokens
            .saturating_add(added)
            .min(CAPACITY * MICRO);
        self.updated = now;
    }

    /// Charges one call, or refuses it without charging when too few tokens remain.
    pub(super) fn take(&mut self, now: Instant) -> Admission {
        self.refill(now);
        if self.micro_tokens < COST * MICRO {
            let wait = time_to_refill(COST * MICRO - self.micro_tokens);
            let retry_after_secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Admission::Rejected {
                retry_after_secs: retry_after_secs.max(1),
            };
        }
        self.micro_tokens -= COST * MICRO;
        let delay = time_to_refill((DELAY_BELOW * MICRO).saturating_sub(self.micro_tokens));
        Admission::Admitted { delay }
    }
}

fn time_to_refill(missing_micro_tokens: u64) -> Duration {
    Duration::from_nanos(missing_micro_tokens.saturating_mul(NANOS_PER_MICRO_TOKEN))
}

/// Every client's bucket, created full on a client's first call.
#[derive(Debug, Default)]
pub(super) struct Buckets {
    by_client: HashMap<String, Bucket>,
}

impl Buckets {
    pub(super) fn take(&mut self, client_id: &str, now: Instant) -> Admission {
        self.by_client
            .entry(client_id.to_owned())
            .or_insert_with(|| Bucket::full(now))
            .take(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(bucket: &mut Bucket, now: Instant, calls: usize) -> Vec<Admission> {
        (0..calls).map(|_| bucket.take(now)).collect()
    }

    #[test]
    fn a_full_bucket_serves_calls_without_delay_until_750() {
        let start = Instant::now();
        let mut bucket = Bucket::full(start);
        let answers = drain(&mut bucket, start, 90);
        // 3000 - 90 * 25 = 750: still not below the delay threshold.
        assert!(answers.iter().all(|a| *a
            == Admission::Admitted {
                delay: Duration::ZERO
            }));
        assert_eq!(bucket.level(start), 750);
    }

    #[test]
    fn below_750_the_delay_is_the_time_to_refill_to_750() {
        let start = Instant::now();
        let mut bucket = Bucket::full(start);
        drain(&mut bucket, start, 90);
        // 750 - 25 = 725: 25 tokens short, 25 ms at 1000/s.
        assert_eq!(
            bucket.take(start),
            Admission::Admitted {
                delay: Duration::from_millis(25)
            }
        );
        assert_eq!(
            bucket.take(start),
            Admission::Admitted {
                delay: Duration::from_millis(50)
            }
        );
    }

    #[test]
    fn an_empty_bucket_refuses_with_retry_after_and_charges_nothing() {
        let start = Instant::now();
        let mut bucket = Bucket::full(start);
        let answers = drain(&mut bucket, start, 120);
        assert!(
            answers
                .iter()
                .all(|a| matches!(a, Admission::Admitted { .. }))
        );
        assert_eq!(
            bucket.take(start),
            Admission::Rejected {
                retry_after_secs: 1
            }
        );
        assert_eq!(
            bucket.take(start),
            Admission::Rejected {
                retry_after_secs: 1
            }
        );
        assert_eq!(bucket.level(start), 0);
    }

    #[test]
    fn the_bucket_refills_continuously_up_to_capacity() {
        let start = Instant::now();
        let mut bucket = Bucket::full(start);
        drain(&mut bucket, start, 120);
        assert!(matches!(
            bucket.take(start + Duration::from_millis(24)),
            Admission::Rejected { .. }
        ));
        // 25 ms refills exactly one call's worth.
        assert!(matches!(
            bucket.take(start + Duration::from_millis(25)),
            Admission::Admitted { .. }
        ));
        assert_eq!(bucket.level(start + Duration::from_millis(1025)), 1000);
        assert_eq!(bucket.level(start + Duration::from_secs(60)), CAPACITY);
    }

    #[test]
    fn an_earlier_instant_does_not_refill_or_rewind() {
        let start = Instant::now();
        let later = start + Duration::from_secs(1);
        let mut bucket = Bucket::full(start);
        drain(&mut bucket, later, 120);
        assert!(matches!(bucket.take(start), Admission::Rejected { .. }));
        assert!(matches!(
            bucket.take(later + Duration::from_millis(25)),
            Admission::Admitted { .. }
        ));
    }

    #[test]
    fn clients_have_separate_buckets() {
        let start = Instant::now();
        let mut buckets = Buckets::default();
        for _ in 0..120 {
            buckets.take("a", start);
        }
        assert!(matches!(
            buckets.take("a", start),
            Admission::Rejected { .. }
        ));
        assert_eq!(
            buckets.take("b", start),
            Admission::Admitted {
                delay: Duration::ZERO
            }
        );
    }
}
