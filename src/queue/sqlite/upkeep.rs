//! Housekeeping: the purge of what retention no longer keeps, in bounded chunks so webhooks'
//! commits interleave with it, and the queue's depth for metrics and back-pressure. "Open" is
//! written `state > 'delivered'`, as in `deliveries.rs`; a query of unfinished deliveries
//! names `state <> 'delivered'`, the condition of their partial index, so SQLite reads that.

use std::collections::BTreeMap;

use rusqlite::{Connection, params};

use crate::order::StoreError;
use crate::queue::{DeliveryState, QueueDepth, Retention, TenantDepth};

use super::claims::Claims;
use super::rows::{before, time, uuid};
use super::{bodies, keys, rejections};

/// Rows one purge statement deletes at most; the purge repeats while a chunk was full.
const PURGE_CHUNK: i64 = 2000;

/// Delivered deliveries by key range: those accepted before the cutoff (`keys.rs`), from the
/// oldest. What such a range still holds (open, dead, or delivered lately after a long wait) is
/// stepped over, and it is few.
const DELIVERED: &str = "DELETE FROM deliveries WHERE seq IN (SELECT seq FROM deliveries
    WHERE seq < ?3 AND state = 'delivered' AND updated_at < ?1 ORDER BY seq LIMIT ?2)";

const DEAD: &str = "DELETE FROM deliveries WHERE seq IN (SELECT seq FROM deliveries
    INDEXED BY deliveries_unfinished
    WHERE state <> 'delivered' AND state = 'dead' AND updated_at < ?1 LIMIT ?2)";

/// An order is forgotten as a whole once neither its binding nor its last-sent values were
/// touched within the retention: an order bound long ago but updated lately keeps both.
const BINDINGS: &str = "DELETE FROM bindings WHERE rowid IN (SELECT b.rowid FROM bindings b
    WHERE b.bound_at < ?1 AND NOT EXISTS (SELECT 1 FROM last_sent l
        WHERE l.order_id = b.order_id AND l.updated_at >= ?1)
    LIMIT ?2)";

const LAST_SENT: &str =
    "DELETE FROM last_sent WHERE order_id IN (SELECT l.order_id FROM last_sent l
    WHERE l.updated_at < ?1 AND NOT EXISTS (SELECT 1 FROM bindings b
        WHERE b.order_id = l.order_id AND b.bound_at >= ?1)
    LIMIT ?2)";

/// Queued deliveries left unscheduled although nothing is ahead of them in their order's line
/// are made due: every path that ends a turn schedules the next one, and this makes sure of it.
const STRANDED: &str = "UPDATE deliveries INDEXED BY deliveries_unfinished
    SET next_attempt_at = created_at
    WHERE state <> 'delivered' AND state = 'pending' AND mode = 'queued'
      AND next_attempt_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM deliveries e
          WHERE e.order_id = deliveries.order_id AND e.seq < deliveries.seq
            AND e.state > 'delivered')";

/// Run once per purge, before its chunks.
pub(super) fn schedule_stranded(conn: &Connection) -> Result<(), StoreError> {
    conn.prepare_cached(STRANDED)?.execute([])?;
    Ok(())
}

/// One chunk of the purge: the deliveries and rejections it removed (the deliveries' calls,
/// dedup keys and bodies go with them; bodies past their own retention go uncounted), and
/// whether any statement hit the chunk size (so more may be left).
pub(super) fn purge_chunk(
    conn: &Connection,
    now: i64,
    retention: Retention,
) -> Result<(u64, bool), StoreError> {
    let cutoff = before(now, retention.delivered);
    let delivered = conn.prepare_cached(DELIVERED)?.execute(params![
        cutoff,
        PURGE_CHUNK,
        keys::first_at(cutoff)
    ])? as u64;
    // A zero `dead` retention keeps dead records until an operator retries or deletes them.
    let dead = if retention.dead.is_zero() {
        0
    } else {
        delete_chunk(conn, DEAD, before(now, retention.dead))?
    };
    let orders = before(now, retention.orders);
    let bindings = delete_chunk(conn, BINDINGS, orders)?;
    let sent = delete_chunk(conn, LAST_SENT, orders)?;
    let refused = rejections::purge_chunk(conn, before(now, retention.rejections))?;
    let kept_bodies = bodies::purge_chunk(conn, before(now, retention.bodies))?;
    let full = [delivered, dead, bindings, sent]
        .iter()
        .any(|n| *n >= PURGE_CHUNK as u64)
        || refused >= rejections::CHUNK
        || kept_bodies >= bodies::CHUNK;
    Ok((delivered + dead + refused, full))
}

fn delete_chunk(conn: &Connection, sql: &str, cutoff: i64) -> Result<u64, StoreError> {
    let deleted = conn
        .prepare_cached(sql)?
        .execute(params![cutoff, PURGE_CHUNK])?;
    Ok(deleted as u64)
}

/// Counts per open state and dead. "Oldest" is the `created_at` of the earliest committed
/// delivery in that state: found through the unfinished deliveries' (state, seq) index.
/// Held claims (`claims.rs`) count as in flight, not in their rows' states.
pub(super) fn depth(conn: &Connection, claims: &Claims) -> Result<QueueDepth, StoreError> {
    let mut depth = QueueDepth::default();
    let mut counts = conn.prepare_cached(
        "SELECT state, COUNT(*) FROM deliveries INDEXED BY deliveries_unfinished
         WHERE state <> 'delivered' GROUP BY state",
    )?;
    let rows = counts.query_map([], |row| {
        Ok((super::rows::state(row, 0)?, row.get::<_, i64>(1)?))
    })?;
    for row in rows {
        let (state, count) = row?;
        let count = u64::try_from(count).unwrap_or(0);
        match state {
            DeliveryState::Pending => depth.pending = count,
            DeliveryState::InFlight => depth.in_flight = count,
            DeliveryState::Retrying => depth.retrying = count,
            DeliveryState::Dead => depth.dead = count,
            DeliveryState::Delivered => {}
        }
    }
    depth.oldest_pending = oldest(conn, claims, DeliveryState::Pending)?;
    depth.oldest_retrying = oldest(conn, claims, DeliveryState::Retrying)?;
    claims.adjust_depth(&mut depth);
    Ok(depth)
}

/// The open and dead deliveries per tenant, read through the unfinished deliveries' index:
/// delivered ones, most of the table, are never visited.
pub(super) fn depth_by_tenant(
    conn: &Connection,
) -> Result<BTreeMap<String, TenantDepth>, StoreError> {
    let mut counts = conn.prepare_cached(
        "SELECT tenant, state, COUNT(*) FROM deliveries INDEXED BY deliveries_unfinished
         WHERE state <> 'delivered' GROUP BY tenant, state",
    )?;
    let rows = counts.query_map([], |row| {
        let tenant: String = row.get(0)?;
        Ok((tenant, super::rows::state(row, 1)?, row.get::<_, i64>(2)?))
    })?;
    let mut depths: BTreeMap<String, TenantDepth> = BTreeMap::new();
    for row in rows {
        let (tenant, state, count) = row?;
        let count = u64::try_from(count).unwrap_or(0);
        depths.entry(tenant).or_default().set(state, count);
    }
    Ok(depths)
}

/// The earliest delivery in `state` that is not held: held ones are in flight.
fn oldest(
    conn: &Connection,
    claims: &Claims,
    state: DeliveryState,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT id, created_at FROM deliveries INDEXED BY deliveries_unfinished
         WHERE state <> 'delivered' AND state = ?1 ORDER BY seq LIMIT ?2",
    )?;
    let read = i64::try_from(claims.count() + 1).unwrap_or(i64::MAX);
    let mut rows = statement.query(params![state.as_str(), read])?;
    while let Some(row) = rows.next()? {
        if !claims.is_held(uuid(row, 0)?) {
            return Ok(Some(time(row, 1)?));
        }
    }
    Ok(None)
}
