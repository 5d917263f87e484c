//! The admin listener, on its own address: liveness and readiness for orchestrators.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use serde_json::json;

use crate::app::Health;
use crate::ingress::request_id::RequestIdLayer;
use crate::ingress::{method_not_allowed, not_found};

pub fn router(health: Health) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(health)
        .layer(RequestIdLayer)
}

/// The process is up and serving this listener.
async fn healthz() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

/// Configuration loaded and not draining.
async fn readyz(State(health): State<Health>) -> Response {
    let ready = health.is_ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(json!({"ready": ready}))).into_response()
}
