//! How each webhook was answered, seen from outside every layer that can answer it (deadline,
//! in-flight cap, panics, the pipeline): counted in `flowgate_webhooks_received_total` and
//! `flowgate_webhook_duration_seconds`, and logged as the one line that says what became of the
//! webhook. The answer says its outcome in its extensions (a [`Problem`] or an [`Outcome`]), and
//! what the pipeline learned on the way (order, tenant, delivery) as [`OutcomeFields`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use tokio::time::Instant;
use tracing::Level;
use uuid::Uuid;

use crate::flow::TenantFlow;
use crate::http::RequestId;
use crate::http::client_addr::ClientAddr;
use crate::metrics::{Outcome, VendorMetrics};
use crate::problem::{Logged, Problem};

/// What the pipeline learned about one webhook, for its outcome line: every answer of the
/// pipeline carries it in its extensions, as far as it was known when the answer was made (the
/// stage adapters of `stage.rs` add what their input knew, `webhook.rs`'s [`Known`]).
///
/// [`Known`]: super::webhook::Known
#[derive(Clone, Debug, Default)]
pub struct OutcomeFields {
    pub order_id: Option<Uuid>,
    pub tenant: Option<Arc<TenantFlow>>,
    /// The delivery the webhook became, or (a duplicate) the one it repeats.
    pub delivery_id: Option<Uuid>,
}

impl OutcomeFields {
    /// The delivery an answer is about.
    pub fn delivery(delivery_id: Uuid) -> OutcomeFields {
        OutcomeFields {
            delivery_id: Some(delivery_id),
            ..OutcomeFields::default()
        }
    }

    /// `response` carrying these fields too; a field its maker already set stays.
    pub fn mark(self, mut response: Response) -> Response {
        let extensions = response.extensions_mut();
        let fields = match extensions.remove::<OutcomeFields>() {
            Some(set) => OutcomeFields {
                order_id: set.order_id.or(self.order_id),
                tenant: set.tenant.or(self.tenant),
                delivery_id: set.delivery_id.or(self.delivery_id),
            },
            None => self,
        };
        extensions.insert(fields);
        response
    }
}

/// Counts and logs the outcome of a `POST /webhooks/{vendor}` (`counted`: its vendor's series,
/// resolved with the route) as `answer` answers it; other requests (`None`) pass untouched.
/// `answer` makes its future here, so it is held once, not as an argument and again as awaited.
pub async fn recorded<Fut: Future<Output = Response>>(
    counted: Option<VendorMetrics>,
    request_id: &RequestId,
    client: Option<ClientAddr>,
    answer: impl FnOnce() -> Fut,
) -> Response {
    let Some(counted) = counted else {
        return answer().await;
    };
    let started = Instant::now();
    let mut response = answer().await;
    let took = started.elapsed();
    let outcome = outcome_of(&response);
    counted.received(outcome, took);
    let answer = Answer {
        request_id: request_id.as_str(),
        client,
        vendor: &counted,
        outcome,
        took,
    };
    answer.log(&response);
    // This line said it all; the problem is rendered without a second one.
    response.extensions_mut().insert(Logged);
    response
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
    client: Option<ClientAddr>,
    vendor: &'a VendorMetrics,
    outcome: Outcome,
    took: Duration,
}

impl Answer<'_> {
    /// Structured fields first, then a short sentence: never a body, secret or token. Our own
    /// failures are warnings; the caller's are routine.
    fn log(&self, response: &Response) {
        let server_error = response.status().is_server_error();
        let logged = if server_error {
            tracing::enabled!(Level::WARN)
        } else {
            tracing::enabled!(Level::INFO)
        };
        // Nothing is gathered for a line no one reads.
        if !logged {
            return;
        }
        let found = response.extensions().get::<OutcomeFields>();
        let problem = response.extensions().get::<Problem>();
        let (request_id, vendor) = (self.request_id, self.vendor.name());
        let client_ip = self
            .client
            .map(|ClientAddr(address)| tracing::field::display(address));
        let tenant = found.and_then(|f| f.tenant.as_ref()).map(|t| t.name());
        let order_id = found.and_then(|f| f.order_id).map(tracing::field::display);
        let delivery_id = found
            .and_then(|f| f.delivery_id)
            .map(tracing::field::display);
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
                    client_ip,
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
        if server_error {
            answered!(warn);
        } else {
            answered!(info);
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;

    #[test]
    fn a_field_the_answers_maker_set_is_kept_and_the_others_are_added() {
        let (first, second, order) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let response = OutcomeFields::delivery(first).mark(().into_response());
        let known = OutcomeFields {
            order_id: Some(order),
            tenant: None,
            delivery_id: Some(second),
        };
        let response = known.mark(response);
        let fields = response
            .extensions()
            .get::<OutcomeFields>()
            .expect("fields");
        assert_eq!(fields.delivery_id, Some(first));
        assert_eq!(fields.order_id, Some(order));
        assert!(fields.tenant.is_none());
    }
}
