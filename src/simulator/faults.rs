//! Injected faults: latency and canned answers for chosen Flow operations, set through
//! `POST /sim/faults` and applied before authentication and the rate bucket.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::operations::Operation;
use super::{json_response, status_only};

/// Which calls a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(super) enum FaultOp {
    #[serde(rename = "updatestate")]
    UpdateState,
    #[serde(rename = "patch")]
    Patch,
    #[serde(rename = "verify_token")]
    VerifyToken,
    #[serde(rename = "auth_token")]
    AuthToken,
    /// Every `/flow` call, whether or not its route is one of Flow's operations.
    #[serde(rename = "*")]
    Any,
}

impl FaultOp {
    fn matches(self, operation: Option<Operation>) -> bool {
        matches!(
            (self, operation),
            (FaultOp::Any, _)
                | (FaultOp::UpdateState, Some(Operation::UpdateState))
                | (FaultOp::Patch, Some(Operation::Patch))
                | (FaultOp::VerifyToken, Some(Operation::VerifyToken))
                | (FaultOp::AuthToken, Some(Operation::AuthToken))
        )
    }
}

/// The body of `POST /sim/faults`; unknown keys are refused so a typo is not silently ignored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FaultSpec {
    op: FaultOp,
    fail_next: Option<u32>,
    status: Option<u16>,
    retry_after: Option<u64>,
    latency_ms: Option<u64>,
    body: Option<Value>,
}

/// A canned answer: status, optional Retry-After, optional JSON body.
#[derive(Debug, Clone)]
struct Answer {
    status: StatusCode,
    retry_after: Option<u64>,
    body: Option<Value>,
}

impl Answer {
    fn into_response(self) -> Response {
        let mut response = match &self.body {
            Some(body) => json_response(self.status, body),
            None => status_only(self.status),
        };
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// What a matching fault does to one call.
#[derive(Debug, Clone)]
pub(super) struct FaultAction {
    pub(super) latency: Duration,
    answer: Option<Answer>,
}

impl FaultAction {
    /// The canned answer, or `None` when the fault only adds latency.
    pub(super) fn answer(self) -> Option<Response> {
        self.answer.map(Answer::into_response)
    }
}

#[derive(Debug, Clone)]
struct Fault {
    op: FaultOp,
    /// Calls left to affect; `None` = until cleared.
    remaining: Option<u32>,
    action: FaultAction,
}

/// Active faults, oldest first.
#[derive(Debug, Default)]
pub(super) struct Faults {
    active: Vec<Fault>,
}

impl Faults {
    /// Adds a fault, or says why the spec is unusable.
    pub(super) fn add(&mut self, spec: FaultSpec) -> Result<(), String> {
        let answer = match spec.status {
            Some(code) => Some(Answer {
                status: StatusCode::from_u16(code)
                    .map_err(|_| format!("status {code} is not an HTTP status"))?,
                retry_after: spec.retry_after,
                body: spec.body,
            }),
            // Without a status the call proceeds normally, so these would silently do nothing.
            None if spec.retry_after.is_some() || spec.body.is_some() => {
                return Err("retry_after and body need a status".to_owned());
            }
            None => None,
        };
        if spec.fail_next == Some(0) {
            return Err("fail_next must be at least 1".to_owned());
        }
        let action = FaultAction {
            latency: Duration::from_millis(spec.latency_ms.unwrap_or(0)),
            answer,
        };
        self.active.push(Fault {
            op: spec.op,
            remaining: spec.fail_next,
            action,
        });
        Ok(())
    }

    pub(super) fn clear(&mut self) {
        self.active.clear();
    }

    /// The first-added fault matching this call, counting it against `fail_next`.
    pub(super) fn take(&mut self, operation: Option<Operation>) -> Option<FaultAction> {
        let index = self.active.iter().position(|f| f.op.matches(operation))?;
        let fault = &mut self.active[index];
        let action = fault.action.clone();
        if let Some(remaining) = fault.remaining.as_mut() {
            *remaining -= 1;
            if *remaining == 0 {
                self.active.remove(index);
            }
        }
        Some(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: Value) -> FaultSpec {
        serde_json::from_value(value).expect("valid spec")
    }

    #[test]
    fn fail_next_counts_down_then_the_fault_is_gone() {
        let mut faults = Faults::default();
        faults
            .add(spec(json!({"op": "patch", "fail_next": 2, "status": 503})))
            .expect("added");
        assert!(faults.take(Some(Operation::UpdateState)).is_none());
        assert!(faults.take(Some(Operation::Patch)).is_some());
        assert!(faults.take(Some(Operation::Patch)).is_some());
        assert!(faults.take(Some(Operation::Patch)).is_none());
    }

    #[test]
    fn the_first_added_match_applies() {
        let mut faults = Faults::default();
        faults
            .add(spec(json!({"op": "*", "latency_ms": 5})))
            .expect("added");
        faults
            .add(spec(json!({"op": "patch", "status": 500})))
            .expect("added");
        let action = faults.take(Some(Operation::Patch)).expect("a fault");
        assert_eq!(action.latency, Duration::from_millis(5));
        assert!(action.answer().is_none());
    }

    #[test]
    fn unusable_specs_are_refused() {
        let mut faults = Faults::default();
        assert!(
            faults
                .add(spec(json!({"op": "patch", "status": 42})))
                .is_err()
        );
        assert!(
            faults
                .add(spec(json!({"op": "patch", "fail_next": 0})))
                .is_err()
        );
        assert!(
            faults
                .add(spec(json!({"op": "patch", "retry_after": 2})))
                .is_err()
        );
        let typo = serde_json::from_value::<FaultSpec>(json!({"op": "patch", "failNext": 1}));
        assert!(typo.is_err());
        assert!(faults.active.is_empty());
    }
}
