//! `/admin/tenants/{tenant}`: pause and resume a tenant's deliveries, and close its circuit by
//! hand (after an operator fixed what opened it). Only configured tenants exist here.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{AdminState, not_found_named};
use crate::problem::Problem;

pub async fn pause(state: State<AdminState>, tenant: Path<String>) -> Result<Response, Problem> {
    set_paused(state, tenant, true)
}

pub async fn resume(state: State<AdminState>, tenant: Path<String>) -> Result<Response, Problem> {
    set_paused(state, tenant, false)
}

fn set_paused(
    State(admin): State<AdminState>,
    Path(tenant): Path<String>,
    paused: bool,
) -> Result<Response, Problem> {
    if !admin.control.set_paused(&tenant, paused) {
        return Err(not_found_named("tenant", &tenant));
    }
    admin.metrics.tenant(&tenant).set_paused(paused);
    let action = if paused { "pause" } else { "resume" };
    tracing::info!(action, tenant = %tenant, "admin action");
    Ok(Json(json!({"tenant": tenant, "paused": paused})).into_response())
}

pub async fn close_circuit(
    State(admin): State<AdminState>,
    Path(tenant): Path<String>,
) -> Result<Response, Problem> {
    let Some(circuit) = admin.control.circuit(&tenant) else {
        return Err(not_found_named("tenant", &tenant));
    };
    circuit.close();
    tracing::info!(action = "close circuit", tenant = %tenant, "admin action");
    Ok(Json(json!({"tenant": tenant, "circuit": "closed"})).into_response())
}
