//! Accepted bodies (contract section 17): the raw body of every accepted webhook, kept beside
//! its delivery for `store.body_retention` so a replay can run yesterday's real traffic through
//! today's configuration. Written in the delivery's own commit, deleted with its delivery.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::DeliveryContent;
use crate::order::StoreError;

/// The largest page of [`AcceptedBodies::accepted`], whatever the caller asks.
pub(crate) const MAX_ACCEPTED: usize = 1000;

/// An accepted webhook whose raw body is still kept.
#[derive(Clone, Debug)]
pub struct AcceptedWebhook {
    pub content: DeliveryContent,
    pub body: Bytes,
}

/// Which kept bodies to read; oldest first.
#[derive(Clone, Debug, Default)]
pub struct AcceptedFilter {
    pub vendor: Option<String>,
    /// Received at or after.
    pub since: Option<DateTime<Utc>>,
    /// Received before.
    pub until: Option<DateTime<Utc>>,
    /// Delivery ids; empty = any.
    pub ids: Vec<Uuid>,
    /// 1..=1000.
    pub limit: usize,
    /// Opaque, from the previous page.
    pub cursor: Option<String>,
}

#[async_trait]
pub trait AcceptedBodies: Send + Sync {
    /// Accepted webhooks whose bodies are kept, matching `filter`, OLDEST FIRST (replay
    /// re-commits them in the order they arrived); the cursor of the next page when more follow.
    async fn accepted(
        &self,
        filter: &AcceptedFilter,
    ) -> Result<(Vec<AcceptedWebhook>, Option<String>), StoreError>;

    /// One delivery's kept body.
    async fn accepted_body(&self, delivery_id: Uuid) -> Result<Option<Bytes>, StoreError>;
}
