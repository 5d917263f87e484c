//! The store's roles ([`DeliveryQueue`], [`DeliveryAdmin`], [`StoreUpkeep`],
//! [`RejectionStore`], [`AcceptedBodies`]) and [`OrderBook`] for [`PgStore`]: each call on a
//! pooled connection, durable when it answers. Times are taken here, at the call, as the SQLite
//! store does.

use std::collections::BTreeMap;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::order::{Binding, LastSent, OrderBook, StoreError};
use crate::queue::{
    AcceptedBodies, AcceptedFilter, AcceptedWebhook, Attempt, Claimed, Deleted, DeliveryAdmin,
    DeliveryQueue, DeliveryRecord, Enqueued, Existing, Finish, ListFilter, NewDelivery, Page,
    QueueDepth, RedriveFilter, Rejection, RejectionFilter, RejectionPage, RejectionStore,
    Retention, Retried, StoreUpkeep, TenantDepth,
};

use super::rejections::Listing;
use super::{PgStore, admin, bodies, book, claims, deliveries, rejections, upkeep};

#[async_trait]
impl OrderBook for PgStore {
    async fn binding(&self, order: Uuid) -> Result<Option<Binding>, StoreError> {
        book::binding(&self.client().await?, order).await
    }

    async fn bind(&self, order: Uuid, binding: Binding) -> Result<Binding, StoreError> {
        book::bind(&self.client().await?, order, &binding).await
    }

    async fn last_sent(&self, order: Uuid) -> Result<LastSent, StoreError> {
        book::last_sent(&self.client().await?, order).await
    }

    async fn record_sent(&self, order: Uuid, sent: LastSent) -> Result<(), StoreError> {
        book::record_sent(&self.client().await?, order, &sent, Utc::now()).await
    }
}

#[async_trait]
impl DeliveryQueue for PgStore {
    async fn find(
        &self,
        vendor: &str,
        event_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<Existing>, StoreError> {
        deliveries::find(&self.client().await?, vendor, event_id, since).await
    }

    async fn enqueue(
        &self,
        delivery: NewDelivery,
        dedup_since: DateTime<Utc>,
    ) -> Result<Enqueued, StoreError> {
        self.inner.commits.enqueue(delivery, dedup_since).await
    }

    async fn claim(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease_until: DateTime<Utc>,
        paused: &[String],
    ) -> Result<Vec<Claimed>, StoreError> {
        let mut client = self.client().await?;
        claims::claim(&mut client, now, limit, lease_until, paused, self.owner()).await
    }

    async fn renew(&self, id: Uuid, lease_until: DateTime<Utc>) -> Result<(), StoreError> {
        claims::renew(&self.client().await?, id, lease_until, self.owner()).await
    }

    async fn finish(
        &self,
        id: Uuid,
        attempts: Vec<Attempt>,
        finish: Finish,
        sent: Option<(Uuid, LastSent)>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let now = Utc::now();
        let sent = sent.as_ref();
        deliveries::finish(&mut client, id, &attempts, finish, sent, now, self.owner()).await
    }

    async fn release_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        claims::release_expired(&mut self.client().await?, now).await
    }
}

#[async_trait]
impl DeliveryAdmin for PgStore {
    async fn list(&self, filter: &ListFilter) -> Result<Page, StoreError> {
        admin::list(&self.client().await?, filter).await
    }

    async fn get(&self, id: Uuid) -> Result<Option<DeliveryRecord>, StoreError> {
        admin::get(&self.client().await?, id).await
    }

    async fn retry(
        &self,
        id: Uuid,
        force: bool,
        now: DateTime<Utc>,
    ) -> Result<Retried, StoreError> {
        admin::retry(&mut self.client().await?, id, force, now).await
    }

    async fn cancel(&self, id: Uuid) -> Result<Option<DeliveryRecord>, StoreError> {
        admin::cancel(&mut self.client().await?, id, Utc::now()).await
    }

    async fn delete(&self, id: Uuid) -> Result<Deleted, StoreError> {
        admin::delete(&mut self.client().await?, id).await
    }

    async fn redrive(
        &self,
        filter: &RedriveFilter,
        now: DateTime<Utc>,
    ) -> Result<(u64, u64), StoreError> {
        admin::redrive(&self.client().await?, filter, now).await
    }

    async fn order_deliveries(&self, order: Uuid) -> Result<Vec<DeliveryRecord>, StoreError> {
        admin::order_deliveries(&self.client().await?, order).await
    }
}

#[async_trait]
impl StoreUpkeep for PgStore {
    async fn purge(&self, now: DateTime<Utc>, retention: Retention) -> Result<u64, StoreError> {
        upkeep::purge(&self.client().await?, now, retention).await
    }

    async fn depth(&self) -> Result<QueueDepth, StoreError> {
        upkeep::depth(&self.client().await?).await
    }

    async fn depth_by_tenant(&self) -> Result<BTreeMap<String, TenantDepth>, StoreError> {
        upkeep::depth_by_tenant(&self.client().await?).await
    }

    /// What the pool last found: connections refused or timing out make the store unreachable
    /// until one is had again. No query of its own: every call and the upkeep's count, once a
    /// second, try.
    fn accepting(&self) -> Result<(), StoreError> {
        self.reach().cause().map_or(Ok(()), Err)
    }
}

#[async_trait]
impl RejectionStore for PgStore {
    /// With the deliveries this process commits at the same moment, in one transaction.
    async fn keep_rejection(&self, rejection: Rejection) -> Result<(), StoreError> {
        self.inner.commits.keep_rejection(rejection).await
    }

    async fn trim_rejections(&self, max: u64) -> Result<u64, StoreError> {
        rejections::trim(&self.client().await?, max).await
    }

    async fn rejections(&self, filter: &RejectionFilter) -> Result<RejectionPage, StoreError> {
        let client = self.client().await?;
        rejections::list(&client, filter, Listing::Newest).await
    }

    async fn rejections_to_replay(
        &self,
        filter: &RejectionFilter,
    ) -> Result<RejectionPage, StoreError> {
        let client = self.client().await?;
        rejections::list(&client, filter, Listing::Replay).await
    }

    async fn record_replay(&self, id: Uuid, delivery_id: Uuid) -> Result<(), StoreError> {
        rejections::record_replay(&self.client().await?, id, delivery_id).await
    }

    async fn rejection(&self, id: Uuid) -> Result<Option<Rejection>, StoreError> {
        rejections::get(&self.client().await?, id).await
    }

    async fn delete_rejection(&self, id: Uuid) -> Result<bool, StoreError> {
        rejections::delete(&self.client().await?, id).await
    }
}

#[async_trait]
impl AcceptedBodies for PgStore {
    async fn accepted(
        &self,
        filter: &AcceptedFilter,
    ) -> Result<(Vec<AcceptedWebhook>, Option<String>), StoreError> {
        bodies::list(&self.client().await?, filter).await
    }

    async fn accepted_body(&self, delivery_id: Uuid) -> Result<Option<Bytes>, StoreError> {
        bodies::get(&self.client().await?, delivery_id).await
    }
}
