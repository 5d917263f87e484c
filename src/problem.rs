//! The one place errors become HTTP answers: RFC 9457 `application/problem+json` with the stable
//! codes of the contract. A stage answers with a [`Problem`]; the request-id layer, which knows
//! the request id, renders it, so no stage has to carry the id around.

use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::deliver::DeliveryError;
use crate::deliver::retry::RetryReason;
use crate::ingress::BodyError;
use crate::ingress::update::{AddressError, PolicyError};
use crate::ingress::webhook::{
    MediaTypeError, ParseError, RateLimited, SchemaViolations, UnknownVendor,
};
use crate::map::MappingError;
use crate::order::StoreError;
use crate::route::RouteError;
use crate::validate::Violation;
use crate::verify::flow_token::TokenError;
use crate::verify::signature::SignatureError;

/// The stable problem codes; `urn:flowgate:problem:<code>` is the problem type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    InvalidJson,
    SignatureInvalid,
    FlowTokenMissing,
    FlowTokenInvalid,
    FlowTokenMismatch,
    TenantNotAllowed,
    OrderNotAllowed,
    UnknownVendor,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    DuplicateConflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    SchemaViolation,
    MappingFailed,
    TenantUnresolved,
    RateLimited,
    Internal,
    FlowRejected,
    Overloaded,
    Unavailable,
    FlowTimeout,
    Unauthorized,
    Forbidden,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        self.describe().0
    }

    pub fn status(self) -> StatusCode {
        self.describe().1
    }

    pub fn title(self) -> &'static str {
        self.describe().2
    }

    fn describe(self) -> (&'static str, StatusCode, &'static str) {
        use Code::*;
        match self {
            InvalidJson => (
                "invalid-json",
                StatusCode::BAD_REQUEST,
                "The body is not acceptable JSON",
            ),
            SignatureInvalid => (
                "signature-invalid",
                StatusCode::UNAUTHORIZED,
                "The request could not be authenticated",
            ),
            FlowTokenMissing => (
                "flow-token-missing",
                StatusCode::UNAUTHORIZED,
                "A FlowToken is required",
            ),
            FlowTokenInvalid => (
                "flow-token-invalid",
                StatusCode::UNAUTHORIZED,
                "The FlowToken is not valid",
            ),
            FlowTokenMismatch => (
                "flow-token-mismatch",
                StatusCode::FORBIDDEN,
                "The FlowToken is for another order",
            ),
            TenantNotAllowed => (
                "tenant-not-allowed",
                StatusCode::FORBIDDEN,
                "The tenant is not allowed",
            ),
            OrderNotAllowed => (
                "order-not-allowed",
                StatusCode::FORBIDDEN,
                "The order belongs to another vendor",
            ),
            UnknownVendor => ("unknown-vendor", StatusCode::NOT_FOUND, "No such vendor"),
            NotFound => ("not-found", StatusCode::NOT_FOUND, "Not found"),
            MethodNotAllowed => (
                "method-not-allowed",
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed",
            ),
            RequestTimeout => (
                "request-timeout",
                StatusCode::REQUEST_TIMEOUT,
                "The request took too long",
            ),
            DuplicateConflict => (
                "duplicate-conflict",
                StatusCode::CONFLICT,
                "The event id was used for another body",
            ),
            PayloadTooLarge => (
                "payload-too-large",
                StatusCode::PAYLOAD_TOO_LARGE,
                "The body is too large",
            ),
            UnsupportedMediaType => (
                "unsupported-media-type",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "The body must be JSON",
            ),
            SchemaViolation => (
                "schema-violation",
                StatusCode::UNPROCESSABLE_ENTITY,
                "The payload does not match its schema",
            ),
            MappingFailed => (
                "mapping-failed",
                StatusCode::UNPROCESSABLE_ENTITY,
                "The payload could not be mapped to an order update",
            ),
            TenantUnresolved => (
                "tenant-unresolved",
                StatusCode::UNPROCESSABLE_ENTITY,
                "No tenant could be chosen for the order",
            ),
            RateLimited => (
                "rate-limited",
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests",
            ),
            Internal => (
                "internal",
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal error",
            ),
            FlowRejected => (
                "flow-rejected",
                StatusCode::BAD_GATEWAY,
                "Flow rejected the update",
            ),
            Overloaded => (
                "overloaded",
                StatusCode::SERVICE_UNAVAILABLE,
                "The gateway is overloaded",
            ),
            Unavailable => (
                "unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
                "The gateway cannot take the request now",
            ),
            FlowTimeout => (
                "flow-timeout",
                StatusCode::GATEWAY_TIMEOUT,
                "Flow did not answer in time",
            ),
            Unauthorized => ("unauthorized", StatusCode::UNAUTHORIZED, "Unauthorized"),
            Forbidden => ("forbidden", StatusCode::FORBIDDEN, "Forbidden"),
        }
    }
}

/// An answer that says exactly what is wrong, with nothing internal in it.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub code: Code,
    pub detail: String,
    pub errors: Vec<Violation>,
    pub retry_after: Option<Duration>,
    /// `flow-rejected`: Flow's status and the first 4 KiB of its body.
    pub flow: Option<(u16, String)>,
}

impl Problem {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            flow: None,
        }
    }

    /// A bug: the caller logs the cause; the answer says nothing more.
    pub fn internal() -> Self {
        Self::new(
            Code::Internal,
            "An internal error occurred; it has been logged.",
        )
    }

    pub fn with_errors(mut self, errors: Vec<Violation>) -> Self {
        self.errors = errors;
        self
    }

    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    pub fn with_flow_answer(mut self, status: u16, body: String) -> Self {
        self.flow = Some((status, body));
        self
    }

    /// The JSON body, for the request `request_id`.
    fn body(&self, request_id: &str) -> Vec<u8> {
        #[derive(Serialize)]
        struct Body<'a> {
            #[serde(rename = "type")]
            kind: String,
            title: &'a str,
            status: u16,
            detail: &'a str,
            code: &'a str,
            request_id: &'a str,
            #[serde(skip_serializing_if = "<[Violation]>::is_empty")]
            errors: &'a [Violation],
            #[serde(skip_serializing_if = "Option::is_none")]
            flow_status: Option<u16>,
            #[serde(skip_serializing_if = "Option::is_none")]
            flow_body: Option<&'a str>,
        }
        let body = Body {
            kind: format!("urn:flowgate:problem:{}", self.code.as_str()),
            title: self.code.title(),
            status: self.code.status().as_u16(),
            detail: &self.detail,
            code: self.code.as_str(),
            request_id,
            errors: &self.errors,
            flow_status: self.flow.as_ref().map(|(status, _)| *status),
            flow_body: self.flow.as_ref().map(|(_, body)| body.as_str()),
        };
        serde_json::to_vec(&body).unwrap_or_default()
    }

    /// One line per problem answered: the code says what, the detail why (it never holds a
    /// secret). Our own failures are warnings; the caller's are routine.
    fn log(&self, request_id: &str) {
        let (code, status) = (self.code.as_str(), self.code.status().as_u16());
        if self.code.status().is_server_error() {
            tracing::warn!(request_id, code, status, detail = %self.detail, "answered with a problem");
        } else {
            tracing::info!(request_id, code, status, detail = %self.detail, "answered with a problem");
        }
    }

    /// Fills in the body of a response made by [`IntoResponse`], now that the request id is known.
    /// Responses that carry no problem pass unchanged.
    pub fn render(mut response: Response, request_id: &str) -> Response {
        if let Some(problem) = response.extensions_mut().remove::<Problem>() {
            problem.log(request_id);
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            );
            headers.remove(header::CONTENT_LENGTH);
            *response.body_mut() = Body::from(problem.body(request_id));
        }
        response
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = self.code.status();
        if let Some(wait) = self.retry_after {
            // Whole seconds, rounded up: a client that waits what we say must not come back early.
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response.extensions_mut().insert(self);
        response
    }
}

// === the stages' errors, answered ===

impl From<UnknownVendor> for Problem {
    fn from(error: UnknownVendor) -> Self {
        Problem::new(Code::UnknownVendor, error.to_string())
    }
}

impl From<MediaTypeError> for Problem {
    fn from(error: MediaTypeError) -> Self {
        Problem::new(Code::UnsupportedMediaType, error.to_string())
    }
}

impl From<BodyError> for Problem {
    fn from(error: BodyError) -> Self {
        let code = match error {
            BodyError::TooLarge(_) => Code::PayloadTooLarge,
            BodyError::BuffersFull => Code::Overloaded,
            BodyError::Unreadable => Code::InvalidJson,
        };
        let problem = Problem::new(code, error.to_string());
        match error.retry_after() {
            Some(wait) => problem.with_retry_after(wait),
            None => problem,
        }
    }
}

impl From<SignatureError> for Problem {
    fn from(error: SignatureError) -> Self {
        Problem::new(Code::SignatureInvalid, error.to_string())
    }
}

impl From<RateLimited> for Problem {
    fn from(error: RateLimited) -> Self {
        Problem::new(Code::RateLimited, error.to_string()).with_retry_after(error.retry_after)
    }
}

impl From<ParseError> for Problem {
    fn from(error: ParseError) -> Self {
        Problem::new(Code::InvalidJson, error.to_string())
    }
}

impl From<SchemaViolations> for Problem {
    fn from(error: SchemaViolations) -> Self {
        let detail = error.to_string();
        Problem::new(Code::SchemaViolation, detail).with_errors(error.0)
    }
}

impl From<MappingError> for Problem {
    fn from(error: MappingError) -> Self {
        Problem::new(Code::MappingFailed, error.to_string())
    }
}

impl From<RouteError> for Problem {
    fn from(error: RouteError) -> Self {
        let code = match error {
            RouteError::OtherVendor => Code::OrderNotAllowed,
            RouteError::Unresolved => Code::TenantUnresolved,
            RouteError::UnknownFlowUrl
            | RouteError::TenantIdMismatch { .. }
            | RouteError::NotAllowed(_)
            | RouteError::BoundElsewhere => Code::TenantNotAllowed,
        };
        Problem::new(code, error.to_string())
    }
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "order store failed");
        Problem::new(
            Code::Unavailable,
            "The gateway cannot record the update now.",
        )
        .with_retry_after(RETRY_AFTER_UNAVAILABLE)
    }
}

impl From<AddressError> for Problem {
    fn from(error: AddressError) -> Self {
        match error {
            AddressError::Route(e) => e.into(),
            AddressError::Store(e) => e.into(),
        }
    }
}

impl From<TokenError> for Problem {
    fn from(error: TokenError) -> Self {
        let problem = |code| Problem::new(code, error.to_string());
        match error {
            TokenError::Invalid => problem(Code::FlowTokenInvalid),
            TokenError::Mismatch => problem(Code::FlowTokenMismatch),
            TokenError::Unavailable { retry_after } => {
                problem(Code::Unavailable).with_retry_after(retry_after)
            }
        }
    }
}

impl From<PolicyError> for Problem {
    fn from(error: PolicyError) -> Self {
        match error {
            PolicyError::Missing => Problem::new(Code::FlowTokenMissing, error.to_string()),
            PolicyError::Token(e) => e.into(),
            PolicyError::Route(e) => e.into(),
            PolicyError::Store(e) => e.into(),
        }
    }
}

/// Sync delivery's answers (contract section 8): Flow's 429 is passed on, a refusal is 502 with
/// Flow's words, the deadline is 504, anything else that may pass later is 503.
impl From<DeliveryError> for Problem {
    fn from(error: DeliveryError) -> Self {
        let (operation, reason) = match error {
            DeliveryError::NoState(_) | DeliveryError::Empty => {
                return Problem::new(Code::MappingFailed, error.to_string());
            }
            DeliveryError::Store(e) => return e.into(),
            DeliveryError::Rejected {
                operation,
                rejection,
            } => {
                let status = rejection.status.as_u16();
                let detail = format!("Flow answered {status} to {}.", operation.as_str());
                return Problem::new(Code::FlowRejected, detail)
                    .with_flow_answer(status, rejection.body_text());
            }
            DeliveryError::Retry { operation, reason } => (operation.as_str(), reason),
        };
        let unavailable = |detail: String, wait: Option<Duration>| {
            Problem::new(Code::Unavailable, detail)
                .with_retry_after(wait.unwrap_or(RETRY_AFTER_UNAVAILABLE))
        };
        match reason {
            RetryReason::FlowThrottled(wait) => Problem::new(
                Code::RateLimited,
                format!("Flow is rate-limiting {operation}."),
            )
            .with_retry_after(wait.unwrap_or(RETRY_AFTER_UNAVAILABLE)),
            RetryReason::BucketThrottled(wait) => Problem::new(
                Code::RateLimited,
                "The tenant's Flow budget is spent for now.",
            )
            .with_retry_after(wait),
            RetryReason::Timeout => Problem::new(
                Code::FlowTimeout,
                format!("Flow did not answer {operation} in time."),
            ),
            RetryReason::Status(status, wait) => unavailable(
                format!("Flow answered {} to {operation}.", status.as_u16()),
                wait,
            ),
            RetryReason::Unreachable(_) => {
                unavailable(format!("Flow could not be reached for {operation}."), None)
            }
            RetryReason::Credentials(_) => unavailable(
                "Flow did not accept the gateway's credentials for the tenant.".into(),
                None,
            ),
        }
    }
}

/// What a caller is told to wait when Flow or the store is unavailable and nobody said how long.
const RETRY_AFTER_UNAVAILABLE: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_rendered_problem_is_rfc9457_with_code_and_request_id() {
        let problem = Problem::new(Code::RateLimited, "slow down")
            .with_retry_after(Duration::from_millis(1500));
        let response = Problem::render(problem.into_response(), "req-1");
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(body["type"], "urn:flowgate:problem:rate-limited");
        assert_eq!(body["status"], 429);
        assert_eq!(body["code"], "rate-limited");
        assert_eq!(body["request_id"], "req-1");
        assert_eq!(body["detail"], "slow down");
        assert!(body.get("errors").is_none());
    }
}
