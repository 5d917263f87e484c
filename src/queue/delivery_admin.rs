//! Delivery admin: what operators see of the deliveries (one, a page, an order's) and do to
//! them (retry, redrive, cancel, delete), as the admin API and the ingress's look-ups ask.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{Attempt, DeliveryState};
use crate::order::StoreError;

/// A delivery as the admin API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DeliveryRecord {
    pub id: Uuid,
    pub state: DeliveryState,
    pub vendor: String,
    pub tenant: String,
    pub order_id: Uuid,
    pub event_id: String,
    pub mode: &'static str,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub operations: Vec<&'static str>,
    pub attempts: Vec<Attempt>,
    pub flow_status: Option<u16>,
    pub flow_body: Option<String>,
    /// The last error (`cancelled` after a cancel).
    pub error: Option<String>,
}

/// `GET /admin/deliveries` filters; newest first.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub state: Option<DeliveryState>,
    pub vendor: Option<String>,
    pub tenant: Option<String>,
    pub order_id: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
    /// 1..=500.
    pub limit: usize,
    /// From the previous page's `next_cursor`: opaque to callers.
    pub cursor: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = DeliveryPage)]
pub struct Page {
    pub deliveries: Vec<DeliveryRecord>,
    pub next_cursor: Option<String>,
}

/// What retrying one dead delivery did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per admin action, matched at once; boxing would change the API"
)]
pub enum Retried {
    Queued(DeliveryRecord),
    NotFound,
    NotDead,
    /// The order has a newer delivered update.
    Superseded,
}

/// What deleting one delivery did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    NotFound,
    /// Only delivered or dead ones may be deleted.
    Open,
}

/// `POST /admin/deliveries/redrive` filters.
#[derive(Clone, Debug, Default)]
pub struct RedriveFilter {
    pub vendor: Option<String>,
    pub tenant: Option<String>,
    pub since: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait DeliveryAdmin: Send + Sync {
    async fn list(&self, filter: &ListFilter) -> Result<Page, StoreError>;
    async fn get(&self, id: Uuid) -> Result<Option<DeliveryRecord>, StoreError>;
    /// Queues a dead delivery again (attempts reset), unless superseded and not `force`.
    async fn retry(&self, id: Uuid, force: bool, now: DateTime<Utc>)
    -> Result<Retried, StoreError>;
    /// Makes an open delivery dead with error `cancelled`; `None` when there is no such id.
    async fn cancel(&self, id: Uuid) -> Result<Option<DeliveryRecord>, StoreError>;
    async fn delete(&self, id: Uuid) -> Result<Deleted, StoreError>;
    /// Retries every matching dead delivery that is not superseded: `(redriven, superseded)`.
    async fn redrive(
        &self,
        filter: &RedriveFilter,
        now: DateTime<Utc>,
    ) -> Result<(u64, u64), StoreError>;
    /// An order's deliveries, newest first.
    async fn order_deliveries(&self, order: Uuid) -> Result<Vec<DeliveryRecord>, StoreError>;
}
