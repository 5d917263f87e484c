//! Authentication of vendors on the raw body bytes (`signature`), and the pipeline stage that
//! turns a received webhook into a [`Verified`] one. Only this module can make a `Verified`.

pub mod flow_token;
pub mod policy;
pub mod signature;
mod vendor;

pub use vendor::{RateLimited, UnknownVendor, is_vendor_name};

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::request::Parts;

use crate::ingress::webhook::{BufferPermit, Received};
use crate::ingress::{Stage, Vendor};
use signature::SignatureError;

/// A webhook whose sender proved who it is. Later stages accept nothing else.
pub struct Verified {
    vendor: Arc<Vendor>,
    parts: Parts,
    body: Bytes,
    event_id: Option<String>,
    _budget: BufferPermit,
}

impl Verified {
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

/// Stage: authenticate the vendor → 401 `signature-invalid`, each failure counted by reason.
#[derive(Clone, Copy, Default)]
pub struct Authenticate;

impl Stage<Received> for Authenticate {
    type Out = Verified;
    type Error = SignatureError;

    fn run(&self, received: Received) -> Result<Verified, SignatureError> {
        let Received {
            vendor,
            parts,
            body,
            budget,
        } = received;
        let authenticated = vendor
            .verifier
            .verify(&parts.headers, &body, SystemTime::now())
            .inspect_err(|error| vendor.metrics.signature_failure(error.reason()))?;
        Ok(Verified {
            vendor,
            parts,
            body,
            event_id: authenticated.event_id,
            _budget: budget,
        })
    }
}
