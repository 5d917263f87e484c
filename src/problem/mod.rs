//! The one place errors become HTTP answers: RFC 9457 `application/problem+json` with the stable
//! codes of the contract. A stage answers with a [`Problem`]; the request-id layer, which knows
//! the request id, renders it, so no stage has to carry the id around. `answers.rs` says how each
//! stage's error is answered.

mod answers;

use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::metrics::{Outcome, RejectedCode};
use crate::validate::Violation;

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
    IpNotAllowed,
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
    InvalidQuery,
    NotDead,
    Superseded,
    NotFinished,
    ConfigInvalid,
}

impl Code {
    /// Every code, as the OpenAPI document lists them.
    pub const ALL: &'static [Code] = &[
        Code::InvalidJson,
        Code::SignatureInvalid,
        Code::FlowTokenMissing,
        Code::FlowTokenInvalid,
        Code::FlowTokenMismatch,
        Code::TenantNotAllowed,
        Code::OrderNotAllowed,
        Code::UnknownVendor,
        Code::IpNotAllowed,
        Code::NotFound,
        Code::MethodNotAllowed,
        Code::RequestTimeout,
        Code::DuplicateConflict,
        Code::PayloadTooLarge,
        Code::UnsupportedMediaType,
        Code::SchemaViolation,
        Code::MappingFailed,
        Code::TenantUnresolved,
        Code::RateLimited,
        Code::Internal,
        Code::FlowRejected,
        Code::Overloaded,
        Code::Unavailable,
        Code::FlowTimeout,
        Code::Unauthorized,
        Code::Forbidden,
        Code::InvalidQuery,
        Code::NotDead,
        Code::Superseded,
        Code::NotFinished,
        Code::ConfigInvalid,
    ];

    pub fn as_str(self) -> &'static str {
        self.describe().0
    }

    pub fn status(self) -> StatusCode {
        self.describe().1
    }

    pub fn title(self) -> &'static str {
        self.describe().2
    }

    /// How a refusal with this code is kept (contract section 17), when it is: the refusals of
    /// an authenticated webhook that a fix to a schema, a mapping or the routing can turn
    /// around. Not kept: what proves nothing about the sender, and what is the gateway's or
    /// Flow's own trouble.
    pub fn kept_as(self) -> Option<RejectedCode> {
        Some(match self {
            Code::InvalidJson => RejectedCode::InvalidJson,
            Code::DuplicateConflict => RejectedCode::DuplicateConflict,
            Code::SchemaViolation => RejectedCode::SchemaViolation,
            Code::MappingFailed => RejectedCode::MappingFailed,
            Code::TenantUnresolved => RejectedCode::TenantUnresolved,
            Code::TenantNotAllowed => RejectedCode::TenantNotAllowed,
            Code::OrderNotAllowed => RejectedCode::OrderNotAllowed,
            Code::FlowTokenMissing => RejectedCode::FlowTokenMissing,
            Code::FlowTokenInvalid => RejectedCode::FlowTokenInvalid,
            Code::FlowTokenMismatch => RejectedCode::FlowTokenMismatch,
            _ => return None,
        })
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
            IpNotAllowed => (
                "ip-not-allowed",
                StatusCode::FORBIDDEN,
                "Client address not allowed",
            ),
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
            InvalidQuery => (
                "invalid-query",
                StatusCode::BAD_REQUEST,
                "A query parameter is not acceptable",
            ),
            NotDead => (
                "not-dead",
                StatusCode::CONFLICT,
                "Only a dead delivery can be retried",
            ),
            Superseded => (
                "superseded",
                StatusCode::CONFLICT,
                "The order has a newer delivered update",
            ),
            ConfigInvalid => (
                "config-invalid",
                StatusCode::UNPROCESSABLE_ENTITY,
                "The configuration does not load",
            ),
            NotFinished => (
                "not-finished",
                StatusCode::CONFLICT,
                "The delivery is still owed to Flow",
            ),
        }
    }
}

impl From<Code> for Outcome {
    /// The outcome a problem answer stands for (the contract's list in section 11).
    fn from(code: Code) -> Outcome {
        match code {
            Code::UnknownVendor => Outcome::UnknownVendor,
            Code::IpNotAllowed => Outcome::IpNotAllowed,
            Code::UnsupportedMediaType => Outcome::UnsupportedMediaType,
            Code::PayloadTooLarge => Outcome::TooLarge,
            Code::RequestTimeout => Outcome::Timeout,
            Code::SignatureInvalid => Outcome::Unauthenticated,
            Code::RateLimited => Outcome::RateLimited,
            Code::InvalidJson => Outcome::InvalidJson,
            Code::DuplicateConflict => Outcome::DuplicateConflict,
            Code::SchemaViolation => Outcome::SchemaInvalid,
            Code::MappingFailed => Outcome::MappingFailed,
            Code::TenantNotAllowed | Code::OrderNotAllowed => Outcome::TenantRejected,
            Code::TenantUnresolved => Outcome::TenantUnresolved,
            Code::FlowTokenMissing | Code::FlowTokenInvalid | Code::FlowTokenMismatch => {
                Outcome::TokenRejected
            }
            Code::FlowRejected => Outcome::FlowRejected,
            Code::FlowTimeout => Outcome::FlowTimeout,
            Code::Overloaded => Outcome::Overloaded,
            Code::Unavailable => Outcome::Unavailable,
            Code::Internal => Outcome::Internal,
            // The admin API's and the router's own codes never answer a webhook.
            Code::NotFound
            | Code::MethodNotAllowed
            | Code::Unauthorized
            | Code::Forbidden
            | Code::InvalidQuery
            | Code::NotDead
            | Code::Superseded
            | Code::NotFinished
            | Code::ConfigInvalid => Outcome::Internal,
        }
    }
}

/// An answer that says exactly what is wrong, with nothing internal in it.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub code: Code,
    pub detail: String,
    /// `schema-violation`: every rule broken; `config-invalid`: every key that does not load.
    pub errors: Errors,
    pub retry_after: Option<Duration>,
    /// `flow-rejected`: Flow's status and the first 4 KiB of its body.
    pub flow: Option<(u16, String)>,
}

impl Problem {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            errors: Errors::Violations(Vec::new()),
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
        self.errors = Errors::Violations(errors);
        self
    }

    pub fn with_key_errors(mut self, errors: Vec<KeyError>) -> Self {
        self.errors = Errors::Keys(errors);
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
        serde_json::to_vec(&self.document(Some(request_id))).unwrap_or_default()
    }

    /// The problem document as the gateway answers it; without a request (`flowgate map`
    /// saying what the gateway would answer) it has no `request_id`.
    pub fn document<'a>(&'a self, request_id: Option<&'a str>) -> ProblemDocument<'a> {
        ProblemDocument {
            kind: ProblemType(self.code),
            title: self.code.title(),
            status: self.code.status().as_u16(),
            detail: &self.detail,
            code: self.code.as_str(),
            request_id,
            errors: &self.errors,
            flow_status: self.flow.as_ref().map(|(status, _)| *status),
            flow_body: self.flow.as_ref().map(|(_, body)| body.as_str()),
        }
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
        let logged = response.extensions_mut().remove::<Logged>().is_some();
        if let Some(problem) = response.extensions_mut().remove::<Problem>() {
            if !logged {
                problem.log(request_id);
            }
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

/// The RFC 9457 body of a [`Problem`].
#[derive(Debug, Serialize)]
pub struct ProblemDocument<'a> {
    #[serde(rename = "type")]
    kind: ProblemType,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Errors::is_empty")]
    errors: &'a Errors,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow_body: Option<&'a str>,
}

/// A problem's `type`, `urn:flowgate:problem:<code>`: written straight into the document, never
/// built as a string of its own.
#[derive(Debug)]
struct ProblemType(Code);

impl Serialize for ProblemType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let code = self.0.as_str();
        serializer.collect_str(&format_args!("urn:flowgate:problem:{code}"))
    }
}

/// A problem's `errors`: the payload's violations, or the configuration's keys.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Errors {
    Violations(Vec<Violation>),
    Keys(Vec<KeyError>),
}

impl Errors {
    /// As the problem document lists them; `null` when there are none.
    pub fn to_json(&self) -> serde_json::Value {
        if self.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::to_value(self).unwrap_or_default()
    }

    fn is_empty(&self) -> bool {
        match self {
            Errors::Violations(errors) => errors.is_empty(),
            Errors::Keys(errors) => errors.is_empty(),
        }
    }
}

/// One key of a configuration that does not load.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KeyError {
    pub key: String,
    pub message: String,
}

/// Marks an answer whose log line was already written with more context (a webhook's outcome
/// line), so rendering its problem adds no second line.
#[derive(Clone, Copy, Debug)]
pub struct Logged;

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

    #[test]
    fn problem_codes_map_to_the_contracts_outcomes() {
        let cases = [
            (Code::UnknownVendor, Outcome::UnknownVendor),
            (Code::IpNotAllowed, Outcome::IpNotAllowed),
            (Code::PayloadTooLarge, Outcome::TooLarge),
            (Code::RequestTimeout, Outcome::Timeout),
            (Code::SignatureInvalid, Outcome::Unauthenticated),
            (Code::SchemaViolation, Outcome::SchemaInvalid),
            (Code::TenantNotAllowed, Outcome::TenantRejected),
            (Code::OrderNotAllowed, Outcome::TenantRejected),
            (Code::FlowTokenMissing, Outcome::TokenRejected),
            (Code::FlowTokenInvalid, Outcome::TokenRejected),
            (Code::FlowTokenMismatch, Outcome::TokenRejected),
            (Code::FlowRejected, Outcome::FlowRejected),
            (Code::FlowTimeout, Outcome::FlowTimeout),
            (Code::RateLimited, Outcome::RateLimited),
        ];
        for (code, outcome) in cases {
            assert_eq!(Outcome::from(code), outcome, "{code:?}");
        }
    }
}
