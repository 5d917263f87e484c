//! Keeps what the stages after authentication refuse (contract section 17): the raw body, who
//! sent it and why it was refused, so an operator can see it and replay it once the schema or the
//! mapping is fixed. Only an authenticated webhook is kept (nothing else proves who sent it),
//! and only for the refusals a fix on this side can turn around. Keeping one waits for the
//! store's group commit; a store that cannot keep it still lets the refusal be answered. A
//! `store.rejection_retention` of 0s keeps none: the layer is left out of the stack.

use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use chrono::Utc;
use http::HeaderValue;
use tower::Layer;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::stage::Link;
use super::webhook::Verified;
use super::{Vendor, dedup};
use crate::http::RequestId;
use crate::problem::Problem;
use crate::queue::{Rejection, RejectionStore};

#[derive(Clone)]
pub struct KeepRejectionsLayer {
    store: Arc<dyn RejectionStore>,
}

impl KeepRejectionsLayer {
    pub fn new(store: Arc<dyn RejectionStore>) -> Self {
        Self { store }
    }

    /// The layer that keeps rejections for `retention`, or none when it is zero: what would be
    /// purged at once is not written at all, so a refusal then costs no store write.
    pub fn for_retention(retention: Duration, store: Arc<dyn RejectionStore>) -> Option<Self> {
        (!retention.is_zero()).then(|| Self::new(store))
    }
}

impl<S> Layer<S> for KeepRejectionsLayer {
    type Service = KeepRejections<S>;

    fn layer(&self, inner: S) -> Self::Service {
        KeepRejections {
            inner,
            store: self.store.clone(),
        }
    }
}

pub struct KeepRejections<S> {
    inner: S,
    store: Arc<dyn RejectionStore>,
}

// === impl KeepRejections ===

impl<S: Link<Verified>> Link<Verified> for KeepRejections<S> {
    async fn answer(&self, webhook: Verified) -> Response {
        let received = Received::of(&webhook);
        // Boxed, as after an async stage (`stage.rs`): a webhook refused before this link never
        // makes the state of the stages after it.
        let response = Box::pin(self.inner.answer(webhook)).await;
        if let Some(problem) = response.extensions().get::<Problem>() {
            received.keep_if_refused(problem, &*self.store).await;
        }
        response
    }
}

/// What is kept of a webhook, taken before the stages consume it: cheap, as every authenticated
/// webhook pays it (the body and headers are shared, not copied; text is made only for a
/// refusal).
struct Received {
    vendor: Arc<Vendor>,
    received_at: chrono::DateTime<Utc>,
    request_id: Option<RequestId>,
    content_type: Option<HeaderValue>,
    /// The event id its signature covers, when its scheme has one.
    signed_id: Option<String>,
    body: bytes::Bytes,
}

impl Received {
    fn of(webhook: &Verified) -> Received {
        let parts = webhook.parts();
        Received {
            vendor: webhook.vendor().clone(),
            received_at: Utc::now(),
            request_id: parts.extensions.get::<RequestId>().cloned(),
            content_type: parts.headers.get(http::header::CONTENT_TYPE).cloned(),
            signed_id: webhook.event_id().map(str::to_owned),
            body: webhook.body().clone(),
        }
    }

    /// The event id dedup gives it, so a replay is deduplicated as its vendor's retries are: its
    /// payload is read again (only now, for a refusal) when the signature names none.
    fn event_id(&self) -> String {
        let body_hash: [u8; 32] = Sha256::digest(&self.body).into();
        let document: Option<Value> = match self.signed_id {
            Some(_) => None,
            None => serde_json::from_slice(&self.body).ok(),
        };
        let signed = self.signed_id.as_deref();
        dedup::event_id(&self.vendor, signed, document.as_ref(), &body_hash)
    }

    /// Keeps the webhook when `problem` is a refusal that is kept; a store failure is logged
    /// and the refusal answered all the same.
    async fn keep_if_refused(self, problem: &Problem, store: &dyn RejectionStore) {
        let Some(kept_as) = problem.code.kept_as() else {
            return;
        };
        let event_id = self.event_id();
        let rejection = Rejection {
            id: Rejection::new_id(self.received_at),
            vendor: self.vendor.name.clone(),
            received_at: self.received_at,
            status: problem.code.status().as_u16(),
            code: problem.code.as_str().to_owned(),
            detail: problem.detail.clone(),
            errors: problem.errors.to_json(),
            event_id: Some(event_id),
            request_id: self
                .request_id
                .map(|id| id.as_str().to_owned())
                .unwrap_or_default(),
            content_type: self
                .content_type
                .and_then(|value| value.to_str().ok().map(str::to_owned)),
            body: self.body,
            delivery_id: None,
        };
        let (id, vendor) = (rejection.id, rejection.vendor.clone());
        match store.keep_rejection(rejection).await {
            Ok(()) => self.vendor.metrics.rejection_kept(kept_as),
            Err(error) => {
                tracing::warn!(vendor, rejection_id = %id, %error, "the refused webhook could not be kept");
            }
        }
    }
}
