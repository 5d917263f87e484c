//! The public listener: `POST /webhooks/{vendor}` through the pipeline of `stack.rs`,
//! `GET /launch/{vendor}` for Core's order button, and `GET`/`HEAD /ping` for Core. Everything
//! else is a 404 or 405 problem.

mod body;
mod capacity;
mod checks;
pub mod dedup;
pub mod dispatch;
mod guard;
mod keep;
mod launch;
pub mod outcome;
pub(crate) mod stack;
mod stage;
pub mod update;
mod vendors;
pub mod webhook;

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{Request, StatusCode};
use tokio::sync::watch;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

pub use capacity::{Capacities, Capacity};
pub use checks::{ParseJson, ValidateSchema};
pub use dispatch::Dispatch;
pub use stage::{AsyncStage, AsyncStageLayer, Stage, StageLayer};
pub use update::{CheckFlowToken, MapUpdate, RequireChange, ResolveTenant};
pub use vendors::{Vendor, Vendors, vendor_mapper, vendor_schemas};
use webhook::Inbound;

use crate::config::Config;
use crate::health::Health;
use crate::http::{method_not_allowed, not_found};
use crate::metrics::Metrics;
use crate::problem::{Code, Problem};
use crate::route::Tenants;
use crate::validate::Drift;
use crate::verify::flow_token::FlowTokens;

/// The webhook stages as one service.
pub type Pipeline = BoxCloneSyncService<Inbound, Response, Infallible>;

/// What stands between a parsed webhook and Flow: the tenants, the FlowToken verifier, the
/// drift record (which outlives configurations), and the last stage (store, deliverer, tenant
/// controls), built once at start-up.
#[derive(Clone)]
pub struct FlowPath {
    pub tenants: Arc<Tenants>,
    pub tokens: Arc<FlowTokens>,
    pub drift: Arc<Drift>,
    pub dispatch: Dispatch,
}

#[derive(Clone)]
struct Ingress {
    pipeline: Pipeline,
    vendors: Arc<Vendors>,
    flow: FlowPath,
    health: Health,
}

/// The public listener's routes inside the layers of `stack.rs`, admitting requests within
/// `capacities`; requests still running when `cut` turns true are answered 503 and dropped.
pub fn router(
    config: &Config,
    vendors: Arc<Vendors>,
    flow: FlowPath,
    health: Health,
    metrics: Metrics,
    capacities: &Capacities,
    cut: watch::Receiver<bool>,
) -> Router {
    let state = Ingress {
        pipeline: stack::webhook_pipeline(vendors.clone(), &flow, config, &capacities.buffered),
        vendors,
        flow,
        health,
    };
    let routes = Router::new()
        .route("/webhooks/{vendor}", post(webhook))
        .route("/launch/{vendor}", get(launch::launch))
        .route("/ping", get(ping))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    stack::around_routes(routes, config, metrics, &capacities.in_flight, cut)
}

async fn webhook(
    State(ingress): State<Ingress>,
    vendor: Result<Path<String>, PathRejection>,
    request: Request<Body>,
) -> Response {
    let Ok(Path(vendor)) = vendor else {
        return Problem::new(
            Code::UnknownVendor,
            "The vendor name in the path is not valid.",
        )
        .into_response();
    };
    match ingress.pipeline.oneshot(Inbound { vendor, request }).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Core's PingUrl: 200 while ready, 503 while starting or draining.
async fn ping(State(ingress): State<Ingress>) -> StatusCode {
    if ingress.health.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}
