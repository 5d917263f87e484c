//! The Flow simulator: Flow's four operations under `/flow` (tokens, rate bucket, orders) and
//! inspection and fault injection under `/sim`, as one axum `Router` (DESIGN section 12).
//!
//! Served in-process with `[simulator] enabled = true` and standalone by `flowgate simulate`.

mod auth;
mod bucket;
mod calls;
mod faults;
mod flow;
mod inspect;
mod model;
mod operations;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::Value;

use auth::AccessTokens;
use bucket::Buckets;
use calls::CallLog;
use faults::Faults;
use model::OrderBook;

/// The credentials the simulated token endpoint accepts, and how long its tokens live.
#[derive(Debug, Clone)]
pub struct SimulatorSettings {
    pub client_id: String,
    pub client_secret: String,
    pub token_ttl: Duration,
}

/// A simulated Flow; clones share the same orders, tokens, buckets, faults and call log.
#[derive(Clone)]
pub struct Simulator {
    shared: Arc<Shared>,
}

/// Each concern has its own lock, held only for a synchronous step and never across an await.
struct Shared {
    settings: SimulatorSettings,
    orders: Mutex<OrderBook>,
    tokens: Mutex<AccessTokens>,
    buckets: Mutex<Buckets>,
    faults: Mutex<Faults>,
    calls: Mutex<CallLog>,
}

impl Simulator {
    pub fn new(settings: SimulatorSettings) -> Simulator {
        let shared = Shared {
            settings,
            orders: Mutex::default(),
            tokens: Mutex::default(),
            buckets: Mutex::default(),
            faults: Mutex::default(),
            calls: Mutex::default(),
        };
        Simulator {
            shared: Arc::new(shared),
        }
    }

    /// Every route: `/flow/...` (Flow's API) and `/sim/...` (inspection and faults).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/sim/orders", post(inspect::create_order))
            .route("/sim/orders/{guid}", get(inspect::get_order))
            .route("/sim/calls", get(inspect::list_calls))
            .route(
                "/sim/faults",
                post(inspect::add_fault).delete(inspect::clear_faults),
            )
            .route("/sim/tokens/expire", post(inspect::expire_tokens))
            // axum matches paths case-sensitively and Flow does not, so `/flow` requests are
            // all taken here and matched segment by segment in `flow.rs`.
            .fallback(fallback)
            .with_state(Arc::clone(&self.shared))
    }
}

async fn fallback(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_ascii_lowercase();
    if path == "/flow" || path.starts_with("/flow/") {
        flow::handle(shared, request).await
    } else {
        status_only(StatusCode::NOT_FOUND)
    }
}

/// A poisoned lock only means another request panicked mid-step; the simulator's state is
/// still usable for tests, so carry on rather than fail every later call.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A JSON answer with the Content-Type ASP.NET sends.
fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// An answer with a status and no body.
fn status_only(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}
