//! Housekeeping: the purge of what retention no longer keeps, in bounded chunks (each its own
//! transaction, skipping rows another process is purging, so replicas purging at once neither
//! wait for each other nor hold long locks), and the queue's depth for metrics and
//! back-pressure: the whole fleet's queue, whichever process asks.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::Object;

use crate::order::StoreError;
use crate::queue::{DeliveryState, QueueDepth, Retention, TenantDepth};

use super::rows::{self, OPEN, before};
use super::{bodies, rejections};

/// Rows one purge statement deletes at most; the purge repeats while a chunk was full.
const PURGE_CHUNK: i64 = 2000;

/// Their attempts, dedup keys and bodies go with them (cascade).
const DELIVERED: &str = "DELETE FROM deliveries WHERE seq IN (SELECT seq FROM deliveries
    WHERE state = 'delivered' AND updated_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)";

const DEAD: &str = "DELETE FROM deliveries WHERE seq IN (SELECT seq FROM deliveries
    WHERE state = 'dead' AND updated_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)";

/// A key still guards its delivery while that is open, however old.
fn dedup_sql() -> String {
    format!(
        "DELETE FROM dedup WHERE (vendor, event_id) IN
             (SELECT k.vendor, k.event_id FROM dedup k
              WHERE k.created_at < $1 AND NOT EXISTS (SELECT 1 FROM deliveries d
                  WHERE d.id = k.delivery_id AND d.state IN {OPEN})
              LIMIT $2 FOR UPDATE OF k SKIP LOCKED)"
    )
}

/// An order is forgotten as a whole once neither its binding nor its last-sent values were
/// touched within the retention: an order bound long ago but updated lately keeps both.
const BINDINGS: &str = "DELETE FROM bindings WHERE order_id IN (SELECT b.order_id FROM bindings b
    WHERE b.bound_at < $1 AND NOT EXISTS (SELECT 1 FROM last_sent l
        WHERE l.order_id = b.order_id AND l.updated_at >= $1)
    LIMIT $2 FOR UPDATE OF b SKIP LOCKED)";

const LAST_SENT: &str = "DELETE FROM last_sent WHERE order_id IN (SELECT l.order_id
    FROM last_sent l
    WHERE l.updated_at < $1 AND NOT EXISTS (SELECT 1 FROM bindings b
        WHERE b.order_id = l.order_id AND b.bound_at >= $1)
    LIMIT $2 FOR UPDATE OF l SKIP LOCKED)";

/// Chunk by chunk until none is full; the deliveries (their attempts and bodies go with them)
/// and the rejections removed. Bodies past their own retention go too, uncounted.
pub(super) async fn purge(
    client: &Object,
    now: DateTime<Utc>,
    retention: Retention,
) -> Result<u64, StoreError> {
    let dedup = dedup_sql();
    let orders = before(now, retention.orders);
    let mut removed = 0;
    loop {
        let delivered = delete_chunk(client, DELIVERED, before(now, retention.delivered)).await?;
        // A zero `dead` retention keeps dead records until an operator retries or deletes them.
        let dead = if retention.dead.is_zero() {
            0
        } else {
            delete_chunk(client, DEAD, before(now, retention.dead)).await?
        };
        let keys = delete_chunk(client, &dedup, before(now, retention.dedup_window)).await?;
        let bindings = delete_chunk(client, BINDINGS, orders).await?;
        let sent = delete_chunk(client, LAST_SENT, orders).await?;
        removed += delivered + dead;
        let full = [delivered, dead, keys, bindings, sent]
            .iter()
            .any(|n| *n >= PURGE_CHUNK as u64);
        if !full {
            bodies::purge(client, now, retention.bodies).await?;
            return Ok(removed + rejections::purge(client, now, retention.rejections).await?);
        }
    }
}

async fn delete_chunk(
    client: &Object,
    sql: &str,
    cutoff: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.execute(&statement, &[&cutoff, &PURGE_CHUNK]).await?)
}

/// Counts per open state and dead. "Oldest" is the `created_at` of the earliest committed
/// delivery in that state, found through the (state, seq) index instead of a scan.
pub(super) async fn depth(client: &Object) -> Result<QueueDepth, StoreError> {
    let counts = client
        .prepare_cached(
            "SELECT state, count(*) FROM deliveries
             WHERE state IN ('pending', 'in_flight', 'retrying', 'dead') GROUP BY state",
        )
        .await?;
    let mut depth = QueueDepth::default();
    for row in client.query(&counts, &[]).await? {
        let count: i64 = row.try_get(1)?;
        let count = u64::try_from(count).unwrap_or(0);
        match rows::state(&row, 0)? {
            DeliveryState::Pending => depth.pending = count,
            DeliveryState::InFlight => depth.in_flight = count,
            DeliveryState::Retrying => depth.retrying = count,
            DeliveryState::Dead => depth.dead = count,
            DeliveryState::Delivered => {}
        }
    }
    depth.oldest_pending = oldest(client, DeliveryState::Pending).await?;
    depth.oldest_retrying = oldest(client, DeliveryState::Retrying).await?;
    Ok(depth)
}

/// The open and dead deliveries per tenant: the state condition lets the (state, seq) index
/// find them, so delivered ones, most of the table, need not be read.
pub(super) async fn depth_by_tenant(
    client: &Object,
) -> Result<BTreeMap<String, TenantDepth>, StoreError> {
    let counts = client
        .prepare_cached(
            "SELECT tenant, state, count(*) FROM deliveries
             WHERE state IN ('pending', 'in_flight', 'retrying', 'dead') GROUP BY tenant, state",
        )
        .await?;
    let mut depths: BTreeMap<String, TenantDepth> = BTreeMap::new();
    for row in client.query(&counts, &[]).await? {
        let tenant: String = row.try_get(0)?;
        let count: i64 = row.try_get(2)?;
        let state = rows::state(&row, 1)?;
        depths
            .entry(tenant)
            .or_default()
            .set(state, u64::try_from(count).unwrap_or(0));
    }
    Ok(depths)
}

async fn oldest(
    client: &Object,
    state: DeliveryState,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let statement = client
        .prepare_cached("SELECT created_at FROM deliveries WHERE state = $1 ORDER BY seq LIMIT 1")
        .await?;
    let row = client.query_opt(&statement, &[&state.as_str()]).await?;
    Ok(row.map(|row| row.try_get(0)).transpose()?)
}
