//! Stage 5, the dedup lookup (contract section 8): a webhook whose (vendor, event id) was
//! committed inside `store.dedup_window` is answered now, as the original delivery, before
//! anything later can fail or call Flow; the same key with another body is 409.

use std::sync::Arc;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::AsyncStage;
use super::Vendor;
use super::outcome::OutcomeFields;
use super::update::flow_deadline;
use super::webhook::{Identity, Parsed, Unique, Verified};
use crate::config::Dedup;
use crate::metrics::Outcome;
use crate::problem::{Code, Problem};
use crate::queue::{DeliveryState, Existing, Store, StoreError};

/// How often a duplicate of a sync webhook still being delivered looks again.
const SETTLE_POLL: Duration = Duration::from_millis(20);

impl Identity {
    /// Who `webhook` is: its event id ([`event_id`]) and the hash of its body.
    pub(crate) fn of(webhook: &Verified, document: &Value) -> Identity {
        let body_hash: [u8; 32] = Sha256::digest(webhook.body()).into();
        let (vendor, signed) = (webhook.vendor(), webhook.event_id());
        Identity {
            event_id: event_id(vendor, signed, Some(document), &body_hash),
            body_hash,
        }
    }
}

/// A webhook's event id: the one its signature covers (`signed`), else the one its payload maps
/// to (when `document` is known), else the hex SHA-256 of its body.
pub(super) fn event_id(
    vendor: &Vendor,
    signed: Option<&str>,
    document: Option<&Value>,
    body_hash: &[u8; 32],
) -> String {
    signed
        .map(str::to_owned)
        .or_else(|| document.and_then(|d| vendor.mapper.event_id(d)))
        .unwrap_or_else(|| hex::encode(body_hash))
}

/// Stage: answer a repeat as its original → 200 duplicate / 409 `duplicate-conflict`.
#[derive(Clone)]
pub struct Deduplicate {
    store: Arc<dyn Store>,
    window: Duration,
}

impl Deduplicate {
    pub fn new(store: Arc<dyn Store>, window: Duration) -> Self {
        Self { store, window }
    }
}

/// Why the webhook goes no further.
#[derive(Debug)]
pub enum Repeat {
    Duplicate(Existing),
    Conflict,
    Store(StoreError),
}

impl Repeat {
    /// What a webhook is when its key names `existing`: its duplicate, or a conflict when the
    /// bodies differ.
    pub fn of(existing: Existing, body_hash: &[u8; 32]) -> Repeat {
        if existing.body_hash == *body_hash {
            Repeat::Duplicate(existing)
        } else {
            Repeat::Conflict
        }
    }
}

impl From<StoreError> for Repeat {
    fn from(error: StoreError) -> Self {
        Repeat::Store(error)
    }
}

impl IntoResponse for Repeat {
    fn into_response(self) -> Response {
        match self {
            Repeat::Duplicate(existing) => duplicate(&existing),
            Repeat::Conflict => Problem::new(
                Code::DuplicateConflict,
                "This event id was already used for a different body.",
            )
            .into_response(),
            Repeat::Store(error) => Problem::from(error).into_response(),
        }
    }
}

/// 200 with the original delivery: the vendor's retry succeeded, nothing more happens.
fn duplicate(existing: &Existing) -> Response {
    let body = json!({"id": existing.id, "state": existing.state.as_str(), "duplicate": true});
    let mut response = (StatusCode::OK, axum::Json(body)).into_response();
    response.extensions_mut().insert(Outcome::Duplicate);
    OutcomeFields::delivery(existing.id).mark(response)
}

impl AsyncStage<Parsed> for Deduplicate {
    type Out = Unique;
    type Error = Repeat;

    async fn run(&self, parsed: Parsed) -> Result<Unique, Repeat> {
        let identity = Identity::of(&parsed.webhook, &parsed.document);
        let vendor = parsed.webhook.vendor();
        if vendor.dedup == Dedup::Off {
            return Ok(unique(parsed, identity));
        }
        let since = Utc::now() - self.window;
        let found = self
            .store
            .find(&vendor.name, &identity.event_id, since)
            .await?;
        let Some(existing) = found else {
            return Ok(unique(parsed, identity));
        };
        let existing = match Repeat::of(existing, &identity.body_hash) {
            Repeat::Duplicate(existing) => existing,
            other => return Err(other),
        };
        let deadline = flow_deadline(&parsed.webhook);
        match self
            .settled(existing, &vendor.name, &identity, deadline)
            .await?
        {
            Some(existing) => Err(Repeat::Duplicate(existing)),
            // The first was a sync delivery that failed: its key was given back.
            None => Ok(unique(parsed, identity)),
        }
    }
}

impl Deduplicate {
    /// A sync delivery still in flight is waited for, so its duplicate answers with the
    /// outcome; `None` when it failed and gave its key back.
    async fn settled(
        &self,
        mut existing: Existing,
        vendor: &str,
        identity: &Identity,
        deadline: Instant,
    ) -> Result<Option<Existing>, StoreError> {
        let is_sync = async |id| {
            let record = self.store.get(id).await?;
            Ok::<_, StoreError>(record.is_some_and(|r| r.mode == "sync"))
        };
        if existing.state != DeliveryState::InFlight || !is_sync(existing.id).await? {
            return Ok(Some(existing));
        }
        while existing.state == DeliveryState::InFlight && Instant::now() < deadline {
            tokio::time::sleep(SETTLE_POLL).await;
            let since = Utc::now() - self.window;
            match self.store.find(vendor, &identity.event_id, since).await? {
                Some(now) => existing = now,
                None => return Ok(None),
            }
        }
        Ok(Some(existing))
    }
}

fn unique(parsed: Parsed, identity: Identity) -> Unique {
    Unique {
        webhook: parsed.webhook,
        document: parsed.document,
        identity,
    }
}
