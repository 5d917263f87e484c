//! Accepted bodies' rows: inserted by the delivery's own commit (`deliveries.rs`), read oldest
//! first by delivery id joined to their deliveries, purged from the oldest id in chunks. A
//! delivery's deletion takes its body (the schema's trigger).

use bytes::Bytes;
use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use uuid::Uuid;

use crate::order::StoreError;
use crate::queue::bodies::MAX_ACCEPTED;
use crate::queue::rejections::first_id_at;
use crate::queue::{AcceptedFilter, AcceptedWebhook, paged};

use super::error::json_error;
use super::rows::{CONTENT_COLUMNS, content};

/// Rows one purge statement deletes at most, so webhooks' commits go between chunks.
pub(super) const CHUNK: u64 = 2000;

pub(super) const INSERT: &str = "INSERT INTO bodies (delivery_id, body) VALUES (?1, ?2)";

/// The oldest first: ids sort by when each webhook was accepted.
pub(super) const PURGE: &str = "DELETE FROM bodies WHERE delivery_id IN
    (SELECT delivery_id FROM bodies WHERE delivery_id < ?1 ORDER BY delivery_id LIMIT ?2)";

/// Keeps the body of the delivery `id` (its id as stored), in the caller's transaction.
pub(super) fn keep(conn: &Connection, id: &str, body: &Bytes) -> Result<(), StoreError> {
    conn.prepare_cached(INSERT)?
        .execute(params![id, body.as_ref()])?;
    Ok(())
}

/// Oldest first; the cursor is the id of the previous page's last delivery. A cursor that is
/// not one (only a tampered one) yields an empty page. "Received" is the time of the v7 id,
/// so `since` and `until` bound the key. Prepared anew at each call, as operators' listings are.
pub(super) fn list(
    conn: &Connection,
    filter: &AcceptedFilter,
) -> Result<(Vec<AcceptedWebhook>, Option<String>), StoreError> {
    let mut sql = format!(
        "SELECT {CONTENT_COLUMNS}, b.body FROM bodies b JOIN deliveries d ON d.id = b.delivery_id
         WHERE 1 = 1"
    );
    let mut args: Vec<Value> = Vec::new();
    let mut and = |condition: &str, value: Value| {
        sql.push_str(condition);
        args.push(value);
    };
    if let Some(vendor) = &filter.vendor {
        and(" AND d.vendor = ?", Value::Text(vendor.clone()));
    }
    if let Some(since) = filter.since {
        let from = first_id_at(since).to_string();
        and(" AND b.delivery_id >= ?", Value::Text(from));
    }
    if let Some(until) = filter.until {
        let to = first_id_at(until).to_string();
        and(" AND b.delivery_id < ?", Value::Text(to));
    }
    if !filter.ids.is_empty() {
        let ids: Vec<String> = filter.ids.iter().map(Uuid::to_string).collect();
        let ids = serde_json::to_string(&ids).map_err(json_error)?;
        and(
            " AND b.delivery_id IN (SELECT value FROM json_each(?))",
            Value::Text(ids),
        );
    }
    if let Some(cursor) = &filter.cursor {
        let Ok(after) = Uuid::parse_str(cursor) else {
            return Ok((Vec::new(), None));
        };
        and(" AND b.delivery_id > ?", Value::Text(after.to_string()));
    }
    let limit = filter.limit.clamp(1, MAX_ACCEPTED);
    // One row more than the page tells whether another page follows.
    and(
        " ORDER BY b.delivery_id LIMIT ?",
        Value::Integer(limit as i64 + 1),
    );
    let mut statement = conn.prepare(&sql)?;
    let rows = statement.query_map(params_from_iter(args), |row| {
        Ok(AcceptedWebhook {
            content: content(row, 0)?,
            body: Bytes::from(row.get::<_, Vec<u8>>(9)?),
        })
    })?;
    let accepted: Vec<AcceptedWebhook> = rows.collect::<Result<_, _>>()?;
    Ok(paged(accepted, limit, |a| a.content.id.to_string()))
}

pub(super) fn get(conn: &Connection, id: Uuid) -> Result<Option<Bytes>, StoreError> {
    let found = conn
        .prepare_cached("SELECT body FROM bodies WHERE delivery_id = ?1")?
        .query_row([id.to_string()], |row| row.get::<_, Vec<u8>>(0))
        .optional()?;
    Ok(found.map(Bytes::from))
}

/// One chunk of the purge: the bodies of webhooks accepted before `cutoff` (milliseconds),
/// oldest first.
pub(super) fn purge_chunk(conn: &Connection, cutoff: i64) -> Result<u64, StoreError> {
    let cutoff = DateTime::<Utc>::from_timestamp_millis(cutoff).unwrap_or(DateTime::UNIX_EPOCH);
    let deleted = conn
        .prepare_cached(PURGE)?
        .execute(params![first_id_at(cutoff).to_string(), CHUNK as i64])?;
    Ok(deleted as u64)
}
