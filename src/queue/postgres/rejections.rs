//! Rejections' rows: inserted with the deliveries of a group commit (`commits.rs`), listed
//! newest first by id, trimmed and purged from the oldest id in chunks that skip rows another
//! process is deleting, so replicas trimming at once neither wait for each other nor drop a row
//! twice.

use bytes::Bytes;
use deadpool_postgres::{GenericClient, Object};
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;

use crate::order::StoreError;
use crate::queue::paged;
use crate::queue::rejections::first_id_at;
use crate::queue::{Rejection, RejectionFilter, RejectionPage};

use super::admin::Conditions;
use super::rows::before;

/// The largest page of a listing, whatever the caller asks.
const MAX_LIMIT: usize = 500;

/// The largest page of a replay (contract section 17).
const MAX_REPLAY: usize = 1000;

/// Rows one trim or purge statement deletes at most; either repeats while a chunk was full.
pub(super) const CHUNK: i64 = 2000;

/// Every column but the body, in the order [`rejection`] reads them.
const COLUMNS: &str = "id, vendor, received_at, status, code, detail, errors, event_id, \
                       request_id, content_type, delivery_id";

const INSERT: &str = "INSERT INTO rejections (id, vendor, received_at, status, code, detail,
    errors, event_id, request_id, content_type, delivery_id, body)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

/// The id of the newest rejection beyond the `$1` newest: it and every older one go.
const EDGE: &str = "SELECT id FROM rejections ORDER BY id DESC OFFSET $1 LIMIT 1";

/// The oldest rejections up to `$1`, one chunk.
const DROP_THROUGH: &str = "DELETE FROM rejections WHERE id IN (SELECT id FROM rejections
    WHERE id <= $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)";

/// The rejections received before `$1`'s time, one chunk.
const PURGE: &str = "DELETE FROM rejections WHERE id IN (SELECT id FROM rejections
    WHERE id < $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)";

/// Inserts `rejection` in the caller's transaction.
pub(super) async fn keep(
    client: &impl GenericClient,
    rejection: &Rejection,
) -> Result<(), StoreError> {
    let statement = client.prepare_cached(INSERT).await?;
    let errors = (!rejection.errors.is_null()).then_some(Json(&rejection.errors));
    client
        .execute(
            &statement,
            &[
                &rejection.id,
                &rejection.vendor,
                &rejection.received_at,
                &i32::from(rejection.status),
                &rejection.code,
                &rejection.detail,
                &errors,
                &rejection.event_id,
                &rejection.request_id,
                &rejection.content_type,
                &rejection.delivery_id,
                &rejection.body.as_ref(),
            ],
        )
        .await?;
    Ok(())
}

/// One rejection (the columns of [`COLUMNS`], then the body when `with_body`).
fn rejection(row: &Row, with_body: bool) -> Result<Rejection, StoreError> {
    let errors: Option<Json<serde_json::Value>> = row.try_get(6)?;
    let status: i32 = row.try_get(3)?;
    let body = if with_body {
        Bytes::from(row.try_get::<_, Vec<u8>>(11)?)
    } else {
        Bytes::new()
    };
    Ok(Rejection {
        id: row.try_get(0)?,
        vendor: row.try_get(1)?,
        received_at: row.try_get(2)?,
        status: u16::try_from(status).unwrap_or(0),
        code: row.try_get(4)?,
        detail: row.try_get(5)?,
        errors: errors.map_or(serde_json::Value::Null, |Json(errors)| errors),
        event_id: row.try_get(7)?,
        request_id: row.try_get(8)?,
        content_type: row.try_get(9)?,
        body,
        delivery_id: row.try_get(10)?,
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

/// In `listing`'s order; the cursor is the id of the previous page's last rejection. A cursor
/// that is not one (it is opaque to callers, so only a tampered one) yields an empty page.
pub(super) async fn list(
    client: &Object,
    filter: &RejectionFilter,
    listing: Listing,
) -> Result<RejectionPage, StoreError> {
    let mut conditions = Conditions::default();
    if let Some(vendor) = &filter.vendor {
        conditions.and("vendor", "=", vendor.clone());
    }
    if let Some(code) = &filter.code {
        conditions.and("code", "=", code.clone());
    }
    if let Some(since) = filter.since {
        conditions.and("id", ">=", first_id_at(since));
    }
    if let Some(until) = filter.until {
        conditions.and("id", "<", first_id_at(until));
    }
    if !filter.ids.is_empty() {
        conditions.params.push(Box::new(filter.ids.clone()));
        let n = conditions.params.len();
        conditions.sql.push_str(&format!(" AND id = ANY(${n})"));
    }
    let (with_body, beyond, order, max) = match listing {
        Listing::Newest => (false, "<", "DESC", MAX_LIMIT),
        Listing::Replay => (true, ">", "ASC", MAX_REPLAY),
    };
    if let Some(cursor) = &filter.cursor {
        let Ok(after) = Uuid::parse_str(cursor) else {
            return Ok(RejectionPage {
                rejections: Vec::new(),
                next_cursor: None,
            });
        };
        conditions.and("id", beyond, after);
    }
    let limit = filter.limit.clamp(1, max);
    // One row more than the page tells whether another page follows.
    let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
    conditions.params.push(Box::new(fetch));
    let body = if with_body { ", body" } else { "" };
    let sql = format!(
        "SELECT {COLUMNS}{body} FROM rejections WHERE true{} ORDER BY id {order} LIMIT ${}",
        conditions.sql,
        conditions.params.len()
    );
    let statement = client.prepare_cached(&sql).await?;
    let rows = client.query(&statement, &conditions.params()).await?;
    let rejections = rows
        .iter()
        .map(|row| rejection(row, with_body))
        .collect::<Result<Vec<_>, _>>()?;
    let (rejections, next_cursor) = paged(rejections, limit, |r| r.id.to_string());
    Ok(RejectionPage {
        rejections,
        next_cursor,
    })
}

/// Records the delivery a replay made of rejection `id`.
pub(super) async fn record_replay(
    client: &Object,
    id: Uuid,
    delivery_id: Uuid,
) -> Result<(), StoreError> {
    let statement = client
        .prepare_cached("UPDATE rejections SET delivery_id = $2 WHERE id = $1")
        .await?;
    client.execute(&statement, &[&id, &delivery_id]).await?;
    Ok(())
}

pub(super) async fn get(client: &Object, id: Uuid) -> Result<Option<Rejection>, StoreError> {
    let sql = format!("SELECT {COLUMNS}, body FROM rejections WHERE id = $1");
    let statement = client.prepare_cached(&sql).await?;
    let row = client.query_opt(&statement, &[&id]).await?;
    row.map(|row| rejection(&row, true)).transpose()
}

pub(super) async fn delete(client: &Object, id: Uuid) -> Result<bool, StoreError> {
    let statement = client
        .prepare_cached("DELETE FROM rejections WHERE id = $1")
        .await?;
    Ok(client.execute(&statement, &[&id]).await? > 0)
}

/// Finds the newest rejection beyond the `max` newest (an index-only walk of at most `max`
/// entries: the whole cost when nothing is to drop), then drops it and every older one, chunk
/// by chunk.
pub(super) async fn trim(client: &Object, max: u64) -> Result<u64, StoreError> {
    let edge = client.prepare_cached(EDGE).await?;
    let offset = i64::try_from(max).unwrap_or(i64::MAX);
    let Some(row) = client.query_opt(&edge, &[&offset]).await? else {
        return Ok(0);
    };
    let edge: Uuid = row.try_get(0)?;
    delete_chunks(client, DROP_THROUGH, edge).await
}

/// The rejections received more than `retention` before `now`, chunk by chunk.
pub(super) async fn purge(
    client: &Object,
    now: chrono::DateTime<chrono::Utc>,
    retention: std::time::Duration,
) -> Result<u64, StoreError> {
    delete_chunks(client, PURGE, first_id_at(before(now, retention))).await
}

async fn delete_chunks(client: &Object, sql: &str, bound: Uuid) -> Result<u64, StoreError> {
    let statement = client.prepare_cached(sql).await?;
    let mut deleted = 0;
    loop {
        let chunk = client.execute(&statement, &[&bound, &CHUNK]).await?;
        deleted += chunk;
        if chunk < CHUNK as u64 {
            return Ok(deleted);
        }
    }
}
