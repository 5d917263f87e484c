//! Delivering one accepted webhook to its tenant's Flow: `patch` then `updatestate`, each body
//! built when it is sent (`plan.rs`, `run.rs`), each answer classified in one place (`retry.rs`).
//! A sync delivery is sent inside its request (`sync.rs`); queued ones are claimed by [`Workers`]
//! (`worker.rs`), retried on a [`Backoff`] (`schedule.rs`), held back by the tenant's pause and
//! circuit (`control.rs`, `circuit.rs`). Both end their turn alike (`settle.rs`).

pub mod circuit;
pub mod control;
mod order_locks;
pub mod plan;
pub mod retry;
mod run;
pub mod schedule;
mod settle;
mod sync;
#[cfg(test)]
mod tests;
pub mod worker;

use std::sync::Arc;

use tokio::time::Instant;
use uuid::Uuid;

use crate::flow::{FlowClient, FlowResponse, Operation, TenantFlow};
use crate::order::{OrderBook, StoreError};
use crate::queue::DeliveryContent;
use order_locks::OrderLocks;
use plan::NoState;
use retry::{Rejection, RetryReason};

pub use run::{FlowCall, Run};
pub use schedule::{Backoff, BackoffError, Next};
pub use sync::{SyncError, SyncRun};
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

/// Sends deliveries; shared by every request and every worker. One order's calls wait for its
/// lock.
pub struct Deliverer {
    client: FlowClient,
    book: Arc<dyn OrderBook>,
    order_locks: OrderLocks,
}

impl Deliverer {
    pub fn new(client: FlowClient, book: Arc<dyn OrderBook>) -> Self {
        Self {
            client,
            book,
            order_locks: OrderLocks::default(),
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
}
