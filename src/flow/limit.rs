//! Our side of Flow's rate limit: a token bucket per client id (Flow counts per client id), which
//! every call to Flow spends, authtoken included. A wait that cannot end before the call's
//! deadline is refused at once, so a caller learns how long to back off without sleeping.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

use super::FlowError;
use crate::config::RateLimit;

/// The shortest sleep between two looks at the bucket, so rounding never makes a busy loop.
const MIN_SLEEP: Duration = Duration::from_millis(1);

/// One client id's bucket.
pub(super) struct Bucket {
    limiter: DefaultDirectRateLimiter,
    clock: DefaultClock,
}

/// A `rate_limit` that describes no bucket.
#[derive(Debug, thiserror::Error)]
pub(super) enum InvalidRate {
    #[error("per_second must be a positive number")]
    PerSecond,
    #[error("burst must be at least 1")]
    Burst,
}

impl Bucket {
    pub(super) fn new(rate: RateLimit) -> Result<Bucket, InvalidRate> {
        if !(rate.per_second.is_finite() && rate.per_second > 0.0) {
            return Err(InvalidRate::PerSecond);
        }
        let burst = NonZeroU32::new(rate.burst).ok_or(InvalidRate::Burst)?;
        // A rate beyond one cell per nanosecond is as good as unlimited.
        let period = Duration::from_secs_f64(1.0 / rate.per_second).max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .ok_or(InvalidRate::PerSecond)?
            .allow_burst(burst);
        let clock = DefaultClock::default();
        Ok(Bucket {
            limiter: RateLimiter::direct_with_clock(quota, clock.clone()),
            clock,
        })
    }

    /// Takes one cell, waiting for it while the wait ends before `deadline`; how long it waited.
    pub(super) async fn spend(&self, deadline: Instant) -> Result<Duration, FlowError> {
        let mut waited = Duration::ZERO;
        loop {
            let not_until = match self.limiter.check() {
                Ok(()) => return Ok(waited),
                Err(not_until) => not_until,
            };
            let wait = not_until.wait_time_from(self.clock.now());
            if wait > deadline.saturating_duration_since(Instant::now()) {
                return Err(FlowError::Throttled(wait));
            }
            // Another caller may take the cell first: look again after the sleep.
            let sleep = wait.max(MIN_SLEEP);
            tokio::time::sleep(sleep).await;
            waited += sleep;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(per_second: f64, burst: u32) -> RateLimit {
        RateLimit { per_second, burst }
    }

    #[test]
    fn rates_that_describe_no_bucket_are_refused() {
        assert!(matches!(
            Bucket::new(rate(0.0, 5)),
            Err(InvalidRate::PerSecond)
        ));
        assert!(matches!(
            Bucket::new(rate(-1.0, 5)),
            Err(InvalidRate::PerSecond)
        ));
        assert!(matches!(
            Bucket::new(rate(f64::NAN, 5)),
            Err(InvalidRate::PerSecond)
        ));
        assert!(matches!(
            Bucket::new(rate(10.0, 0)),
            Err(InvalidRate::Burst)
        ));
        assert!(Bucket::new(rate(1e12, 1)).is_ok());
    }

    #[tokio::test]
    async fn a_burst_is_free_then_a_short_wait_is_waited_and_a_long_one_refused() {
        let bucket = Bucket::new(rate(20.0, 3)).expect("a bucket");
        let far = Instant::now() + Duration::from_secs(5);
        for _ in 0..3 {
            let waited = bucket.spend(far).await.expect("the burst");
            assert_eq!(waited, Duration::ZERO, "a burst does not wait");
        }
        let started = Instant::now();
        let waited = bucket.spend(far).await.expect("a 50 ms wait fits");
        assert!(started.elapsed() >= Duration::from_millis(30), "it waited");
        assert!(
            waited >= Duration::from_millis(30),
            "and says so: {waited:?}"
        );

        let near = Instant::now() + Duration::from_millis(5);
        let started = Instant::now();
        match bucket.spend(near).await {
            Err(FlowError::Throttled(wait)) => {
                assert!(wait > Duration::from_millis(5) && wait <= Duration::from_millis(50));
            }
            other => panic!("expected Throttled, got {other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_millis(5),
            "refused at once"
        );
    }
}
