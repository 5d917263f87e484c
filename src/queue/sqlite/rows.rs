//! Rows ⇄ values: times as UTC milliseconds since the epoch, deliveries' ids as 16-byte blobs
//! (rejections' as hyphenated text), hashes as 32-byte blobs, the update and the calls to Flow
//! as JSON; and the admin view of deliveries with their attempts.

use chrono::{DateTime, Utc};
use rusqlite::types::{Type, ValueRef};
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
            "updated_at, next_attempt_at, update_json, flow_status, flow_body, error, calls ",
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

/// A UUID stored either way: a delivery's as 16 bytes, a rejection's as text.
pub(super) fn uuid(row: &Row<'_>, idx: usize) -> rusqlite::Result<Uuid> {
    match row.get_ref(idx)? {
        ValueRef::Blob(bytes) => {
            Uuid::from_slice(bytes).map_err(|_| unreadable(idx, Type::Blob, "not 16 bytes"))
        }
        ValueRef::Text(text) => std::str::from_utf8(text)
            .ok()
            .and_then(|text| Uuid::parse_str(text).ok())
            .ok_or_else(|| unreadable(idx, Type::Text, "not a UUID")),
        other => Err(unreadable(idx, other.data_type(), "not a UUID")),
    }
}

pub(super) fn opt_uuid(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Uuid>> {
    match row.get_ref(idx)? {
        ValueRef::Null => Ok(None),
        _ => uuid(row, idx).map(Some),
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

/// One delivery (columns of [`record_sql`]) with its attempts, and its `seq`.
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
        attempts: calls(row, 15)?,
        flow_status: row.get(12)?,
        flow_body: row.get(13)?,
        error: row.get(14)?,
    };
    Ok((row.get(0)?, record))
}

/// The calls a delivery made, in order: a JSON array in its row, none before the first.
fn calls(row: &Row<'_>, idx: usize) -> rusqlite::Result<Vec<Attempt>> {
    match row.get::<_, Option<String>>(idx)? {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(&text)
            .map_err(|_| unreadable(idx, Type::Text, "not a list of calls")),
    }
}

/// The calls of one turn as the JSON array appended to a delivery's `calls`.
pub(super) fn calls_json(attempts: &[Attempt]) -> Result<Option<String>, StoreError> {
    if attempts.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(attempts)
        .map(Some)
        .map_err(json_error)
}

/// The deliveries `sql` (made with [`record_sql`]) selects, with their `seq`.
pub(super) fn record_rows(
    conn: &Connection,
    sql: &str,
    params: impl Params,
) -> Result<Vec<(i64, DeliveryRecord)>, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params, record)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The records alone, without their keys.
pub(super) fn records(rows: Vec<(i64, DeliveryRecord)>) -> Vec<DeliveryRecord> {
    rows.into_iter().map(|(_, record)| record).collect()
}

/// One delivery by `seq`.
pub(super) fn record_by_seq(conn: &Connection, seq: i64) -> Result<DeliveryRecord, StoreError> {
    record_rows(conn, record_sql!("WHERE seq = ?1"), [seq])?
        .pop()
        .map(|(_, record)| record)
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
        .query_row([id], |row| {
            Ok(Brief {
                seq: row.get(0)?,
                state: state(row, 1)?,
                queued: mode(row, 2)? == "queued",
            })
        })
        .optional()?;
    Ok(found)
}
