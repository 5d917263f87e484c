//! The store's roles ([`DeliveryQueue`], [`DeliveryAdmin`], [`StoreUpkeep`],
//! [`RejectionStore`], [`AcceptedBodies`]) and [`OrderBook`] for [`SqliteStore`]: writes go to
//! the writer thread (durable when they answer), reads to the reader pool. Times are taken here,
//! at the call.

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

use super::claims::Held;
use super::rejections::Listing;
use super::rows::millis;
use super::{SqliteStore, admin, bodies, book, deliveries, rejections, upkeep};

#[async_trait]
impl OrderBook for SqliteStore {
    async fn binding(&self, order: Uuid) -> Result<Option<Binding>, StoreError> {
        let read = || self.read(move |conn| book::binding(conn, order));
        self.inner.bindings.get_or_read(order, read).await
    }

    async fn bind(&self, order: Uuid, binding: Binding) -> Result<Binding, StoreError> {
        let winner = self
            .write(move |conn| book::bind(conn, order, &binding))
            .await?;
        self.inner.bindings.written(order, Some(winner.clone()));
        Ok(winner)
    }

    async fn last_sent(&self, order: Uuid) -> Result<LastSent, StoreError> {
        let read = || self.read(move |conn| book::last_sent(conn, order));
        self.inner.sent.get_or_read(order, read).await
    }

    async fn record_sent(&self, order: Uuid, sent: LastSent) -> Result<(), StoreError> {
        let now = millis(Utc::now());
        let values = sent.clone();
        self.write(move |conn| book::record_sent(conn, order, &values, now))
            .await?;
        self.inner.sent.written(order, sent);
        Ok(())
    }
}

#[async_trait]
impl DeliveryQueue for SqliteStore {
    async fn find(
        &self,
        vendor: &str,
        event_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<Existing>, StoreError> {
        let (vendor, event_id) = (vendor.to_owned(), event_id.to_owned());
        let mut found = self
            .read(move |conn| deliveries::find(conn, &vendor, &event_id, millis(since)))
            .await?;
        if let Some(existing) = found.as_mut() {
            existing.state = self.inner.claims.shown(existing.id, existing.state);
        }
        Ok(found)
    }

    async fn enqueue(
        &self,
        delivery: NewDelivery,
        dedup_since: DateTime<Utc>,
    ) -> Result<Enqueued, StoreError> {
        let since = millis(dedup_since);
        let encoded = deliveries::Encoded::of(&delivery)?;
        let keys = self.inner.keys.clone();
        self.write(move |conn| deliveries::enqueue(conn, &keys, &delivery, &encoded, since))
            .await
    }

    async fn claim(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease_until: DateTime<Utc>,
        paused: &[String],
    ) -> Result<Vec<Claimed>, StoreError> {
        let (now, lease_until, paused) = (millis(now), millis(lease_until), paused.to_vec());
        let found = self
            .write(move |conn| deliveries::claimable(conn, now, limit, &paused))
            .await?;
        let held = found.into_iter().filter(|(seq, state, claimed)| {
            let held = Held {
                id: claimed.content.id,
                tenant: claimed.content.tenant.clone(),
                state: *state,
                lease_until,
            };
            self.inner.claims.hold(*seq, held)
        });
        Ok(held.map(|(_, _, claimed)| claimed).collect())
    }

    async fn renew(&self, id: Uuid, lease_until: DateTime<Utc>) -> Result<(), StoreError> {
        self.inner.claims.renew(id, millis(lease_until));
        Ok(())
    }

    async fn finish(
        &self,
        id: Uuid,
        attempts: Vec<Attempt>,
        finish: Finish,
        sent: Option<(Uuid, LastSent)>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let values = sent.clone();
        let claims = self.inner.claims.clone();
        self.write(move |conn| {
            if let Some((order, sent)) = &values {
                book::record_sent(conn, *order, sent, millis(now))?;
            }
            deliveries::finish(conn, &claims, id, &attempts, finish.clone(), now)
        })
        .await?;
        self.inner.claims.release(id);
        if let Some((order, sent)) = sent {
            self.inner.sent.written(order, sent);
        }
        Ok(())
    }

    async fn release_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(self.inner.claims.release_expired(millis(now)))
    }
}

#[async_trait]
impl DeliveryAdmin for SqliteStore {
    async fn list(&self, filter: &ListFilter) -> Result<Page, StoreError> {
        let claims = &self.inner.claims;
        let (wanted, held) = (filter.state, claims.seqs());
        let filter = filter.clone();
        let mut page = self
            .read(move |conn| admin::list(conn, &filter, &held))
            .await?;
        page.deliveries.iter_mut().for_each(|d| claims.overlay(d));
        // A held delivery's row says pending or retrying; it is listed as in flight.
        page.deliveries
            .retain(|d| wanted.is_none_or(|state| d.state == state));
        Ok(page)
    }

    async fn get(&self, id: Uuid) -> Result<Option<DeliveryRecord>, StoreError> {
        let mut found = self.read(move |conn| admin::get(conn, id)).await?;
        found.iter_mut().for_each(|d| self.inner.claims.overlay(d));
        Ok(found)
    }

    async fn retry(
        &self,
        id: Uuid,
        force: bool,
        now: DateTime<Utc>,
    ) -> Result<Retried, StoreError> {
        let now = millis(now);
        self.write(move |conn| admin::retry(conn, id, force, now))
            .await
    }

    async fn cancel(&self, id: Uuid) -> Result<Option<DeliveryRecord>, StoreError> {
        let now = millis(Utc::now());
        self.write(move |conn| admin::cancel(conn, id, now)).await
    }

    async fn delete(&self, id: Uuid) -> Result<Deleted, StoreError> {
        self.write(move |conn| admin::delete(conn, id)).await
    }

    async fn redrive(
        &self,
        filter: &RedriveFilter,
        now: DateTime<Utc>,
    ) -> Result<(u64, u64), StoreError> {
        let (filter, now) = (filter.clone(), millis(now));
        self.write(move |conn| admin::redrive(conn, &filter, now))
            .await
    }

    async fn order_deliveries(&self, order: Uuid) -> Result<Vec<DeliveryRecord>, StoreError> {
        let mut found = self
            .read(move |conn| admin::order_deliveries(conn, order))
            .await?;
        found.iter_mut().for_each(|d| self.inner.claims.overlay(d));
        Ok(found)
    }
}

#[async_trait]
impl StoreUpkeep for SqliteStore {
    /// Chunk by chunk, each its own request: webhooks' commits go between them.
    async fn purge(&self, now: DateTime<Utc>, retention: Retention) -> Result<u64, StoreError> {
        let now = millis(now);
        self.write(upkeep::schedule_stranded).await?;
        let mut removed = 0;
        loop {
            let (deliveries, more) = self
                .write(move |conn| upkeep::purge_chunk(conn, now, retention))
                .await?;
            removed += deliveries;
            if !more {
                // The purge may have forgotten orders; so do the caches.
                self.inner.bindings.forget();
                self.inner.sent.forget();
                return Ok(removed);
            }
        }
    }

    async fn depth(&self) -> Result<QueueDepth, StoreError> {
        let claims = self.inner.claims.clone();
        self.read(move |conn| upkeep::depth(conn, &claims)).await
    }

    async fn depth_by_tenant(&self) -> Result<BTreeMap<String, TenantDepth>, StoreError> {
        let mut depths = self.read(upkeep::depth_by_tenant).await?;
        self.inner.claims.adjust_tenants(&mut depths);
        Ok(depths)
    }

    /// The file watch first: commits into a file that is gone would succeed, and be lost.
    fn accepting(&self) -> Result<(), StoreError> {
        let inner = &self.inner;
        let cause = (inner.file.cause())
            .or_else(|| inner.writes.cause())
            .or_else(|| inner.stall.cause());
        cause.map_or(Ok(()), Err)
    }
}

#[async_trait]
impl RejectionStore for SqliteStore {
    /// A row in the writer's next batch: the webhooks committed beside it share its fsync.
    async fn keep_rejection(&self, rejection: Rejection) -> Result<(), StoreError> {
        let errors = rejections::encode_errors(&rejection.errors)?;
        self.write(move |conn| rejections::keep(conn, &rejection, errors.as_deref()))
            .await
    }

    /// The count read on a reader first: the writer is asked only when there is something to
    /// drop, and then drops it chunk by chunk, counting again in each chunk's transaction.
    async fn trim_rejections(&self, max: u64) -> Result<u64, StoreError> {
        if self.read(rejections::count).await? <= max {
            return Ok(0);
        }
        let mut dropped = 0;
        loop {
            let (gone, left) = self
                .write(move |conn| rejections::trim_chunk(conn, max))
                .await?;
            dropped += gone;
            if left <= max || gone == 0 {
                return Ok(dropped);
            }
        }
    }

    async fn rejections(&self, filter: &RejectionFilter) -> Result<RejectionPage, StoreError> {
        let filter = filter.clone();
        self.read(move |conn| rejections::list(conn, &filter, Listing::Newest))
            .await
    }

    async fn rejections_to_replay(
        &self,
        filter: &RejectionFilter,
    ) -> Result<RejectionPage, StoreError> {
        let filter = filter.clone();
        self.read(move |conn| rejections::list(conn, &filter, Listing::Replay))
            .await
    }

    async fn record_replay(&self, id: Uuid, delivery_id: Uuid) -> Result<(), StoreError> {
        self.write(move |conn| rejections::record_replay(conn, id, delivery_id))
            .await
    }

    async fn rejection(&self, id: Uuid) -> Result<Option<Rejection>, StoreError> {
        self.read(move |conn| rejections::get(conn, id)).await
    }

    async fn delete_rejection(&self, id: Uuid) -> Result<bool, StoreError> {
        self.write(move |conn| rejections::delete(conn, id)).await
    }
}

#[async_trait]
impl AcceptedBodies for SqliteStore {
    async fn accepted(
        &self,
        filter: &AcceptedFilter,
    ) -> Result<(Vec<AcceptedWebhook>, Option<String>), StoreError> {
        let filter = filter.clone();
        self.read(move |conn| bodies::list(conn, &filter)).await
    }

    async fn accepted_body(&self, delivery_id: Uuid) -> Result<Option<Bytes>, StoreError> {
        self.read(move |conn| bodies::get(conn, delivery_id)).await
    }
}
