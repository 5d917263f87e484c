//! The end of the pipeline (contract section 8, stage 10): the update becomes a delivery, and
//! what became of it an answer. A queued one is admitted (`deliver::plan`, `queue::backlog`),
//! committed durably and answered 202 only then; a sync one is committed, sent and recorded by
//! `deliver/sync.rs`, and answered with Flow's result.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http::StatusCode;
use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;
use tokio::sync::Notify;
use uuid::Uuid;

use super::dedup::Repeat;
use super::outcome::OutcomeFields;
use super::update::flow_deadline;
use super::webhook::{Addressed, Authorized, Update, Verified};
use crate::config::DeliveryMode;
use crate::deliver::control::TenantControl;
use crate::deliver::plan::{self, NoState};
use crate::deliver::{Deliverer, Delivery, DeliveryError, SyncError};
use crate::flow::FlowResponse;
use crate::http::TraceContext;
use crate::metrics::Outcome;
use crate::problem::{Code, Problem};
use crate::queue::backlog::{Backlog, Refused};
use crate::queue::readiness::{NotAccepting, StoreReadiness};
use crate::queue::{DeliveryContent, DeliveryState, Enqueued, NewDelivery, Store};

/// What a caller is told to wait when the tenant is paused or its circuit open, the queue is
/// full, or the store is not accepting.
const RETRY_AFTER_CLOSED: Duration = Duration::from_secs(5);

/// Everything the last stage needs; shared by every request.
#[derive(Clone)]
pub struct Dispatch {
    pub store: Arc<dyn Store>,
    pub deliverer: Arc<Deliverer>,
    pub control: Arc<TenantControl>,
    /// Wakes the workers after a commit.
    pub waker: Arc<Notify>,
    pub dedup_window: Duration,
    /// Whether accepted webhooks' raw bodies are kept with their deliveries
    /// (`store.body_retention` above zero).
    pub keep_bodies: bool,
    pub backlog: Arc<Backlog>,
    /// Whether the store accepts: shared with `/readyz`, so both say the same.
    pub readiness: Arc<StoreReadiness>,
}

impl Dispatch {
    pub async fn answer(&self, authorized: Authorized) -> Response {
        let Addressed { update, tenant, .. } = authorized.addressed;
        let vendor = update.webhook.vendor();
        let record = new_delivery(&update, tenant.name(), vendor.mode, self.keep_bodies);
        let content = record.content.clone();
        if vendor.mode == DeliveryMode::Queued
            && let Err(refusal) = self.admission(&content).await
        {
            return refusal.into_response();
        }
        let delivery = Delivery {
            content,
            flow: tenant,
        };
        let since = Utc::now() - self.dedup_window;
        match self.store.enqueue(record, since).await {
            Ok(Enqueued::Accepted) => {}
            // Another request with the same key committed first.
            Ok(Enqueued::Taken(existing)) => {
                let repeated = OutcomeFields::delivery(existing.id);
                return repeated
                    .mark(Repeat::of(existing, &update.identity.body_hash).into_response());
            }
            Err(error) => return Problem::from(error).into_response(),
        }
        let response = match vendor.mode {
            DeliveryMode::Queued => self.queued(&delivery),
            DeliveryMode::Sync => self.sync(&delivery, &update.webhook).await,
        };
        OutcomeFields::delivery(delivery.content.id).mark(response)
    }

    /// Commits a replayed webhook (`replay`) as a queued delivery whatever its vendor's mode, as
    /// no caller waits for Flow's answer, after the checks every queued webhook passes: the
    /// delivery committed, or the one its dedup key already names.
    pub async fn commit_replayed(
        &self,
        authorized: &Authorized,
    ) -> Result<(Uuid, Enqueued), Problem> {
        let Addressed { update, tenant, .. } = &authorized.addressed;
        let record = new_delivery(
            update,
            tenant.name(),
            DeliveryMode::Queued,
            self.keep_bodies,
        );
        let id = record.content.id;
        self.admission(&record.content).await?;
        let since = Utc::now() - self.dedup_window;
        let enqueued = self.store.enqueue(record, since).await?;
        if enqueued == Enqueued::Accepted {
            self.waker.notify_one();
        }
        Ok((id, enqueued))
    }

    /// A queued delivery's checks before its commit, as answers: a status with no state to go
    /// with it (`plan::state_known`), a store that will not keep it or has no room (`backlog`).
    async fn admission(&self, delivery: &DeliveryContent) -> Result<(), Problem> {
        match plan::state_known(delivery, &*self.store, &*self.store).await {
            Ok(true) => {}
            Ok(false) => return Err(Problem::from(DeliveryError::NoState(NoState))),
            Err(error) => return Err(Problem::from(error)),
        }
        self.backlog.admit(&self.readiness).map_err(refused)
    }

    fn queued(&self, delivery: &Delivery) -> Response {
        self.waker.notify_one();
        let body = json!({"id": delivery.content.id, "state": "pending", "duplicate": false});
        let mut response = (StatusCode::ACCEPTED, axum::Json(body)).into_response();
        response.extensions_mut().insert(Outcome::Accepted);
        response
    }

    /// Sends the committed sync delivery, its end recorded by the deliverer, and answers with
    /// what Flow did.
    async fn sync(&self, delivery: &Delivery, webhook: &Verified) -> Response {
        let deadline = flow_deadline(webhook);
        let (store, counted) = (&*self.store, &webhook.vendor().metrics);
        let sent = self
            .deliverer
            .deliver_sync(delivery, &self.control, store, counted, deadline);
        match sent.await {
            Ok(response) => delivered(delivery.content.id, &response),
            Err(SyncError::Failed(error)) => Problem::from(error).into_response(),
            Err(SyncError::Closed(closed)) => {
                let wait = closed.retry_after(tokio::time::Instant::now());
                Problem::new(
                    Code::Unavailable,
                    format!(
                        "Deliveries to tenant `{}`: {closed}; retry later.",
                        delivery.flow.name()
                    ),
                )
                .with_retry_after(wait.unwrap_or(RETRY_AFTER_CLOSED))
                .into_response()
            }
        }
    }
}

/// The delivery `update` becomes for `tenant`, committed as `mode`, with its raw body when
/// `keep_body`.
pub fn new_delivery(
    update: &Update,
    tenant: &str,
    mode: DeliveryMode,
    keep_body: bool,
) -> NewDelivery {
    let vendor = update.webhook.vendor();
    let content = DeliveryContent {
        id: Uuid::now_v7(),
        vendor: vendor.name.clone(),
        tenant: tenant.to_owned(),
        order_id: update.order.order_id,
        event_id: update.identity.event_id.clone(),
        update: update.order.update.clone(),
        state_default: vendor.mapper.state_default().map(str::to_owned),
        traceparent: traceparent(&update.webhook),
        created_at: Utc::now(),
    };
    NewDelivery {
        content,
        dedup: vendor.dedup == crate::config::Dedup::EventId,
        body_hash: update.identity.body_hash,
        mode,
        body: keep_body.then(|| update.webhook.body().clone()),
    }
}

/// A queued delivery refused before its commit: 503, `unavailable` when the store cannot keep
/// it, `overloaded` when it has no room.
fn refused(refusal: Refused) -> Problem {
    let overloaded = |why: &str| {
        Problem::new(Code::Overloaded, format!("{why}; retry later."))
            .with_retry_after(RETRY_AFTER_CLOSED)
    };
    match refusal {
        // Logged once when the store stopped accepting, not at every webhook.
        Refused::NotAccepting(NotAccepting::Store(_)) => Problem::new(
            Code::Unavailable,
            "The gateway cannot record the update now.",
        )
        .with_retry_after(RETRY_AFTER_CLOSED),
        Refused::NotAccepting(NotAccepting::LowDisk { .. }) => {
            overloaded("The store's disk is nearly full")
        }
        Refused::QueueFull => overloaded("The queue is full (too many deliveries waiting)"),
    }
}

/// 200 with Flow's last body as `order`, verbatim: its JSON as Flow wrote it (key order,
/// numbers and all), or as a string when it is not JSON.
fn delivered(id: Uuid, flow: &FlowResponse) -> Response {
    let order = match serde_json::from_slice::<&RawValue>(&flow.body) {
        Ok(json) => FlowBody::Json(json),
        Err(_) => FlowBody::Text(String::from_utf8_lossy(&flow.body)),
    };
    let answer = Delivered {
        id,
        state: DeliveryState::Delivered.as_str(),
        duplicate: false,
        order,
    };
    let mut response = (StatusCode::OK, axum::Json(answer)).into_response();
    response.extensions_mut().insert(Outcome::Delivered);
    response
}

/// The body of a sync delivery's 200.
#[derive(Serialize)]
struct Delivered<'a> {
    id: Uuid,
    state: &'static str,
    duplicate: bool,
    order: FlowBody<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum FlowBody<'a> {
    Json(&'a RawValue),
    Text(Cow<'a, str>),
}

/// The trace context the edge set for the request (`trace_context.rs`).
fn traceparent(webhook: &Verified) -> String {
    let parts = webhook.parts();
    parts
        .extensions
        .get::<TraceContext>()
        .cloned()
        .unwrap_or_else(|| TraceContext::from_headers(&parts.headers))
        .traceparent()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use http::{HeaderMap, StatusCode};
    use http_body_util::BodyExt;
    use uuid::Uuid;

    use super::delivered;
    use crate::flow::FlowResponse;

    async fn answer_to(flow_body: &'static [u8]) -> String {
        let flow = FlowResponse {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from_static(flow_body),
            elapsed: Duration::ZERO,
        };
        let response = delivered(Uuid::nil(), &flow);
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.expect("body");
        String::from_utf8(body.to_bytes().to_vec()).expect("UTF-8")
    }

    #[tokio::test]
    async fn a_sync_answer_carries_flows_body_verbatim() {
        // Key order, spacing inside the document and the number's digits are Flow's own.
        let flow = br#"{"Id": 7, "Guid": "9f0c8f0e-3c1b-4d59-a7b5-2b0b6c1d2e3f", "Amount": 1.50, "ActionText": null}"#;
        let answer = answer_to(flow).await;
        let expected = format!(
            r#"{{"id":"{}","state":"delivered","duplicate":false,"order":{}}}"#,
            Uuid::nil(),
            std::str::from_utf8(flow).expect("UTF-8")
        );
        assert_eq!(answer, expected);
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_is_passed_on_as_a_string() {
        let answer: serde_json::Value =
            serde_json::from_str(&answer_to(b"OK, updated").await).expect("JSON");
        assert_eq!(answer["order"], "OK, updated");
        let empty: serde_json::Value = serde_json::from_str(&answer_to(b"").await).expect("JSON");
        assert_eq!(empty["order"], "");
    }
}
