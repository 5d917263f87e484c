//! The delivery path: commit a delivery with its dedup key, find the claimable ones (one per
//! order, in commit order; the store holds them, `claims.rs`), end each turn. Every function
//! runs inside the caller's transaction.
//!
//! "An open delivery of the order" is written `state > 'delivered'`: the open states (pending,
//! in_flight, retrying) are exactly those that sort after it (a test in `tests/store/sqlite.rs`
//! holds this). The order index reads it as one range, where an IN list of three states costs
//! every run of a statement a temporary b-tree.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use crate::config::DeliveryMode;
use crate::order::StoreError;
use crate::queue::{
    self, Attempt, Claimed, DeliveryState, Enqueued, Existing, Finish, NewDelivery,
};

use super::bodies;
use super::claims::Claims;
use super::error::json_error;
use super::keys::Keys;
use super::parked::park_paused;
use super::rows::{self, Brief, millis};

/// The delivery `(vendor, event_id)` names under its dedup `key`, its `seq` and when its key
/// was committed. The key is a hash: a row found under it is still compared on vendor and
/// event id.
fn keyed(
    conn: &Connection,
    key: [u8; 16],
    vendor: &str,
    event_id: &str,
) -> Result<Option<(Existing, i64, i64)>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT id, state, body_hash, created_at, seq, vendor, event_id FROM deliveries
         WHERE dedup_key = ?1",
    )?;
    let found = statement
        .query_row([key], |row| {
            let existing = Existing {
                id: rows::uuid(row, 0)?,
                state: rows::state(row, 1)?,
                body_hash: rows::hash(row, 2)?,
            };
            let same = row.get_ref(5)?.as_str()? == vendor && row.get_ref(6)?.as_str()? == event_id;
            Ok(same.then_some((existing, row.get(3)?, row.get(4)?)))
        })
        .optional()?;
    Ok(found.flatten())
}

pub(super) fn find(
    conn: &Connection,
    vendor: &str,
    event_id: &str,
    since: i64,
) -> Result<Option<Existing>, StoreError> {
    let found = keyed(conn, queue::dedup_key(vendor, event_id), vendor, event_id)?;
    Ok(found
        .filter(|(_, at, _)| *at >= since)
        .map(|(existing, _, _)| existing))
}

/// A delivery's column values that need no database, encoded by the caller: the one writer
/// thread is the store's bottleneck, so it is given only the work that needs the database.
pub(super) struct Encoded {
    update: String,
    created: i64,
    dedup_key: Option<[u8; 16]>,
}

impl Encoded {
    pub(super) fn of(delivery: &NewDelivery) -> Result<Encoded, StoreError> {
        let content = &delivery.content;
        Ok(Encoded {
            update: serde_json::to_string(&content.update).map_err(json_error)?,
            created: millis(content.created_at),
            dedup_key: delivery.dedup_key(),
        })
    }
}

/// Runs on the writer thread, so two enqueues of one key are serialised: the second sees the
/// first's row. A key older than `since` is stale: its delivery gives it up to this one.
pub(super) fn enqueue(
    conn: &Connection,
    keys: &Keys,
    delivery: &NewDelivery,
    encoded: &Encoded,
    since: i64,
) -> Result<Enqueued, StoreError> {
    let content = &delivery.content;
    if let Some(key) = encoded.dedup_key
        && let Some((existing, at, seq)) = keyed(conn, key, &content.vendor, &content.event_id)?
    {
        if at >= since {
            return Ok(Enqueued::Taken(existing));
        }
        give_back_key(conn, seq)?;
    }
    let seq = keys.next(encoded.created);
    insert(conn, seq, delivery, encoded)?;
    if let Some(body) = &delivery.body {
        bodies::keep(conn, seq, body)?;
    }
    Ok(Enqueued::Accepted)
}

pub(super) const INSERT: &str = "
    INSERT INTO deliveries (seq, id, vendor, tenant, order_id, event_id, dedup_key, mode, state,
        update_json, state_default, traceparent, body_hash, created_at, updated_at,
        next_attempt_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, ?15)";

/// Queued deliveries start `pending`: due at once when they head their order's line, else
/// unscheduled (no `next_attempt_at`) until the delivery ahead of them finishes, so that an
/// order with a long line costs a claim one candidate, not the whole line. Sync ones start
/// `in_flight` and are never claimed.
fn insert(
    conn: &Connection,
    seq: i64,
    delivery: &NewDelivery,
    encoded: &Encoded,
) -> Result<(), StoreError> {
    let content = &delivery.content;
    let created = encoded.created;
    let (state, next_attempt_at) = match delivery.mode {
        DeliveryMode::Queued if order_is_open(conn, content.order_id)? => {
            (DeliveryState::Pending, None)
        }
        DeliveryMode::Queued => (DeliveryState::Pending, Some(created)),
        DeliveryMode::Sync => (DeliveryState::InFlight, None),
    };
    conn.prepare_cached(INSERT)?.execute(params![
        seq,
        content.id,
        content.vendor,
        content.tenant,
        content.order_id,
        content.event_id,
        encoded.dedup_key,
        delivery.mode.as_str(),
        state.as_str(),
        encoded.update,
        content.state_default,
        content.traceparent,
        delivery.body_hash,
        created,
        next_attempt_at,
    ])?;
    Ok(())
}

/// Whether the order has a delivery pending, in flight or retrying.
fn order_is_open(conn: &Connection, order_id: Uuid) -> Result<bool, StoreError> {
    let open = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM deliveries INDEXED BY deliveries_order
             WHERE order_id = ?1 AND state > 'delivered')",
        )?
        .query_row([order_id], |row| row.get(0))?;
    Ok(open)
}

/// Once the delivery `seq` has left its order's line (delivered or dead), the next one in the
/// line, if it waits unscheduled, becomes due: since it was committed, as if it had never
/// waited, so the line keeps its place among other orders' deliveries. The line's head is
/// `MIN(seq)`: the open range of the order index is not in `seq` order across states, and
/// `ORDER BY seq LIMIT 1` sorted it in a temporary b-tree at every end of a turn.
pub(super) fn schedule_next(conn: &Connection, seq: i64) -> Result<(), StoreError> {
    conn.prepare_cached(SCHEDULE_NEXT)?.execute([seq])?;
    Ok(())
}

pub(super) const SCHEDULE_NEXT: &str = "
    UPDATE deliveries SET next_attempt_at = created_at
    WHERE seq = (SELECT MIN(n.seq) FROM deliveries n INDEXED BY deliveries_order
                 WHERE n.order_id = (SELECT order_id FROM deliveries WHERE seq = ?1)
                   AND n.state > 'delivered')
      AND state = 'pending' AND mode = 'queued' AND next_attempt_at IS NULL";

/// A delivery is claimable when it is the earliest open one of its order and no delivery of
/// the order is in flight (a retried dead one re-enters the line ahead of later ones). A held
/// claim (`claims.rs`) is its order's earliest open delivery, so it keeps the order's later
/// ones out, and `held` steps over it. A paused tenant's due deliveries are parked by then, out
/// of the index. `INDEXED BY` pins the partial index of due deliveries: without statistics the
/// planner picks a full index and a claim scans every finished delivery (70 ms instead of
/// 0.1 ms at 100k rows), and SQLite refuses the statement if a change makes the index unusable.
pub(super) const CLAIMABLE: &str = "
    SELECT d.seq, d.id, d.vendor, d.tenant, d.order_id, d.event_id, d.update_json,
           d.state_default, d.traceparent, d.created_at, d.attempts, d.patched, d.state
    FROM deliveries d INDEXED BY deliveries_due
    WHERE d.state IN ('pending', 'retrying') AND d.mode = 'queued' AND d.parked = 0
      AND d.next_attempt_at <= ?1 AND NOT held(d.seq)
      AND NOT EXISTS (
          SELECT 1 FROM deliveries e INDEXED BY deliveries_order
          WHERE e.order_id = d.order_id AND e.state > 'delivered'
            AND e.seq <> d.seq AND (e.seq < d.seq OR e.state = 'in_flight'))
    ORDER BY d.next_attempt_at, d.seq
    LIMIT ?2";

/// Up to `limit` claimable deliveries not held already, with their keys and their rows'
/// states, for the caller to hold once the batch has committed: a batch may run twice, and
/// holding is not undone by its rollback. Nothing is written but parked flags.
pub(super) fn claimable(
    conn: &Connection,
    now: i64,
    limit: usize,
    paused: &[String],
) -> Result<Vec<(i64, DeliveryState, Claimed)>, StoreError> {
    park_paused(conn, now, paused)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mapped = |row: &rusqlite::Row<'_>| {
        let claimed = Claimed {
            content: rows::content(row, 1)?,
            attempts: row.get(10)?,
            patched: row.get(11)?,
        };
        Ok((row.get::<_, i64>(0)?, rows::state(row, 12)?, claimed))
    };
    let found = conn
        .prepare_cached(CLAIMABLE)?
        .query_map(params![now, limit], mapped)?
        .collect::<Result<_, _>>()?;
    Ok(found)
}

/// Makes queued deliveries left `in_flight` due at `now`: claims are held in memory, so only a
/// database written by an earlier flowgate, which wrote its claims, has any. The interrupted
/// attempt spent nothing: `retrying` only when earlier attempts were spent.
pub(super) fn requeue_in_flight(conn: &Connection, now: i64) -> Result<u64, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE deliveries
             SET state = CASE WHEN attempts > 0 THEN 'retrying' ELSE 'pending' END,
                 next_attempt_at = ?1, lease_until = NULL, updated_at = ?1
             WHERE state <> 'delivered' AND state = 'in_flight' AND mode = 'queued'",
        )?
        .execute(params![now])?;
    Ok(u64::try_from(changed).unwrap_or(u64::MAX))
}

/// A sync delivery that ends dead lets the vendor's retry be processed anew; a stale key goes to
/// the delivery that takes it over.
pub(super) fn give_back_key(conn: &Connection, seq: i64) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE deliveries SET dedup_key = NULL WHERE seq = ?1")?
        .execute([seq])?;
    Ok(())
}

/// Records the turn's calls, then ends the turn, but only of a delivery still in its turn: a
/// queued one held and still open (one cancelled meanwhile stays dead), a sync one still
/// `in_flight`. An unknown id (deleted meanwhile) records nothing.
pub(super) fn finish(
    conn: &Connection,
    claims: &Claims,
    id: Uuid,
    attempts: &[Attempt],
    finish: Finish,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(delivery) = rows::brief(conn, id)? else {
        return Ok(());
    };
    let calls = rows::calls_json(attempts)?;
    let in_turn = if delivery.queued {
        delivery.state.is_open() && claims.is_held(id)
    } else {
        delivery.state == DeliveryState::InFlight
    };
    if !in_turn {
        if calls.is_some() {
            conn.prepare_cached(&format!(
                "UPDATE deliveries SET {APPEND_CALLS} WHERE seq = ?1"
            ))?
            .execute(params![delivery.seq, calls])?;
        }
        return Ok(());
    }
    end_turn(conn, &delivery, calls, finish, millis(now))
}

/// Appends the JSON array `?2` (a turn's calls; NULL for none) to the row's array: both are
/// arrays this store wrote, so joining their texts is enough.
macro_rules! append_calls {
    () => {
        "calls = CASE WHEN ?2 IS NULL THEN calls WHEN calls IS NULL THEN ?2
             ELSE substr(calls, 1, length(calls) - 1) || ',' || substr(?2, 2) END"
    };
}
const APPEND_CALLS: &str = append_calls!();

pub(super) const DELIVERED: &str = concat!(
    "UPDATE deliveries SET state = 'delivered', next_attempt_at = NULL, lease_until = NULL,
        error = NULL, flow_status = NULL, flow_body = NULL, updated_at = ?3, ",
    append_calls!(),
    " WHERE seq = ?1"
);

pub(super) const RETRYING: &str = concat!(
    "UPDATE deliveries SET state = 'retrying', next_attempt_at = ?3, lease_until = NULL,
        attempts = attempts + ?4, patched = ?5, error = ?6, updated_at = ?7, ",
    append_calls!(),
    " WHERE seq = ?1"
);

pub(super) const DEAD: &str = concat!(
    "UPDATE deliveries SET state = 'dead', next_attempt_at = NULL, lease_until = NULL,
        patched = ?3, flow_status = ?4, flow_body = ?5, error = ?6, updated_at = ?7, ",
    append_calls!(),
    " WHERE seq = ?1"
);

fn end_turn(
    conn: &Connection,
    delivery: &Brief,
    calls: Option<String>,
    finish: Finish,
    now: i64,
) -> Result<(), StoreError> {
    let finish = finish.for_mode(delivery.queued);
    let seq = delivery.seq;
    match finish {
        Finish::Delivered => {
            conn.prepare_cached(DELIVERED)?
                .execute(params![seq, calls, now])?;
            schedule_next(conn, seq)?;
        }
        Finish::Retry {
            at,
            spent,
            patched,
            error,
        } => {
            let spent = i64::from(spent);
            conn.prepare_cached(RETRYING)?.execute(params![
                seq,
                calls,
                millis(at),
                spent,
                patched,
                error,
                now
            ])?;
        }
        Finish::Dead {
            patched,
            flow_status,
            flow_body,
            error,
        } => {
            conn.prepare_cached(DEAD)?.execute(params![
                seq,
                calls,
                patched,
                flow_status,
                flow_body,
                error,
                now
            ])?;
            if !delivery.queued {
                give_back_key(conn, seq)?;
            }
            schedule_next(conn, seq)?;
        }
    }
    Ok(())
}
