//! Committing and finishing deliveries, safe with several processes on one schema: a delivery
//! commits with its dedup key (the key's row decides between racing commits), and a turn is
//! ended only by the process holding the claim. Claims themselves are `claims.rs`.

use std::sync::LazyLock;

use chrono::{DateTime, TimeDelta, Utc};
use deadpool_postgres::{GenericClient, Object};
use tokio::try_join;
use tokio_postgres::types::{Json, ToSql};
use uuid::Uuid;

use crate::config::DeliveryMode;
use crate::order::{LastSent, StoreError, StoreErrorKind as Kind};
use crate::queue::{Attempt, DeliveryState, Enqueued, Existing, Finish, NewDelivery};

use super::rows::{self, Brief, after, stored_status};
use super::{bodies, book};

/// The delivery a key names now, whenever the key was committed.
const KEY: &str = "
    SELECT k.delivery_id, d.state, k.body_hash
    FROM dedup k JOIN deliveries d ON d.id = k.delivery_id
    WHERE k.vendor = $1 AND k.event_id = $2";

pub(super) async fn find(
    client: &Object,
    vendor: &str,
    event_id: &str,
    since: DateTime<Utc>,
) -> Result<Option<Existing>, StoreError> {
    let statement = client
        .prepare_cached(
            "SELECT k.delivery_id, d.state, k.body_hash
             FROM dedup k JOIN deliveries d ON d.id = k.delivery_id
             WHERE k.vendor = $1 AND k.event_id = $2 AND k.created_at >= $3",
        )
        .await?;
    let row = client
        .query_opt(&statement, &[&vendor, &event_id, &since])
        .await?;
    row.map(|row| existing(&row)).transpose()
}

fn existing(row: &tokio_postgres::Row) -> Result<Existing, StoreError> {
    Ok(Existing {
        id: row.try_get(0)?,
        state: rows::state(row, 1)?,
        body_hash: rows::hash(row, 2)?,
    })
}

/// The columns of a new delivery, `$1` to `$15`, as [`insert_parameters`] gives them.
const COLUMNS: &str = "id, vendor, tenant, order_id, event_id, mode, state, order_update,
    state_default, traceparent, body_hash, created_at, updated_at, next_attempt_at, lease_until,
    claimed_by";
const VALUES: &str = "$1::uuid, $2::text, $3::text, $4::uuid, $5::text, $6::text, $7::text,
    $8::jsonb, $9::text, $10::text, $11::bytea, $12::timestamptz, $12::timestamptz,
    $13::timestamptz, $14::timestamptz, $15::bigint";

/// A delivery without a dedup key.
static INSERT: LazyLock<String> =
    LazyLock::new(|| format!("INSERT INTO deliveries ({COLUMNS}) VALUES ({VALUES})"));

/// A delivery with its key, in one statement: the key is taken unless it was taken at or after
/// `$16` (a key older than the window is stale and taken over), and the delivery is inserted
/// only when it was. On a conflict the key's row is locked either way, so it stays as it is
/// until the transaction ends; a racing commit of the same key waits here for the first to end
/// and then sees its key. The key's reference to the delivery is checked at the statement's
/// end, when both rows are in.
static INSERT_WITH_KEY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH taken AS (
             INSERT INTO dedup (vendor, event_id, delivery_id, body_hash, created_at)
             VALUES ($2, $5, $1, $11, $12)
             ON CONFLICT (vendor, event_id) DO UPDATE
                 SET delivery_id = EXCLUDED.delivery_id, body_hash = EXCLUDED.body_hash,
                     created_at = EXCLUDED.created_at
                 WHERE dedup.created_at < $16
             RETURNING 1)
         INSERT INTO deliveries ({COLUMNS})
         SELECT {VALUES} WHERE EXISTS (SELECT 1 FROM taken)"
    )
});

/// Inserts the delivery and takes its key, inside the caller's transaction; nothing is
/// written when the key is taken. Several run at once on one transaction (`commits.rs`).
pub(super) async fn enqueue(
    tx: &impl GenericClient,
    delivery: &NewDelivery,
    since: DateTime<Utc>,
    owner: i64,
    sync_lease: TimeDelta,
) -> Result<Enqueued, StoreError> {
    let content = &delivery.content;
    let created = content.created_at;
    let (state, next_attempt_at, lease_until, claimed_by) = match delivery.mode {
        DeliveryMode::Queued => (DeliveryState::Pending, Some(created), None, None),
        DeliveryMode::Sync => (
            DeliveryState::InFlight,
            None,
            Some(after(created, sync_lease)),
            Some(owner),
        ),
    };
    let hash = delivery.body_hash.as_slice();
    let update = Json(&content.update);
    let mode = delivery.mode.as_str();
    let state = state.as_str();
    let parameters: [&(dyn ToSql + Sync); 16] = [
        &content.id,
        &content.vendor,
        &content.tenant,
        &content.order_id,
        &content.event_id,
        &mode,
        &state,
        &update,
        &content.state_default,
        &content.traceparent,
        &hash,
        &created,
        &next_attempt_at,
        &lease_until,
        &claimed_by,
        &since,
    ];
    if !delivery.dedup {
        let statement = tx.prepare_cached(&INSERT).await?;
        tx.execute(&statement, &parameters[..15]).await?;
        return keep_body(tx, delivery).await;
    }
    let statement = tx.prepare_cached(&INSERT_WITH_KEY).await?;
    if tx.execute(&statement, &parameters).await? == 1 {
        return keep_body(tx, delivery).await;
    }
    // A new statement sees the key's holder, committed before the key could be locked.
    let key = tx.prepare_cached(KEY).await?;
    let holder = tx
        .query_opt(&key, &[&content.vendor, &content.event_id])
        .await?;
    match holder {
        Some(row) => Ok(Enqueued::Taken(existing(&row)?)),
        None => Err(StoreError::new(
            Kind::Corrupt,
            "a dedup key was taken but its delivery is missing",
        )),
    }
}

/// The committed delivery's body, when it keeps one, in the same transaction.
async fn keep_body(
    tx: &impl GenericClient,
    delivery: &NewDelivery,
) -> Result<Enqueued, StoreError> {
    if let Some(body) = &delivery.body {
        bodies::keep(tx, delivery.content.id, body).await?;
    }
    Ok(Enqueued::Accepted)
}

/// Records what Flow accepted and the attempts, then ends the turn, but only of a delivery
/// still `in_flight` under this process's claim: one cancelled meanwhile stays dead, one
/// released and claimed again belongs to its new holder. An unknown id (deleted meanwhile)
/// records only what Flow accepted. Statements that do not wait on each other's results are
/// sent together: the transaction takes four round trips, not six.
pub(super) async fn finish(
    client: &mut Object,
    id: Uuid,
    attempts: &[Attempt],
    finish: Finish,
    sent: Option<&(Uuid, LastSent)>,
    now: DateTime<Utc>,
    owner: i64,
) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    let record_sent = async {
        match sent {
            Some((order, sent)) => book::record_sent(&tx, *order, sent, now).await,
            None => Ok(()),
        }
    };
    let ((), delivery) = try_join!(record_sent, rows::brief_for_update(&tx, id))?;
    let Some(delivery) = delivery else {
        tx.commit().await?;
        return Ok(());
    };
    let held = delivery.state == DeliveryState::InFlight && delivery.claimed_by == Some(owner);
    let ending = async {
        if held {
            end_turn(&tx, &delivery, finish, now).await
        } else {
            Ok(())
        }
    };
    try_join!(record_attempts(&tx, delivery.seq, attempts), ending)?;
    tx.commit().await?;
    Ok(())
}

/// Every call of the turn in one statement, numbered in the order given.
async fn record_attempts(
    client: &impl GenericClient,
    seq: i64,
    attempts: &[Attempt],
) -> Result<(), StoreError> {
    if attempts.is_empty() {
        return Ok(());
    }
    let at: Vec<DateTime<Utc>> = attempts.iter().map(|a| a.at).collect();
    let operation: Vec<&str> = attempts.iter().map(|a| a.operation.as_str()).collect();
    let status: Vec<Option<i32>> = attempts.iter().map(|a| stored_status(a.status)).collect();
    let duration: Vec<i64> = attempts
        .iter()
        .map(|a| i64::try_from(a.duration_ms).unwrap_or(i64::MAX))
        .collect();
    let error: Vec<Option<&str>> = attempts.iter().map(|a| a.error.as_deref()).collect();
    let statement = client
        .prepare_cached(
            "INSERT INTO attempts (delivery_seq, at, operation, status, duration_ms, error)
             SELECT $1, a.at, a.operation, a.status, a.duration_ms, a.error
             FROM unnest($2::timestamptz[], $3::text[], $4::integer[], $5::bigint[], $6::text[])
                 WITH ORDINALITY AS a (at, operation, status, duration_ms, error, n)
             ORDER BY a.n",
        )
        .await?;
    client
        .execute(
            &statement,
            &[&seq, &at, &operation, &status, &duration, &error],
        )
        .await?;
    Ok(())
}

const DELIVERED: &str = "
    UPDATE deliveries SET state = 'delivered', next_attempt_at = NULL, lease_until = NULL,
        claimed_by = NULL, error = NULL, flow_status = NULL, flow_body = NULL, updated_at = $2
    WHERE seq = $1";

const RETRYING: &str = "
    UPDATE deliveries SET state = 'retrying', next_attempt_at = $2, lease_until = NULL,
        claimed_by = NULL, attempts = attempts + $3, patched = $4, error = $5, updated_at = $6
    WHERE seq = $1";

const DEAD: &str = "
    UPDATE deliveries SET state = 'dead', next_attempt_at = NULL, lease_until = NULL,
        claimed_by = NULL, patched = $2, flow_status = $3, flow_body = $4, error = $5,
        updated_at = $6
    WHERE seq = $1";

async fn end_turn(
    client: &impl GenericClient,
    delivery: &Brief,
    finish: Finish,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let finish = finish.for_mode(delivery.queued);
    let seq = delivery.seq;
    match finish {
        Finish::Delivered => {
            let statement = client.prepare_cached(DELIVERED).await?;
            client.execute(&statement, &[&seq, &now]).await?;
        }
        Finish::Retry {
            at,
            spent,
            patched,
            error,
        } => {
            let spent = i32::from(spent);
            let statement = client.prepare_cached(RETRYING).await?;
            client
                .execute(&statement, &[&seq, &at, &spent, &patched, &error, &now])
                .await?;
        }
        Finish::Dead {
            patched,
            flow_status,
            flow_body,
            error,
        } => {
            let statement = client.prepare_cached(DEAD).await?;
            let status = stored_status(flow_status);
            client
                .execute(
                    &statement,
                    &[&seq, &patched, &status, &flow_body, &error, &now],
                )
                .await?;
            if !delivery.queued {
                give_back_key(client, seq).await?;
            }
        }
    }
    Ok(())
}

/// A sync delivery that ends dead lets the vendor's retry be processed anew.
pub(super) async fn give_back_key(client: &impl GenericClient, seq: i64) -> Result<(), StoreError> {
    let statement = client
        .prepare_cached(
            "DELETE FROM dedup WHERE delivery_id = (SELECT id FROM deliveries WHERE seq = $1)",
        )
        .await?;
    client.execute(&statement, &[&seq]).await?;
    Ok(())
}
