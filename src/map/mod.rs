//! Vendor payload → canonical [`OrderUpdate`] plus the fields that route and authorise it.
//! A [`Mapper`] is built once per vendor at start-up, from its `[vendors.X.map]` or for the
//! canonical envelope; [`Mapper::map`] then runs on every validated webhook.

mod field;
mod metadata;
mod pointer;
mod text;

#[cfg(test)]
mod tests;

use serde_json::Value;
use uuid::Uuid;

use self::field::Field;
use self::metadata::Metadata;
use self::pointer::Pointer;
use self::text::Cutter;
use crate::config::MapConfig;
use crate::order::OrderUpdate;

/// What one webhook maps to: the update and the fields that route and authorise it.
#[derive(Clone, Debug, PartialEq)]
pub struct Mapped {
    pub event_id: Option<String>,
    pub order_id: Uuid,
    pub flow_url: Option<String>,
    pub tenant_id: Option<i64>,
    pub flow_token: Option<String>,
    pub update: OrderUpdate,
    /// Canonical fields whose strings were cut to `limits.max_field_chars`, each named once:
    /// "status", "title", "action_text", "metadata" (a closed set: they become metric labels).
    pub truncated: Vec<&'static str>,
}

impl Mapped {
    /// A mapped webhook must set something to deliver (also what `flowgate map` checks).
    pub fn check_update(&self) -> Result<(), MappingError> {
        if self.update.patches() || self.update.updates_state() {
            return Ok(());
        }
        Err(MappingError {
            field: "update".into(),
            reason: "the webhook sets none of state, status, title, action text, metadata".into(),
        })
    }
}

/// 422 `mapping-failed`: which field, and why (never the whole payload; a quoted value is cut
/// short).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct MappingError {
    /// The map key (`order_id`, `metadata.Photographer`) or the envelope's member (`orderId`).
    pub field: String,
    pub reason: String,
}

impl MappingError {
    fn new(field: &str, reason: String) -> Self {
        Self {
            field: field.to_owned(),
            reason,
        }
    }
}

/// A vendor's mapping, built once at start-up.
#[derive(Clone, Debug)]
pub struct Mapper {
    event_id: Field,
    order_id: Field,
    flow_url: Field,
    tenant_id: Field,
    flow_token: Field,
    state: Field,
    status: Field,
    title: Field,
    action_text: Field,
    metadata: Metadata,
    max_field_chars: usize,
}

impl Mapper {
    /// A canonical vendor: the payload is the envelope itself.
    pub fn canonical(max_field_chars: usize) -> Mapper {
        Mapper {
            event_id: Field::member("id", "/id"),
            order_id: Field::member("orderId", "/orderId"),
            flow_url: Field::member("flowUrl", "/flowUrl"),
            tenant_id: Field::member("tenantId", "/tenantId"),
            flow_token: Field::member("flowToken", "/flowToken"),
            state: Field::member("state", "/state"),
            status: Field::member("status", "/status"),
            title: Field::member("title", "/title"),
            action_text: Field::member("actionText", "/actionText"),
            metadata: Metadata::Envelope(Pointer::new("/metadata")),
            max_field_chars,
        }
    }

    /// A vendor with `[vendors.X.map]` (already checked at load).
    pub fn from_map(map: &MapConfig, max_field_chars: usize) -> Mapper {
        Mapper {
            event_id: Field::mapped("event_id", map.event_id.as_ref()),
            order_id: Field::mapped("order_id", map.order_id.as_ref()),
            flow_url: Field::mapped("flow_url", map.flow_url.as_ref()),
            tenant_id: Field::mapped("tenant_id", map.tenant_id.as_ref()),
            flow_token: Field::mapped("flow_token", map.flow_token.as_ref()),
            state: Field::mapped("state", map.state.as_ref()),
            status: Field::mapped("status", map.status.as_ref()),
            title: Field::mapped("title", map.title.as_ref()),
            action_text: Field::mapped("action_text", map.action_text.as_ref()),
            metadata: Metadata::mapped(map.metadata.as_ref(), max_field_chars),
            max_field_chars,
        }
    }

    /// Maps one payload (already valid against the vendor's schema). The first field that
    /// cannot be mapped is the error, the order id checked first.
    pub fn map(&self, document: &Value) -> Result<Mapped, MappingError> {
        let order_id = self.order_id.order_id(document)?;
        let mut cutter = Cutter::new(self.max_field_chars);
        let update = OrderUpdate {
            state: self.state.state(document)?,
            status: self.status.cut_text(document, &mut cutter, "status")?,
            title: self.title.cut_text(document, &mut cutter, "title")?,
            action_text: self
                .action_text
                .cut_text(document, &mut cutter, "action_text")?,
            metadata: self.metadata.lines(document, &mut cutter)?,
        };
        // Routing and authorising fields are never cut: a cut URL, id or token would be wrong.
        let event_id = self.event_id.whole_text(document)?;
        let flow_url = self.flow_url.whole_text(document)?;
        let tenant_id = self.tenant_id.tenant_id(document)?;
        let flow_token = self.flow_token.whole_text(document)?;
        Ok(Mapped {
            event_id,
            order_id,
            flow_url,
            tenant_id,
            // An empty token is no token, so the vendor's `flow_token` policy decides.
            flow_token: flow_token.filter(|token| !token.is_empty()),
            update,
            truncated: cutter.into_fields(),
        })
    }

    /// The payload's event id, read before validation for the dedup lookup: a value the map
    /// could not use is no id (the body's hash stands in).
    pub fn event_id(&self, document: &Value) -> Option<String> {
        self.event_id.whole_text(document).ok().flatten()
    }

    /// The state table's `default`, used by delivery when a status arrives without a state.
    pub fn state_default(&self) -> Option<&str> {
        self.state.table_default()
    }
}
