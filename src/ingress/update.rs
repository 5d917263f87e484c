//! The stages after validation, where a webhook becomes an order update: `Valid` → `Update`
//! (mapped) → `Addressed` (tenant resolved) → `Authorized` (FlowToken policy met), and the end
//! of the pipeline, which hands the update to delivery and answers.

use std::sync::Arc;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::guard::RequestDeadline;
use super::webhook::Valid;
use super::{AsyncStage, Stage};
use crate::config::{DeliveryMode, FlowTokenPolicy};
use crate::deliver::{Deliverer, Delivery, DeliveryError};
use crate::flow::TenantFlow;
use crate::map::{self, MappingError};
use crate::order::{Binding, OrderBook, StoreError};
use crate::problem::Problem;
use crate::route::{Claim, RouteError, Tenants};
use crate::verify::Verified;
use crate::verify::flow_token::{self, FlowTokens, TokenError, VerifiedToken};

/// Flow calls stop this long before the request's deadline, so the gateway answers 504 itself
/// instead of being cut off with a 408.
const ANSWER_MARGIN: Duration = Duration::from_millis(250);

/// A valid webhook mapped onto an order update.
pub struct Update {
    pub webhook: Verified,
    pub order: map::Mapped,
    /// The dedup and idempotency identity: the signed header id, the payload's id, or the hash
    /// of the body.
    pub event_id: String,
}

/// An update whose tenant is known.
pub struct Addressed {
    pub update: Update,
    pub tenant: Arc<TenantFlow>,
    pub binding: Option<Binding>,
}

/// An update that met its vendor's FlowToken policy.
pub struct Authorized {
    pub addressed: Addressed,
    pub token: Option<VerifiedToken>,
}

/// Stage: map the payload → 422 `mapping-failed`.
#[derive(Clone, Copy, Default)]
pub struct MapUpdate;

impl Stage<Valid> for MapUpdate {
    type Out = Update;
    type Error = MappingError;

    fn run(&self, valid: Valid) -> Result<Update, MappingError> {
        let vendor = valid.webhook.vendor();
        let order = vendor.mapper.map(&valid.document)?;
        if !order.truncated.is_empty() {
            tracing::info!(vendor = %vendor.name, fields = ?order.truncated, "fields cut to limits.max_field_chars");
        }
        if !order.update.patches() && !order.update.updates_state() {
            return Err(MappingError {
                field: "update".into(),
                reason: "the webhook sets none of state, status, title, action text, metadata"
                    .into(),
            });
        }
        let event_id = valid
            .webhook
            .event_id()
            .map(str::to_owned)
            .or_else(|| order.event_id.clone())
            .unwrap_or_else(|| hex::encode(Sha256::digest(valid.webhook.body())));
        Ok(Update {
            webhook: valid.webhook,
            order,
            event_id,
        })
    }
}

/// Stage: choose the tenant (contract section 6) → 403 / 422; 503 when bindings cannot be read.
#[derive(Clone)]
pub struct ResolveTenant {
    tenants: Arc<Tenants>,
    book: Arc<dyn OrderBook>,
}

impl ResolveTenant {
    pub fn new(tenants: Arc<Tenants>, book: Arc<dyn OrderBook>) -> Self {
        Self { tenants, book }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AsyncStage<Update> for ResolveTenant {
    type Out = Addressed;
    type Error = AddressError;

    async fn run(&self, update: Update) -> Result<Addressed, AddressError> {
        let binding = self.book.binding(update.order.order_id).await?;
        let vendor = update.webhook.vendor();
        let claim = Claim {
            vendor: &vendor.name,
            flow_url: update.order.flow_url.as_deref(),
            tenant_id: update.order.tenant_id,
        };
        let name = self
            .tenants
            .resolve(claim, vendor.routing(), binding.as_ref())?;
        let tenant = self
            .tenants
            .flow(&name)
            .cloned()
            .ok_or(RouteError::Unresolved)?;
        Ok(Addressed {
            update,
            tenant,
            binding,
        })
    }
}

/// Stage: the vendor's FlowToken policy (contract section 7) → 401 / 403 / 503.
#[derive(Clone)]
pub struct CheckFlowToken {
    tokens: Arc<FlowTokens>,
    book: Arc<dyn OrderBook>,
}

impl CheckFlowToken {
    pub fn new(tokens: Arc<FlowTokens>, book: Arc<dyn OrderBook>) -> Self {
        Self { tokens, book }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("The vendor must send a FlowToken for an order no verified token has bound.")]
    Missing,
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AsyncStage<Addressed> for CheckFlowToken {
    type Out = Authorized;
    type Error = PolicyError;

    async fn run(&self, addressed: Addressed) -> Result<Authorized, PolicyError> {
        let order = &addressed.update.order;
        let policy = addressed.update.webhook.vendor().flow_token;
        let token = match (policy, order.flow_token.as_deref()) {
            (FlowTokenPolicy::Off, _) | (FlowTokenPolicy::Optional, None) => None,
            (FlowTokenPolicy::Required, None) if addressed.binding.is_some() => None,
            (FlowTokenPolicy::Required, None) => return Err(PolicyError::Missing),
            (_, Some(token)) => self.verify(&addressed, token).await?,
        };
        Ok(Authorized { addressed, token })
    }
}

impl CheckFlowToken {
    /// Verifies the token unless it is the one that bound the order, then binds the order.
    async fn verify(
        &self,
        addressed: &Addressed,
        token: &str,
    ) -> Result<Option<VerifiedToken>, PolicyError> {
        let hash = flow_token::hash(token);
        if addressed
            .binding
            .as_ref()
            .is_some_and(|b| b.token_hash == hash)
        {
            return Ok(None);
        }
        let webhook = &addressed.update.webhook;
        let order = addressed.update.order.order_id;
        let deadline = flow_deadline(webhook);
        let verified = self
            .tokens
            .verify(&addressed.tenant, token, order, deadline)
            .await?;
        let binding = Binding {
            tenant: addressed.tenant.name().to_owned(),
            vendor: webhook.vendor().name.clone(),
            case_id: verified.identity.case_id,
            broker: verified.identity.broker.clone(),
            token_hash: verified.hash,
            bound_at: Utc::now(),
        };
        let in_force = self.book.bind(order, binding.clone()).await?;
        // Another request may have bound the order since this one was routed.
        if in_force.vendor != binding.vendor {
            return Err(RouteError::OtherVendor.into());
        }
        if in_force.tenant != binding.tenant {
            return Err(RouteError::BoundElsewhere.into());
        }
        Ok(Some(verified))
    }
}

/// When Flow calls for this request must be done.
fn flow_deadline(webhook: &Verified) -> Instant {
    let deadline = webhook
        .parts()
        .extensions
        .get::<RequestDeadline>()
        .map_or_else(|| Instant::now() + Duration::from_secs(10), |d| d.0);
    deadline
        .checked_sub(ANSWER_MARGIN)
        .unwrap_or(deadline)
        .max(Instant::now())
}

/// The end of the pipeline: deliver and answer.
pub async fn dispatch(deliverer: Arc<Deliverer>, authorized: Authorized) -> Response {
    let Addressed { update, tenant, .. } = authorized.addressed;
    let vendor = update.webhook.vendor();
    let delivery = Delivery {
        id: uuid::Uuid::now_v7(),
        vendor: vendor.name.clone(),
        tenant,
        order_id: update.order.order_id,
        event_id: update.event_id,
        update: update.order.update,
        state_default: vendor.mapper.state_default().map(str::to_owned),
        traceparent: traceparent(&update.webhook),
    };
    match vendor.mode {
        // The durable queue is the next step; until it exists a queued vendor is served as sync,
        // so no 202 is ever given for a webhook that could still be lost.
        DeliveryMode::Queued | DeliveryMode::Sync => {
            let deadline = flow_deadline(&update.webhook);
            answer_sync(&delivery, deliverer.deliver(&delivery, deadline).await)
        }
    }
}

fn answer_sync(
    delivery: &Delivery,
    result: Result<crate::flow::FlowResponse, DeliveryError>,
) -> Response {
    match result {
        Ok(response) => {
            tracing::info!(delivery_id = %delivery.id, vendor = %delivery.vendor, tenant = delivery.tenant.name(), order_id = %delivery.order_id, "webhook delivered");
            let order = serde_json::from_slice::<Value>(&response.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&response.body).into()));
            let body = json!({"id": delivery.id, "state": "delivered", "duplicate": false, "order": order});
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Err(error) => Problem::from(error).into_response(),
    }
}

/// The vendor's W3C trace context when it sent a well-formed one, else a new trace.
fn traceparent(webhook: &Verified) -> String {
    let given = webhook
        .parts()
        .headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_traceparent(v));
    match given {
        Some(value) => value.to_ascii_lowercase(),
        None => {
            let trace = uuid::Uuid::new_v4().simple().to_string();
            let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
            format!("00-{trace}-{span}-01")
        }
    }
}

/// `00-<32 hex>-<16 hex>-<2 hex>`, ids not all zero.
fn is_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    matches!(parts.as_slice(), [version, trace, span, flags]
        if hex(version, 2) && *version != "ff" && hex(trace, 32) && hex(span, 16) && hex(flags, 2)
            && trace.bytes().any(|b| b != b'0') && span.bytes().any(|b| b != b'0'))
}

#[cfg(test)]
mod tests {
    use super::is_traceparent;

    #[test]
    fn traceparents_are_checked() {
        assert!(is_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert!(!is_traceparent(bad), "{bad}");
        }
    }
}
