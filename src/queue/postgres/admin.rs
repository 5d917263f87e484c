//! The admin API's queries: list and read deliveries, and the operator's retry, cancel, delete
//! and redrive. Only queued deliveries are retried: a sync one's vendor owns its retry (its
//! dedup key was given back), so retrying it here could send the update twice. Each state
//! change locks the delivery's row first, so it takes turns with workers' claims and finishes.

use chrono::{DateTime, Utc};
use deadpool_postgres::Object;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::order::StoreError;
use crate::queue::paged;
use crate::queue::{
    Deleted, DeliveryRecord, DeliveryState, ListFilter, Page, RedriveFilter, Retried,
};

use super::deliveries::give_back_key;
use super::rows::{self, record_by_seq, record_rows, record_sql, with_attempts};

/// The largest page, whatever the caller asks.
const MAX_LIMIT: usize = 500;

/// A statement's `WHERE` conditions and their parameters, numbered as they are added.
#[derive(Default)]
pub(super) struct Conditions {
    pub(super) sql: String,
    pub(super) params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Conditions {
    /// Adds ` AND <column> <operator> $n`.
    pub(super) fn and(
        &mut self,
        column: &str,
        operator: &str,
        value: impl ToSql + Sync + Send + 'static,
    ) {
        self.params.push(Box::new(value));
        let n = self.params.len();
        self.sql.push_str(&format!(" AND {column} {operator} ${n}"));
    }

    pub(super) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// Newest first; the cursor is the `seq` of the previous page's last delivery. A cursor that
/// is not one (it is opaque to callers, so only a tampered one) yields an empty page.
pub(super) async fn list(client: &Object, filter: &ListFilter) -> Result<Page, StoreError> {
    let mut conditions = Conditions::default();
    if let Some(state) = filter.state {
        conditions.and("state", "=", state.as_str());
    }
    if let Some(vendor) = &filter.vendor {
        conditions.and("vendor", "=", vendor.clone());
    }
    if let Some(tenant) = &filter.tenant {
        conditions.and("tenant", "=", tenant.clone());
    }
    if let Some(order) = filter.order_id {
        conditions.and("order_id", "=", order);
    }
    if let Some(since) = filter.since {
        conditions.and("created_at", ">=", since);
    }
    if let Some(cursor) = &filter.cursor {
        let Ok(seq) = cursor.parse::<i64>() else {
            return Ok(Page {
                deliveries: Vec::new(),
                next_cursor: None,
            });
        };
        conditions.and("seq", "<", seq);
    }
    let limit = filter.limit.clamp(1, MAX_LIMIT);
    // One row more than the page tells whether another page follows.
    let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
    conditions.params.push(Box::new(fetch));
    let sql = format!(
        "{}{} ORDER BY seq DESC LIMIT ${}",
        record_sql!("WHERE true"),
        conditions.sql,
        conditions.params.len()
    );
    let rows = record_rows(client, &sql, &conditions.params()).await?;
    let (rows, next_cursor) = paged(rows, limit, |(seq, _)| seq.to_string());
    Ok(Page {
        deliveries: with_attempts(client, rows).await?,
        next_cursor,
    })
}

pub(super) async fn get(client: &Object, id: Uuid) -> Result<Option<DeliveryRecord>, StoreError> {
    let rows = record_rows(client, record_sql!("WHERE id = $1"), &[&id]).await?;
    Ok(with_attempts(client, rows).await?.pop())
}

pub(super) async fn order_deliveries(
    client: &Object,
    order: Uuid,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    let sql = record_sql!("WHERE order_id = $1 ORDER BY seq DESC");
    let rows = record_rows(client, sql, &[&order]).await?;
    with_attempts(client, rows).await
}

/// The operator's fresh start: the schedule from the top, the refusal forgotten. `patched`
/// stays: a patch Flow accepted is not sent again.
const REQUEUE: &str = "state = 'pending', attempts = 0, error = NULL, flow_status = NULL,
    flow_body = NULL, lease_until = NULL, claimed_by = NULL, next_attempt_at = $1,
    updated_at = $1";

/// A later delivery of the same order reached Flow: this one would overwrite newer values.
const SUPERSEDED: &str = "EXISTS (SELECT 1 FROM deliveries l
    WHERE l.order_id = d.order_id AND l.seq > d.seq AND l.state = 'delivered')";

pub(super) async fn retry(
    client: &mut Object,
    id: Uuid,
    force: bool,
    now: DateTime<Utc>,
) -> Result<Retried, StoreError> {
    let tx = client.transaction().await?;
    let Some(delivery) = rows::brief_for_update(&tx, id).await? else {
        return Ok(Retried::NotFound);
    };
    if delivery.state != DeliveryState::Dead || !delivery.queued {
        return Ok(Retried::NotDead);
    }
    let superseded = tx
        .prepare_cached(&format!(
            "SELECT {SUPERSEDED} FROM deliveries d WHERE d.seq = $1"
        ))
        .await?;
    let superseded: bool = tx
        .query_one(&superseded, &[&delivery.seq])
        .await?
        .try_get(0)?;
    if superseded && !force {
        return Ok(Retried::Superseded);
    }
    let requeue = tx
        .prepare_cached(&format!("UPDATE deliveries SET {REQUEUE} WHERE seq = $2"))
        .await?;
    tx.execute(&requeue, &[&now, &delivery.seq]).await?;
    let record = record_by_seq(&tx, delivery.seq).await?;
    tx.commit().await?;
    Ok(Retried::Queued(record))
}

/// Every matching dead queued delivery in one statement: the superseded ones are counted, the
/// rest requeued (a row another action holds is waited for, then checked again).
pub(super) async fn redrive(
    client: &Object,
    filter: &RedriveFilter,
    now: DateTime<Utc>,
) -> Result<(u64, u64), StoreError> {
    let mut conditions = Conditions::default();
    // `$1` is `now`, for REQUEUE.
    conditions.params.push(Box::new(now));
    if let Some(vendor) = &filter.vendor {
        conditions.and("d.vendor", "=", vendor.clone());
    }
    if let Some(tenant) = &filter.tenant {
        conditions.and("d.tenant", "=", tenant.clone());
    }
    if let Some(since) = filter.since {
        conditions.and("d.created_at", ">=", since);
    }
    let sql = format!(
        "WITH matching AS MATERIALIZED (
             SELECT d.seq, {SUPERSEDED} AS superseded FROM deliveries d
             WHERE d.state = 'dead' AND d.mode = 'queued'{}),
         requeued AS (
             UPDATE deliveries SET {REQUEUE}
             WHERE state = 'dead' AND seq IN (SELECT seq FROM matching WHERE NOT superseded)
             RETURNING 1)
         SELECT (SELECT count(*) FROM requeued), (SELECT count(*) FROM matching WHERE superseded)",
        conditions.sql
    );
    let statement = client.prepare_cached(&sql).await?;
    let row = client.query_one(&statement, &conditions.params()).await?;
    let (redriven, superseded): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
    Ok((
        u64::try_from(redriven).unwrap_or(0),
        u64::try_from(superseded).unwrap_or(0),
    ))
}

/// An open delivery becomes dead with error `cancelled` (an in-flight attempt's `finish` will
/// not revive it); a finished one is returned as it is.
pub(super) async fn cancel(
    client: &mut Object,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<DeliveryRecord>, StoreError> {
    let tx = client.transaction().await?;
    let Some(delivery) = rows::brief_for_update(&tx, id).await? else {
        return Ok(None);
    };
    if delivery.state.is_open() {
        let statement = tx
            .prepare_cached(
                "UPDATE deliveries SET state = 'dead', error = 'cancelled',
                     next_attempt_at = NULL, lease_until = NULL, claimed_by = NULL,
                     updated_at = $2
                 WHERE seq = $1",
            )
            .await?;
        tx.execute(&statement, &[&delivery.seq, &now]).await?;
        if !delivery.queued {
            give_back_key(&tx, delivery.seq).await?;
        }
    }
    let record = record_by_seq(&tx, delivery.seq).await?;
    tx.commit().await?;
    Ok(Some(record))
}

/// Only finished deliveries go; their attempts and dedup key go with them (cascade).
pub(super) async fn delete(client: &mut Object, id: Uuid) -> Result<Deleted, StoreError> {
    let tx = client.transaction().await?;
    let Some(delivery) = rows::brief_for_update(&tx, id).await? else {
        return Ok(Deleted::NotFound);
    };
    if delivery.state.is_open() {
        return Ok(Deleted::Open);
    }
    let statement = tx
        .prepare_cached("DELETE FROM deliveries WHERE seq = $1")
        .await?;
    tx.execute(&statement, &[&delivery.seq]).await?;
    tx.commit().await?;
    Ok(Deleted::Deleted)
}
