//! Every answer from Flow classified in one place (contract section 8): done, worth another
//! attempt (and why), or refused for good. Sync delivery and the workers read the same verdict.

use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;

use super::circuit::CallResult;
use crate::flow::{FlowError, FlowResponse};

/// What one call's result means for its delivery.
#[derive(Clone, Debug)]
pub enum Outcome {
    Success(FlowResponse),
    Retry(RetryReason),
    DontRetry(Rejection),
}

/// Why a call may succeed later.
#[derive(Clone, Debug, PartialEq)]
pub enum RetryReason {
    /// Flow's own rate limit (429); its Retry-After when it gave one.
    FlowThrottled(Option<Duration>),
    /// Our bucket for the tenant had no room before the deadline.
    BucketThrottled(Duration),
    /// 408, 425, 403, a 401 under a fresh access token, or 5xx; Retry-After when given.
    Status(StatusCode, Option<Duration>),
    Timeout,
    Unreachable(String),
    /// The tenant's credentials were refused or Flow's token answer was unusable.
    Credentials(String),
}

impl Outcome {
    /// What the call says about the tenant's Flow, for its circuit: a refusal of one webhook is
    /// still an answer, and pacing is neither health nor fault.
    pub fn health(&self) -> CallResult {
        match self {
            Outcome::Success(_) | Outcome::DontRetry(_) => CallResult::Success,
            Outcome::Retry(reason) if reason.is_pacing() => CallResult::Neutral,
            Outcome::Retry(_) => CallResult::Failure,
        }
    }
}

impl RetryReason {
    /// Flow's 429 or our own bucket: the wait spends no attempt and does not feed the circuit.
    pub fn is_pacing(&self) -> bool {
        matches!(
            self,
            RetryReason::FlowThrottled(_) | RetryReason::BucketThrottled(_)
        )
    }

    /// How long Flow (or our bucket) asked us to wait, when it said.
    pub fn wait(&self) -> Option<Duration> {
        match self {
            RetryReason::FlowThrottled(wait) | RetryReason::Status(_, wait) => *wait,
            RetryReason::BucketThrottled(wait) => Some(*wait),
            _ => None,
        }
    }
}

/// For records and logs: no body, no token.
impl std::fmt::Display for RetryReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetryReason::FlowThrottled(_) => f.write_str("Flow answered 429 (rate limited)"),
            RetryReason::BucketThrottled(wait) => {
                write!(f, "the tenant's rate limit needs a wait of {wait:?}")
            }
            RetryReason::Status(status, _) => write!(f, "Flow answered {}", status.as_u16()),
            RetryReason::Timeout => f.write_str("Flow did not answer before the deadline"),
            RetryReason::Unreachable(cause) => write!(f, "cannot reach Flow: {cause}"),
            RetryReason::Credentials(cause) => f.write_str(cause),
        }
    }
}

/// Flow refused the call in a way another attempt will not change.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Rejection {
    /// The first 4 KiB of Flow's body, as text, for the answer and the record.
    pub fn body_text(&self) -> String {
        let head = &self.body[..self.body.len().min(FLOW_BODY_KEPT)];
        String::from_utf8_lossy(head).into_owned()
    }
}

/// How much of a refusing body is kept and shown.
pub const FLOW_BODY_KEPT: usize = 4096;

pub fn classify(result: Result<FlowResponse, FlowError>) -> Outcome {
    let response = match result {
        Ok(response) => response,
        Err(error) => return Outcome::Retry(from_error(error)),
    };
    let status = response.status;
    if status.is_success() {
        return Outcome::Success(response);
    }
    let retry_after = response.retry_after();
    match status.as_u16() {
        429 => Outcome::Retry(RetryReason::FlowThrottled(retry_after)),
        // 403 is a permission problem of the whole tenant, and a 401 that survived a token
        // refresh is one too: neither is this webhook's fault.
        401 | 403 | 408 | 425 => Outcome::Retry(RetryReason::Status(status, retry_after)),
        _ if status.is_server_error() => Outcome::Retry(RetryReason::Status(status, retry_after)),
        _ => Outcome::DontRetry(Rejection {
            status,
            body: response.body,
        }),
    }
}

fn from_error(error: FlowError) -> RetryReason {
    match error {
        FlowError::Timeout => RetryReason::Timeout,
        FlowError::Connect(cause) => RetryReason::Unreachable(cause),
        FlowError::Throttled(wait) => RetryReason::BucketThrottled(wait),
        // The token endpoint is Flow too: its 429 and 5xx say Flow is busy or down; only its
        // other refusals are about our credentials.
        FlowError::AuthRejected { status, .. } => match status.as_u16() {
            429 => RetryReason::FlowThrottled(None),
            408 | 425 => RetryReason::Status(status, None),
            _ if status.is_server_error() => RetryReason::Status(status, None),
            _ => RetryReason::Credentials(format!(
                "Flow refused the tenant's credentials ({status})"
            )),
        },
        FlowError::AuthUnusable(cause) => RetryReason::Credentials(cause),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    fn answer(status: u16) -> Result<FlowResponse, FlowError> {
        Ok(FlowResponse {
            status: StatusCode::from_u16(status).expect("a status"),
            headers: HeaderMap::new(),
            body: Bytes::from_static(b"{\"Message\":\"no\"}"),
            elapsed: Duration::from_millis(3),
        })
    }

    fn verdict(status: u16) -> &'static str {
        match classify(answer(status)) {
            Outcome::Success(_) => "success",
            Outcome::Retry(_) => "retry",
            Outcome::DontRetry(_) => "dont",
        }
    }

    #[test]
    fn statuses_are_classified_as_the_contract_says() {
        for status in [200, 201, 204] {
            assert_eq!(verdict(status), "success", "{status}");
        }
        for status in [401, 403, 408, 425, 429, 500, 502, 503, 504] {
            assert_eq!(verdict(status), "retry", "{status}");
        }
        for status in [301, 302, 304, 400, 404, 409, 410, 422] {
            assert_eq!(verdict(status), "dont", "{status}");
        }
    }

    #[test]
    fn errors_are_retried_with_their_reason() {
        assert!(matches!(
            classify(Err(FlowError::Timeout)),
            Outcome::Retry(RetryReason::Timeout)
        ));
        assert!(matches!(
            classify(Err(FlowError::Throttled(Duration::from_secs(2)))),
            Outcome::Retry(RetryReason::BucketThrottled(wait)) if wait == Duration::from_secs(2)
        ));
        assert!(matches!(
            classify(Err(FlowError::Connect("refused".into()))),
            Outcome::Retry(RetryReason::Unreachable(_))
        ));
        let auth = |status: StatusCode| FlowError::AuthRejected {
            status,
            body: Bytes::new(),
        };
        assert!(matches!(
            classify(Err(auth(StatusCode::TOO_MANY_REQUESTS))),
            Outcome::Retry(RetryReason::FlowThrottled(None))
        ));
        assert!(matches!(
            classify(Err(auth(StatusCode::SERVICE_UNAVAILABLE))),
            Outcome::Retry(RetryReason::Status(..))
        ));
        assert!(matches!(
            classify(Err(auth(StatusCode::BAD_REQUEST))),
            Outcome::Retry(RetryReason::Credentials(_))
        ));
    }

    #[test]
    fn pacing_is_neutral_for_the_circuit_and_refusals_count_as_answers() {
        assert_eq!(classify(answer(429)).health(), CallResult::Neutral);
        let bucket = classify(Err(FlowError::Throttled(Duration::from_secs(1))));
        assert_eq!(bucket.health(), CallResult::Neutral);
        assert_eq!(classify(answer(503)).health(), CallResult::Failure);
        assert_eq!(classify(answer(403)).health(), CallResult::Failure);
        assert_eq!(
            classify(Err(FlowError::Timeout)).health(),
            CallResult::Failure
        );
        assert_eq!(classify(answer(400)).health(), CallResult::Success);
        assert_eq!(classify(answer(200)).health(), CallResult::Success);
    }

    #[test]
    fn a_rejection_keeps_at_most_4_kib_of_the_body() {
        let rejection = Rejection {
            status: StatusCode::BAD_REQUEST,
            body: Bytes::from(vec![b'x'; 10_000]),
        };
        assert_eq!(rejection.body_text().len(), FLOW_BODY_KEPT);
    }
}
