//! What both listeners share at the HTTP edge: the accept loop (`server.rs`), the client's
//! address (`client_addr.rs`), the request id every answer carries (`request_id.rs`), the W3C trace context (`trace_context.rs`), the span
//! each request logs in, and the answers no route gives: a caught panic, an unknown path, a
//! method a route does not take.

pub mod client_addr;
pub mod request_id;
pub mod server;
pub mod trace_context;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::Request;

pub use request_id::{RequestId, RequestIdLayer};
pub use trace_context::TraceContext;

use crate::problem::{Code, Problem};

/// The most characters of a path a request's span repeats: every route's path is far shorter,
/// and a path of 60 000 characters must not make every line of its request that long.
const MAX_LOGGED_PATH: usize = 256;

/// The span of one request on either listener: its method, path (cut), request id and W3C
/// trace context, named on every line logged inside it.
pub fn span(request: &Request<Body>) -> tracing::Span {
    let id = request
        .extensions()
        .get::<RequestId>()
        .map(RequestId::as_str)
        .unwrap_or_default();
    let path = request.uri().path();
    let path = path
        .char_indices()
        .nth(MAX_LOGGED_PATH)
        .map_or(path, |(cut, _)| &path[..cut]);
    let trace = TraceContext::of(request);
    let (trace_id, span_id) = (trace.trace_id(), trace.span_id());
    tracing::info_span!("request", method = %request.method(), path, request_id = %id, trace_id, span_id)
}

/// A panic in a handler: logged, answered 500 `internal` with nothing of the panic in it.
pub fn panicked(cause: Box<dyn std::any::Any + Send>) -> Response {
    let message = cause
        .downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| cause.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %message, "request handler panicked");
    Problem::internal().into_response()
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
