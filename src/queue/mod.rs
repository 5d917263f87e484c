//! The durable queue (contract section 8): a webhook is acknowledged only once its delivery is
//! committed here; workers claim deliveries, one order at a time and in order, and record every
//! attempt. A [`Store`] has five roles, each its own trait: the queue path (`delivery_queue.rs`),
//! the operators' admin (`delivery_admin.rs`), the upkeep (`upkeep.rs`), the refused webhooks
//! kept (`rejections.rs`) and the accepted webhooks' bodies kept (`bodies.rs`); `sqlite` is the
//! embedded store of one process, `postgres` the shared one; `readiness` says if it accepts now.

pub mod backlog;
mod bodies;
mod delivery_admin;
mod delivery_queue;
mod fault;
pub mod postgres;
pub mod readiness;
mod rejections;
pub mod sqlite;
mod upkeep;

use serde::Serialize;

use crate::config::DeliveryMode;
use crate::order::OrderBook;

pub use crate::metrics::QueueDepth;
pub use crate::order::StoreError;
pub use bodies::{AcceptedBodies, AcceptedFilter, AcceptedWebhook};
pub use delivery_admin::{
    Deleted, DeliveryAdmin, DeliveryRecord, ListFilter, Page, RedriveFilter, Retried,
};
pub use delivery_queue::{
    Attempt, Claimed, DeliveryContent, DeliveryQueue, Enqueued, Existing, Finish, NewDelivery,
    dedup_key,
};
pub use rejections::{Rejection, RejectionFilter, RejectionPage, RejectionStore};
pub use upkeep::{Retention, StoreUpkeep, TenantDepth};

/// The one vocabulary of delivery states: responses, the admin API, logs and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Committed, waiting for its first attempt.
    Pending,
    /// An attempt is running.
    InFlight,
    /// Waiting for its next attempt.
    Retrying,
    Delivered,
    Dead,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 5] = [
        Self::Pending,
        Self::InFlight,
        Self::Retrying,
        Self::Delivered,
        Self::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InFlight => "in_flight",
            Self::Retrying => "retrying",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryState> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Still owed to Flow: holds its order's line.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::InFlight | Self::Retrying)
    }
}

/// Deliveries one admin listing page reads at most when no index serves its filter (a vendor,
/// a tenant, the delivered state): no index is written for those on every accepted webhook, so
/// such a page may hold fewer than its limit and still name the next cursor, and a rare
/// vendor's listing reads a bounded stretch of the table instead of all of it.
pub const SCAN_WINDOW: usize = 10_000;

/// A page of `rows` fetched with one row more than `limit` (which tells whether another page
/// follows): at most `limit` rows, and the cursor of the last one when another page follows.
pub(crate) fn paged<T>(
    mut rows: Vec<T>,
    limit: usize,
    cursor: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    if rows.len() <= limit {
        return (rows, None);
    }
    rows.truncate(limit);
    let next = rows.last().map(cursor);
    (rows, next)
}

/// Every role of one store: what opening it gives. Callers hold the role they use (an
/// `Arc<dyn Store>` coerces to any of them): the queue path, the admin, the upkeep, the book,
/// the rejections, the accepted bodies.
pub trait Store:
    DeliveryQueue + DeliveryAdmin + StoreUpkeep + OrderBook + RejectionStore + AcceptedBodies
{
}

impl<T> Store for T where
    T: DeliveryQueue
        + DeliveryAdmin
        + StoreUpkeep
        + OrderBook
        + RejectionStore
        + AcceptedBodies
        + ?Sized
{
}

impl DeliveryMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMode::Queued => "queued",
            DeliveryMode::Sync => "sync",
        }
    }
}
