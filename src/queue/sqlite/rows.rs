//! Rows ⇄ values: times as UTC milliseconds since the epoch, ids as hyphenated text, hashes as
//! 32-byte blobs, the update as JSON; and the admin view of deliveries with their attempts.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::types::Type;
use rusqlite::{Connection, Params, Row};
use uuid::Uuid;

use crate::order::{OrderUpdate, StoreError, StoreErrorKind as Kind};
use crate::queue::{Attempt, DeliveryContent, DeliveryRecord, DeliveryState};

use super::error::json_error;

/// `SELECT` of the columns [`record`] reads, followed by the rest of the statement.
macro_rules! record_sql {
    ($rest:literal) => {
        concat!(
            "SELECT seq, id, state, vendor, tenant, order_id, event_id, mode, created_at, ",
            "updated_at, next_attempt_at, update_json, flow_status, flow_body, error ",
            "FROM deliveries ",
            $rest
        )
    };
}
pub(super) use record_sql;

pub(super) fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

/// A duration back from `now`, in milliseconds; saturates rather than wrapping.
pub(super) fn before(now: i64, span: std::time::Duration) -> i64 {
    now.saturating_sub(i64::try_from(span.as_millis()).unwrap_or(i64::MAX))
}

pub(super) fn unreadable(idx: usize, ty: Type, why: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, ty, why.into().into())
}

pub(super) fn time(row: &Row<'_>, idx: usize) -> rusqlite::Result<DateTime<Utc>> {
    let ms: i64 = row.get(idx)?;
    DateTime::from_timestamp_millis(ms).ok_or(rusqlite::Error::IntegralValueOutOfRange(idx, ms))
}

pub(super) fn opt_time(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    match row.get::<_, Option<i64>>(idx)? {
        None => Ok(None),
        Some(_) => time(row, idx).map(Some),
    }
}

pub(super) fn uuid(row: &Row<'_>, idx: usize) -> rusqlite::Result<Uuid> {
    let text: String = row.get(idx)?;
    Uuid::parse_str(&text).map_err(|_| unreadable(idx, Type::Text, "not a UUID"))
}

pub(super) fn opt_uuid(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Uuid>> {
    match row.get::<_, Option<String>>(idx)? {
        None => Ok(None),
        Some(_) => uuid(row, idx).map(Some),
    }
}

pub(super) fn hash(row: &Row<'_>, idx: usize) -> rusqlite::Result<[u8; 32]> {
    let bytes: Vec<u8> = row.get(idx)?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| unreadable(idx, Type::Blob, "not 32 bytes"))
}

pub(super) fn state(row: &Row<'_>, idx: usize) -> rusqlite::Result<DeliveryState> {
    let text: String = row.get(idx)?;
    DeliveryState::parse(&text).ok_or_else(|| unreadable(idx, Type::Text, "unknown state"))
}

/// `mode` as the admin API shows it: the stored text, checked.
pub(super) fn mode(row: &Row<'_>, idx: usize) -> rusqlite::Result<&'static str> {
    let text: String = row.get(idx)?;
    match text.as_str() {
        "queued" => Ok("queued"),
        "sync" => Ok("sync"),
        _ => Err(unreadable(idx, Type::Text, "unknown mode")),
    }
}

pub(super) fn update(row: &Row<'_>, idx: usize) -> rusqlite::Result<OrderUpdate> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|_| unreadable(idx, Type::Text, "not an update"))
}

/// The columns [`content`] reads, in its order, from a table aliased `d`.
pub(super) const CONTENT_COLUMNS: &str = "d.id, d.vendor, d.tenant, d.order_id, d.event_id, \
    d.update_json, d.state_default, d.traceparent, d.created_at";

/// A delivery's content: the nine columns of [`CONTENT_COLUMNS`], from `at` on.
pub(super) fn content(row: &Row<'_>, at: usize) -> rusqlite::Result<DeliveryContent> {
    Ok(DeliveryContent {
        id: uuid(row, at)?,
        vendor: row.get(at + 1)?,
        tenant: row.get(at + 2)?,
        order_id: uuid(row, at + 3)?,
        event_id: row.get(at + 4)?,
        update: update(row, at + 5)?,
        state_default: row.get(at + 6)?,
        traceparent: row.get(at + 7)?,
        created_at: time(row, at + 8)?,
    })
}

/// One delivery (columns of [`record_sql`]) without its attempts, and its `seq`.
fn record(row: &Row<'_>) -> rusqlite::Result<(i64, DeliveryRecord)> {
    let update = update(row, 11)?;
    let operations = [
        update.patches().then_some("patch"),
        update.updates_state().then_some("updatestate"),
    ];
    let record = DeliveryRecord {
        id: uuid(row, 1)?,
        state: state(row, 2)?,
        vendor: row.get(3)?,
        tenant: row.get(4)?,
        order_id: uuid(row, 5)?,
        event_id: row.get(6)?,
        mode: mode(row, 7)?,
        created_at: time(row, 8)?,
        updated_at: time(row, 9)?,
        next_attempt_at: opt_time(row, 10)?,
        operations: operations.into_iter().flatten().collect(),
        attempts: Vec::new(),
        flow_status: row.get(12)?,
        flow_body: row.get(13)?,
        error: row.get(14)?,
    };
    Ok((row.get(0)?, record))
}

/// The deliveries `sql` (made with [`record_sql`]) selects, with their `seq`, no attempts yet.
pub(super) fn record_rows(
    conn: &Connection,
    sql: &str,
    params: impl Params,
) -> Result<Vec<(i64, DeliveryRecord)>, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params, record)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Fills in each delivery's attempts, in the order they were recorded.
pub(super) fn with_attempts(
    conn: &Connection,
    rows: Vec<(i64, DeliveryRecord)>,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let seqs: Vec<i64> = rows.iter().map(|(seq, _)| *seq).collect();
    let seqs = serde_json::to_string(&seqs).map_err(json_error)?;
    let mut statement = conn.prepare_cached(
        "SELECT delivery_seq, at, operation, status, duration_ms, error FROM attempts
         WHERE delivery_seq IN (SELECT value FROM json_each(?1)) ORDER BY id",
    )?;
    let mut by_delivery: HashMap<i64, Vec<Attempt>> = HashMap::new();
    let attempts = statement.query_map([seqs], |row| Ok((row.get(0)?, attempt(row)?)))?;
    for found in attempts {
        let (seq, attempt): (i64, Attempt) = found?;
        by_delivery.entry(seq).or_default().push(attempt);
    }
    let records = rows.into_iter().map(|(seq, mut record)| {
        record.attempts = by_delivery.remove(&seq).unwrap_or_default();
        record
    });
    Ok(records.collect())
}

fn attempt(row: &Row<'_>) -> rusqlite::Result<Attempt> {
    let duration: i64 = row.get(4)?;
    Ok(Attempt {
        at: time(row, 1)?,
        operation: row.get(2)?,
        status: row.get(3)?,
        duration_ms: u64::try_from(duration).unwrap_or(0),
        error: row.get(5)?,
    })
}

/// One delivery by `seq`, with its attempts.
pub(super) fn record_by_seq(conn: &Connection, seq: i64) -> Result<DeliveryRecord, StoreError> {
    let rows = record_rows(conn, record_sql!("WHERE seq = ?1"), [seq])?;
    with_attempts(conn, rows)?
        .pop()
        .ok_or_else(|| StoreError::new(Kind::Corrupt, "a delivery vanished while it was read"))
}

/// What the state changes need to know about one delivery.
pub(super) struct Brief {
    pub seq: i64,
    pub state: DeliveryState,
    pub queued: bool,
}

pub(super) fn brief(conn: &Connection, id: Uuid) -> Result<Option<Brief>, StoreError> {
    use rusqlite::OptionalExtension;
    let mut statement =
        conn.prepare_cached("SELECT seq, state, mode FROM deliveries WHERE id = ?1")?;
    let found = statement
        .query_row([id.to_string()], |row| {
            Ok(Brief {
                seq: row.get(0)?,
                state: state(row, 1)?,
                queued: mode(row, 2)? == "queued",
            })
        })
        .optional()?;
    Ok(found)
}
