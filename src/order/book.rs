//! What flowgate remembers per order, behind [`OrderBook`]: the binding that routes it (made by a
//! verified FlowToken, at `/launch` or on a webhook) and the values Flow last accepted, which
//! every PATCH is merged over. The store (`crate::queue`) keeps them durably.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;

/// An order's tie to one tenant, made by a verified FlowToken. The first binding wins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub tenant: String,
    /// The vendor that made it: only that vendor may update the order.
    pub vendor: String,
    pub case_id: Option<i64>,
    pub broker: Broker,
    /// SHA-256 of the FlowToken that bound the order: the same token is not verified again.
    pub token_hash: [u8; 32],
    pub bound_at: DateTime<Utc>,
}

/// Who handed the vendor the order, as Flow's VerifyToken told it.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct Broker {
    pub user_id: Option<i64>,
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    pub office_id: Option<i64>,
    pub office_name: Option<String>,
}

/// The values Flow last accepted for an order; each PATCH sends all three, merged over these.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LastSent {
    pub title: Option<String>,
    pub action_text: Option<String>,
    pub metadata: Vec<(String, String)>,
    pub state: Option<String>,
}

#[async_trait]
pub trait OrderBook: Send + Sync {
    async fn binding(&self, order: Uuid) -> Result<Option<Binding>, StoreError>;
    /// Records `binding` unless the order is bound already; returns the binding in force.
    async fn bind(&self, order: Uuid, binding: Binding) -> Result<Binding, StoreError>;
    async fn last_sent(&self, order: Uuid) -> Result<LastSent, StoreError>;
    async fn record_sent(&self, order: Uuid, sent: LastSent) -> Result<(), StoreError>;
}
