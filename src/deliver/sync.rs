//! A sync delivery, sent inside its request (contract section 8): refused without a call while
//! its tenant is paused or its circuit open, else sent as a worker sends a claimed one. Its end
//! is settled (`settle.rs`) and recorded as a worker's attempt is, before the request answers;
//! what the answer says is the ingress's to decide.

use tokio::time::Instant;
use uuid::Uuid;

use super::control::{Closed, TenantControl};
use super::order_locks::OrderGuard;
use super::settle::{self, Settled};
use super::{Deliverer, Delivery, DeliveryError};
use crate::flow::FlowResponse;
use crate::metrics::VendorMetrics;
use crate::order::LastSent;
use crate::queue::{Attempt, DeliveryQueue, Finish};

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
    /// The order's lock, held until that is recorded; none when no call was made.
    pub order_guard: Option<OrderGuard>,
}

impl Deliverer {
    /// Sends the committed sync `delivery` under its tenant's pause and circuit, then records
    /// its end in `store` (counted in `counted`) before returning: delivered, or dead, since the
    /// vendor owns the retry. Flow's last answer on success. A failure to record is logged; the
    /// answer still says what Flow did.
    pub async fn deliver_sync(
        &self,
        delivery: &Delivery,
        control: &TenantControl,
        store: &dyn DeliveryQueue,
        counted: &VendorMetrics,
        deadline: Instant,
    ) -> Result<FlowResponse, SyncError> {
        let run = self.run_sync(delivery, control, deadline).await;
        let finish = match &run.result {
            Ok(_) => Finish::Delivered,
            Err(error) => settle::sync_failed(error, run.patched),
        };
        let settled = Settled {
            finish,
            attempts: run.attempts,
            sent: run.sent,
        };
        let id = delivery.content.id;
        if let Err(error) = settle::record(store, counted, &delivery.content, settled).await {
            tracing::error!(delivery_id = %id, %error, "the sync delivery's outcome was not recorded");
        }
        // Only now may the order's next run start: it builds its bodies over what this one sent.
        drop(run.order_guard);
        run.result
    }

    /// A sync delivery under its tenant's pause and circuit, not yet recorded: refused without a
    /// call when either holds it back, else sent as [`Deliverer::deliver`] does, each call
    /// feeding the circuit.
    pub async fn run_sync(
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
                    order_guard: None,
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
            order_guard: Some(run.order_guard),
        }
    }
}
