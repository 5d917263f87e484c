//! The Flow client: one pooled HTTP client, and per tenant a base URL, an access-token cache and
//! the token bucket every call spends. It sends one call and returns Flow's answer whatever its
//! status; classifying answers is the caller's job (`deliver::retry`, `verify::flow_token`).

mod auth;
mod client;
mod connector;
mod limit;
pub mod model;
mod request;
mod tenant;
#[cfg(test)]
mod tests;

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

pub use crate::metrics::Operation;
pub use client::FlowClient;
pub use limit::{SharedBuckets, Take};
pub use request::FlowRequest;
pub use tenant::{TenantFlow, tenants};

/// Flow's answer, whatever its status: classifying it is the caller's job.
#[derive(Clone, Debug)]
pub struct FlowResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// At most [`MAX_BODY_BYTES`]; anything beyond is cut.
    pub body: Bytes,
    /// The HTTP exchange that produced this answer, body included.
    pub elapsed: Duration,
}

/// How much of a response body is kept: Flow's answers are small, a runaway one is cut.
pub const MAX_BODY_BYTES: usize = 1 << 20;

impl FlowResponse {
    /// `Retry-After` as delta-seconds or an HTTP date (a date in the past is zero).
    pub fn retry_after(&self) -> Option<Duration> {
        let value = self
            .headers
            .get(http::header::RETRY_AFTER)?
            .to_str()
            .ok()?
            .trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        let wait = at.signed_duration_since(chrono::Utc::now());
        Some(wait.to_std().unwrap_or(Duration::ZERO))
    }
}

/// Why a call produced no answer from Flow. Messages carry no secret, token or body.
#[derive(Clone, Debug, thiserror::Error)]
pub enum FlowError {
    /// The deadline passed: connecting, waiting for the bucket or a token, or the exchange.
    #[error("Flow did not answer before the deadline")]
    Timeout,
    /// Flow could not be reached (or the connection broke mid-exchange).
    #[error("cannot reach Flow: {0}")]
    Connect(String),
    /// Our own per-client-id bucket cannot give a token before the deadline; the wait needed.
    #[error("the tenant's rate limit needs a wait of {0:?}, beyond the deadline")]
    Throttled(Duration),
    /// `/authtoken` refused our credentials (e.g. 400 `invalid_client`), or failed.
    #[error("Flow's authtoken answered {status}")]
    AuthRejected { status: StatusCode, body: Bytes },
    /// `/authtoken` answered 2xx without a usable access token.
    #[error("Flow's authtoken answer is unusable: {0}")]
    AuthUnusable(String),
}
