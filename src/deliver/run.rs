//! One run of a delivery: the operations it still owes, in order, under its order's lock; each
//! body built when it is sent over what Flow last accepted, each call classified (`retry.rs`)
//! and kept as a [`FlowCall`] for the record, the log and the circuit. Sync and queued share it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use http::StatusCode;
use tokio::time::Instant;
use uuid::Uuid;

use super::circuit::CallResult;
use super::order_locks::OrderGuard;
use super::retry::{self, Outcome};
use super::{Deliverer, Delivery, DeliveryError, plan};
use crate::flow::{FlowRequest, FlowResponse, Operation};
use crate::order::LastSent;
use crate::queue::Attempt;

/// One call to Flow as it happened.
#[derive(Clone, Debug)]
pub struct FlowCall {
    pub operation: Operation,
    pub at: DateTime<Utc>,
    pub duration: Duration,
    /// Flow's status; none when Flow did not answer.
    pub status: Option<StatusCode>,
    /// Why the call did not succeed; never a body or a token.
    pub error: Option<String>,
    /// What the call says about the tenant's Flow.
    pub health: CallResult,
}

impl FlowCall {
    pub fn attempt(&self) -> Attempt {
        Attempt {
            at: self.at,
            operation: self.operation.as_str().to_owned(),
            status: self.status.map(|s| s.as_u16()),
            duration_ms: u64::try_from(self.duration.as_millis()).unwrap_or(u64::MAX),
            error: self.error.clone(),
        }
    }
}

/// What one run came to.
#[derive(Debug)]
pub struct Run {
    /// The calls made, in order; a failed call is the last.
    pub calls: Vec<FlowCall>,
    /// The patch is delivered (by this run or an earlier one): a later run sends only
    /// updatestate.
    pub patched: bool,
    /// Flow's last answer when every owed operation succeeded.
    pub result: Result<FlowResponse, DeliveryError>,
    /// The order's values after what Flow accepted in this run, to be recorded with the
    /// turn's end; none when Flow accepted nothing.
    pub sent: Option<(Uuid, LastSent)>,
    /// The order's lock, held until the run's outcome is recorded, so that the order's next
    /// run builds its bodies over `sent`.
    pub order_guard: OrderGuard,
}

impl Run {
    pub fn attempts(&self) -> Vec<Attempt> {
        self.calls.iter().map(FlowCall::attempt).collect()
    }
}

impl Deliverer {
    /// Sends what `delivery` still owes before `deadline` (the patch only when not `patched`).
    /// A status-only update with no state to go with it fails before any call.
    pub async fn run(&self, delivery: &Delivery, patched: bool, deadline: Instant) -> Run {
        let order_guard = self.order_locks.lock(delivery.content.order_id).await;
        let mut run = Run {
            calls: Vec::new(),
            patched,
            result: Err(DeliveryError::Empty),
            sent: None,
            order_guard,
        };
        run.result = self.owed(delivery, &mut run, deadline).await;
        run
    }

    async fn owed(
        &self,
        delivery: &Delivery,
        run: &mut Run,
        deadline: Instant,
    ) -> Result<FlowResponse, DeliveryError> {
        let content = &delivery.content;
        let order = content.order_id;
        let mut last = self.book.last_sent(order).await?;
        let state_call =
            plan::update_state(&content.update, &last, content.state_default.as_deref())?;
        let mut answer = None;
        let patch = match run.patched {
            true => None,
            false => plan::patch(&content.update, &last),
        };
        if let Some(body) = patch {
            let request = FlowRequest::patch(order, &body);
            answer = Some(self.send(delivery, request, deadline, run).await?);
            last = plan::after_patch(&last, &body);
            run.sent = Some((order, last.clone()));
            run.patched = true;
        }
        if let Some(body) = state_call {
            let request = FlowRequest::update_state(order, &body);
            answer = Some(self.send(delivery, request, deadline, run).await?);
            last.state = Some(body.state);
            run.sent = Some((order, last));
        }
        answer.ok_or(DeliveryError::Empty)
    }

    /// One call: sent with the delivery's trace and idempotency key, classified, kept in `run`.
    async fn send(
        &self,
        delivery: &Delivery,
        request: FlowRequest,
        deadline: Instant,
        run: &mut Run,
    ) -> Result<FlowResponse, DeliveryError> {
        let operation = request.operation();
        let request = request
            .with_traceparent(Some(delivery.content.traceparent.clone()))
            .with_idempotency_key(delivery.idempotency_key(operation));
        let (at, started) = (Utc::now(), Instant::now());
        let result = delivery.flow.call(&self.client, &request, deadline).await;
        let status = result.as_ref().ok().map(|response| response.status);
        let outcome = retry::classify(result);
        let call = FlowCall {
            operation,
            at,
            duration: started.elapsed(),
            status,
            error: error_of(&outcome),
            health: outcome.health(),
        };
        log_call(delivery, &call, &outcome);
        run.calls.push(call);
        match outcome {
            Outcome::Success(response) => Ok(response),
            Outcome::Retry(reason) => Err(DeliveryError::Retry { operation, reason }),
            Outcome::DontRetry(rejection) => Err(DeliveryError::Rejected {
                operation,
                rejection,
            }),
        }
    }
}

fn error_of(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Success(_) => None,
        Outcome::Retry(reason) => Some(reason.to_string()),
        Outcome::DontRetry(rejection) => {
            Some(format!("Flow refused it ({})", rejection.status.as_u16()))
        }
    }
}

/// One line per Flow call, for the operator following one order. Never a body or a token.
fn log_call(delivery: &Delivery, call: &FlowCall, outcome: &Outcome) {
    let verdict = match outcome {
        Outcome::Success(_) => "success",
        Outcome::Retry(_) => "retry",
        Outcome::DontRetry(_) => "rejected",
    };
    let content = &delivery.content;
    tracing::info!(
        delivery_id = %content.id,
        vendor = %content.vendor,
        tenant = delivery.flow.name(),
        order_id = %content.order_id,
        operation = call.operation.as_str(),
        status = call.status.map(|s| s.as_u16()),
        duration_ms = u64::try_from(call.duration.as_millis()).unwrap_or(u64::MAX),
        outcome = verdict,
        error = call.error.as_deref(),
        "flow call"
    );
}
