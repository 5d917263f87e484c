//! Rejections' rows: kept in the writer's batches beside the webhooks' commits, listed newest
//! first by id, trimmed and purged from the oldest id. Their number is a row the schema's
//! triggers keep (`schema.rs`), so the trim, every second, reads one row to find nothing to do.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use rusqlite::types::{Type, Value};
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use uuid::Uuid;

use crate::order::StoreError;
use crate::queue::paged;
use crate::queue::rejections::first_id_at;
use crate::queue::{Rejection, RejectionFilter, RejectionPage};

use super::error::json_error;
use super::rows::{millis, opt_uuid, time, unreadable, uuid};

/// The largest page of a listing, whatever the caller asks.
const MAX_LIMIT: usize = 500;

/// The largest page of a replay (contract section 17).
const MAX_REPLAY: usize = 1000;

/// Rows one trim or purge statement deletes at most, so webhooks' commits go between chunks.
pub(super) const CHUNK: u64 = 2000;

/// Every column but the body, in the order [`rejection`] reads them.
const COLUMNS: &str = "id, vendor, received_at, status, code, detail, errors, event_id, \
                       request_id, content_type, delivery_id";

pub(super) const INSERT: &str =
    "INSERT INTO rejections (id, vendor, received_at, status, code, detail,
    errors, event_id, request_id, content_type, delivery_id, body)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

/// The oldest first: ids sort by when each was received.
pub(super) const DROP_OLDEST: &str = "DELETE FROM rejections WHERE id IN
    (SELECT id FROM rejections ORDER BY id LIMIT ?1)";

pub(super) const PURGE: &str = "DELETE FROM rejections WHERE id IN
    (SELECT id FROM rejections WHERE id < ?1 ORDER BY id LIMIT ?2)";

/// The problem's `errors` as stored: NULL when it had none.
pub(super) fn encode_errors(errors: &serde_json::Value) -> Result<Option<String>, StoreError> {
    match errors {
        serde_json::Value::Null => Ok(None),
        some => serde_json::to_string(some).map(Some).map_err(json_error),
    }
}

/// Inserts `rejection`, whose `errors` are `errors` ([`encode_errors`]).
pub(super) fn keep(
    conn: &Connection,
    rejection: &Rejection,
    errors: Option<&str>,
) -> Result<(), StoreError> {
    conn.prepare_cached(INSERT)?.execute(params![
        rejection.id.to_string(),
        rejection.vendor,
        millis(rejection.received_at),
        rejection.status,
        rejection.code,
        rejection.detail,
        errors,
        rejection.event_id,
        rejection.request_id,
        rejection.content_type,
        rejection.delivery_id.map(|id| id.to_string()),
        rejection.body.as_ref(),
    ])?;
    Ok(())
}

/// One rejection (the columns of [`COLUMNS`], then the body when `with_body`).
fn rejection(row: &Row<'_>, with_body: bool) -> rusqlite::Result<Rejection> {
    let errors = match row.get::<_, Option<String>>(6)? {
        None => serde_json::Value::Null,
        Some(text) => {
            serde_json::from_str(&text).map_err(|_| unreadable(6, Type::Text, "not JSON errors"))?
        }
    };
    let body = if with_body {
        Bytes::from(row.get::<_, Vec<u8>>(11)?)
    } else {
        Bytes::new()
    };
    Ok(Rejection {
        id: uuid(row, 0)?,
        vendor: row.get(1)?,
        received_at: time(row, 2)?,
        status: row.get(3)?,
        code: row.get(4)?,
        detail: row.get(5)?,
        errors,
        event_id: row.get(7)?,
        request_id: row.get(8)?,
        content_type: row.get(9)?,
        body,
        delivery_id: opt_uuid(row, 10)?,
    })
}

/// A listing's order, page size and columns.
#[derive(Clone, Copy, Debug)]
pub(super) enum Listing {
    /// An operator's listing: newest first, without bodies.
    Newest,
    /// A replay's selection: oldest first, with bodies.
    Replay,
}

impl Listing {
    /// The largest page, whatever the caller asks.
    fn max_limit(self) -> usize {
        match self {
            Listing::Newest => MAX_LIMIT,
            Listing::Replay => MAX_REPLAY,
        }
    }
}

/// In `listing`'s order; the cursor is the id of the previous page's last rejection. A cursor
/// that is not one (it is opaque to callers, so only a tampered one) yields an empty page.
/// Prepared anew at each call: an operator's rare listing does not push the webhooks'
/// statements out of the connection's cache.
pub(super) fn list(
    conn: &Connection,
    filter: &RejectionFilter,
    listing: Listing,
) -> Result<RejectionPage, StoreError> {
    let with_body = matches!(listing, Listing::Replay);
    let columns = if with_body {
        format!("{COLUMNS}, body")
    } else {
        COLUMNS.to_owned()
    };
    let mut sql = format!("SELECT {columns} FROM rejections WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::new();
    let mut and = |condition: &str, value: Value| {
        sql.push_str(condition);
        args.push(value);
    };
    if let Some(vendor) = &filter.vendor {
        and(" AND vendor = ?", Value::Text(vendor.clone()));
    }
    if let Some(code) = &filter.code {
        and(" AND code = ?", Value::Text(code.clone()));
    }
    if let Some(since) = filter.since {
        and(" AND id >= ?", Value::Text(first_id_at(since).to_string()));
    }
    if let Some(until) = filter.until {
        and(" AND id < ?", Value::Text(first_id_at(until).to_string()));
    }
    if !filter.ids.is_empty() {
        let list = vec!["?"; filter.ids.len()].join(", ");
        sql.push_str(&format!(" AND id IN ({list})"));
        args.extend(filter.ids.iter().map(|id| Value::Text(id.to_string())));
    }
    let mut and = |condition: &str, value: Value| {
        sql.push_str(condition);
        args.push(value);
    };
    if let Some(cursor) = &filter.cursor {
        let Ok(after) = Uuid::parse_str(cursor) else {
            return Ok(RejectionPage {
                rejections: Vec::new(),
                next_cursor: None,
            });
        };
        let beyond = match listing {
            Listing::Newest => " AND id < ?",
            Listing::Replay => " AND id > ?",
        };
        and(beyond, Value::Text(after.to_string()));
    }
    let limit = filter.limit.clamp(1, listing.max_limit());
    let order = match listing {
        Listing::Newest => " ORDER BY id DESC LIMIT ?",
        Listing::Replay => " ORDER BY id LIMIT ?",
    };
    // One row more than the page tells whether another page follows.
    and(order, Value::Integer(limit as i64 + 1));
    let mut statement = conn.prepare(&sql)?;
    let rows = statement.query_map(params_from_iter(args), |row| rejection(row, with_body))?;
    let rejections: Vec<Rejection> = rows.collect::<Result<_, _>>()?;
    let (rejections, next_cursor) = paged(rejections, limit, |r| r.id.to_string());
    Ok(RejectionPage {
        rejections,
        next_cursor,
    })
}

/// Records the delivery a replay made of rejection `id`.
pub(super) fn record_replay(
    conn: &Connection,
    id: Uuid,
    delivery_id: Uuid,
) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE rejections SET delivery_id = ?2 WHERE id = ?1")?
        .execute([id.to_string(), delivery_id.to_string()])?;
    Ok(())
}

pub(super) fn get(conn: &Connection, id: Uuid) -> Result<Option<Rejection>, StoreError> {
    let sql = format!("SELECT {COLUMNS}, body FROM rejections WHERE id = ?1");
    let found = conn
        .prepare_cached(&sql)?
        .query_row([id.to_string()], |row| rejection(row, true))
        .optional()?;
    Ok(found)
}

pub(super) fn delete(conn: &Connection, id: Uuid) -> Result<bool, StoreError> {
    let deleted = conn
        .prepare_cached("DELETE FROM rejections WHERE id = ?1")?
        .execute([id.to_string()])?;
    Ok(deleted > 0)
}

/// How many rejections there are.
pub(super) fn count(conn: &Connection) -> Result<u64, StoreError> {
    let count: i64 = conn
        .prepare_cached("SELECT n FROM rejections_count")?
        .query_row([], |row| row.get(0))?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Drops the oldest rejections beyond `max`, [`CHUNK`] at most: how many went and how many are
/// left.
pub(super) fn trim_chunk(conn: &Connection, max: u64) -> Result<(u64, u64), StoreError> {
    let count = count(conn)?;
    let excess = count.saturating_sub(max).min(CHUNK);
    if excess == 0 {
        return Ok((0, count));
    }
    let dropped = conn
        .prepare_cached(DROP_OLDEST)?
        .execute([i64::try_from(excess).unwrap_or(i64::MAX)])? as u64;
    Ok((dropped, count - dropped))
}

/// One chunk of the purge: the rejections received before `cutoff` (milliseconds), oldest
/// first.
pub(super) fn purge_chunk(conn: &Connection, cutoff: i64) -> Result<u64, StoreError> {
    let cutoff = DateTime::<Utc>::from_timestamp_millis(cutoff).unwrap_or(DateTime::UNIX_EPOCH);
    let deleted = conn
        .prepare_cached(PURGE)?
        .execute(params![first_id_at(cutoff).to_string(), CHUNK as i64])?;
    Ok(deleted as u64)
}
