//! The durable queue (contract section 8) behind [`Store`]: a webhook is acknowledged only once
//! its delivery is committed here; workers claim deliveries, one order at a time and in order,
//! and record every attempt. `sqlite` is the embedded store of one process; `postgres` is
//! shared by several processes (claims are leased, per-order FIFO holds across all of them).
//! `readiness` says whether the store accepts new deliveries now.

mod fault;
pub mod postgres;
pub mod readiness;
pub mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::config::DeliveryMode;
use crate::order::{LastSent, OrderBook, OrderUpdate};

pub use crate::metrics::QueueDepth;
pub use crate::order::StoreError;

/// The one vocabulary of delivery states: responses, the admin API, logs and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
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

/// A delivery to commit.
#[derive(Clone, Debug)]
pub struct NewDelivery {
    pub id: Uuid,
    pub vendor: String,
    pub tenant: String,
    pub order_id: Uuid,
    /// The dedup identity (contract section 8): the signed header id, the payload's id, or the
    /// hash of the body.
    pub event_id: String,
    /// Whether (vendor, event id) is a dedup key (the vendor's `dedup` is not `off`).
    pub dedup: bool,
    /// SHA-256 of the raw body: the same key with another body is a conflict.
    pub body_hash: [u8; 32],
    pub mode: DeliveryMode,
    pub update: OrderUpdate,
    pub state_default: Option<String>,
    pub traceparent: String,
    pub created_at: DateTime<Utc>,
}

/// The delivery a dedup key already names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Existing {
    pub id: Uuid,
    pub state: DeliveryState,
    pub body_hash: [u8; 32],
}

/// What committing a delivery did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// Committed: the caller may acknowledge it.
    Accepted,
    /// The key was taken inside the dedup window (also by a commit racing this one).
    Taken(Existing),
}

/// A claimed delivery: everything an attempt needs.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub id: Uuid,
    pub vendor: String,
    pub tenant: String,
    pub order_id: Uuid,
    pub event_id: String,
    pub update: OrderUpdate,
    pub state_default: Option<String>,
    pub traceparent: String,
    pub created_at: DateTime<Utc>,
    /// Attempts spent so far (waits for Flow's 429, our bucket or an open circuit spend none).
    pub attempts: u32,
    /// The `patch` operation was delivered by an earlier attempt: only `updatestate` is left.
    pub patched: bool,
}

/// One call to Flow, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    /// `patch` or `updatestate`.
    pub operation: String,
    /// Flow's status; none when Flow did not answer.
    pub status: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
}

/// How an attempt ends its delivery's turn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finish {
    Delivered,
    /// Another attempt at `at`. `spent`: this attempt counts against the schedule.
    Retry {
        at: DateTime<Utc>,
        spent: bool,
        patched: bool,
        error: String,
    },
    /// Never retried by workers; Flow's status and the first 4 KiB of its body when it refused.
    Dead {
        patched: bool,
        flow_status: Option<u16>,
        flow_body: Option<String>,
        error: String,
    },
}

impl Finish {
    /// How the turn ends for a delivery that is `queued` or not. Workers never retry a sync
    /// one (left `retrying` it would hold its order's line forever), so a retry ends it dead.
    pub fn for_mode(self, queued: bool) -> Finish {
        match self {
            Finish::Retry { patched, error, .. } if !queued => Finish::Dead {
                patched,
                flow_status: None,
                flow_body: None,
                error,
            },
            other => other,
        }
    }
}

/// A delivery as the admin API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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

/// How long finished records, dedup keys and order memories are kept.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub delivered: std::time::Duration,
    /// Zero: dead records are kept until retried or deleted.
    pub dead: std::time::Duration,
    pub dedup_window: std::time::Duration,
    pub orders: std::time::Duration,
}

#[async_trait]
pub trait Store: OrderBook {
    /// The delivery `(vendor, event_id)` names, if committed at or after `since`.
    async fn find(
        &self,
        vendor: &str,
        event_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<Existing>, StoreError>;

    /// Commits `delivery` durably (its dedup key with it, atomically) unless its key is taken
    /// at or after `dedup_since`. Queued deliveries start `pending` and due at once; sync ones
    /// start `in_flight` and are never claimed.
    async fn enqueue(
        &self,
        delivery: NewDelivery,
        dedup_since: DateTime<Utc>,
    ) -> Result<Enqueued, StoreError>;

    /// Leases up to `limit` due queued deliveries until `lease_until`, each the earliest open
    /// delivery of its order (per-order FIFO), skipping orders with an attempt in flight
    /// anywhere, and skipping tenants in `paused`. Claimed ones are `in_flight`.
    async fn claim(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease_until: DateTime<Utc>,
        paused: &[String],
    ) -> Result<Vec<Claimed>, StoreError>;

    /// Extends the lease of a delivery whose attempt is still running.
    async fn renew(&self, id: Uuid, lease_until: DateTime<Utc>) -> Result<(), StoreError>;

    /// Records the turn's `attempts` (every call made, in order), what Flow accepted for the
    /// order during it (`sent`: the order and its values, whatever became of the delivery), and
    /// ends the delivery's turn, in one transaction. A sync delivery that ends dead gives its
    /// dedup key back, so the vendor's retry is processed anew.
    async fn finish(
        &self,
        id: Uuid,
        attempts: Vec<Attempt>,
        finish: Finish,
        sent: Option<(Uuid, LastSent)>,
    ) -> Result<(), StoreError>;

    /// Makes deliveries whose lease expired (a process that died mid-attempt) due again.
    async fn release_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;

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

    /// Deletes what `retention` no longer keeps; how many records went.
    async fn purge(&self, now: DateTime<Utc>, retention: Retention) -> Result<u64, StoreError>;
    async fn depth(&self) -> Result<QueueDepth, StoreError>;
    /// Whether the store accepts new deliveries, as it last saw itself (readiness): a cheap
    /// look at what its own calls and watches found, never a query.
    fn accepting(&self) -> Result<(), StoreError>;
}

impl DeliveryMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMode::Queued => "queued",
            DeliveryMode::Sync => "sync",
        }
    }
}
