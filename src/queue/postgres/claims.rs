//! Claims across the fleet: the due deliveries, one per order and in commit order, whichever
//! process claims; leases renewed only by their holder; and claims whose lease ran out (their
//! process died or lost the database) released for any process to take.

use chrono::{DateTime, Utc};
use deadpool_postgres::Object;
use uuid::Uuid;

use crate::order::StoreError;
use crate::queue::Claimed;

use super::rows;

/// Whether delivery `d` is at the head of its order's line: no earlier open delivery, and no
/// delivery of the order in flight anywhere (a retried dead one re-enters ahead of later ones).
const HEAD_OF_LINE: &str = "NOT EXISTS (
    SELECT 1 FROM deliveries e
    WHERE e.order_id = d.order_id AND e.state IN ('pending', 'in_flight', 'retrying')
      AND e.seq <> d.seq AND (e.seq < d.seq OR e.state = 'in_flight'))";

/// Step one of a claim: due heads of line in due order, their rows locked (rows another
/// process is claiming are skipped, so replicas claiming at once take different ones), and
/// their orders' advisory locks tried. An order whose lock another claim holds is skipped.
/// The snapshot this looks at predates the order locks, so step two checks again.
const CANDIDATES: &str = "
    WITH candidates AS MATERIALIZED (
        SELECT d.seq, d.order_id, d.next_attempt_at
        FROM deliveries d
        WHERE d.state IN ('pending', 'retrying') AND d.mode = 'queued'
          AND d.next_attempt_at <= $1 AND d.tenant <> ALL($2) AND %HEAD%
        ORDER BY d.next_attempt_at, d.seq
        LIMIT $3
        FOR UPDATE OF d SKIP LOCKED
    )
    SELECT seq FROM candidates
    WHERE pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtextextended(
        pg_catalog.current_schema() || ' order ' || order_id::text, 0))
    ORDER BY next_attempt_at, seq";

/// Step two, a new statement and so a new snapshot, taken after the order locks: everything
/// any other claim of these orders did is committed and seen, so a candidate is leased only
/// if it is still the head of its line. No two claims of one order ever overlap.
const LEASE: &str = "
    UPDATE deliveries d
    SET state = 'in_flight', lease_until = $3, claimed_by = $4, updated_at = $2
    WHERE d.seq = ANY($1) AND d.state IN ('pending', 'retrying') AND d.mode = 'queued'
      AND d.next_attempt_at <= $2 AND %HEAD%
    RETURNING d.seq, d.next_attempt_at, d.id, d.vendor, d.tenant, d.order_id, d.event_id,
        d.order_update, d.state_default, d.traceparent, d.created_at, d.attempts, d.patched";

pub(super) async fn claim(
    client: &mut Object,
    now: DateTime<Utc>,
    limit: usize,
    lease_until: DateTime<Utc>,
    paused: &[String],
    owner: i64,
) -> Result<Vec<Claimed>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let tx = client.transaction().await?;
    let candidates = tx
        .prepare_cached(&CANDIDATES.replace("%HEAD%", HEAD_OF_LINE))
        .await?;
    let seqs: Vec<i64> = tx
        .query(&candidates, &[&now, &paused, &limit])
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    if seqs.is_empty() {
        tx.commit().await?;
        return Ok(Vec::new());
    }
    let lease = tx
        .prepare_cached(&LEASE.replace("%HEAD%", HEAD_OF_LINE))
        .await?;
    let leased = tx
        .query(&lease, &[&seqs, &now, &lease_until, &owner])
        .await?;
    let mut claimed = leased
        .iter()
        .map(|row| {
            let due: DateTime<Utc> = row.try_get(1)?;
            Ok(((due, row.try_get::<_, i64>(0)?), claimed_row(row)?))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    tx.commit().await?;
    claimed.sort_by_key(|(due_order, _)| *due_order);
    Ok(claimed.into_iter().map(|(_, claimed)| claimed).collect())
}

/// A leased row (columns of [`LEASE`]'s `RETURNING`).
fn claimed_row(row: &tokio_postgres::Row) -> Result<Claimed, StoreError> {
    let attempts: i32 = row.try_get(11)?;
    Ok(Claimed {
        content: rows::content(row, 2)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        patched: row.try_get(12)?,
    })
}

/// Only the claim's holder renews it: a claim released meanwhile (and perhaps taken by another
/// process) is not extended.
pub(super) async fn renew(
    client: &Object,
    id: Uuid,
    lease_until: DateTime<Utc>,
    owner: i64,
) -> Result<(), StoreError> {
    let statement = client
        .prepare_cached(
            "UPDATE deliveries SET lease_until = $2
             WHERE id = $1 AND state = 'in_flight' AND claimed_by = $3",
        )
        .await?;
    client
        .execute(&statement, &[&id, &lease_until, &owner])
        .await?;
    Ok(())
}

/// Queued claims whose lease ran out are due at `now` (the interrupted attempt spent nothing:
/// `retrying` only when earlier attempts were spent); sync deliveries past theirs are dead
/// and give their key back. Returns how many were made due again.
pub(super) async fn release_expired(
    client: &mut Object,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let tx = client.transaction().await?;
    let requeue = tx
        .prepare_cached(
            "UPDATE deliveries
             SET state = CASE WHEN attempts > 0 THEN 'retrying' ELSE 'pending' END,
                 next_attempt_at = $1, lease_until = NULL, claimed_by = NULL, updated_at = $1
             WHERE state = 'in_flight' AND mode = 'queued'
               AND (lease_until IS NULL OR lease_until < $1)",
        )
        .await?;
    let released = tx.execute(&requeue, &[&now]).await?;
    let interrupt = tx
        .prepare_cached(
            "WITH interrupted AS (
                 UPDATE deliveries
                 SET state = 'dead', error = 'interrupted', next_attempt_at = NULL,
                     lease_until = NULL, claimed_by = NULL, updated_at = $1
                 WHERE state = 'in_flight' AND mode = 'sync' AND lease_until < $1
                 RETURNING id),
             keys AS (DELETE FROM dedup WHERE delivery_id IN (SELECT id FROM interrupted))
             SELECT count(*) FROM interrupted",
        )
        .await?;
    let interrupted: i64 = tx.query_one(&interrupt, &[&now]).await?.try_get(0)?;
    tx.commit().await?;
    if interrupted > 0 {
        tracing::warn!(
            interrupted,
            "sync deliveries whose request ended without an outcome are dead"
        );
    }
    Ok(released)
}
