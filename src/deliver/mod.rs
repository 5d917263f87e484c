//! Delivering one accepted webhook to its tenant's Flow: `patch` then `updatestate`, each body
//! built when it is sent (`plan.rs`), each answer classified in one place (`retry.rs`). Calls for
//! one order are made one at a time, so merges over the last-sent values never interleave.

pub mod circuit;
pub mod control;
pub mod plan;
pub mod retry;
mod turns;

use std::sync::Arc;

use tokio::time::Instant;
use uuid::Uuid;

use crate::flow::{FlowClient, FlowRequest, FlowResponse, Operation, TenantFlow};
use crate::order::{OrderBook, OrderUpdate, StoreError};
use plan::NoState;
use retry::{Outcome, Rejection, RetryReason};
use turns::OrderTurns;

/// The namespace of `Idempotency-Key`s: UUIDv5 of vendor, event id and operation, so every
/// attempt of one operation carries the same key.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_9a4e_2b7d_4c3a_9e5f_0d8b_7a6c_5e41);

/// One accepted webhook, ready to be sent.
pub struct Delivery {
    pub id: Uuid,
    pub vendor: String,
    pub tenant: Arc<TenantFlow>,
    pub order_id: Uuid,
    pub event_id: String,
    pub update: OrderUpdate,
    /// The map's `state.default`, for a status that arrives without a state.
    pub state_default: Option<String>,
    pub traceparent: String,
}

impl Delivery {
    fn idempotency_key(&self, operation: Operation) -> Uuid {
        let name = format!("{}\n{}\n{}", self.vendor, self.event_id, operation.as_str());
        Uuid::new_v5(&IDEMPOTENCY_NAMESPACE, name.as_bytes())
    }
}

/// Why a delivery did not complete; a failed operation stops the ones after it.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    NoState(#[from] NoState),
    #[error("The update sets none of state, status, title, action text, metadata.")]
    Empty,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{} may succeed later: {reason:?}", operation.as_str())]
    Retry {
        operation: Operation,
        reason: RetryReason,
    },
    #[error("Flow refused {}: {}", operation.as_str(), rejection.status)]
    Rejected {
        operation: Operation,
        rejection: Rejection,
    },
}

/// Sends deliveries; shared by every request (and, later, every worker).
pub struct Deliverer {
    client: FlowClient,
    book: Arc<dyn OrderBook>,
    turns: OrderTurns,
}

impl Deliverer {
    pub fn new(client: FlowClient, book: Arc<dyn OrderBook>) -> Self {
        Self {
            client,
            book,
            turns: OrderTurns::default(),
        }
    }

    pub fn book(&self) -> &Arc<dyn OrderBook> {
        &self.book
    }

    /// Sends every operation of `delivery` before `deadline`; Flow's last answer on success.
    /// A status-only update with no state to go with it fails before any call.
    pub async fn deliver(
        &self,
        delivery: &Delivery,
        deadline: Instant,
    ) -> Result<FlowResponse, DeliveryError> {
        let order = delivery.order_id;
        let _turn = self.turns.take(order).await;
        let mut last = self.book.last_sent(order).await?;
        let state_call =
            plan::update_state(&delivery.update, &last, delivery.state_default.as_deref())?;
        let mut answer = None;
        if let Some(body) = plan::patch(&delivery.update, &last) {
            let request = FlowRequest::patch(order, &body);
            answer = Some(self.send(delivery, request, deadline).await?);
            last = plan::after_patch(&last, &body);
            self.book.record_sent(order, last.clone()).await?;
        }
        if let Some(body) = state_call {
            let request = FlowRequest::update_state(order, &body);
            answer = Some(self.send(delivery, request, deadline).await?);
            last.state = Some(body.state);
            self.book.record_sent(order, last).await?;
        }
        answer.ok_or(DeliveryError::Empty)
    }

    async fn send(
        &self,
        delivery: &Delivery,
        request: FlowRequest,
        deadline: Instant,
    ) -> Result<FlowResponse, DeliveryError> {
        let operation = request.operation();
        let request = request
            .with_traceparent(Some(delivery.traceparent.clone()))
            .with_idempotency_key(delivery.idempotency_key(operation));
        let result = delivery.tenant.call(&self.client, &request, deadline).await;
        let outcome = retry::classify(result);
        log_attempt(delivery, operation, &outcome);
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

/// One line per Flow attempt, for the operator following one order. Never a body or a token.
fn log_attempt(delivery: &Delivery, operation: Operation, outcome: &Outcome) {
    let (result, status, detail) = match outcome {
        Outcome::Success(r) => ("success", Some(r.status.as_u16()), String::new()),
        Outcome::Retry(RetryReason::Status(s, _)) => ("retry", Some(s.as_u16()), String::new()),
        Outcome::Retry(reason) => ("retry", None, format!("{reason:?}")),
        Outcome::DontRetry(r) => ("rejected", Some(r.status.as_u16()), String::new()),
    };
    let elapsed_ms = match outcome {
        Outcome::Success(r) => Some(r.elapsed.as_millis()),
        _ => None,
    };
    tracing::info!(
        delivery_id = %delivery.id,
        vendor = %delivery.vendor,
        tenant = delivery.tenant.name(),
        order_id = %delivery.order_id,
        operation = operation.as_str(),
        result,
        status,
        elapsed_ms,
        detail,
        "flow call"
    );
}
