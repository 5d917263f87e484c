//! The journey of one `/flow` request: route (case-insensitive), fault, authentication, rate
//! bucket, operation; the call is logged whatever the outcome.

use std::sync::Arc;
use std::time::Duration;

use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use chrono::Utc;
use tokio::time::{Instant, sleep};
use uuid::Uuid;

use super::auth::{self, TokenForm};
use super::bucket::Admission;
use super::calls::{self, RecordedCall};
use super::operations::{self, Operation};
use super::{Shared, lock, status_only};

/// Larger request bodies are refused; Flow's bodies are a few hundred bytes.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Set on answers Flow slowed down because the caller's bucket ran low.
const DELAYED_BY_HEADER: &str = "x-ratelimit-delayed-by-milliseconds";

/// What a `/flow` path and method resolve to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    /// One of Flow's operations; `order` is the raw `{orderId}` segment, not yet a GUID.
    Operation {
        operation: Operation,
        order: Option<String>,
    },
    /// A known path with the wrong method.
    MethodNotAllowed,
    NotFound,
}

impl Route {
    /// Matches `path` segment by segment, ignoring case as Flow (ASP.NET routing) does.
    fn classify(method: &Method, path: &str) -> Route {
        let lower = path.to_ascii_lowercase();
        let Some(rest) = lower.strip_prefix("/flow/") else {
            return Route::NotFound;
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let segments: Vec<&str> = rest.split('/').collect();
        let (operation, expected, order) = match segments.as_slice() {
            ["authtoken"] => (Operation::AuthToken, Method::POST, None),
            ["api", "marketingintegrators", "verifytoken"] => {
                (Operation::VerifyToken, Method::POST, None)
            }
            ["api", "marketingintegrators", "orders", id, "updatestate"] => {
                (Operation::UpdateState, Method::POST, Some(*id))
            }
            ["api", "marketingintegrators", "orders", id] => {
                (Operation::Patch, Method::PATCH, Some(*id))
            }
            _ => return Route::NotFound,
        };
        if *method != expected {
            return Route::MethodNotAllowed;
        }
        Route::Operation {
            operation,
            order: order.map(str::to_owned),
        }
    }

    fn operation(&self) -> Option<Operation> {
        match self {
            Route::Operation { operation, .. } => Some(*operation),
            Route::MethodNotAllowed | Route::NotFound => None,
        }
    }
}

/// Answers one `/flow` request and records it in the call log.
pub(super) async fn handle(shared: Arc<Shared>, request: Request) -> Response {
    let at = Utc::now();
    let (parts, body) = request.into_parts();
    let route = Route::classify(&parts.method, parts.uri.path());
    let (response, body) = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => (respond(&shared, &parts.headers, &route, &body).await, body),
        Err(_) => (status_only(StatusCode::PAYLOAD_TOO_LARGE), Bytes::new()),
    };
    let operation = route.operation();
    tracing::debug!(
        method = %parts.method,
        path = parts.uri.path(),
        status = response.status().as_u16(),
        "simulated flow call"
    );
    lock(&shared.calls).record(RecordedCall {
        at,
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        operation,
        status: response.status().as_u16(),
        headers: calls::redacted_headers(&parts.headers),
        body: calls::recorded_body(operation, &body),
    });
    response
}

async fn respond(shared: &Shared, headers: &HeaderMap, route: &Route, body: &[u8]) -> Response {
    // Faults stand for trouble in front of Flow, so they come before anything Flow decides.
    let fault = lock(&shared.faults).take(route.operation());
    if let Some(fault) = fault {
        if !fault.latency.is_zero() {
            sleep(fault.latency).await;
        }
        if let Some(answer) = fault.answer() {
            return answer;
        }
    }
    let (operation, order) = match route {
        Route::Operation { operation, order } => (*operation, order.as_deref()),
        Route::MethodNotAllowed => return status_only(StatusCode::METHOD_NOT_ALLOWED),
        Route::NotFound => return status_only(StatusCode::NOT_FOUND),
    };
    // `{orderId:guid}` is a route constraint in Flow: a malformed id matches no route at all,
    // so it is a 404 before authentication and costs no bucket tokens.
    let order = match order.map(Uuid::parse_str) {
        None => None,
        Some(Ok(guid)) => Some(guid),
        Some(Err(_)) => return status_only(StatusCode::NOT_FOUND),
    };
    if operation == Operation::AuthToken {
        return authtoken(shared, body).await;
    }
    let Some(client_id) = authenticate(shared, headers) else {
        return auth::unauthorized(headers.contains_key(header::AUTHORIZATION));
    };
    let delay = match admit(shared, &client_id).await {
        Ok(delay) => delay,
        Err(retry_after_secs) => return too_many_requests(retry_after_secs),
    };
    let response = operations::run(shared, operation, order, body);
    with_delay_header(response, delay)
}

async fn authtoken(shared: &Shared, body: &[u8]) -> Response {
    let form = TokenForm::parse(body);
    let delay = match admit(shared, form.bucket_key()).await {
        Ok(delay) => delay,
        Err(retry_after_secs) => return too_many_requests(retry_after_secs),
    };
    let response = lock(&shared.tokens).grant(&shared.settings, &form, Instant::now());
    with_delay_header(response, delay)
}

/// The client id behind the request's bearer token, if it is a live one.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Option<String> {
    let token = auth::bearer(headers)?;
    lock(&shared.tokens).client_of(token, Instant::now())
}

/// Charges the client's bucket and waits out Flow's slow-down; `Err` holds the Retry-After
/// seconds of a refusal, which charged nothing.
async fn admit(shared: &Shared, client_id: &str) -> Result<Duration, u64> {
    let admission = lock(&shared.buckets).take(client_id, Instant::now());
    match admission {
        Admission::Admitted { delay } => {
            if !delay.is_zero() {
                sleep(delay).await;
            }
            Ok(delay)
        }
        Admission::Rejected { retry_after_secs } => Err(retry_after_secs),
    }
}

fn too_many_requests(retry_after_secs: u64) -> Response {
    let mut response = status_only(StatusCode::TOO_MANY_REQUESTS);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

fn with_delay_header(mut response: Response, delay: Duration) -> Response {
    if !delay.is_zero() {
        let millis = u64::try_from(delay.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
        response
            .headers_mut()
            .insert(DELAYED_BY_HEADER, HeaderValue::from(millis));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(operation: Operation, order: Option<&str>) -> Route {
        Route::Operation {
            operation,
            order: order.map(str::to_owned),
        }
    }

    #[test]
    fn routes_match_in_any_case() {
        let post = Method::POST;
        assert_eq!(
            Route::classify(&post, "/FLOW/AuthToken"),
            op(Operation::AuthToken, None)
        );
        assert_eq!(
            Route::classify(&post, "/flow/API/MarketingIntegrators/VerifyToken/"),
            op(Operation::VerifyToken, None)
        );
        assert_eq!(
            Route::classify(
                &post,
                "/flow/api/marketingintegrators/orders/AB/UpdateState"
            ),
            op(Operation::UpdateState, Some("ab"))
        );
        assert_eq!(
            Route::classify(&Method::PATCH, "/flow/api/marketingintegrators/orders/x"),
            op(Operation::Patch, Some("x"))
        );
    }

    #[test]
    fn other_paths_and_methods_do_not_match() {
        let post = Method::POST;
        assert_eq!(Route::classify(&post, "/flow//authtoken"), Route::NotFound);
        assert_eq!(Route::classify(&post, "/flow/api/orders"), Route::NotFound);
        assert_eq!(Route::classify(&post, "/flow"), Route::NotFound);
        assert_eq!(
            Route::classify(&Method::GET, "/flow/authtoken"),
            Route::MethodNotAllowed
        );
        assert_eq!(
            Route::classify(&post, "/flow/api/marketingintegrators/orders/x"),
            Route::MethodNotAllowed
        );
    }
}
