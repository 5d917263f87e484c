//! `POST /admin/replay` (contract section 17): runs kept webhooks through the running
//! configuration (`replay/`), as a dry run unless told otherwise, and answers what each became.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};

use super::AdminState;
use crate::problem::{Code, Problem};
use crate::replay::{ReplayError, ReplayRequest, Source};

pub async fn replay(
    State(admin): State<AdminState>,
    request: Result<Json<ReplayRequest>, JsonRejection>,
) -> Result<Response, Problem> {
    let Json(request) =
        request.map_err(|rejection| Problem::new(Code::InvalidQuery, rejection.body_text()))?;
    check(&request)?;
    let answer = match admin.replayer.replay(&request).await {
        Ok(answer) => answer,
        Err(ReplayError::Store(error)) => return Err(super::store_failed("replay", error)),
        Err(invalid) => return Err(invalid.into()),
    };
    let summary = &answer.summary;
    tracing::info!(
        action = "replay",
        source = ?request.source,
        dry_run = request.dry_run,
        replayed = answer.results.len(),
        now_accepted = summary.now_accepted,
        still_rejected = summary.still_rejected,
        changed = summary.changed,
        "admin action"
    );
    Ok(Json(answer).into_response())
}

/// What the body's shape cannot say: filters that contradict each other.
fn check(request: &ReplayRequest) -> Result<(), Problem> {
    let invalid = |detail: &str| Err(Problem::new(Code::InvalidQuery, detail));
    if request.source == Source::Accepted && request.code.is_some() {
        return invalid("code selects rejections; accepted webhooks have none.");
    }
    if let (Some(since), Some(until)) = (request.since, request.until)
        && since >= until
    {
        return invalid("since must be before until.");
    }
    if request.ids.len() > crate::replay::MAX_PER_CALL {
        return invalid("ids lists at most 1000 webhooks.");
    }
    Ok(())
}
