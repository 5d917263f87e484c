//! The pipeline's checks of the request itself, in the contract's order, each a [`Stage`] from one
//! type of `webhook.rs` to the next and each a thin adapter of its stage library: the vendor
//! (404), the media type (415), the signature on the raw bytes (401), the vendor's rate limit
//! (429), JSON (400) and the vendor's schemas (422), then what only observes an accepted
//! payload: its vendor's shadow schema and the properties its schema does not declare.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::SystemTime;

use governor::clock::{Clock, DefaultClock};
use http::header;

use super::Stage;
use super::webhook::{Inbound, Parsed, Received, Routed, Unique, Valid, Verified};
use crate::http::client_addr::ClientAddr;
use crate::validate::{
    Drift, MediaTypeError, ParseError, SchemaViolations, is_json_media_type, parse_json,
};
use crate::verify::signature::SignatureError;
use crate::verify::{IpNotAllowed, RateLimited, UnknownVendor};

/// Stage: the vendor the path names (looked up once, with the route: `Vendors::lookup`) → 404
/// `unknown-vendor`.
#[derive(Clone, Copy, Default)]
pub struct LookupVendor;

impl Stage<Inbound> for LookupVendor {
    type Out = Routed;
    type Error = UnknownVendor;

    fn run(&self, inbound: Inbound) -> Result<Routed, UnknownVendor> {
        let vendor = inbound.vendor?;
        let (parts, body) = inbound.request.into_parts();
        Ok(Routed {
            vendor,
            parts,
            body,
        })
    }
}

/// Stage: the client address must be one the vendor sends from (`allow_ips`) → 403
/// `ip-not-allowed`. An unknown address (a request that came over no connection) is refused
/// too: an allow-list fails closed.
#[derive(Clone, Copy, Default)]
pub struct CheckClientAddr;

impl Stage<Routed> for CheckClientAddr {
    type Out = Routed;
    type Error = IpNotAllowed;

    fn run(&self, routed: Routed) -> Result<Routed, IpNotAllowed> {
        let Some(allowed) = routed.vendor.allow_ips.as_deref() else {
            return Ok(routed);
        };
        let address = routed.parts.extensions.get::<ClientAddr>();
        if address.is_some_and(|ClientAddr(address)| allowed.iter().any(|r| r.contains(*address))) {
            return Ok(routed);
        }
        Err(IpNotAllowed {
            vendor: routed.vendor.name.clone(),
        })
    }
}

/// Stage: the body must be declared JSON → 415 `unsupported-media-type`.
#[derive(Clone, Copy, Default)]
pub struct RequireJson;

impl Stage<Routed> for RequireJson {
    type Out = Routed;
    type Error = MediaTypeError;

    fn run(&self, routed: Routed) -> Result<Routed, MediaTypeError> {
        let value = routed
            .parts
            .headers
            .get(header::CONTENT_TYPE)
            .ok_or(MediaTypeError::Missing)?;
        let text = value.to_str().unwrap_or_default();
        if is_json_media_type(text) {
            Ok(routed)
        } else {
            Err(MediaTypeError::NotJson(text.chars().take(100).collect()))
        }
    }
}

/// Stage: authenticate the vendor → 401 `signature-invalid`, each failure counted by reason.
#[derive(Clone, Copy, Default)]
pub struct Authenticate;

impl Stage<Received> for Authenticate {
    type Out = Verified;
    type Error = SignatureError;

    fn run(&self, received: Received) -> Result<Verified, SignatureError> {
        let vendor = &received.vendor;
        let proof = vendor
            .verifier
            .verify(&received.parts.headers, &received.body, SystemTime::now())
            .inspect_err(|error| vendor.metrics.signature_failure(error.reason()))?;
        Ok(Verified::new(received, proof))
    }
}

/// Stage: the vendor's own rate limit, spent only by authenticated requests → 429 `rate-limited`.
#[derive(Clone, Copy, Default)]
pub struct VendorRateLimit;

impl Stage<Verified> for VendorRateLimit {
    type Out = Verified;
    type Error = RateLimited;

    fn run(&self, webhook: Verified) -> Result<Verified, RateLimited> {
        let Some(limit) = &webhook.vendor().rate_limit else {
            return Ok(webhook);
        };
        match limit.limiter.check() {
            Ok(()) => Ok(webhook),
            Err(not_until) => Err(RateLimited {
                vendor: webhook.vendor().name.clone(),
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            }),
        }
    }
}

/// Stage: parse the body as JSON no deeper than `limits.max_json_depth` → 400 `invalid-json`.
#[derive(Clone, Copy)]
pub struct ParseJson {
    max_depth: usize,
}

impl ParseJson {
    pub fn new(max_depth: usize) -> Self {
        Self { max_depth }
    }
}

impl Stage<Verified> for ParseJson {
    type Out = Parsed;
    type Error = ParseError;

    fn run(&self, webhook: Verified) -> Result<Parsed, ParseError> {
        let document = parse_json(webhook.body(), self.max_depth)?;
        Ok(Parsed { webhook, document })
    }
}

/// Stage: check the payload against the vendor's schemas → 422 `schema-violation`.
#[derive(Clone, Copy, Default)]
pub struct ValidateSchema;

impl Stage<Unique> for ValidateSchema {
    type Out = Valid;
    type Error = SchemaViolations;

    fn run(&self, unique: Unique) -> Result<Valid, SchemaViolations> {
        unique.webhook.vendor().schemas.check(&unique.document)?;
        Ok(Valid {
            webhook: unique.webhook,
            document: unique.document,
            identity: unique.identity,
        })
    }
}

/// Stage: compare a payload its schemas accepted with the vendor's shadow schema (each failure
/// logged with its pointers and counted) and with what its schema declares (drift: counted once
/// per webhook and remembered per pointer). Never refuses: the answer is what it would be
/// without it.
#[derive(Clone)]
pub struct ObserveSchemas {
    drift: Arc<Drift>,
}

impl ObserveSchemas {
    pub fn new(drift: Arc<Drift>) -> Self {
        Self { drift }
    }
}

impl Stage<Valid> for ObserveSchemas {
    type Out = Valid;
    type Error = Infallible;

    fn run(&self, valid: Valid) -> Result<Valid, Infallible> {
        let vendor = valid.webhook.vendor();
        let schemas = &vendor.schemas;
        if schemas.has_shadow() {
            let violations = schemas.shadow_violations(&valid.document);
            if !violations.is_empty() {
                vendor.metrics.shadow_violated();
                let pointers: Vec<&str> = violations.iter().map(|v| v.pointer.as_str()).collect();
                tracing::info!(
                    vendor = %vendor.name,
                    event_id = %valid.identity.event_id,
                    pointers = ?pointers,
                    violations = ?violations,
                    "the payload passed its schema but not its shadow schema"
                );
            }
        }
        let undeclared = schemas.undeclared(&valid.document);
        if !undeclared.is_empty() {
            vendor.metrics.unknown_fields();
            self.drift
                .record(&vendor.name, &undeclared, chrono::Utc::now());
        }
        Ok(valid)
    }
}
