//! How an attempt ends its delivery's turn: the run's verdict, already classified by `retry.rs`,
//! becomes the store's [`Finish`]. Pacing and a closed tenant spend no attempt; other retryable
//! failures follow the backoff; refusals are dead at once with Flow's status and body; a failed
//! sync delivery is dead at once. Workers and sync requests then [`record`] the end alike.

use std::time::Duration;

use chrono::{DateTime, Utc};
use fastrand::Rng;
use tokio::time::Instant;

use uuid::Uuid;

use super::control::Closed;
use super::retry::{Rejection, RetryReason};
use super::schedule::{Backoff, Next};
use super::{DeliveryError, SyncError};
use crate::flow::FlowResponse;
use crate::metrics::VendorMetrics;
use crate::order::{LastSent, StoreError};
use crate::queue::{Attempt, DeliveryContent, DeliveryQueue, Finish};

/// Flow's 429 without a Retry-After: a short pause, then the bucket's pace takes over.
pub const THROTTLED_WAIT: Duration = Duration::from_secs(5);
/// Our own store failed mid-run: not Flow's fault, so no attempt is spent.
pub const STORE_WAIT: Duration = Duration::from_secs(5);

/// Where a claimed delivery stood when its attempt began.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Attempts spent before this one.
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
}

/// The finish for a run that made its calls; `patched` is the run's (an earlier attempt's
/// patch included).
pub fn finish(
    result: &Result<FlowResponse, DeliveryError>,
    patched: bool,
    progress: Progress,
    backoff: &Backoff,
    now: DateTime<Utc>,
    rng: &mut Rng,
) -> Finish {
    let Err(error) = result else {
        return Finish::Delivered;
    };
    let created = progress.created_at;
    let next = match error {
        DeliveryError::Retry { reason, .. } if reason.is_pacing() => {
            (backoff.wait(created, now, pacing_wait(reason)), false)
        }
        DeliveryError::Retry { reason, .. } => {
            let retry_after = reason.wait();
            let next = backoff.next(progress.attempts, created, now, retry_after, rng);
            (next, true)
        }
        DeliveryError::Store(_) => (backoff.wait(created, now, STORE_WAIT), false),
        DeliveryError::Rejected { rejection, .. } => {
            return refused(rejection, patched, error.to_string());
        }
        DeliveryError::NoState(_) | DeliveryError::Empty => {
            return dead(patched, error.to_string());
        }
    };
    retry(next, patched, error.to_string())
}

/// The finish for an attempt the tenant's pause or circuit held back: no call, no attempt spent.
/// A paused delivery is due again at once: claims skip the tenant until it is resumed.
pub fn closed(
    closed: Closed,
    patched: bool,
    progress: Progress,
    backoff: &Backoff,
    now: DateTime<Utc>,
    instant: Instant,
) -> Finish {
    let wait = closed.retry_after(instant).unwrap_or(Duration::ZERO);
    let next = backoff.wait(progress.created_at, now, wait);
    retry((next, false), patched, closed.to_string())
}

/// The finish for a sync delivery that failed, called or not: dead at once, since the vendor
/// owns the retry; with Flow's status and body when Flow refused it.
pub fn sync_failed(error: &SyncError, patched: bool) -> Finish {
    match error {
        SyncError::Failed(DeliveryError::Rejected { rejection, .. }) => {
            refused(rejection, patched, error.to_string())
        }
        _ => dead(patched, error.to_string()),
    }
}

/// The end of one turn as the store records it.
#[derive(Debug)]
pub struct Settled {
    pub finish: Finish,
    /// Every call made, in order.
    pub attempts: Vec<Attempt>,
    /// What Flow accepted for the order during the turn, recorded with its end.
    pub sent: Option<(Uuid, LastSent)>,
}

/// Counts how the turn of `delivery` ended (`flowgate_deliveries_total`, and a delivered one's
/// lag since it was accepted), then records the end in one transaction. The order's lock must be
/// held until this returns: its next run builds its bodies over what this one sent.
pub async fn record(
    store: &dyn DeliveryQueue,
    counted: &VendorMetrics,
    delivery: &DeliveryContent,
    settled: Settled,
) -> Result<(), StoreError> {
    match settled.finish {
        Finish::Delivered => {
            let lag = Utc::now() - delivery.created_at;
            counted.delivered(lag.to_std().unwrap_or_default());
        }
        Finish::Retry { .. } => counted.retried(),
        Finish::Dead { .. } => counted.dead(),
    }
    let Settled {
        finish,
        attempts,
        sent,
    } = settled;
    store.finish(delivery.id, attempts, finish, sent).await
}

fn pacing_wait(reason: &RetryReason) -> Duration {
    reason.wait().unwrap_or(THROTTLED_WAIT)
}

fn retry((next, spent): (Next, bool), patched: bool, error: String) -> Finish {
    match next {
        Next::At(at) => Finish::Retry {
            at,
            spent,
            patched,
            error,
        },
        Next::Dead(why) => dead(patched, format!("{why}; last error: {error}")),
    }
}

fn refused(rejection: &Rejection, patched: bool, error: String) -> Finish {
    Finish::Dead {
        patched,
        flow_status: Some(rejection.status.as_u16()),
        flow_body: Some(rejection.body_text()),
        error,
    }
}

fn dead(patched: bool, error: String) -> Finish {
    Finish::Dead {
        patched,
        flow_status: None,
        flow_body: None,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Operation;
    use bytes::Bytes;
    use chrono::TimeDelta;
    use http::StatusCode;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn backoff() -> Backoff {
        Backoff::try_new(vec![secs(5), secs(30)], 0.0, secs(60), secs(3600)).expect("valid")
    }

    fn progress(attempts: u32, now: DateTime<Utc>) -> Progress {
        Progress {
            attempts,
            created_at: now,
        }
    }

    fn retry_err(reason: RetryReason) -> Result<FlowResponse, DeliveryError> {
        Err(DeliveryError::Retry {
            operation: Operation::UpdateState,
            reason,
        })
    }

    fn settle(
        result: &Result<FlowResponse, DeliveryError>,
        attempts: u32,
    ) -> (Finish, DateTime<Utc>) {
        let now = Utc::now();
        let mut rng = Rng::with_seed(1);
        let finish = finish(
            result,
            true,
            progress(attempts, now),
            &backoff(),
            now,
            &mut rng,
        );
        (finish, now)
    }

    #[test]
    fn a_server_error_spends_an_attempt_and_keeps_the_patch() {
        let failed = retry_err(RetryReason::Status(StatusCode::SERVICE_UNAVAILABLE, None));
        let (finish, now) = settle(&failed, 1);
        let Finish::Retry {
            at,
            spent,
            patched,
            error,
        } = finish
        else {
            panic!("a retry: {finish:?}");
        };
        assert_eq!(
            (at - now, spent, patched),
            (TimeDelta::seconds(30), true, true)
        );
        assert_eq!(error, "updatestate: Flow answered 503");
        let (finish, _) = settle(&failed, 2);
        assert!(
            matches!(finish, Finish::Dead { ref error, .. } if error.starts_with("retry schedule exhausted")),
            "{finish:?}"
        );
    }

    #[test]
    fn pacing_waits_as_asked_without_spending_an_attempt() {
        let throttled = retry_err(RetryReason::FlowThrottled(Some(secs(20))));
        let (finish, now) = settle(&throttled, 2);
        assert!(
            matches!(finish, Finish::Retry { at, spent: false, .. } if at - now == TimeDelta::seconds(20)),
            "{finish:?}"
        );
        let capped = retry_err(RetryReason::FlowThrottled(Some(secs(7200))));
        let (finish, now) = settle(&capped, 0);
        assert!(
            matches!(finish, Finish::Retry { at, spent: false, .. } if at - now == TimeDelta::seconds(60)),
            "{finish:?}"
        );
        let bucket = retry_err(RetryReason::BucketThrottled(Duration::from_millis(1500)));
        let (finish, now) = settle(&bucket, 0);
        assert!(
            matches!(finish, Finish::Retry { at, .. } if at - now == TimeDelta::milliseconds(1500)),
            "{finish:?}"
        );
    }

    #[test]
    fn a_refusal_is_dead_at_once_with_flows_answer() {
        let refused = Err(DeliveryError::Rejected {
            operation: Operation::Patch,
            rejection: Rejection {
                status: StatusCode::BAD_REQUEST,
                body: Bytes::from_static(b"{\"Message\":\"bad\"}"),
            },
        });
        let (finish, _) = settle(&refused, 0);
        assert_eq!(
            finish,
            Finish::Dead {
                patched: true,
                flow_status: Some(400),
                flow_body: Some("{\"Message\":\"bad\"}".into()),
                error: "patch: Flow refused it (400)".into(),
            }
        );
    }

    #[test]
    fn a_failed_sync_delivery_is_dead_at_once_with_flows_refusal() {
        let retryable = SyncError::Failed(DeliveryError::Retry {
            operation: Operation::UpdateState,
            reason: RetryReason::Status(StatusCode::SERVICE_UNAVAILABLE, None),
        });
        assert_eq!(
            sync_failed(&retryable, true),
            Finish::Dead {
                patched: true,
                flow_status: None,
                flow_body: None,
                error: "updatestate: Flow answered 503".into(),
            }
        );
        let refusal = SyncError::Failed(DeliveryError::Rejected {
            operation: Operation::Patch,
            rejection: Rejection {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                body: Bytes::from_static(b"no"),
            },
        });
        assert_eq!(
            sync_failed(&refusal, false),
            Finish::Dead {
                patched: false,
                flow_status: Some(422),
                flow_body: Some("no".into()),
                error: "patch: Flow refused it (422)".into(),
            }
        );
        let paused = SyncError::Closed(Closed::Paused);
        assert!(
            matches!(sync_failed(&paused, false), Finish::Dead { flow_status: None, ref error, .. } if *error == Closed::Paused.to_string()),
        );
    }

    #[test]
    fn a_closed_tenant_defers_without_spending() {
        let (now, instant) = (Utc::now(), Instant::now());
        let open = Closed::CircuitOpen {
            until: instant + secs(12),
        };
        let finish = closed(open, false, progress(3, now), &backoff(), now, instant);
        assert!(
            matches!(finish, Finish::Retry { at, spent: false, patched: false, .. } if at - now == TimeDelta::seconds(12)),
            "{finish:?}"
        );
        let finish = closed(
            Closed::Paused,
            false,
            progress(3, now),
            &backoff(),
            now,
            instant,
        );
        assert!(
            matches!(finish, Finish::Retry { at, .. } if at == now),
            "{finish:?}"
        );
        let old = progress(0, now - TimeDelta::hours(2));
        let finish = closed(Closed::Paused, false, old, &backoff(), now, instant);
        assert!(
            matches!(finish, Finish::Dead { ref error, .. } if error.starts_with("max_age passed")),
            "{finish:?}"
        );
    }
}
