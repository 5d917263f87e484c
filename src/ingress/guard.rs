//! The gateway's own protection, outside any vendor's concerns: a deadline for the whole request
//! and a cap on requests in flight. Both answer with a problem rather than an error.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use tokio::sync::{Semaphore, watch};
use tower::{Layer, Service};

use crate::problem::{Code, Problem};

/// How long an overloaded or timed-out caller is asked to wait before trying again.
const RETRY_AFTER_OVERLOAD: Duration = Duration::from_secs(1);

/// Answers 408 `request-timeout` when the request has not been answered within `timeout`.
#[derive(Clone)]
pub struct DeadlineLayer {
    timeout: Duration,
}

impl DeadlineLayer {
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            timeout: self.timeout,
        }
    }
}

#[derive(Clone)]
pub struct Deadline<S> {
    inner: S,
    timeout: Duration,
}

// === impl Deadline ===

/// When the request must be answered by; stages that wait on Flow stop in time to answer
/// themselves (504) rather than be cut off by this layer's 408.
#[derive(Clone, Copy, Debug)]
pub struct RequestDeadline(pub tokio::time::Instant);

impl<S, B> Service<http::Request<B>> for Deadline<S>
where
    S: Service<http::Request<B>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let deadline = tokio::time::Instant::now() + self.timeout;
        request.extensions_mut().insert(RequestDeadline(deadline));
        let (timeout, response) = (self.timeout, self.inner.call(request));
        Box::pin(async move {
            match tokio::time::timeout(timeout, response).await {
                Ok(response) => response,
                Err(_) => Ok(Problem::new(
                    Code::RequestTimeout,
                    format!(
                        "The request was not complete within {}.",
                        humantime::format_duration(timeout)
                    ),
                )
                .into_response()),
            }
        })
    }
}

/// Tracks the requests in flight: answers 503 `overloaded` at once, rather than queueing, when
/// `max` are in flight (a vendor retrying later is better than every request getting slow), and
/// answers 503 `unavailable` for those still running when shutdown's grace period ends, so none
/// outlives the gateway.
#[derive(Clone)]
pub struct InFlightLayer {
    permits: Arc<Semaphore>,
    cut: watch::Receiver<bool>,
}

impl InFlightLayer {
    /// `permits`: one per request in flight.
    pub fn new(permits: Arc<Semaphore>, cut: watch::Receiver<bool>) -> Self {
        Self { permits, cut }
    }
}

impl<S> Layer<S> for InFlightLayer {
    type Service = InFlight<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InFlight {
            inner,
            permits: self.permits.clone(),
            cut: self.cut.clone(),
        }
    }
}

#[derive(Clone)]
pub struct InFlight<S> {
    inner: S,
    permits: Arc<Semaphore>,
    cut: watch::Receiver<bool>,
}

// === impl InFlight ===

impl<S, R> Service<R> for InFlight<S>
where
    S: Service<R, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            let problem = Problem::new(
                Code::Overloaded,
                "Too many requests are in flight; retry shortly.",
            )
            .with_retry_after(RETRY_AFTER_OVERLOAD);
            return Box::pin(std::future::ready(Ok(problem.into_response())));
        };
        let (response, mut cut) = (self.inner.call(request), self.cut.clone());
        Box::pin(async move {
            tokio::select! {
                response = response => {
                    drop(permit);
                    response
                }
                Ok(_) = cut.wait_for(|cut| *cut) => {
                    let problem = Problem::new(Code::Unavailable, "The gateway is shutting down; retry shortly.")
                        .with_retry_after(RETRY_AFTER_OVERLOAD);
                    Ok(problem.into_response())
                }
            }
        })
    }
}
