//! What flowgate remembers per order, behind [`OrderBook`]: the binding that routes it (made by a
//! verified FlowToken, at `/launch` or on a webhook) and the values Flow last accepted, which
//! every PATCH is merged over. [`MemoryOrderBook`] serves until a durable store holds them.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

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
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Broker {
    pub user_id: Option<i64>,
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    pub office_id: Option<i64>,
    pub office_name: Option<String>,
}

/// The values Flow last accepted for an order; each PATCH sends all three, merged over these.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LastSent {
    pub title: Option<String>,
    pub action_text: Option<String>,
    pub metadata: Vec<(String, String)>,
    pub state: Option<String>,
}

/// The store could not be read or written: the webhook is answered 503, never half-done.
#[derive(Debug, thiserror::Error)]
#[error("the order store is unavailable: {0}")]
pub struct StoreError(pub String);

#[async_trait]
pub trait OrderBook: Send + Sync {
    async fn binding(&self, order: Uuid) -> Result<Option<Binding>, StoreError>;
    /// Records `binding` unless the order is bound already; returns the binding in force.
    async fn bind(&self, order: Uuid, binding: Binding) -> Result<Binding, StoreError>;
    async fn last_sent(&self, order: Uuid) -> Result<LastSent, StoreError>;
    async fn record_sent(&self, order: Uuid, sent: LastSent) -> Result<(), StoreError>;
}

/// Bindings and last-sent values in process memory: lost on restart.
#[derive(Default)]
pub struct MemoryOrderBook {
    orders: Mutex<HashMap<Uuid, Remembered>>,
}

#[derive(Default)]
struct Remembered {
    binding: Option<Binding>,
    last_sent: LastSent,
}

impl MemoryOrderBook {
    fn with<T>(&self, order: Uuid, f: impl FnOnce(&mut Remembered) -> T) -> T {
        let mut orders = self.orders.lock().unwrap_or_else(PoisonError::into_inner);
        f(orders.entry(order).or_default())
    }
}

#[async_trait]
impl OrderBook for MemoryOrderBook {
    async fn binding(&self, order: Uuid) -> Result<Option<Binding>, StoreError> {
        Ok(self.with(order, |o| o.binding.clone()))
    }

    async fn bind(&self, order: Uuid, binding: Binding) -> Result<Binding, StoreError> {
        Ok(self.with(order, |o| o.binding.get_or_insert(binding).clone()))
    }

    async fn last_sent(&self, order: Uuid) -> Result<LastSent, StoreError> {
        Ok(self.with(order, |o| o.last_sent.clone()))
    }

    async fn record_sent(&self, order: Uuid, sent: LastSent) -> Result<(), StoreError> {
        self.with(order, |o| o.last_sent = sent);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(tenant: &str) -> Binding {
        Binding {
            tenant: tenant.to_owned(),
            vendor: "photo".to_owned(),
            case_id: Some(7),
            broker: Broker::default(),
            token_hash: [1; 32],
            bound_at: Utc::now(),
        }
    }

    #[tokio::test]
    async fn the_first_binding_wins() {
        let book = MemoryOrderBook::default();
        let order = Uuid::new_v4();
        assert_eq!(book.binding(order).await.expect("read"), None);
        let first = book.bind(order, binding("a")).await.expect("bind");
        let second = book.bind(order, binding("b")).await.expect("bind");
        assert_eq!(first.tenant, "a");
        assert_eq!(second.tenant, "a");
        let stored = book.binding(order).await.expect("read").expect("bound");
        assert_eq!(stored.tenant, "a");
    }

    #[tokio::test]
    async fn last_sent_is_per_order() {
        let book = MemoryOrderBook::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let sent = LastSent {
            title: Some("Photos".to_owned()),
            state: Some("InProcess".to_owned()),
            ..LastSent::default()
        };
        book.record_sent(a, sent.clone()).await.expect("write");
        assert_eq!(book.last_sent(a).await.expect("read"), sent);
        assert_eq!(book.last_sent(b).await.expect("read"), LastSent::default());
    }
}
