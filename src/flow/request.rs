//! One call to make: the operation decides method, path and body; the caller adds the trace and
//! idempotency headers. Turned into an HTTP request against a tenant's base URL when sent.

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT};
use http::{HeaderValue, Method, Request};
use http_body_util::Full;
use serde::Serialize;
use uuid::Uuid;

use super::model::{PatchRequest, UpdateStateRequest, VerifyTokenRequest};
use super::{FlowError, Operation};

const JSON: &str = "application/json; charset=utf-8";
const FORM: &str = "application/x-www-form-urlencoded";
const AGENT: &str = concat!("flowgate/", env!("CARGO_PKG_VERSION"));
const ORDERS: &str = "api/marketingintegrators/orders";

/// One call to make, built per operation: the path and PascalCase JSON body come from here.
pub struct FlowRequest {
    operation: Operation,
    method: Method,
    /// Relative to the tenant's base URL, without a leading slash.
    path: String,
    content_type: &'static str,
    body: Bytes,
    traceparent: Option<HeaderValue>,
    idempotency_key: Option<Uuid>,
}

impl FlowRequest {
    pub fn update_state(order: Uuid, body: &UpdateStateRequest) -> FlowRequest {
        let path = format!("{ORDERS}/{order}/updatestate");
        Self::json(Operation::UpdateState, Method::POST, path, body)
    }

    pub fn patch(order: Uuid, body: &PatchRequest) -> FlowRequest {
        Self::json(
            Operation::Patch,
            Method::PATCH,
            format!("{ORDERS}/{order}"),
            body,
        )
    }

    pub fn verify_token(token: &str) -> FlowRequest {
        let body = VerifyTokenRequest {
            token: token.to_owned(),
        };
        let path = "api/MarketingIntegrators/VerifyToken".to_owned();
        Self::json(Operation::VerifyToken, Method::POST, path, &body)
    }

    /// The client-credentials grant; the secret lives only in this body.
    pub(super) fn auth_token(client_id: &str, client_secret: &str) -> FlowRequest {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", client_id)
            .append_pair("client_secret", client_secret)
            .finish();
        FlowRequest {
            operation: Operation::AuthToken,
            method: Method::POST,
            path: "authtoken".to_owned(),
            content_type: FORM,
            body: Bytes::from(body),
            traceparent: None,
            idempotency_key: None,
        }
    }

    /// Sent as `traceparent`; a value that cannot be a header value is dropped.
    pub fn with_traceparent(mut self, value: Option<String>) -> FlowRequest {
        self.traceparent = value.and_then(|v| HeaderValue::try_from(v).ok());
        self
    }

    /// Sent as `Idempotency-Key`, the same on every attempt of one operation.
    pub fn with_idempotency_key(mut self, key: Uuid) -> FlowRequest {
        self.idempotency_key = Some(key);
        self
    }

    pub fn operation(&self) -> Operation {
        self.operation
    }

    fn json(operation: Operation, method: Method, path: String, body: &impl Serialize) -> Self {
        // Infallible: the request models hold only strings and lists of strings.
        let body = serde_json::to_vec(body).expect("request models serialise");
        FlowRequest {
            operation,
            method,
            path,
            content_type: JSON,
            body: Bytes::from(body),
            traceparent: None,
            idempotency_key: None,
        }
    }

    /// The HTTP request against `base` (with or without a trailing slash).
    pub(super) fn to_http(
        &self,
        base: &str,
        bearer: Option<&HeaderValue>,
    ) -> Result<Request<Full<Bytes>>, FlowError> {
        let url = format!("{}/{}", base.trim_end_matches('/'), self.path);
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(url)
            .header(CONTENT_TYPE, self.content_type)
            .header(ACCEPT, "application/json")
            .header(CONTENT_LENGTH, self.body.len())
            .header(USER_AGENT, AGENT);
        if let Some(bearer) = bearer {
            builder = builder.header(AUTHORIZATION, bearer.clone());
        }
        if let Some(traceparent) = &self.traceparent {
            builder = builder.header("traceparent", traceparent.clone());
        }
        if let Some(key) = self.idempotency_key {
            builder = builder.header("idempotency-key", key.to_string());
        }
        builder
            .body(Full::new(self.body.clone()))
            .map_err(|e| FlowError::Connect(format!("cannot build the request: {e}")))
    }
}

impl std::fmt::Debug for FlowRequest {
    /// Method and path only: the body may hold a FlowToken or the client secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowRequest")
            .field("operation", &self.operation)
            .field("method", &self.method)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}
