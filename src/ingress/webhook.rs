//! One webhook's journey through the pipeline as types: `Inbound` → `Routed` → `Received` →
//! `Verified` → `Parsed` → `Unique` (see `dedup.rs`) → `Valid`, and the synchronous stages
//! between them.

use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use governor::clock::{Clock, DefaultClock};
use http::request::Parts;
use http::{Request, header};
use serde_json::Value;
use tokio::sync::OwnedSemaphorePermit;

use super::dedup::{Identity, Unique};
use super::{Stage, Vendor, Vendors};
use crate::validate::{
    MediaTypeError, ParseError, SchemaViolations, is_json_media_type, parse_json,
};
use crate::verify::{RateLimited, UnknownVendor, Verified, is_vendor_name};

/// A request for `/webhooks/{vendor}`, before anything is known about it.
pub struct Inbound {
    pub vendor: String,
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

/// A verified webhook whose body is JSON.
pub struct Parsed {
    pub webhook: Verified,
    pub document: Value,
}

/// A first-seen webhook whose JSON passed its vendor's schemas.
pub struct Valid {
    pub webhook: Verified,
    pub document: Value,
    pub identity: Identity,
}

/// Stage: find the vendor → 404 `unknown-vendor`.
#[derive(Clone)]
pub struct LookupVendor {
    vendors: Arc<Vendors>,
}

impl LookupVendor {
    pub fn new(vendors: Arc<Vendors>) -> Self {
        Self { vendors }
    }
}

impl Stage<Inbound> for LookupVendor {
    type Out = Routed;
    type Error = UnknownVendor;

    fn run(&self, inbound: Inbound) -> Result<Routed, UnknownVendor> {
        if !is_vendor_name(&inbound.vendor) {
            return Err(UnknownVendor::Malformed);
        }
        let vendor = self
            .vendors
            .get(&inbound.vendor)
            .ok_or(UnknownVendor::Named(inbound.vendor))?;
        let (parts, body) = inbound.request.into_parts();
        Ok(Routed {
            vendor,
            parts,
            body,
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

/// Stage: the vendor's own rate limit, spent only by authenticated requests → 429 `rate-limited`.
#[derive(Clone, Copy, Default)]
pub struct VendorRateLimit;

impl Stage<Verified> for VendorRateLimit {
    type Out = Verified;
    type Error = RateLimited;

    fn run(&self, webhook: Verified) -> Result<Verified, RateLimited> {
        let Some(limiter) = &webhook.vendor().rate_limit else {
            return Ok(webhook);
        };
        match limiter.check() {
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
