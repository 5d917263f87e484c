//! `GET /metrics`: this gateway's Prometheus text. The gauges that describe state held elsewhere
//! (the store's queue, the tenants' circuits and pauses, readiness, the process's figures) are
//! read just before rendering, so a scrape sees them as they are.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use tokio::time::Instant;

use super::AdminState;
use crate::deliver::circuit::CircuitState;

/// The Prometheus text exposition format, version 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn metrics(State(state): State<AdminState>) -> Response {
    refresh(&state).await;
    let mut response = state.metrics.render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

/// Sets the gauges of what the store and the tenants' controls hold now.
async fn refresh(state: &AdminState) {
    super::readiness(state);
    match state.store.depth().await {
        Ok(depth) => state.metrics.set_queue(&depth, chrono::Utc::now()),
        // The gauges keep the upkeep's last count.
        Err(error) => tracing::warn!(%error, "counting the queue for /metrics failed"),
    }
    let now = Instant::now();
    for (tenant, circuit) in state.control.circuits() {
        let open = circuit.state(now) != CircuitState::Closed;
        let counted = state.metrics.tenant(tenant);
        counted.set_circuit_open(open);
        counted.set_paused(state.control.is_paused(tenant));
    }
    state.metrics.collect_process();
}
