//! The public listener: `POST /webhooks/{vendor}` through the pipeline of `stack.rs`, and
//! `GET`/`HEAD /ping` for Core. Everything else is a 404 or 405 problem.

mod body;
mod guard;
pub mod request_id;
mod stack;
mod stage;
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
use serde_json::json;
use tokio::sync::watch;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

pub use body::BodyError;
pub use stage::{Stage, StageLayer};
pub use vendors::{Vendor, Vendors};
use webhook::{Inbound, Valid};

use crate::app::Health;
use crate::config::Config;
use crate::problem::{Code, Problem};

/// The webhook stages as one service.
pub type Pipeline = BoxCloneSyncService<Inbound, Response, Infallible>;

#[derive(Clone)]
struct Ingress {
    pipeline: Pipeline,
    health: Health,
}

/// The public listener's routes inside the layers of `stack.rs`; requests still running when
/// `cut` turns true are answered 503 and dropped.
pub fn router(
    config: &Config,
    vendors: Arc<Vendors>,
    health: Health,
    cut: watch::Receiver<bool>,
) -> Router {
    let state = Ingress {
        pipeline: stack::webhook_pipeline(vendors, config),
        health,
    };
    let routes = Router::new()
        .route("/webhooks/{vendor}", post(webhook))
        .route("/ping", get(ping))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    stack::around_routes(routes, config, cut)
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

pub async fn not_found() -> Problem {
    Problem::new(Code::NotFound, "No such route.")
}

pub async fn method_not_allowed() -> Problem {
    Problem::new(
        Code::MethodNotAllowed,
        "This route does not take that method.",
    )
}

/// The end of the inbound edge: a valid webhook is accepted. Until deliveries exist it is only
/// logged; the id is the one its delivery will carry.
async fn accept(valid: Valid) -> Result<Response, Infallible> {
    let id = uuid::Uuid::now_v7();
    let webhook = &valid.webhook;
    tracing::info!(
        vendor = %webhook.vendor().name,
        delivery_id = %id,
        event_id = webhook.event_id().unwrap_or_default(),
        bytes = webhook.body().len(),
        "webhook accepted"
    );
    let body = json!({"id": id, "state": "pending", "duplicate": false});
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}
