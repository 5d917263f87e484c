//! The gateway's own protection, outside any vendor's concerns: a deadline for the whole request
//! and a cap on requests in flight. Both answer with a problem rather than an error.

use std::future::Future;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use http::Request;
use tokio::sync::{Semaphore, watch};

use crate::problem::{Code, Problem};

/// How long an overloaded or timed-out caller is asked to wait before trying again.
const RETRY_AFTER_OVERLOAD: Duration = Duration::from_secs(1);

/// When the request must be answered by; stages that wait on Flow stop in time to answer
/// themselves (504) rather than be cut off by the deadline's 408.
#[derive(Clone, Copy, Debug)]
pub struct RequestDeadline(pub tokio::time::Instant);

/// The deadline a request must be answered by, `timeout` from now, in its extensions for the
/// stages that wait on Flow.
pub fn set_deadline(request: &mut Request<Body>, timeout: Duration) -> tokio::time::Instant {
    let deadline = tokio::time::Instant::now() + timeout;
    request.extensions_mut().insert(RequestDeadline(deadline));
    deadline
}

/// `answer`, or 408 `request-timeout` when it has not answered by `deadline` (`timeout` after
/// the request arrived). A combinator rather than an async fn, so `answer` is held once.
pub fn within_deadline(
    deadline: tokio::time::Instant,
    timeout: Duration,
    answer: impl Future<Output = Response>,
) -> impl Future<Output = Response> {
    tokio::time::timeout_at(deadline, answer).map(move |answered| {
        answered.unwrap_or_else(|_| {
            let detail = format!(
                "The request was not complete within {}.",
                humantime::format_duration(timeout)
            );
            Problem::new(Code::RequestTimeout, detail).into_response()
        })
    })
}

/// Runs `answer` holding one of `permits` (one per request in flight): answers 503 `overloaded`
/// at once, rather than queueing, when none is free (a vendor retrying later is better than
/// every request getting slow), and 503 `unavailable` if `cut` turns true first (shutdown's
/// grace period ended), so no request outlives the gateway. `answer` makes its future only once
/// admitted.
pub async fn admitted<Fut: Future<Output = Response>>(
    permits: &Semaphore,
    cut: &watch::Receiver<bool>,
    answer: impl FnOnce() -> Fut,
) -> Response {
    let Ok(permit) = permits.try_acquire() else {
        let problem = Problem::new(
            Code::Overloaded,
            "Too many requests are in flight; retry shortly.",
        )
        .with_retry_after(RETRY_AFTER_OVERLOAD);
        return problem.into_response();
    };
    let mut cut = cut.clone();
    tokio::select! {
        response = answer() => {
            drop(permit);
            response
        }
        Ok(_) = cut.wait_for(|cut| *cut) => {
            let problem = Problem::new(Code::Unavailable, "The gateway is shutting down; retry shortly.")
                .with_retry_after(RETRY_AFTER_OVERLOAD);
            problem.into_response()
        }
    }
}
