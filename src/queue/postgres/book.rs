//! The order book's rows: an order's binding (the first one wins, across the fleet) and the
//! values Flow last accepted for it, which every PATCH is merged over.

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Object};
use tokio_postgres::types::Json;
use uuid::Uuid;

use crate::order::{Binding, Broker, LastSent, StoreError, StoreErrorKind as Kind};

use super::rows::hash;

const BINDING: &str = "SELECT tenant, vendor, case_id, broker, token_hash, bound_at
    FROM bindings WHERE order_id = $1";

pub(super) async fn binding(client: &Object, order: Uuid) -> Result<Option<Binding>, StoreError> {
    let statement = client.prepare_cached(BINDING).await?;
    let Some(row) = client.query_opt(&statement, &[&order]).await? else {
        return Ok(None);
    };
    let Json(broker) = row.try_get::<_, Json<Broker>>(3)?;
    Ok(Some(Binding {
        tenant: row.try_get(0)?,
        vendor: row.try_get(1)?,
        case_id: row.try_get(2)?,
        broker,
        token_hash: hash(&row, 4)?,
        bound_at: row.try_get(5)?,
    }))
}

/// Records `binding` unless the order is bound already; returns the binding in force. Two
/// processes binding one order at once: the second insert waits for the first to commit, does
/// nothing, and the read after it sees the first's binding.
pub(super) async fn bind(
    client: &Object,
    order: Uuid,
    binding: &Binding,
) -> Result<Binding, StoreError> {
    let statement = client
        .prepare_cached(
            "INSERT INTO bindings (order_id, tenant, vendor, case_id, broker, token_hash, bound_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (order_id) DO NOTHING",
        )
        .await?;
    let token_hash = binding.token_hash.as_slice();
    client
        .execute(
            &statement,
            &[
                &order,
                &binding.tenant,
                &binding.vendor,
                &binding.case_id,
                &Json(&binding.broker),
                &token_hash,
                &binding.bound_at,
            ],
        )
        .await?;
    self::binding(client, order)
        .await?
        .ok_or_else(|| StoreError::new(Kind::Corrupt, "a binding vanished while it was written"))
}

/// What Flow last accepted; all fields empty for an order never sent.
pub(super) async fn last_sent(client: &Object, order: Uuid) -> Result<LastSent, StoreError> {
    let statement = client
        .prepare_cached(
            "SELECT title, action_text, metadata, state FROM last_sent WHERE order_id = $1",
        )
        .await?;
    let Some(row) = client.query_opt(&statement, &[&order]).await? else {
        return Ok(LastSent::default());
    };
    let Json(metadata) = row.try_get::<_, Json<Vec<(String, String)>>>(2)?;
    Ok(LastSent {
        title: row.try_get(0)?,
        action_text: row.try_get(1)?,
        metadata,
        state: row.try_get(3)?,
    })
}

pub(super) async fn record_sent(
    client: &impl GenericClient,
    order: Uuid,
    sent: &LastSent,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let statement = client
        .prepare_cached(
            "INSERT INTO last_sent (order_id, title, action_text, metadata, state, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (order_id) DO UPDATE SET title = EXCLUDED.title,
                 action_text = EXCLUDED.action_text, metadata = EXCLUDED.metadata,
                 state = EXCLUDED.state, updated_at = EXCLUDED.updated_at",
        )
        .await?;
    client
        .execute(
            &statement,
            &[
                &order,
                &sent.title,
                &sent.action_text,
                &Json(&sent.metadata),
                &sent.state,
                &now,
            ],
        )
        .await?;
    Ok(())
}
