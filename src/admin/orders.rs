//! `/admin/orders/{orderId}`: everything flowgate knows about one order, in one answer: the
//! binding that routes it, the values Flow last accepted, and its deliveries, newest first.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{AdminState, not_found_named, path_id, store_failed};
use crate::order::{Binding, Broker, LastSent};
use crate::problem::Problem;
use crate::queue::DeliveryRecord;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderView {
    order_id: Uuid,
    binding: Option<BindingView>,
    last_sent: LastSent,
    deliveries: Vec<DeliveryRecord>,
}

/// A binding as operators see it: the hash of the FlowToken that made it stays inside.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BindingView {
    tenant: String,
    vendor: String,
    case_id: Option<i64>,
    broker: Broker,
    bound_at: DateTime<Utc>,
}

impl From<Binding> for BindingView {
    fn from(binding: Binding) -> Self {
        Self {
            tenant: binding.tenant,
            vendor: binding.vendor,
            case_id: binding.case_id,
            broker: binding.broker,
            bound_at: binding.bound_at,
        }
    }
}

/// 404 when nothing at all is known of the order (no binding, no values sent, no deliveries):
/// a mistyped id should not look like an order that merely has no history.
pub async fn show(
    State(admin): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let order_id = path_id(&id, "order")?;
    let store = &admin.store;
    let failed = |e| store_failed("show order", e);
    let binding = store.binding(order_id).await.map_err(failed)?;
    let last_sent = store.last_sent(order_id).await.map_err(failed)?;
    let deliveries = store.order_deliveries(order_id).await.map_err(failed)?;
    if binding.is_none() && last_sent == LastSent::default() && deliveries.is_empty() {
        return Err(not_found_named("order", &id));
    }
    let view = OrderView {
        order_id,
        binding: binding.map(BindingView::from),
        last_sent,
        deliveries,
    };
    Ok(Json(view).into_response())
}
