//! The store's upkeep: purging what retention no longer keeps, counting the queue for the gauges
//! and back-pressure, and saying whether it accepts new deliveries (readiness).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use std::collections::BTreeMap;

use crate::metrics::QueueDepth;
use crate::order::StoreError;

use super::DeliveryState;

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

/// One tenant's deliveries still owed to Flow, by state, and its dead ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TenantDepth {
    pub pending: u64,
    pub in_flight: u64,
    pub retrying: u64,
    pub dead: u64,
}

impl TenantDepth {
    /// Counts `count` deliveries in `state`; delivered ones are not counted.
    pub fn set(&mut self, state: DeliveryState, count: u64) {
        match state {
            DeliveryState::Pending => self.pending = count,
            DeliveryState::InFlight => self.in_flight = count,
            DeliveryState::Retrying => self.retrying = count,
            DeliveryState::Dead => self.dead = count,
            DeliveryState::Delivered => {}
        }
    }
}

#[async_trait]
pub trait StoreUpkeep: Send + Sync {
    /// Deletes what `retention` no longer keeps; how many records (deliveries and rejections)
    /// went. Bodies go with their deliveries, and on their own once older than
    /// `retention.bodies`; they are not counted.
    async fn purge(&self, now: DateTime<Utc>, retention: Retention) -> Result<u64, StoreError>;
    async fn depth(&self) -> Result<QueueDepth, StoreError>;
    /// [`StoreUpkeep::depth`]'s counts per tenant, for the admin's tenant list: only open and
    /// dead deliveries are read (through the state index), never the delivered ones. A tenant
    /// with none is absent.
    async fn depth_by_tenant(&self) -> Result<BTreeMap<String, TenantDepth>, StoreError>;
    /// Whether the store accepts new deliveries, as it last saw itself (readiness): a cheap
    /// look at what its own calls and watches found, never a query.
    fn accepting(&self) -> Result<(), StoreError>;
}
