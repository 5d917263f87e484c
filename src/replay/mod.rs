//! Replay (contract section 17): kept webhooks (the refused ones, and the accepted ones while
//! their bodies are kept) run again through the running configuration from parsing onwards;
//! their senders were proven when they arrived. A dry run reports what each would become now
//! and the Flow calls it would make, and changes nothing; applying commits what now passes as
//! queued deliveries under the original event id, so dedup keeps a replay from delivering
//! anything twice. `run.rs` takes one webhook through the stages; `source.rs` reads the kept
//! ones.

mod run;
mod source;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::ingress::{FlowPath, Vendors};
use crate::problem::{Code, Problem};
use crate::queue::StoreError;

pub use source::Source;

/// Kept webhooks one replay call handles at most; `next` continues.
pub const MAX_PER_CALL: usize = 1000;

/// `POST /admin/replay`'s body.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    #[serde(default)]
    pub source: Source,
    pub vendor: Option<String>,
    /// Rejections only: the problem code they were refused with.
    pub code: Option<String>,
    /// Received at or after.
    pub since: Option<DateTime<Utc>>,
    /// Received before.
    pub until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ids: Vec<Uuid>,
    /// A dry run unless `false` is said.
    #[serde(default = "dry_run_by_default")]
    pub dry_run: bool,
    /// The previous answer's `next`.
    pub next: Option<String>,
}

fn dry_run_by_default() -> bool {
    true
}

/// What one kept webhook was, or is now.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Verdict {
    /// `accepted`, `duplicate` or `rejected`.
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub errors: Value,
    /// The Flow calls it makes: absent for a refusal kept before a replay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls: Option<Vec<Call>>,
    /// `not_checked`: a dry run does not ask Flow about a FlowToken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_token: Option<&'static str>,
    /// The delivery it became (applied), or the one its event id already names (duplicate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<Uuid>,
}

impl Verdict {
    pub const ACCEPTED: &'static str = "accepted";
    pub const DUPLICATE: &'static str = "duplicate";
    pub const REJECTED: &'static str = "rejected";

    fn refused(problem: &Problem) -> Verdict {
        Verdict {
            outcome: Verdict::REJECTED,
            code: Some(problem.code.as_str().to_owned()),
            detail: Some(problem.detail.clone()),
            errors: problem.errors.to_json(),
            calls: Some(Vec::new()),
            ..Verdict::default()
        }
    }

    /// Whether `after` tells another story: another outcome or code, or other calls where both
    /// are known.
    fn differs_from(&self, after: &Verdict) -> bool {
        let calls_differ = match (&self.calls, &after.calls) {
            (Some(before), Some(after)) => before != after,
            _ => false,
        };
        self.outcome != after.outcome || self.code != after.code || calls_differ
    }
}

/// One Flow call: `patch` or `updatestate`, and its body as Flow receives it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Call {
    pub operation: &'static str,
    pub body: Value,
}

/// One kept webhook, before and after.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Replayed {
    /// The rejection's id, or the accepted webhook's delivery id.
    pub id: Uuid,
    pub vendor: String,
    pub event_id: Option<String>,
    pub order_id: Option<Uuid>,
    pub before: Verdict,
    pub after: Verdict,
    pub changed: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub now_accepted: usize,
    pub still_rejected: usize,
    pub changed: usize,
    pub unchanged: usize,
}

/// `POST /admin/replay`'s answer.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ReplayAnswer {
    pub results: Vec<Replayed>,
    pub summary: Summary,
    /// More were selected than one call handles: send the request again with this as `next`.
    pub next: Option<String>,
}

/// Replays through one configuration: the vendors and the path to Flow the public listener runs
/// on now.
#[derive(Clone)]
pub struct Replayer {
    pub vendors: Arc<Vendors>,
    pub flow: FlowPath,
    pub max_json_depth: usize,
}

impl Replayer {
    /// Replays the kept webhooks `request` selects, oldest first, one at a time: what one
    /// applies is committed before the next is looked at, so an order's updates keep their
    /// order.
    pub async fn replay(&self, request: &ReplayRequest) -> Result<ReplayAnswer, ReplayError> {
        let (kept, next) = source::read(&*self.flow.dispatch.store, request).await?;
        let mut results = Vec::with_capacity(kept.len());
        for webhook in kept {
            results.push(self.replay_one(webhook, request.dry_run).await?);
        }
        let summary = summarize(&results);
        Ok(ReplayAnswer {
            results,
            summary,
            next,
        })
    }
}

fn summarize(results: &[Replayed]) -> Summary {
    let mut summary = Summary::default();
    for result in results {
        match result.after.outcome {
            Verdict::ACCEPTED => summary.now_accepted += 1,
            Verdict::REJECTED => summary.still_rejected += 1,
            _ => {}
        }
        if result.changed {
            summary.changed += 1;
        } else {
            summary.unchanged += 1;
        }
    }
    summary
}

/// Why a replay could not run (a refusal of one webhook is a result, not an error).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ReplayError> for Problem {
    fn from(error: ReplayError) -> Self {
        match error {
            ReplayError::Invalid(why) => Problem::new(Code::InvalidQuery, why),
            ReplayError::Store(error) => Problem::from(error),
        }
    }
}
