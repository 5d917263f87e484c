//! How each webhook was answered, seen from outside every layer that can answer it (deadline,
//! in-flight cap, panics, the pipeline): counted in `flowgate_webhooks_received_total` and
//! `flowgate_webhook_duration_seconds`, and logged as the one line that says what became of the
//! webhook. The answer says its outcome in its extensions (a [`Problem`] or an [`Outcome`]); what
//! the stages learned on the way (order, tenant, delivery) they note in the request's
//! [`Findings`].

use std::borrow::Cow;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use futures_util::future::BoxFuture;
use http::{Method, Request};
use percent_encoding::percent_decode_str;
use tokio::time::Instant;
use tower::{Layer, Service};
use uuid::Uuid;

use super::webhook::Verified;
use crate::flow::TenantFlow;
use crate::http::RequestId;
use crate::metrics::{Metrics, Outcome, VendorMetrics};
use crate::problem::{Logged, Problem};

/// What the pipeline learned about one webhook, for its outcome line. Shared by the request's
/// extensions (where stages note things) and the layer that logs.
#[derive(Clone, Default)]
pub struct Findings(Arc<Mutex<Found>>);

#[derive(Default)]
struct Found {
    order_id: Option<Uuid>,
    tenant: Option<Arc<TenantFlow>>,
    delivery_id: Option<Uuid>,
}

impl Findings {
    fn of(webhook: &Verified) -> Option<&Findings> {
        webhook.parts().extensions.get::<Findings>()
    }

    fn lock(&self) -> MutexGuard<'_, Found> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn note_order(webhook: &Verified, order_id: Uuid) {
        if let Some(findings) = Self::of(webhook) {
            findings.lock().order_id = Some(order_id);
        }
    }

    pub fn note_tenant(webhook: &Verified, tenant: &Arc<TenantFlow>) {
        if let Some(findings) = Self::of(webhook) {
            findings.lock().tenant = Some(tenant.clone());
        }
    }

    /// The delivery the webhook became, or (a duplicate) the one it repeats.
    pub fn note_delivery(webhook: &Verified, delivery_id: Uuid) {
        if let Some(findings) = Self::of(webhook) {
            findings.lock().delivery_id = Some(delivery_id);
        }
    }
}

/// Counts and logs the outcome of every `POST /webhooks/{vendor}`; other requests pass untouched.
#[derive(Clone)]
pub struct RecordOutcomeLayer {
    metrics: Metrics,
}

impl RecordOutcomeLayer {
    pub fn new(metrics: Metrics) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for RecordOutcomeLayer {
    type Service = RecordOutcome<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RecordOutcome {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RecordOutcome<S> {
    inner: S,
    metrics: Metrics,
}

// === impl RecordOutcome ===

impl<S, B> Service<Request<Body>> for RecordOutcome<S>
where
    S: Service<Request<Body>, Response = http::Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let Some(counted) = webhook_vendor(&request).map(|vendor| self.metrics.vendor(&vendor))
        else {
            let response = self.inner.call(request);
            return Box::pin(async move { Ok(response.await?.map(Body::new)) });
        };
        let findings = Findings::default();
        request.extensions_mut().insert(findings.clone());
        let request_id = request.extensions().get::<RequestId>().cloned();
        let started = Instant::now();
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut response = response.await?.map(Body::new);
            let took = started.elapsed();
            let outcome = outcome_of(&response);
            counted.received(outcome, took);
            let answer = Answer {
                request_id: request_id.as_ref().map_or("", RequestId::as_str),
                vendor: &counted,
                outcome,
                took,
            };
            answer.log(&response, &findings);
            // This line said it all; the problem is rendered without a second one.
            response.extensions_mut().insert(Logged);
            Ok(response)
        })
    }
}

/// The vendor named by a webhook's path: `POST /webhooks/{vendor}`, nothing else; its segment
/// percent-decoded, as the router decodes it for the pipeline, so a webhook is counted under
/// the vendor that processed it.
fn webhook_vendor<B>(request: &Request<B>) -> Option<Cow<'_, str>> {
    if request.method() != Method::POST {
        return None;
    }
    let vendor = request.uri().path().strip_prefix("/webhooks/")?;
    if vendor.is_empty() || vendor.contains('/') {
        return None;
    }
    // A segment that does not decode to UTF-8 names no vendor: the router refuses it too.
    Some(
        percent_decode_str(vendor)
            .decode_utf8()
            .unwrap_or(Cow::Borrowed("")),
    )
}

/// What the answer says it is: a success names its outcome, a problem its code.
fn outcome_of(response: &Response) -> Outcome {
    let extensions = response.extensions();
    match (extensions.get::<Outcome>(), extensions.get::<Problem>()) {
        (Some(outcome), _) => *outcome,
        (None, Some(problem)) => Outcome::from(problem.code),
        // Every answer of the webhook route names itself; one that does not is a bug.
        (None, None) => Outcome::Internal,
    }
}

/// One webhook's answer, as its outcome line tells it.
struct Answer<'a> {
    request_id: &'a str,
    vendor: &'a VendorMetrics,
    outcome: Outcome,
    took: Duration,
}

impl Answer<'_> {
    /// Structured fields first, then a short sentence: never a body, secret or token. Our own
    /// failures are warnings; the caller's are routine.
    fn log(&self, response: &Response, findings: &Findings) {
        let found = findings.lock();
        let problem = response.extensions().get::<Problem>();
        let (request_id, vendor) = (self.request_id, self.vendor.name());
        let tenant = found.tenant.as_ref().map(|t| t.name());
        let order_id = found.order_id.map(tracing::field::display);
        let delivery_id = found.delivery_id.map(tracing::field::display);
        let outcome = self.outcome.as_str();
        let status = response.status().as_u16();
        // Milliseconds to the microsecond: a queued webhook answers in well under one.
        let duration_ms = self.took.as_micros() as f64 / 1000.0;
        let code = problem.map(|p| p.code.as_str());
        let detail = problem.map(|p| tracing::field::display(&p.detail));
        macro_rules! answered {
            ($level:ident) => {
                tracing::$level!(
                    request_id,
                    vendor,
                    tenant,
                    order_id,
                    delivery_id,
                    outcome,
                    status,
                    duration_ms,
                    code,
                    detail,
                    "webhook answered"
                )
            };
        }
        if response.status().is_server_error() {
            answered!(warn);
        } else {
            answered!(info);
        }
    }
}
