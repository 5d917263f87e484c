//! Our side of Flow's rate limit: a token bucket per client id (Flow counts per client id), which
//! every call to Flow spends, authtoken included. A wait that cannot end before the call's
//! deadline is refused at once, so a caller learns how long to back off without sleeping. One
//! process paces itself with a bucket in memory; a fleet sharing a PostgreSQL store paces itself
//! with a bucket kept in the database ([`SharedBuckets`]), so together it stays within the rate.

use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

use super::FlowError;
use crate::config::RateLimitConfig;
use crate::order::StoreError;

/// The shortest sleep between two looks at the bucket, so rounding never makes a busy loop.
const MIN_SLEEP: Duration = Duration::from_millis(1);
/// How long to wait before asking a shared bucket again after the database failed to answer.
/// Without an answer no token is taken: the call waits (or is refused as throttled) rather than
/// risk the fleet going over Flow's budget.
const SHARED_RETRY: Duration = Duration::from_millis(200);

/// Buckets kept outside this process, shared by every process that paces the same client ids.
#[async_trait]
pub trait SharedBuckets: Send + Sync {
    /// Takes one token of bucket `key` (refilled at `rate.per_second`, holding at most
    /// `rate.burst`), or says how long until one may be there.
    async fn take(&self, key: &str, rate: RateLimitConfig) -> Result<Take, StoreError>;
}

/// A shared bucket's answer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Take {
    Taken,
    /// No token now; one may be there after this wait (other processes may take it first).
    Wait(Duration),
}

/// One client id's bucket: in memory, until [`Bucket::share`] moves it into shared buckets.
pub(super) struct Bucket {
    key: String,
    rate: RateLimitConfig,
    local: LocalBucket,
    shared: OnceLock<Arc<dyn SharedBuckets>>,
}

/// The in-memory bucket of one process.
struct LocalBucket {
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
    /// Its name: `client:<client_id>` or `tenant:<name>`.
    pub(super) fn key(&self) -> &str {
        &self.key
    }

    pub(super) fn rate(&self) -> RateLimitConfig {
        self.rate
    }

    /// The bucket named `key` (the same for every tenant of one client id, in every process).
    pub(super) fn new(key: &str, rate: RateLimitConfig) -> Result<Bucket, InvalidRate> {
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
            key: key.to_owned(),
            rate,
            local: LocalBucket {
                limiter: RateLimiter::direct_with_clock(quota, clock.clone()),
                clock,
            },
            shared: OnceLock::new(),
        })
    }

    /// From now on tokens come from `buckets`, shared with the other processes; the first call
    /// decides (a bucket is shared once, before traffic).
    pub(super) fn share(&self, buckets: Arc<dyn SharedBuckets>) {
        let _ = self.shared.set(buckets);
    }

    /// Takes one token, waiting for it while the wait ends before `deadline`; how long it waited.
    pub(super) async fn spend(&self, deadline: Instant) -> Result<Duration, FlowError> {
        let mut waited = Duration::ZERO;
        loop {
            let wait = match self.shared.get() {
                Some(shared) => match self.take_shared(shared.as_ref()).await {
                    Take::Taken => return Ok(waited),
                    Take::Wait(wait) => wait,
                },
                None => match self.local.limiter.check() {
                    Ok(()) => return Ok(waited),
                    Err(not_until) => not_until.wait_time_from(self.local.clock.now()),
                },
            };
            if wait > deadline.saturating_duration_since(Instant::now()) {
                return Err(FlowError::Throttled(wait));
            }
            // Another caller may take the cell first: look again after the sleep.
            let sleep = wait.max(MIN_SLEEP);
            tokio::time::sleep(sleep).await;
            waited += sleep;
        }
    }

    /// A shared bucket's answer; a database that does not answer gives no token, only a short
    /// wait before asking again.
    async fn take_shared(&self, shared: &dyn SharedBuckets) -> Take {
        match shared.take(&self.key, self.rate).await {
            Ok(take) => take,
            Err(error) => {
                let key = self.key.as_str();
                tracing::warn!(bucket = key, %error, "the shared rate bucket did not answer; waiting");
                Take::Wait(SHARED_RETRY)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::StoreErrorKind as Kind;

    fn rate(per_second: f64, burst: u32) -> RateLimitConfig {
        RateLimitConfig { per_second, burst }
    }

    #[test]
    fn rates_that_describe_no_bucket_are_refused() {
        assert!(matches!(
            Bucket::new("client:test", rate(0.0, 5)),
            Err(InvalidRate::PerSecond)
        ));
        assert!(matches!(
            Bucket::new("client:test", rate(-1.0, 5)),
            Err(InvalidRate::PerSecond)
        ));
        assert!(matches!(
            Bucket::new("client:test", rate(f64::NAN, 5)),
            Err(InvalidRate::PerSecond)
        ));
        assert!(matches!(
            Bucket::new("client:test", rate(10.0, 0)),
            Err(InvalidRate::Burst)
        ));
        assert!(Bucket::new("client:test", rate(1e12, 1)).is_ok());
    }

    #[tokio::test]
    async fn a_burst_is_free_then_a_short_wait_is_waited_and_a_long_one_refused() {
        let bucket = Bucket::new("client:test", rate(20.0, 3)).expect("a bucket");
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

    /// Shared buckets that answer from a script: a failure, then a wait, then a token.
    struct Scripted(std::sync::Mutex<Vec<Result<Take, StoreError>>>);

    #[async_trait]
    impl SharedBuckets for Scripted {
        async fn take(&self, key: &str, rate: RateLimitConfig) -> Result<Take, StoreError> {
            assert_eq!((key, rate.burst), ("client:test", 3));
            let mut script = self.0.lock().expect("script");
            script.pop().unwrap_or(Ok(Take::Taken))
        }
    }

    fn scripted(mut answers: Vec<Result<Take, StoreError>>) -> Bucket {
        answers.reverse();
        let bucket = Bucket::new("client:test", rate(1000.0, 3)).expect("a bucket");
        bucket.share(Arc::new(Scripted(std::sync::Mutex::new(answers))));
        bucket
    }

    #[tokio::test]
    async fn a_shared_bucket_is_waited_for_and_a_database_failure_takes_no_token() {
        let far = Instant::now() + Duration::from_secs(5);
        let bucket = scripted(vec![
            Err(StoreError::new(Kind::Gone, "postgres: connection refused")),
            Ok(Take::Wait(Duration::from_millis(20))),
            Ok(Take::Taken),
        ]);
        let waited = bucket.spend(far).await.expect("a token in the end");
        assert!(
            waited >= SHARED_RETRY + Duration::from_millis(20),
            "{waited:?}"
        );

        let near = Instant::now() + Duration::from_millis(50);
        let failing = scripted(vec![Err(StoreError::new(
            Kind::Gone,
            "postgres: timed out",
        ))]);
        match failing.spend(near).await {
            Err(FlowError::Throttled(wait)) => assert_eq!(wait, SHARED_RETRY),
            other => panic!("no token without the database, got {other:?}"),
        }
    }
}
