//! Rows ⇄ values: times as `timestamptz`, ids as `uuid`, hashes as 32-byte `bytea`, the update
//! as `jsonb`; and the admin view of deliveries with their attempts.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::{Json, ToSql};
use uuid::Uuid;

use crate::order::{OrderUpdate, StoreError, StoreErrorKind as Kind};
use crate::queue::{Attempt, DeliveryContent, DeliveryRecord, DeliveryState};

/// `SELECT` of the columns [`record`] reads, followed by the rest of the statement.
macro_rules! record_sql {
    ($rest:literal) => {
        concat!(
            "SELECT seq, id, state, vendor, tenant, order_id, event_id, mode, created_at, ",
            "updated_at, next_attempt_at, order_update, flow_status, flow_body, error ",
            "FROM deliveries ",
            $rest
        )
    };
}
pub(super) use record_sql;

/// The columns [`content`] reads, in its order, from a table aliased `d`.
pub(super) const CONTENT_COLUMNS: &str = "d.id, d.vendor, d.tenant, d.order_id, d.event_id, \
    d.order_update, d.state_default, d.traceparent, d.created_at";

/// A delivery's content: the nine columns of [`CONTENT_COLUMNS`], from `at` on.
pub(super) fn content(row: &Row, at: usize) -> Result<DeliveryContent, StoreError> {
    Ok(DeliveryContent {
        id: row.try_get(at)?,
        vendor: row.try_get(at + 1)?,
        tenant: row.try_get(at + 2)?,
        order_id: row.try_get(at + 3)?,
        event_id: row.try_get(at + 4)?,
        update: update(row, at + 5)?,
        state_default: row.try_get(at + 6)?,
        traceparent: row.try_get(at + 7)?,
        created_at: row.try_get(at + 8)?,
    })
}

/// The open states, as SQL: they hold their order's line.
pub(super) const OPEN: &str = "('pending', 'in_flight', 'retrying')";

/// A span back from `now`; a span too long for the calendar reaches back to the epoch, which
/// is before every record.
pub(super) fn before(now: DateTime<Utc>, span: std::time::Duration) -> DateTime<Utc> {
    TimeDelta::from_std(span)
        .ok()
        .and_then(|span| now.checked_sub_signed(span))
        .map_or(DateTime::UNIX_EPOCH, |at| at.max(DateTime::UNIX_EPOCH))
}

/// `at + span`, saturating at the calendar's end instead of overflowing.
pub(super) fn after(at: DateTime<Utc>, span: TimeDelta) -> DateTime<Utc> {
    at.checked_add_signed(span)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn unreadable(what: &str) -> StoreError {
    StoreError::new(
        Kind::Corrupt,
        format!("a stored value is unreadable ({what})"),
    )
}

pub(super) fn hash(row: &Row, idx: usize) -> Result<[u8; 32], StoreError> {
    let bytes: Vec<u8> = row.try_get(idx)?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| unreadable("a hash"))
}

pub(super) fn state(row: &Row, idx: usize) -> Result<DeliveryState, StoreError> {
    let text: &str = row.try_get(idx)?;
    DeliveryState::parse(text).ok_or_else(|| unreadable("a state"))
}

/// `mode` as the admin API shows it: the stored text, checked.
pub(super) fn mode(row: &Row, idx: usize) -> Result<&'static str, StoreError> {
    match row.try_get::<_, &str>(idx)? {
        "queued" => Ok("queued"),
        "sync" => Ok("sync"),
        _ => Err(unreadable("a mode")),
    }
}

pub(super) fn update(row: &Row, idx: usize) -> Result<OrderUpdate, StoreError> {
    let Json(update) = row.try_get::<_, Json<OrderUpdate>>(idx)?;
    Ok(update)
}

/// Flow's status as stored (`integer`).
pub(super) fn status(row: &Row, idx: usize) -> Result<Option<u16>, StoreError> {
    let status: Option<i32> = row.try_get(idx)?;
    Ok(status.and_then(|s| u16::try_from(s).ok()))
}

pub(super) fn stored_status(status: Option<u16>) -> Option<i32> {
    status.map(i32::from)
}

/// One delivery (columns of [`record_sql`]) without its attempts, and its `seq`.
fn record(row: &Row) -> Result<(i64, DeliveryRecord), StoreError> {
    let update = update(row, 11)?;
    let operations = [
        update.patches().then_some("patch"),
        update.updates_state().then_some("updatestate"),
    ];
    let record = DeliveryRecord {
        id: row.try_get(1)?,
        state: state(row, 2)?,
        vendor: row.try_get(3)?,
        tenant: row.try_get(4)?,
        order_id: row.try_get(5)?,
        event_id: row.try_get(6)?,
        mode: mode(row, 7)?,
        created_at: row.try_get(8)?,
        updated_at: row.try_get(9)?,
        next_attempt_at: row.try_get(10)?,
        operations: operations.into_iter().flatten().collect(),
        attempts: Vec::new(),
        flow_status: status(row, 12)?,
        flow_body: row.try_get(13)?,
        error: row.try_get(14)?,
    };
    Ok((row.try_get(0)?, record))
}

/// The deliveries `sql` (made with [`record_sql`]) selects, with their `seq`, no attempts yet.
pub(super) async fn record_rows(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<(i64, DeliveryRecord)>, StoreError> {
    let statement = client.prepare_cached(sql).await?;
    let rows = client.query(&statement, params).await?;
    rows.iter().map(record).collect()
}

/// Fills in each delivery's attempts, in the order they were recorded.
pub(super) async fn with_attempts(
    client: &impl GenericClient,
    rows: Vec<(i64, DeliveryRecord)>,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let seqs: Vec<i64> = rows.iter().map(|(seq, _)| *seq).collect();
    let statement = client
        .prepare_cached(
            "SELECT delivery_seq, at, operation, status, duration_ms, error FROM attempts
             WHERE delivery_seq = ANY($1) ORDER BY id",
        )
        .await?;
    let mut by_delivery: HashMap<i64, Vec<Attempt>> = HashMap::new();
    for row in client.query(&statement, &[&seqs]).await? {
        let duration: i64 = row.try_get(4)?;
        let attempt = Attempt {
            at: row.try_get(1)?,
            operation: row.try_get(2)?,
            status: status(&row, 3)?,
            duration_ms: u64::try_from(duration).unwrap_or(0),
            error: row.try_get(5)?,
        };
        by_delivery
            .entry(row.try_get(0)?)
            .or_default()
            .push(attempt);
    }
    let records = rows.into_iter().map(|(seq, mut record)| {
        record.attempts = by_delivery.remove(&seq).unwrap_or_default();
        record
    });
    Ok(records.collect())
}

/// One delivery by `seq`, with its attempts.
pub(super) async fn record_by_seq(
    client: &impl GenericClient,
    seq: i64,
) -> Result<DeliveryRecord, StoreError> {
    let rows = record_rows(client, record_sql!("WHERE seq = $1"), &[&seq]).await?;
    with_attempts(client, rows)
        .await?
        .pop()
        .ok_or_else(|| StoreError::new(Kind::Corrupt, "a delivery vanished while it was read"))
}

/// What the state changes need to know about one delivery.
pub(super) struct Brief {
    pub seq: i64,
    pub state: DeliveryState,
    pub queued: bool,
    /// The process whose claim (or sync call) it is, while in flight.
    pub claimed_by: Option<i64>,
}

/// The delivery `id`, its row locked until the transaction ends: state changes of one
/// delivery take turns.
pub(super) async fn brief_for_update(
    client: &impl GenericClient,
    id: Uuid,
) -> Result<Option<Brief>, StoreError> {
    let statement = client
        .prepare_cached(
            "SELECT seq, state, mode, claimed_by FROM deliveries WHERE id = $1 FOR UPDATE",
        )
        .await?;
    let Some(row) = client.query_opt(&statement, &[&id]).await? else {
        return Ok(None);
    };
    Ok(Some(Brief {
        seq: row.try_get(0)?,
        state: state(&row, 1)?,
        queued: mode(&row, 2)? == "queued",
        claimed_by: row.try_get(3)?,
    }))
}
