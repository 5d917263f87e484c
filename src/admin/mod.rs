//! The admin listener, on its own address: liveness, readiness and metrics for orchestrators and
//! Prometheus, and the bearer-protected `/admin` API (contract section 9) to inspect and steer
//! deliveries, orders, tenants, rejections (and their replay) and vendors' drift. Each `/admin` file holds one resource; `auth.rs` holds the
//! token check.

mod auth;
mod console;
mod deliveries;
mod metrics;
mod orders;
mod overview;
mod rejections;
pub mod reload;
mod replay;
mod tenants;
#[cfg(test)]
mod tests;
mod vendors;

pub use auth::{AuthError, RequireBearer, RequireBearerLayer};
pub use orders::{BindingView, OrderView};
pub use overview::Overview;
pub use tenants::{TenantState, TenantView};

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde_json::json;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use uuid::Uuid;

use crate::config::Config;
use crate::deliver::control::TenantControl;
use crate::health::Health;
use crate::http::{RequestIdLayer, method_not_allowed, not_found, panicked, span};
use crate::metrics::Metrics;
use crate::problem::{Code, Problem};
use crate::queue::readiness::StoreReadiness;
use crate::queue::{Store, StoreError};
use crate::replay::Replayer;
use crate::validate::Drift;

/// A document made by its function at the first request that reads it.
pub type OpenApiDocument =
    Arc<LazyLock<serde_json::Value, Box<dyn FnOnce() -> serde_json::Value + Send>>>;

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
    /// Whether the store accepts, as the ingress sees it too.
    pub readiness: Arc<StoreReadiness>,
    /// The undeclared pointers of each configured vendor's payloads.
    pub drift: Arc<Drift>,
    /// Loads the configuration again (`POST /admin/reload`).
    pub reload: reload::Reloader,
    /// Runs kept webhooks through the running configuration (`POST /admin/replay`).
    pub replayer: Replayer,
    /// The running configuration (`GET /admin/overview`: its hash and vendors).
    pub config: Arc<Config>,
    /// When the gateway started.
    pub started_at: DateTime<Utc>,
    /// The OpenAPI document of the running configuration (`GET /openapi.json`), made at its
    /// first request: most gateways never serve it, and it holds every vendor's schema.
    pub openapi: OpenApiDocument,
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
        .route("/overview", get(overview::overview))
        .route("/orders/{order_id}", get(orders::show))
        .route("/tenants", get(tenants::list))
        .route("/tenants/{tenant}/pause", post(tenants::pause))
        .route("/tenants/{tenant}/resume", post(tenants::resume))
        .route(
            "/tenants/{tenant}/circuit/close",
            post(tenants::close_circuit),
        )
        .route("/rejections", get(rejections::list))
        .route(
            "/rejections/{id}",
            get(rejections::show).delete(rejections::delete),
        )
        .route("/vendors/{vendor}/drift", get(vendors::drift))
        .route("/reload", post(reload::reload))
        .route("/replay", post(replay::replay))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Around the fallbacks too, so an unauthenticated caller cannot map the API by its 404s.
        .layer(auth)
        .with_state(state.clone());
    // The console is open: its page asks for the token its calls to /admin carry.
    let routes = health_routes(state).nest("/admin", admin);
    around(routes.merge(console::router()))
}

fn health_routes(state: AdminState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// The admin listener's layers, outer → inner.
fn around(router: Router) -> Router {
    let layers = ServiceBuilder::new()
        // First, so every answer carries the id and problems are rendered as problem+json.
        .layer(RequestIdLayer)
        // Inside the id, so the span (and every action logged in it) names it. A 5xx here is an
        // answer (an unready /readyz, a store error the handler logged), not a failure to log
        // again at error level on every probe; a panic is logged where it is caught.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(span)
                .on_failure(()),
        )
        // A bug answers 500 `internal` instead of dropping the connection.
        .layer(CatchPanicLayer::custom(panicked));
    router.layer(layers)
}

/// The process is up and serving this listener.
async fn healthz() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

/// The OpenAPI document of this router's configuration.
async fn openapi(State(state): State<AdminState>) -> Response {
    axum::Json(&**state.openapi).into_response()
}

/// Ready: started, not draining, and the store accepting; else 503 naming each failing check.
async fn readyz(State(state): State<AdminState>) -> Response {
    let failing = readiness(&state);
    if failing.is_empty() {
        return axum::Json(json!({"ready": true})).into_response();
    }
    let body = json!({"ready": false, "checks": failing});
    (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
}

/// Each check that fails now, by name, with its cause, as `/readyz` answers; `flowgate_ready`
/// and `flowgate_store_ready` are set from the same look.
fn readiness(state: &AdminState) -> serde_json::Map<String, serde_json::Value> {
    let mut failing = serde_json::Map::new();
    if let Some(cause) = state.health.not_ready() {
        failing.insert("gateway".to_owned(), cause.into());
    }
    let store = state.readiness.check();
    state.metrics.set_store_ready(store.is_ok());
    if let Err(cause) = store {
        failing.insert("store".to_owned(), cause.to_string().into());
    }
    state.metrics.set_ready(failing.is_empty());
    failing
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
