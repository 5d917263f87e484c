//! Rejections (contract section 17): webhooks that authenticated but were refused, kept with
//! their raw body so an operator can see what was refused and replay it once the schema or the
//! mapping is fixed. Kept for `store.rejection_retention`, at most `store.max_rejections`.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use uuid::{NoContext, Timestamp, Uuid};

use crate::order::StoreError;

/// A refused webhook as it is kept.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    /// A UUID v7 of `received_at` ([`Rejection::new_id`]): ids sort by when the webhook was
    /// received, and the stores list, page, trim and purge rejections in their ids' order and
    /// by their ids' time.
    pub id: Uuid,
    pub vendor: String,
    /// Kept to the millisecond.
    pub received_at: DateTime<Utc>,
    /// The answer's status and problem code.
    pub status: u16,
    pub code: String,
    pub detail: String,
    /// The problem's `errors` (schema violations), as JSON; `Null` when it had none.
    pub errors: serde_json::Value,
    /// When the refusal came after the event id was known.
    pub event_id: Option<String>,
    pub request_id: String,
    pub content_type: Option<String>,
    /// The body exactly as received.
    pub body: Bytes,
    /// The delivery a replay made of it, once replayed.
    pub delivery_id: Option<Uuid>,
}

impl Rejection {
    /// A fresh id for a rejection received at `received_at`: a UUID v7 of that millisecond.
    pub fn new_id(received_at: DateTime<Utc>) -> Uuid {
        let millis = u64::try_from(received_at.timestamp_millis()).unwrap_or(0);
        Uuid::new_v7(Timestamp::from_unix(
            NoContext,
            millis / 1000,
            (millis % 1000) as u32 * 1_000_000,
        ))
    }
}

/// The lowest id of a rejection received at or after `at`: ids below it were received before.
pub(crate) fn first_id_at(at: DateTime<Utc>) -> Uuid {
    // A v7 id begins with its 48-bit Unix time in milliseconds, most significant byte first.
    let millis = u128::try_from(at.timestamp_millis()).unwrap_or(0);
    Uuid::from_u128(millis.min((1 << 48) - 1) << 80)
}

/// Which rejections `GET /admin/rejections` lists (newest first) or a replay reads (oldest
/// first).
#[derive(Clone, Debug, Default)]
pub struct RejectionFilter {
    pub vendor: Option<String>,
    pub code: Option<String>,
    /// Received at or after.
    pub since: Option<DateTime<Utc>>,
    /// Received before.
    pub until: Option<DateTime<Utc>>,
    /// Only these; empty = any.
    pub ids: Vec<Uuid>,
    /// 1..=500 for a listing, 1..=1000 for a replay.
    pub limit: usize,
    /// From the previous page's `next_cursor`: opaque to callers.
    pub cursor: Option<String>,
}

/// One page of rejections, bodies left out (an empty `body`).
#[derive(Clone, Debug, PartialEq)]
pub struct RejectionPage {
    pub rejections: Vec<Rejection>,
    pub next_cursor: Option<String>,
}

#[async_trait]
pub trait RejectionStore: Send + Sync {
    /// Keeps `rejection`, in the same group commit as the webhooks around it.
    async fn keep_rejection(&self, rejection: Rejection) -> Result<(), StoreError>;

    /// Drops the oldest rejections beyond `max`; how many went. Called every second: finding
    /// nothing to drop writes nothing and reads no rejection's row.
    async fn trim_rejections(&self, max: u64) -> Result<u64, StoreError>;

    /// A page of rejections matching `filter`, newest first, without their bodies.
    async fn rejections(&self, filter: &RejectionFilter) -> Result<RejectionPage, StoreError>;

    /// A page of rejections matching `filter` with their bodies, oldest first: a replay
    /// commits what now passes in the order it arrived.
    async fn rejections_to_replay(
        &self,
        filter: &RejectionFilter,
    ) -> Result<RejectionPage, StoreError>;

    /// Records the delivery a replay made of rejection `id`.
    async fn record_replay(&self, id: Uuid, delivery_id: Uuid) -> Result<(), StoreError>;

    /// One rejection with its body.
    async fn rejection(&self, id: Uuid) -> Result<Option<Rejection>, StoreError>;

    /// Deletes one rejection; false when there was none.
    async fn delete_rejection(&self, id: Uuid) -> Result<bool, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_sorts_between_the_first_ids_of_its_millisecond_and_the_next() {
        let at = DateTime::from_timestamp_millis(1_765_000_000_123).expect("a time");
        let id = Rejection::new_id(at);
        assert_eq!(id.get_version_num(), 7);
        assert!(first_id_at(at) <= id, "{id}");
        assert!(
            id < first_id_at(at + chrono::TimeDelta::milliseconds(1)),
            "{id}"
        );
        let (seconds, nanos) = id.get_timestamp().expect("a v7 time").to_unix();
        assert_eq!((seconds, nanos), (1_765_000_000, 123_000_000));
        // Text compares as the bytes do, so SQLite's text ids sort the same way.
        assert!(first_id_at(at).to_string() <= id.to_string());
    }
}
