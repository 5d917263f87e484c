//! `/admin/tenants`: every tenant with its pause, its circuit and its deliveries owed and dead;
//! pause and resume a tenant's deliveries, and close its circuit by hand (after an operator
//! fixed what opened it). Only configured tenants exist here.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use tokio::time::Instant;

use super::{AdminState, not_found_named, store_failed};
use crate::deliver::control::TenantControl;
use crate::problem::Problem;

/// A tenant as the overview shows it: what an operator switches.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantState {
    tenant: String,
    paused: bool,
    /// `closed`, `open` or `half_open`.
    circuit: &'static str,
}

/// Every configured tenant's state, by name.
pub(super) fn states(control: &TenantControl) -> Vec<TenantState> {
    let now = Instant::now();
    control
        .circuits()
        .map(|(tenant, circuit)| TenantState {
            tenant: tenant.to_owned(),
            paused: control.is_paused(tenant),
            circuit: circuit.state(now).as_str(),
        })
        .collect()
}

/// A tenant in the list: its state and its deliveries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantView {
    #[serde(flatten)]
    state: TenantState,
    /// Not yet delivered nor waiting for a retry: in flight included.
    pending: u64,
    retrying: u64,
    dead: u64,
}

/// `GET /admin/tenants`: the counts are the store's (the fleet's, on PostgreSQL), of open and
/// dead deliveries only.
pub async fn list(State(admin): State<AdminState>) -> Result<Response, Problem> {
    let depths =
        (admin.store.depth_by_tenant().await).map_err(|e| store_failed("list tenants", e))?;
    let tenants: Vec<TenantView> = states(&admin.control)
        .into_iter()
        .map(|state| {
            let depth = depths.get(&state.tenant).copied().unwrap_or_default();
            TenantView {
                state,
                pending: depth.pending + depth.in_flight,
                retrying: depth.retrying,
                dead: depth.dead,
            }
        })
        .collect();
    Ok(Json(json!({"tenants": tenants})).into_response())
}

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
