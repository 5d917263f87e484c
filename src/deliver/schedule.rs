//! When a delivery's next attempt is due (contract section 8): `delivery.retry_schedule` plus
//! 0..`jitter` of each delay, Flow's Retry-After as a floor up to `max_retry_after`, and dead once
//! the schedule runs out or `max_age` passes. Checked once, at construction.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::DeliveryConfig;

/// Longer than any sane delay or age; keeps every sum of times representable.
const LONGEST: Duration = Duration::from_secs(100 * 366 * 24 * 3600);

/// Why a delivery gets no further attempt.
pub const SCHEDULE_EXHAUSTED: &str = "retry schedule exhausted";
pub const MAX_AGE_PASSED: &str = "max_age passed";

#[derive(Clone, Debug)]
pub struct Backoff {
    schedule: Vec<Duration>,
    jitter: f64,
    max_retry_after: Duration,
    max_age: Duration,
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum BackoffError {
    #[error("the retry schedule is empty")]
    EmptySchedule,
    #[error("jitter must be between 0 and 1, not {0}")]
    Jitter(f64),
    #[error("max_age must be more than zero")]
    NoAge,
    /// Names the config key.
    #[error("{0} is longer than 100 years")]
    TooLong(&'static str),
}

impl BackoffError {
    /// The `[delivery]` key at fault, for the config error.
    pub fn key(&self) -> &'static str {
        match self {
            BackoffError::EmptySchedule => "delivery.retry_schedule",
            BackoffError::Jitter(_) => "delivery.jitter",
            BackoffError::NoAge => "delivery.max_age",
            BackoffError::TooLong(key) => key,
        }
    }
}

/// When the next attempt is due, or why there is none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    At(DateTime<Utc>),
    Dead(&'static str),
}

impl Backoff {
    pub fn try_new(
        schedule: Vec<Duration>,
        jitter: f64,
        max_retry_after: Duration,
        max_age: Duration,
    ) -> Result<Backoff, BackoffError> {
        if schedule.is_empty() {
            return Err(BackoffError::EmptySchedule);
        }
        if !(0.0..=1.0).contains(&jitter) {
            return Err(BackoffError::Jitter(jitter));
        }
        if max_age.is_zero() {
            return Err(BackoffError::NoAge);
        }
        let too_long = [
            ("delivery.retry_schedule", schedule.iter().max().copied()),
            ("delivery.max_retry_after", Some(max_retry_after)),
            ("delivery.max_age", Some(max_age)),
        ];
        if let Some((key, _)) = too_long
            .iter()
            .find(|(_, d)| d.is_some_and(|d| d > LONGEST))
        {
            return Err(BackoffError::TooLong(key));
        }
        Ok(Backoff {
            schedule,
            jitter,
            max_retry_after,
            max_age,
        })
    }

    pub fn from_config(delivery: &DeliveryConfig) -> Result<Backoff, BackoffError> {
        Self::try_new(
            delivery.retry_schedule.clone(),
            delivery.jitter,
            delivery.max_retry_after,
            delivery.max_age,
        )
    }

    /// After a failed attempt (`attempts_spent` before it): the schedule's next delay with
    /// jitter, never earlier than Flow's Retry-After (capped at `max_retry_after`).
    pub fn next(
        &self,
        attempts_spent: u32,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
        retry_after: Option<Duration>,
        rng: &mut fastrand::Rng,
    ) -> Next {
        let index = usize::try_from(attempts_spent).unwrap_or(usize::MAX);
        let Some(&delay) = self.schedule.get(index) else {
            return Next::Dead(SCHEDULE_EXHAUSTED);
        };
        let jittered =
            Duration::try_from_secs_f64(delay.as_secs_f64() * (1.0 + self.jitter * rng.f64()))
                .unwrap_or(delay)
                .max(delay);
        let floor = retry_after.map_or(Duration::ZERO, |wait| wait.min(self.max_retry_after));
        self.at(created_at, now, jittered.max(floor))
    }

    /// A wait that spends no attempt (Flow's 429, our bucket, an open circuit): capped at
    /// `max_retry_after`, and still bounded by `max_age`.
    pub fn wait(&self, created_at: DateTime<Utc>, now: DateTime<Utc>, wait: Duration) -> Next {
        self.at(created_at, now, wait.min(self.max_retry_after))
    }

    /// `now + delay`, unless the delivery would by then be older than `max_age`.
    fn at(&self, created_at: DateTime<Utc>, now: DateTime<Utc>, delay: Duration) -> Next {
        let expires = created_at.checked_add_signed(delta(self.max_age));
        let at = now.checked_add_signed(delta(delay));
        match (at, expires) {
            (Some(at), Some(expires)) if now < expires && at <= expires => Next::At(at),
            _ => Next::Dead(MAX_AGE_PASSED),
        }
    }
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration.min(LONGEST)).unwrap_or(TimeDelta::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn backoff(schedule: &[u64], jitter: f64) -> Backoff {
        aged(schedule, jitter, 2 * DAY)
    }

    fn aged(schedule: &[u64], jitter: f64, max_age: Duration) -> Backoff {
        let schedule = schedule.iter().copied().map(secs).collect();
        Backoff::try_new(schedule, jitter, secs(3600), max_age).expect("valid")
    }

    fn after(now: DateTime<Utc>, at: &Next) -> Duration {
        match at {
            Next::At(at) => (*at - now).to_std().expect("in the future"),
            Next::Dead(reason) => panic!("dead: {reason}"),
        }
    }

    #[test]
    fn unusable_settings_are_refused() {
        let ok = |s: Vec<Duration>, j: f64, age: Duration| Backoff::try_new(s, j, secs(1), age);
        assert_eq!(
            ok(vec![], 0.2, DAY).err(),
            Some(BackoffError::EmptySchedule)
        );
        assert_eq!(
            ok(vec![secs(1)], 1.5, DAY).err(),
            Some(BackoffError::Jitter(1.5))
        );
        assert!(matches!(
            ok(vec![secs(1)], f64::NAN, DAY),
            Err(BackoffError::Jitter(_))
        ));
        assert_eq!(
            ok(vec![secs(1)], 0.2, Duration::ZERO).err(),
            Some(BackoffError::NoAge)
        );
        let forever = Duration::from_secs(u64::MAX);
        assert!(matches!(
            ok(vec![forever], 0.2, DAY),
            Err(BackoffError::TooLong(_))
        ));
        assert!(ok(vec![secs(5)], 0.0, DAY).is_ok());
    }

    #[test]
    fn follows_the_schedule_then_dies() {
        let (backoff, now) = (backoff(&[5, 30], 0.0), Utc::now());
        let mut rng = fastrand::Rng::with_seed(7);
        assert_eq!(
            after(now, &backoff.next(0, now, now, None, &mut rng)),
            secs(5)
        );
        assert_eq!(
            after(now, &backoff.next(1, now, now, None, &mut rng)),
            secs(30)
        );
        assert_eq!(
            backoff.next(2, now, now, None, &mut rng),
            Next::Dead(SCHEDULE_EXHAUSTED)
        );
    }

    #[test]
    fn max_age_bounds_every_wait() {
        let (backoff, now) = (backoff(&[3600], 0.0), Utc::now());
        let mut rng = fastrand::Rng::with_seed(7);
        let old = now - TimeDelta::hours(47) - TimeDelta::minutes(30);
        assert_eq!(
            backoff.next(0, old, now, None, &mut rng),
            Next::Dead(MAX_AGE_PASSED)
        );
        assert_eq!(
            backoff.wait(old, now, secs(3600)),
            Next::Dead(MAX_AGE_PASSED)
        );
        assert_eq!(after(now, &backoff.wait(old, now, secs(60))), secs(60));
        let older = now - TimeDelta::hours(49);
        assert_eq!(
            backoff.wait(older, now, Duration::ZERO),
            Next::Dead(MAX_AGE_PASSED)
        );
    }

    #[test]
    fn waits_are_capped_at_max_retry_after() {
        let (backoff, now) = (backoff(&[5], 0.2), Utc::now());
        assert_eq!(after(now, &backoff.wait(now, now, secs(7200))), secs(3600));
    }

    proptest! {
        #[test]
        fn delay_is_jittered_upwards_and_never_before_retry_after(
            schedule in proptest::collection::vec(1u64..100_000, 1..12),
            jitter in 0.0f64..=1.0,
            spent in 0u32..16,
            retry_after in proptest::option::of(0u64..10_000),
            seed: u64,
        ) {
            // Old enough never to interfere: this is about the schedule.
            let backoff = aged(&schedule, jitter, 30 * DAY);
            let now = Utc::now();
            let mut rng = fastrand::Rng::with_seed(seed);
            let next = backoff.next(spent, now, now, retry_after.map(secs), &mut rng);
            let Some(&base) = schedule.get(spent as usize) else {
                prop_assert_eq!(next, Next::Dead(SCHEDULE_EXHAUSTED));
                return Ok(());
            };
            let delay = after(now, &next);
            let floor = secs(retry_after.unwrap_or(0).min(3600));
            let top = secs(base).mul_f64(1.0 + jitter).max(floor);
            prop_assert!(delay >= secs(base), "{delay:?} < {base}s");
            prop_assert!(delay >= floor, "{delay:?} before Retry-After {floor:?}");
            // Microseconds of slack for float rounding and chrono's precision.
            prop_assert!(delay <= top + Duration::from_micros(2), "{delay:?} > {top:?}");
        }
    }
}
