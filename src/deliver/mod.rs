//! Delivering one accepted webhook to its tenant's Flow: `patch` then `updatestate`, each body
//! built when it is sent (`plan.rs`, `run.rs`), each answer classified in one place (`retry.rs`).
//! Sync delivery calls [`Deliverer`] inside the request; queued deliveries are claimed from the
//! store by [`Workers`] (`worker.rs`), retried on a [`Backoff`] (`schedule.rs`) and held back by
//! the tenant's pause and [`Circuit`](circuit::Circuit) (`control.rs`, `circuit.rs`).

pub mod circuit;
pub mod control;
pub mod plan;
pub mod retry;
mod run;
pub mod schedule;
mod settle;
#[cfg(test)]
mod tests;
mod turns;
pub mod worker;

use std::sync::Arc;

use tokio::time::Instant;
use uuid::Uuid;

use crate::flow::{FlowClient, FlowResponse, Operation, TenantFlow};
use crate::order::{LastSent, OrderBook, StoreError};
use crate::queue::{Attempt, DeliveryContent};
use control::{Closed, TenantControl};
use plan::NoState;
use retry::{Rejection, RetryReason};
use turns::{OrderTurns, Turn};

pub use run::{Call, Run};
pub use schedule::{Backoff, BackoffError, Next};
pub use worker::{WorkerSettings, Workers};

/// The namespace of `Idempotency-Key`s: UUIDv5 of vendor, event id and operation, so every
/// attempt of one operation carries the same key.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_9a4e_2b7d_4c3a_9e5f_0d8b_7a6c_5e41);

/// One accepted webhook, ready to be sent: what the store keeps of it, and its tenant's Flow.
pub struct Delivery {
    pub content: DeliveryContent,
    /// The Flow of `content.tenant`.
    pub flow: Arc<TenantFlow>,
}

impl Delivery {
    fn idempotency_key(&self, operation: Operation) -> Uuid {
        let content = &self.content;
        let name = format!(
            "{}\n{}\n{}",
            content.vendor,
            content.event_id,
            operation.as_str()
        );
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
    #[error("{}: {reason}", operation.as_str())]
    Retry {
        operation: Operation,
        reason: RetryReason,
    },
    #[error("{}: Flow refused it ({})", operation.as_str(), rejection.status.as_u16())]
    Rejected {
        operation: Operation,
        rejection: Rejection,
    },
}

/// A sync delivery that went nowhere or failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No call was made: the tenant is paused or its circuit is open (503 `unavailable`).
    #[error(transparent)]
    Closed(#[from] Closed),
    /// The answer `Problem::from(DeliveryError)` gives.
    #[error(transparent)]
    Failed(#[from] DeliveryError),
}

/// What a sync delivery came to, with every call made for the record.
#[derive(Debug)]
pub struct SyncRun {
    pub result: Result<FlowResponse, SyncError>,
    pub attempts: Vec<Attempt>,
    /// The patch was delivered, even if updatestate then failed.
    pub patched: bool,
    /// What Flow accepted for the order, to be recorded with the delivery's end.
    pub sent: Option<(Uuid, LastSent)>,
    /// The order's turn, held until that is recorded; none when no call was made.
    pub turn: Option<Turn>,
}

/// Sends deliveries; shared by every request and every worker. Calls for one order take turns.
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

    /// Sends every operation of `delivery` before `deadline`; Flow's last answer on success.
    /// Neither pause nor circuit is consulted: see [`Deliverer::deliver_sync`].
    pub async fn deliver(
        &self,
        delivery: &Delivery,
        deadline: Instant,
    ) -> Result<FlowResponse, DeliveryError> {
        self.run(delivery, false, deadline).await.result
    }

    /// A sync delivery under its tenant's pause and circuit: refused without a call when either
    /// holds it back, else sent as [`Deliverer::deliver`] does, each call feeding the circuit.
    pub async fn deliver_sync(
        &self,
        delivery: &Delivery,
        control: &TenantControl,
        deadline: Instant,
    ) -> SyncRun {
        let mut admission = match control.admit(delivery.flow.name(), Instant::now()) {
            Ok(admission) => admission,
            Err(closed) => {
                return SyncRun {
                    result: Err(closed.into()),
                    attempts: Vec::new(),
                    patched: false,
                    sent: None,
                    turn: None,
                };
            }
        };
        let run = self.run(delivery, false, deadline).await;
        admission.record_calls(&run.calls);
        SyncRun {
            attempts: run.attempts(),
            patched: run.patched,
            result: run.result.map_err(SyncError::Failed),
            sent: run.sent,
            turn: Some(run.turn),
        }
    }
}
