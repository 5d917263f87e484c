//! How each stage's error is answered: its code, its safe detail, and a Retry-After where the
//! caller should come back.

use std::time::Duration;

use super::{Code, Problem};
use crate::deliver::DeliveryError;
use crate::deliver::retry::RetryReason;
use crate::map::MappingError;
use crate::order::StoreError;
use crate::route::{AddressError, RouteError};
use crate::validate::{BodyError, MediaTypeError, ParseError, SchemaViolations};
use crate::verify::flow_token::TokenError;
use crate::verify::policy::PolicyError;
use crate::verify::signature::SignatureError;
use crate::verify::{IpNotAllowed, RateLimited, UnknownVendor};

/// A stage that never refuses.
impl From<std::convert::Infallible> for Problem {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

impl From<IpNotAllowed> for Problem {
    fn from(error: IpNotAllowed) -> Self {
        Problem::new(Code::IpNotAllowed, error.to_string())
    }
}

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
