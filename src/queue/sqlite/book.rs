//! The order book's rows: an order's binding (the first one wins) and the values Flow last
//! accepted for it, which every PATCH is merged over.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Deserialize;
use uuid::Uuid;

use crate::order::{Binding, Broker, LastSent, StoreError, StoreErrorKind as Kind};

use super::error::json_error;
use super::rows::{hash, millis, time};

/// `Broker` as stored; it is written with its own `Serialize`, so the field names match.
#[derive(Deserialize)]
struct StoredBroker {
    user_id: Option<i64>,
    full_name: Option<String>,
    email: Option<String>,
    company: Option<String>,
    office_id: Option<i64>,
    office_name: Option<String>,
}

impl From<StoredBroker> for Broker {
    fn from(stored: StoredBroker) -> Broker {
        // Every field named (no `..`): a field added to `Broker` fails to compile here.
        Broker {
            user_id: stored.user_id,
            full_name: stored.full_name,
            email: stored.email,
            company: stored.company,
            office_id: stored.office_id,
            office_name: stored.office_name,
        }
    }
}

fn binding_row(row: &Row<'_>) -> rusqlite::Result<Binding> {
    let broker: String = row.get(3)?;
    let broker: StoredBroker = serde_json::from_str(&broker).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            3,
            rusqlite::types::Type::Text,
            "not a broker".into(),
        )
    })?;
    Ok(Binding {
        tenant: row.get(0)?,
        vendor: row.get(1)?,
        case_id: row.get(2)?,
        broker: broker.into(),
        token_hash: hash(row, 4)?,
        bound_at: time(row, 5)?,
    })
}

pub(super) fn binding(conn: &Connection, order: Uuid) -> Result<Option<Binding>, StoreError> {
    let found = conn
        .prepare_cached(
            "SELECT tenant, vendor, case_id, broker_json, token_hash, bound_at FROM bindings
             WHERE order_id = ?1",
        )?
        .query_row([order.to_string()], binding_row)
        .optional()?;
    Ok(found)
}

/// Records `binding` unless the order is bound already; returns the binding in force.
pub(super) fn bind(
    conn: &Connection,
    order: Uuid,
    binding: &Binding,
) -> Result<Binding, StoreError> {
    let broker = serde_json::to_string(&binding.broker).map_err(json_error)?;
    conn.prepare_cached(
        "INSERT OR IGNORE INTO bindings
             (order_id, tenant, vendor, case_id, broker_json, token_hash, bound_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        order.to_string(),
        binding.tenant,
        binding.vendor,
        binding.case_id,
        broker,
        binding.token_hash,
        millis(binding.bound_at),
    ])?;
    self::binding(conn, order)?
        .ok_or_else(|| StoreError::new(Kind::Corrupt, "a binding vanished while it was written"))
}

/// What Flow last accepted; all fields empty for an order never sent.
pub(super) fn last_sent(conn: &Connection, order: Uuid) -> Result<LastSent, StoreError> {
    let found = conn
        .prepare_cached(
            "SELECT title, action_text, metadata_json, state FROM last_sent WHERE order_id = ?1",
        )?
        .query_row([order.to_string()], |row| {
            let metadata: String = row.get(2)?;
            Ok((row.get(0)?, row.get(1)?, metadata, row.get(3)?))
        })
        .optional()?;
    let Some((title, action_text, metadata, state)) = found else {
        return Ok(LastSent::default());
    };
    let metadata = serde_json::from_str(&metadata)
        .map_err(|e| StoreError::with_source(Kind::Corrupt, "a stored value is unreadable", e))?;
    Ok(LastSent {
        title,
        action_text,
        metadata,
        state,
    })
}

pub(super) fn record_sent(
    conn: &Connection,
    order: Uuid,
    sent: &LastSent,
    now: i64,
) -> Result<(), StoreError> {
    let metadata = serde_json::to_string(&sent.metadata).map_err(json_error)?;
    conn.prepare_cached(
        "INSERT INTO last_sent (order_id, title, action_text, metadata_json, state, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (order_id) DO UPDATE SET title = excluded.title,
             action_text = excluded.action_text, metadata_json = excluded.metadata_json,
             state = excluded.state, updated_at = excluded.updated_at",
    )?
    .execute(params![
        order.to_string(),
        sent.title,
        sent.action_text,
        metadata,
        sent.state,
        now,
    ])?;
    Ok(())
}
