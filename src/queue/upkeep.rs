//! The store's upkeep: purging what retention no longer keeps, counting the queue for the gauges
//! and back-pressure, and saying whether it accepts new deliveries (readiness).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::metrics::QueueDepth;
use crate::order::StoreError;

/// How long finished records, dedup keys, order memories, rejections and accepted bodies are
/// kept.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub delivered: std::time::Duration,
    /// Zero: dead records are kept until retried or deleted.
    pub dead: std::time::Duration,
    pub dedup_window: std::time::Duration,
    pub orders: std::time::Duration,
    /// Rejections received longer ago go.
    pub rejections: std::time::Duration,
    /// Accepted webhooks' bodies received longer ago go (their deliveries stay).
    pub bodies: std::time::Duration,
}

#[async_trait]
pub trait StoreUpkeep: Send + Sync {
    /// Deletes what `retention` no longer keeps; how many records (deliveries and rejections)
    /// went. Bodies go with their deliveries, and on their own once older than
    /// `retention.bodies`; they are not counted.
    async fn purge(&self, now: DateTime<Utc>, retention: Retention) -> Result<u64, StoreError>;
    async fn depth(&self) -> Result<QueueDepth, StoreError>;
    /// Whether the store accepts new deliveries, as it last saw itself (readiness): a cheap
    /// look at what its own calls and watches found, never a query.
    fn accepting(&self) -> Result<(), StoreError>;
}
