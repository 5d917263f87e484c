//! Accepted bodies' rows: inserted by the delivery's own commit (`deliveries.rs`), read oldest
//! first by delivery id joined to their deliveries, purged from the oldest id in chunks that
//! skip rows another process is deleting. A delivery's deletion takes its body (the schema's
//! cascade).

use bytes::Bytes;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Object};
use uuid::Uuid;

use crate::order::StoreError;
use crate::queue::bodies::MAX_ACCEPTED;
use crate::queue::rejections::first_id_at;
use crate::queue::{AcceptedFilter, AcceptedWebhook, paged};

use super::admin::Conditions;
use super::rows::{CONTENT_COLUMNS, before, content};

/// Rows one purge statement deletes at most; the purge repeats while a chunk was full.
const CHUNK: i64 = 2000;

const INSERT: &str = "INSERT INTO bodies (delivery_id, body) VALUES ($1, $2)";

/// The bodies of webhooks accepted before `$1`'s time, one chunk.
const PURGE: &str = "DELETE FROM bodies WHERE delivery_id IN (SELECT delivery_id FROM bodies
    WHERE delivery_id < $1 ORDER BY delivery_id LIMIT $2 FOR UPDATE SKIP LOCKED)";

/// Keeps the body of the delivery `id`, in the caller's transaction (after the delivery's row).
pub(super) async fn keep(
    client: &impl GenericClient,
    id: Uuid,
    body: &Bytes,
) -> Result<(), StoreError> {
    let statement = client.prepare_cached(INSERT).await?;
    client.execute(&statement, &[&id, &body.as_ref()]).await?;
    Ok(())
}

/// Oldest first; the cursor is the id of the previous page's last delivery. A cursor that is
/// not one (only a tampered one) yields an empty page. "Received" is the time of the v7 id,
/// so `since` and `until` bound the key.
pub(super) async fn list(
    client: &Object,
    filter: &AcceptedFilter,
) -> Result<(Vec<AcceptedWebhook>, Option<String>), StoreError> {
    let mut conditions = Conditions::default();
    if let Some(vendor) = &filter.vendor {
        conditions.and("d.vendor", "=", vendor.clone());
    }
    if let Some(since) = filter.since {
        conditions.and("b.delivery_id", ">=", first_id_at(since));
    }
    if let Some(until) = filter.until {
        conditions.and("b.delivery_id", "<", first_id_at(until));
    }
    if !filter.ids.is_empty() {
        conditions.params.push(Box::new(filter.ids.clone()));
        let n = conditions.params.len();
        conditions
            .sql
            .push_str(&format!(" AND b.delivery_id = ANY(${n})"));
    }
    if let Some(cursor) = &filter.cursor {
        let Ok(after) = Uuid::parse_str(cursor) else {
            return Ok((Vec::new(), None));
        };
        conditions.and("b.delivery_id", ">", after);
    }
    let limit = filter.limit.clamp(1, MAX_ACCEPTED);
    // One row more than the page tells whether another page follows.
    let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
    conditions.params.push(Box::new(fetch));
    let sql = format!(
        "SELECT {CONTENT_COLUMNS}, b.body FROM bodies b JOIN deliveries d ON d.id = b.delivery_id
         WHERE true{} ORDER BY b.delivery_id LIMIT ${}",
        conditions.sql,
        conditions.params.len()
    );
    let statement = client.prepare_cached(&sql).await?;
    let rows = client.query(&statement, &conditions.params()).await?;
    let accepted = rows
        .iter()
        .map(|row| {
            Ok(AcceptedWebhook {
                content: content(row, 0)?,
                body: Bytes::from(row.try_get::<_, Vec<u8>>(9)?),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(paged(accepted, limit, |a| a.content.id.to_string()))
}

pub(super) async fn get(client: &Object, id: Uuid) -> Result<Option<Bytes>, StoreError> {
    let statement = client
        .prepare_cached("SELECT body FROM bodies WHERE delivery_id = $1")
        .await?;
    let row = client.query_opt(&statement, &[&id]).await?;
    let body = row.map(|row| row.try_get::<_, Vec<u8>>(0)).transpose()?;
    Ok(body.map(Bytes::from))
}

/// The bodies of webhooks accepted more than `retention` before `now`, chunk by chunk.
pub(super) async fn purge(
    client: &Object,
    now: DateTime<Utc>,
    retention: std::time::Duration,
) -> Result<(), StoreError> {
    let statement = client.prepare_cached(PURGE).await?;
    let bound = first_id_at(before(now, retention));
    loop {
        let chunk = client.execute(&statement, &[&bound, &CHUNK]).await?;
        if chunk < CHUNK as u64 {
            return Ok(());
        }
    }
}
