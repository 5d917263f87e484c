//! The admin listener, on its own address: liveness, readiness and metrics for orchestrators and
//! Prometheus, and the bearer-protected `/admin` API (contract section 9) to inspect and steer
//! deliveries, orders and tenants. Each `/admin` file holds one resource; `auth.rs` holds the
//! token check.

mod auth;
mod deliveries;
mod metrics;
mod orders;
mod tenants;
#[cfg(test)]
mod tests;

pub use auth::{AuthError, RequireBearer, RequireBearerLayer};

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use serde_json::json;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use uuid::Uuid;

use crate::app::Health;
use crate::deliver::control::TenantControl;
use crate::ingress::request_id::RequestIdLayer;
use crate::ingress::stack::{panicked, span};
use crate::ingress::{method_not_allowed, not_found};
use crate::metrics::Metrics;
use crate::problem::{Code, Problem};
use crate::queue::{Store, StoreError};

/// What the admin API works on.
#[derive(Clone)]
pub struct AdminState {
    pub store: Arc<dyn Store>,
    pub control: Arc<TenantControl>,
    /// The resolved admin token; `None` closes `/admin` (403).
    pub token: Option<String>,
    pub health: Health,
    /// This gateway's metrics, served on `/metrics`.
    pub metrics: Metrics,
}

/// `/healthz`, `/readyz`, `/metrics` (open) and `/admin/*` (bearer token).
pub fn router(state: AdminState) -> Router {
    let auth = RequireBearerLayer::new(state.token.as_deref());
    let admin = Router::new()
        .route("/deliveries", get(deliveries::list))
        .route("/deliveries/redrive", post(deliveries::redrive))
        .route(
            "/deliveries/{id}",
            get(deliveries::show).delete(deliveries::delete),
        )
        .route("/deliveries/{id}/retry", post(deliveries::retry))
        .route("/deliveries/{id}/cancel", post(deliveries::cancel))
        .route("/orders/{order_id}", get(orders::show))
        .route("/tenants/{tenant}/pause", post(tenants::pause))
        .route("/tenants/{tenant}/resume", post(tenants::resume))
        .route(
            "/tenants/{tenant}/circuit/close",
            post(tenants::close_circuit),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Around the fallbacks too, so an unauthenticated caller cannot map the API by its 404s.
        .layer(auth)
        .with_state(state.clone());
    around(health_routes(state).nest("/admin", admin))
}

fn health_routes(state: AdminState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// The admin listener's layers, outer → inner.
fn around(router: Router) -> Router {
    let layers = ServiceBuilder::new()
        // First, so every answer carries the id and problems are rendered as problem+json.
        .layer(RequestIdLayer)
        // Inside the id, so the span (and every action logged in it) names it.
        .layer(TraceLayer::new_for_http().make_span_with(span))
        // A bug answers 500 `internal` instead of dropping the connection.
        .layer(CatchPanicLayer::custom(panicked));
    router.layer(layers)
}

/// The process is up and serving this listener.
async fn healthz() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

/// Ready: started, not draining, and the store answers.
async fn readyz(State(state): State<AdminState>) -> Response {
    let ready = readiness(&state).await;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(json!({"ready": ready}))).into_response()
}

/// Whether the gateway is ready, as `/readyz` answers and `flowgate_ready` reports it.
async fn readiness(state: &AdminState) -> bool {
    let ready = state.health.is_ready() && state.store.ping().await.is_ok();
    state.metrics.set_ready(ready);
    ready
}

/// How long a caller should wait after the store failed.
const RETRY_AFTER_STORE: Duration = Duration::from_secs(5);

/// The store failed: logged with what was being done, answered 503 without the cause.
fn store_failed(action: &'static str, error: StoreError) -> Problem {
    tracing::error!(action, %error, "admin: the store failed");
    Problem::new(Code::Unavailable, "The delivery store is unavailable.")
        .with_retry_after(RETRY_AFTER_STORE)
}

/// A path id. Ids are opaque to callers, so one that cannot exist is simply not found.
fn path_id(text: &str, what: &str) -> Result<Uuid, Problem> {
    Uuid::parse_str(text).map_err(|_| not_found_named(what, text))
}

fn not_found_named(what: &str, id: &str) -> Problem {
    Problem::new(Code::NotFound, format!("No {what} {id}."))
}
