//! The admin API's queries: list and read deliveries, and the operator's retry, cancel, delete
//! and redrive. Only queued deliveries are retried: a sync one's vendor owns its retry (its
//! dedup key was given back), so retrying it here could send the update twice.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use uuid::Uuid;

use crate::order::StoreError;
use crate::queue::{
    Deleted, DeliveryRecord, DeliveryState, ListFilter, Page, RedriveFilter, Retried, SCAN_WINDOW,
    paged,
};

use super::deliveries::{give_back_key, schedule_next};
use super::error::json_error;
use super::keys;
use super::rows::{self, Brief, millis, record_by_seq, record_rows, record_sql, records};

/// The largest page, whatever the caller asks.
const MAX_LIMIT: usize = 500;

/// Newest first; the cursor is the `seq` of the previous page's last delivery. A cursor that
/// is not one (it is opaque to callers, so only a tampered one) yields an empty page.
///
/// An order's deliveries, and the unfinished ones by state, are read along an index. Other
/// filters (vendor, tenant, delivered) have no index: each accepted webhook would pay for one.
/// Their page reads a window of at most [`SCAN_WINDOW`] deliveries down from the cursor and,
/// when the window ends before the page is full, names the window's end as the next cursor.
/// `held`: the keys of the deliveries held in flight (`claims.rs`), listed under `in_flight`
/// although their rows say otherwise.
pub(super) fn list(
    conn: &Connection,
    filter: &ListFilter,
    held: &[i64],
) -> Result<Page, StoreError> {
    let mut sql = String::from(record_sql!("WHERE 1 = 1"));
    let mut args: Vec<Value> = Vec::new();
    let mut and = |condition: &str, value: Value| {
        sql.push_str(condition);
        args.push(value);
    };
    // The partial index of unfinished deliveries serves a query that names its condition.
    match filter.state {
        None => {}
        Some(DeliveryState::Delivered) => and(" AND state = ?", Value::Text("delivered".into())),
        Some(DeliveryState::InFlight) => {
            let held = serde_json::to_string(held).map_err(json_error)?;
            and(
                " AND state <> 'delivered' AND (state = 'in_flight'
                      OR seq IN (SELECT value FROM json_each(?)))",
                Value::Text(held),
            );
        }
        Some(state) => and(
            " AND state <> 'delivered' AND state = ?",
            Value::Text(state.as_str().to_owned()),
        ),
    }
    if let Some(vendor) = &filter.vendor {
        and(" AND vendor = ?", Value::Text(vendor.clone()));
    }
    if let Some(tenant) = &filter.tenant {
        and(" AND tenant = ?", Value::Text(tenant.clone()));
    }
    if let Some(order) = filter.order_id {
        and(" AND order_id = ?", Value::Blob(order.as_bytes().to_vec()));
    }
    if let Some(since) = filter.since {
        let since = millis(since);
        and(" AND seq >= ?", Value::Integer(keys::first_at(since)));
        and(" AND created_at >= ?", Value::Integer(since));
    }
    let from = match &filter.cursor {
        None => i64::MAX,
        Some(cursor) => match cursor.parse::<i64>() {
            Ok(seq) => seq,
            Err(_) => {
                return Ok(Page {
                    deliveries: Vec::new(),
                    next_cursor: None,
                });
            }
        },
    };
    and(" AND seq < ?", Value::Integer(from));
    let window = window_end(conn, filter, from)?;
    if let Some(end) = window {
        and(" AND seq >= ?", Value::Integer(end));
    }
    let limit = filter.limit.clamp(1, MAX_LIMIT);
    // One row more than the page tells whether another page follows.
    and(
        " ORDER BY seq DESC LIMIT ?",
        Value::Integer(limit as i64 + 1),
    );
    let rows = record_rows(conn, &sql, params_from_iter(args))?;
    let (rows, next_cursor) = match (paged(rows, limit, |(seq, _)| seq.to_string()), window) {
        ((rows, None), Some(end)) => (rows, Some(end.to_string())),
        (page, _) => page,
    };
    Ok(Page {
        deliveries: records(rows),
        next_cursor,
    })
}

/// Where the page's window ends (its lowest `seq`), when its filters have no index to read
/// and the table holds more than a window below `from`; `None` reads to the table's start.
fn window_end(
    conn: &Connection,
    filter: &ListFilter,
    from: i64,
) -> Result<Option<i64>, StoreError> {
    let indexed = filter.order_id.is_some()
        || filter
            .state
            .is_some_and(|state| state != DeliveryState::Delivered);
    if indexed || (filter.vendor.is_none() && filter.tenant.is_none() && filter.state.is_none()) {
        return Ok(None);
    }
    let end = conn
        .prepare_cached(
            "SELECT seq FROM deliveries WHERE seq < ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2",
        )?
        .query_row(params![from, SCAN_WINDOW as i64 - 1], |row| row.get(0))
        .optional()?;
    Ok(end)
}

pub(super) fn get(conn: &Connection, id: Uuid) -> Result<Option<DeliveryRecord>, StoreError> {
    let rows = record_rows(conn, record_sql!("WHERE id = ?1"), [id])?;
    Ok(records(rows).pop())
}

pub(super) fn order_deliveries(
    conn: &Connection,
    order: Uuid,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    let sql = record_sql!("WHERE order_id = ?1 ORDER BY seq DESC");
    Ok(records(record_rows(conn, sql, [order])?))
}

/// The operator's fresh start: the schedule from the top, the refusal forgotten. `patched`
/// stays: a patch Flow accepted is not sent again.
const REQUEUE: &str = "state = 'pending', attempts = 0, error = NULL, flow_status = NULL,
    flow_body = NULL, lease_until = NULL, next_attempt_at = ?1, updated_at = ?1";

/// A later delivery of the same order reached Flow: this one would overwrite newer values.
const SUPERSEDED: &str = "EXISTS (SELECT 1 FROM deliveries l
    WHERE l.order_id = d.order_id AND l.seq > d.seq AND l.state = 'delivered')";

pub(super) fn retry(
    conn: &Connection,
    id: Uuid,
    force: bool,
    now: i64,
) -> Result<Retried, StoreError> {
    let Some(delivery) = rows::brief(conn, id)? else {
        return Ok(Retried::NotFound);
    };
    if delivery.state != DeliveryState::Dead || !delivery.queued {
        return Ok(Retried::NotDead);
    }
    let superseded_sql = format!("SELECT {SUPERSEDED} FROM deliveries d WHERE d.seq = ?1");
    let superseded: bool = conn
        .prepare_cached(&superseded_sql)?
        .query_row([delivery.seq], |row| row.get(0))?;
    if superseded && !force {
        return Ok(Retried::Superseded);
    }
    let requeue = format!("UPDATE deliveries SET {REQUEUE} WHERE seq = ?2");
    conn.prepare_cached(&requeue)?
        .execute(params![now, delivery.seq])?;
    Ok(Retried::Queued(record_by_seq(conn, delivery.seq)?))
}

/// Every matching dead queued delivery: the superseded ones are counted, the rest requeued.
pub(super) fn redrive(
    conn: &Connection,
    filter: &RedriveFilter,
    now: i64,
) -> Result<(u64, u64), StoreError> {
    let mut matching =
        String::from("d.state <> 'delivered' AND d.state = 'dead' AND d.mode = 'queued'");
    let mut filters: Vec<Value> = Vec::new();
    if let Some(vendor) = &filter.vendor {
        matching.push_str(" AND d.vendor = ?");
        filters.push(Value::Text(vendor.clone()));
    }
    if let Some(tenant) = &filter.tenant {
        matching.push_str(" AND d.tenant = ?");
        filters.push(Value::Text(tenant.clone()));
    }
    if let Some(since) = filter.since {
        matching.push_str(" AND d.created_at >= ?");
        filters.push(Value::Integer(millis(since)));
    }
    let count = format!("SELECT COUNT(*) FROM deliveries d WHERE {matching} AND {SUPERSEDED}");
    let superseded: i64 = conn
        .prepare_cached(&count)?
        .query_row(params_from_iter(&filters), |row| row.get(0))?;
    // REQUEUE's `?1` is `now`; the filters' anonymous parameters number on from it.
    let requeue = format!(
        "UPDATE deliveries SET {REQUEUE} WHERE seq IN
             (SELECT d.seq FROM deliveries d WHERE {matching} AND NOT {SUPERSEDED})"
    );
    let args = std::iter::once(Value::Integer(now)).chain(filters);
    let redriven = conn
        .prepare_cached(&requeue)?
        .execute(params_from_iter(args))?;
    Ok((redriven as u64, u64::try_from(superseded).unwrap_or(0)))
}

/// An open delivery becomes dead with error `cancelled` (an in-flight attempt's `finish` will
/// not revive it); a finished one is returned as it is.
pub(super) fn cancel(
    conn: &Connection,
    id: Uuid,
    now: i64,
) -> Result<Option<DeliveryRecord>, StoreError> {
    let Some(delivery) = rows::brief(conn, id)? else {
        return Ok(None);
    };
    if delivery.state.is_open() {
        conn.prepare_cached(
            "UPDATE deliveries SET state = 'dead', error = 'cancelled', next_attempt_at = NULL,
                 lease_until = NULL, updated_at = ?2
             WHERE seq = ?1",
        )?
        .execute(params![delivery.seq, now])?;
        if !delivery.queued {
            give_back_key(conn, delivery.seq)?;
        }
        schedule_next(conn, delivery.seq)?;
    }
    record_by_seq(conn, delivery.seq).map(Some)
}

/// Only finished deliveries go; their calls, body and dedup key go with them.
pub(super) fn delete(conn: &Connection, id: Uuid) -> Result<Deleted, StoreError> {
    let Some(Brief { seq, state, .. }) = rows::brief(conn, id)? else {
        return Ok(Deleted::NotFound);
    };
    if state.is_open() {
        return Ok(Deleted::Open);
    }
    conn.prepare_cached("DELETE FROM deliveries WHERE seq = ?1")?
        .execute([seq])?;
    Ok(Deleted::Deleted)
}
