//! Accepted bodies' rows, keyed by their delivery's `seq` (in time order, `keys.rs`): inserted
//! by the delivery's own commit (`deliveries.rs`), read oldest first joined to their
//! deliveries, purged from the oldest key in chunks. A delivery's deletion takes its body (the
//! schema's trigger).

use bytes::Bytes;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use uuid::Uuid;

use crate::order::StoreError;
use crate::queue::bodies::MAX_ACCEPTED;
use crate::queue::{AcceptedFilter, AcceptedWebhook, paged};

use super::error::json_error;
use super::keys;
use super::rows::{CONTENT_COLUMNS, content, millis};

/// Rows one purge statement deletes at most, so webhooks' commits go between chunks.
pub(super) const CHUNK: u64 = 2000;

pub(super) const INSERT: &str = "INSERT INTO bodies (seq, body) VALUES (?1, ?2)";

/// The oldest first: keys sort by when each webhook was accepted.
pub(super) const PURGE: &str = "DELETE FROM bodies WHERE seq IN
    (SELECT seq FROM bodies WHERE seq < ?1 ORDER BY seq LIMIT ?2)";

/// Keeps the body of the delivery `seq`, in the caller's transaction.
pub(super) fn keep(conn: &Connection, seq: i64, body: &Bytes) -> Result<(), StoreError> {
    conn.prepare_cached(INSERT)?
        .execute(params![seq, body.as_ref()])?;
    Ok(())
}

/// Oldest first; the cursor is the key of the previous page's last delivery. A cursor that is
/// not one (only a tampered one) yields an empty page. "Received" is the delivery's time.
/// Prepared anew at each call, as operators' listings are.
pub(super) fn list(
    conn: &Connection,
    filter: &AcceptedFilter,
) -> Result<(Vec<AcceptedWebhook>, Option<String>), StoreError> {
    let mut sql = format!(
        "SELECT {CONTENT_COLUMNS}, b.body, b.seq FROM bodies b JOIN deliveries d ON d.seq = b.seq
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
    // A delivery accepted at `since` or later has a key at least `since`'s first (`keys.rs`),
    // so `since` bounds the range read; `until` is checked on each row, as a burst's keys may
    // run ahead of their times.
    if let Some(since) = filter.since {
        let since = millis(since);
        and(" AND b.seq >= ?", Value::Integer(keys::first_at(since)));
        and(" AND d.created_at >= ?", Value::Integer(since));
    }
    if let Some(until) = filter.until {
        and(" AND d.created_at < ?", Value::Integer(millis(until)));
    }
    if !filter.ids.is_empty() {
        let ids: Vec<String> = filter.ids.iter().map(Uuid::to_string).collect();
        let ids = serde_json::to_string(&ids).map_err(json_error)?;
        and(
            " AND d.id IN (SELECT unhex(replace(value, '-', '')) FROM json_each(?))",
            Value::Text(ids),
        );
    }
    if let Some(cursor) = &filter.cursor {
        let Ok(after) = cursor.parse::<i64>() else {
            return Ok((Vec::new(), None));
        };
        and(" AND b.seq > ?", Value::Integer(after));
    }
    let limit = filter.limit.clamp(1, MAX_ACCEPTED);
    // One row more than the page tells whether another page follows.
    and(" ORDER BY b.seq LIMIT ?", Value::Integer(limit as i64 + 1));
    let mut statement = conn.prepare(&sql)?;
    let rows = statement.query_map(params_from_iter(args), |row| {
        let accepted = AcceptedWebhook {
            content: content(row, 0)?,
            body: Bytes::from(row.get::<_, Vec<u8>>(9)?),
        };
        Ok((row.get::<_, i64>(10)?, accepted))
    })?;
    let accepted: Vec<(i64, AcceptedWebhook)> = rows.collect::<Result<_, _>>()?;
    let (accepted, next) = paged(accepted, limit, |(seq, _)| seq.to_string());
    Ok((accepted.into_iter().map(|(_, a)| a).collect(), next))
}

pub(super) fn get(conn: &Connection, id: Uuid) -> Result<Option<Bytes>, StoreError> {
    let found = conn
        .prepare_cached(
            "SELECT b.body FROM deliveries d JOIN bodies b ON b.seq = d.seq WHERE d.id = ?1",
        )?
        .query_row([id], |row| row.get::<_, Vec<u8>>(0))
        .optional()?;
    Ok(found.map(Bytes::from))
}

/// One chunk of the purge: the bodies of webhooks accepted before `cutoff` (milliseconds),
/// oldest first.
pub(super) fn purge_chunk(conn: &Connection, cutoff: i64) -> Result<u64, StoreError> {
    let deleted = conn
        .prepare_cached(PURGE)?
        .execute(params![keys::first_at(cutoff), CHUNK as i64])?;
    Ok(deleted as u64)
}
