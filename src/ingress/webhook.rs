//! One webhook's journey through the pipeline as types, each made only by the stage that
//! checked it: `Inbound` → `Routed` → `Received` → `Verified` → `Parsed` → `Unique` → `Valid` →
//! `Update` → `Addressed` → `Authorized`, the update ready to dispatch. A later stage cannot be
//! reached with input an earlier one did not check.

use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use http::Request;
use http::request::Parts;
use serde_json::Value;
use tokio::sync::OwnedSemaphorePermit;

use super::Vendor;
use super::outcome::OutcomeFields;
use crate::flow::TenantFlow;
use crate::map::Mapped;
use crate::order::Binding;
use crate::verify::UnknownVendor;
use crate::verify::flow_token::VerifiedToken;
use crate::verify::signature::Authenticated;

/// A request for `/webhooks/{vendor}`, before anything is known about it but its vendor's
/// look-up.
pub struct Inbound {
    pub vendor: Result<Arc<Vendor>, UnknownVendor>,
    pub request: Request<Body>,
}

/// A request for a configured vendor; the body not read yet.
pub struct Routed {
    pub vendor: Arc<Vendor>,
    pub parts: Parts,
    pub body: Body,
}

/// A body read whole within the limits, holding its share of the memory budget until answered.
pub struct Received {
    pub vendor: Arc<Vendor>,
    pub parts: Parts,
    pub body: Bytes,
    pub budget: BufferPermit,
}

/// Bytes of `server.max_buffered_bytes` a body holds while it is processed.
pub type BufferPermit = Option<OwnedSemaphorePermit>;

/// A webhook whose sender proved who it is. Later stages accept nothing else, and only the
/// proof of a vendor's verifier makes one.
pub struct Verified {
    vendor: Arc<Vendor>,
    parts: Parts,
    body: Bytes,
    event_id: Option<String>,
    _budget: BufferPermit,
}

impl Verified {
    /// The received webhook, with what its vendor's verifier proved about it.
    pub fn new(received: Received, proof: Authenticated) -> Verified {
        let Received {
            vendor,
            parts,
            body,
            budget,
        } = received;
        Verified {
            vendor,
            parts,
            body,
            event_id: proof.into_event_id(),
            _budget: budget,
        }
    }

    /// A webhook the store kept (refused, or accepted with its body), whose sender was proven
    /// when it arrived: what a replay runs again from parsing onwards, under the event id it
    /// was kept with. It carries no request headers: its trace is a new one.
    pub fn kept(vendor: Arc<Vendor>, body: Bytes, event_id: Option<String>) -> Verified {
        let (parts, ()) = Request::new(()).into_parts();
        Verified {
            vendor,
            parts,
            body,
            event_id,
            _budget: None,
        }
    }

    pub fn vendor(&self) -> &Arc<Vendor> {
        &self.vendor
    }

    pub fn parts(&self) -> &Parts {
        &self.parts
    }

    /// The raw bytes exactly as signed.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The event id the signature covers (`webhook-id` / `svix-id`), when the scheme has one.
    pub fn event_id(&self) -> Option<&str> {
        self.event_id.as_deref()
    }
}

/// A verified webhook whose body is JSON.
pub struct Parsed {
    pub webhook: Verified,
    pub document: Value,
}

/// Who a webhook is, for dedup and idempotency (`dedup.rs` decides it).
#[derive(Clone, Debug)]
pub struct Identity {
    /// The signed header id, else the payload's mapped id, else the hex SHA-256 of the body.
    pub event_id: String,
    pub body_hash: [u8; 32],
}

/// A parsed webhook not seen before (or whose vendor does not deduplicate).
pub struct Unique {
    pub webhook: Verified,
    pub document: Value,
    pub identity: Identity,
}

/// A first-seen webhook whose JSON passed its vendor's schemas.
pub struct Valid {
    pub webhook: Verified,
    pub document: Value,
    pub identity: Identity,
}

/// A valid webhook mapped onto an order update.
pub struct Update {
    pub webhook: Verified,
    pub order: Mapped,
    pub identity: Identity,
}

/// An update whose tenant is known.
pub struct Addressed {
    pub update: Update,
    pub tenant: Arc<TenantFlow>,
    pub binding: Option<Binding>,
}

/// An update that met its vendor's FlowToken policy: ready to dispatch.
pub struct Authorized {
    pub addressed: Addressed,
    pub token: Option<VerifiedToken>,
}

/// What a webhook at its point of the chain tells its outcome line: nothing until it is mapped,
/// then its order, then its tenant. Stage adapters put it on the answer when a stage refuses.
pub trait Known {
    fn outcome_fields(&self) -> OutcomeFields {
        OutcomeFields::default()
    }
}

impl Known for Inbound {}
impl Known for Routed {}
impl Known for Received {}
impl Known for Verified {}
impl Known for Parsed {}
impl Known for Unique {}
impl Known for Valid {}

impl Known for Update {
    fn outcome_fields(&self) -> OutcomeFields {
        OutcomeFields {
            order_id: Some(self.order.order_id),
            ..OutcomeFields::default()
        }
    }
}

impl Known for Addressed {
    fn outcome_fields(&self) -> OutcomeFields {
        OutcomeFields {
            tenant: Some(self.tenant.clone()),
            ..self.update.outcome_fields()
        }
    }
}

impl Known for Authorized {
    fn outcome_fields(&self) -> OutcomeFields {
        self.addressed.outcome_fields()
    }
}
