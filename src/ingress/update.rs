//! The stages after validation, where a webhook becomes an order update: `Valid` → `Update`
//! (mapped) → `Addressed` (tenant resolved) → `Authorized` (FlowToken policy met), each a thin
//! adapter of `map`, `route` and `verify`; and the deadline Flow calls keep to.

use std::sync::Arc;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::guard::RequestDeadline;
use super::webhook::{Addressed, Authorized, Update, Valid, Verified};
use super::{AsyncStage, Stage};
use crate::map::MappingError;
use crate::order::OrderBook;
use crate::problem::Problem;
use crate::route::{self, AddressError, Claim, RouteError, Tenants};
use crate::verify::flow_token::{self, FlowTokens, VerifiedToken};
use crate::verify::policy::{PolicyError, token_to_verify};

/// Flow calls stop this long before the request's deadline, so the gateway answers 504 itself
/// instead of being cut off with a 408.
const ANSWER_MARGIN: Duration = Duration::from_millis(250);

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
            for field in &order.truncated {
                vendor.metrics.truncated(field);
            }
            tracing::info!(vendor = %vendor.name, fields = ?order.truncated, "fields cut to limits.max_field_chars");
        }
        Ok(Update {
            webhook: valid.webhook,
            order,
            identity: valid.identity,
        })
    }
}

/// Stage: the update must set something to deliver → 422 `mapping-failed`, naming its order.
#[derive(Clone, Copy, Default)]
pub struct RequireChange;

impl Stage<Update> for RequireChange {
    type Out = Update;
    type Error = MappingError;

    fn run(&self, update: Update) -> Result<Update, MappingError> {
        update.order.check_update()?;
        Ok(update)
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

impl AsyncStage<Addressed> for CheckFlowToken {
    type Out = Authorized;
    type Error = PolicyError;

    async fn run(&self, addressed: Addressed) -> Result<Authorized, PolicyError> {
        let order = &addressed.update.order;
        let policy = addressed.update.webhook.vendor().flow_token;
        let bound = addressed.binding.is_some();
        let token = match token_to_verify(policy, order.flow_token.as_deref(), bound)? {
            None => None,
            Some(token) => self.verify(&addressed, token).await?,
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
        let binding = verified.binding(addressed.tenant.name(), &webhook.vendor().name);
        route::bind(self.book.as_ref(), order, binding).await??;
        Ok(Some(verified))
    }
}

/// When Flow calls (and waits) for this request must be done.
pub(super) fn flow_deadline(webhook: &Verified) -> Instant {
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

impl IntoResponse for AddressError {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

impl IntoResponse for PolicyError {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}
