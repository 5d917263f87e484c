//! The queue path of the store: a webhook's delivery is committed (`enqueue`, after `find` has
//! looked for its dedup key), claimed by a worker, its lease renewed while it runs, and its turn
//! ended (`finish`); leases of processes that died are released. What the ingress and the
//! workers ask of the store.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::DeliveryState;
use crate::config::DeliveryMode;
use crate::order::{LastSent, OrderUpdate, StoreError};

/// What one delivery is and carries, from its commit to its last attempt: whose webhook it was,
/// the order it updates and how, and the trace it joins. Committed inside a [`NewDelivery`],
/// claimed back inside a [`Claimed`], and sent inside `deliver::Delivery`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryContent {
    pub id: Uuid,
    pub vendor: String,
    pub tenant: String,
    pub order_id: Uuid,
    /// The dedup identity (contract section 8): the signed header id, the payload's id, or the
    /// hash of the body.
    pub event_id: String,
    pub update: OrderUpdate,
    /// The map's `state.default`, for a status that arrives without a state.
    pub state_default: Option<String>,
    /// The W3C trace context of the request that accepted it.
    pub traceparent: String,
    pub created_at: DateTime<Utc>,
}

/// A delivery to commit.
#[derive(Clone, Debug)]
pub struct NewDelivery {
    pub content: DeliveryContent,
    /// Whether (vendor, event id) is a dedup key (the vendor's `dedup` is not `off`).
    pub dedup: bool,
    /// SHA-256 of the raw body: the same key with another body is a conflict.
    pub body_hash: [u8; 32],
    pub mode: DeliveryMode,
    /// The raw body, kept with the delivery when `store.body_retention` keeps bodies
    /// (`AcceptedBodies`); a duplicate keeps none.
    pub body: Option<Bytes>,
}

impl NewDelivery {
    /// The dedup key as the stores index it: the first 16 bytes of SHA-256 over the vendor, a
    /// zero byte and the event id. One fixed-size entry per key, whatever the ids' lengths; a
    /// found key's row is still compared on vendor and event id, so a collision is never taken
    /// for a duplicate.
    pub fn dedup_key(&self) -> Option<[u8; 16]> {
        self.dedup
            .then(|| dedup_key(&self.content.vendor, &self.content.event_id))
    }
}

/// The dedup key of (vendor, event id): see [`NewDelivery::dedup_key`].
pub fn dedup_key(vendor: &str, event_id: &str) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(vendor.as_bytes())
        .chain_update([0])
        .chain_update(event_id.as_bytes())
        .finalize();
    let mut key = [0; 16];
    key.copy_from_slice(&digest[..16]);
    key
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
    pub content: DeliveryContent,
    /// Attempts spent so far (waits for Flow's 429, our bucket or an open circuit spend none).
    pub attempts: u32,
    /// The `patch` operation was delivered by an earlier attempt: only `updatestate` is left.
    pub patched: bool,
}

/// One call to Flow, as recorded: a delivery keeps its calls in its own row, as this JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

#[async_trait]
pub trait DeliveryQueue: Send + Sync {
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
}
