//! What both listeners share at the HTTP edge: the accept loop (`server.rs`), the client's
//! address (`client_addr.rs`), the request id every answer carries (`request_id.rs`), the W3C trace context (`trace_context.rs`), the span
//! each request logs in, and the answers no route gives: a caught panic, an unknown path, a
//! method a route does not take.

pub mod client_addr;
pub mod request_id;
pub mod server;
pub mod trace_context;

use axum::response::{IntoResponse, Response};
use http::Request;
use tracing::Span;
use tracing::field::Empty;

pub use request_id::{RequestId, RequestIdLayer};
pub use trace_context::TraceContext;

use crate::problem::{Code, Problem};

/// The most characters of a path a request's span repeats: every route's path is far shorter,
/// and a path of 60 000 characters must not make every line of its request that long.
const MAX_LOGGED_PATH: usize = 256;

/// The span of one request on either listener: its method, path (cut), request id and W3C
/// trace context, named on every line logged inside it. Its fields are read (and a trace made
/// for a request without one) only when the span is logged.
pub fn span<B>(request: &Request<B>) -> Span {
    let span = open_span(request);
    if !span.is_disabled() {
        record_trace(&span, &TraceContext::of(request));
    }
    span
}

/// As [`span`]; when the span is logged, the trace context it names is also kept in the
/// request's extensions, so the request's lines and its delivery name the same trace (else the
/// delivery reads it from the headers when it needs it).
pub fn traced_span<B>(request: &mut Request<B>) -> Span {
    let span = open_span(request);
    if !span.is_disabled() {
        let trace = TraceContext::from_headers(request.headers());
        record_trace(&span, &trace);
        request.extensions_mut().insert(trace);
    }
    span
}

fn open_span<B>(request: &Request<B>) -> Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = logged_path(request.uri().path()),
        request_id = %request_id(request),
        trace_id = Empty,
        span_id = Empty
    )
}

fn record_trace(span: &Span, trace: &TraceContext) {
    span.record("trace_id", trace.trace_id());
    span.record("span_id", trace.span_id());
}

/// The path as a span repeats it: cut at [`MAX_LOGGED_PATH`] characters.
fn logged_path(path: &str) -> &str {
    path.char_indices()
        .nth(MAX_LOGGED_PATH)
        .map_or(path, |(cut, _)| &path[..cut])
}

fn request_id<B>(request: &Request<B>) -> &str {
    request
        .extensions()
        .get::<RequestId>()
        .map(RequestId::as_str)
        .unwrap_or_default()
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
