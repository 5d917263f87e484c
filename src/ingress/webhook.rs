//! One webhook's journey through the pipeline as types: `Inbound` → `Routed` → `Received` →
//! `Verified` → `Parsed` → `Unique` (see `dedup.rs`) → `Valid`, and the synchronous stages
//! between them.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use governor::clock::{Clock, DefaultClock};
use http::request::Parts;
use http::{Request, header};
use serde_json::Value;
use tokio::sync::OwnedSemaphorePermit;

use super::dedup::{Identity, Unique};
use super::{Stage, Vendor, Vendors};
use crate::validate::{VendorSchemas, Violation};
use crate::verify::Verified;

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

/// No configured vendor by that name. A name that no configuration could hold is not repeated:
/// it comes from the caller and may be anything.
#[derive(Debug, thiserror::Error)]
pub enum UnknownVendor {
    #[error("No vendor `{0}` is configured.")]
    Named(String),
    #[error("The path names no vendor: a vendor name is 1 to 64 letters, digits, `_`, `.` or `-`.")]
    Malformed,
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

/// Whether `name` can be a vendor's name: `[A-Za-z0-9_.-]{1,64}` (contract section 2).
pub fn is_vendor_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Stage: the body must be declared JSON → 415 `unsupported-media-type`.
#[derive(Clone, Copy, Default)]
pub struct RequireJson;

#[derive(Debug, thiserror::Error)]
pub enum MediaTypeError {
    #[error("Content-Type is missing; send application/json.")]
    Missing,
    #[error("Content-Type `{0}` is not JSON; send application/json.")]
    NotJson(String),
}

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

/// `application/json` or `application/<x>+json`, any parameters.
pub fn is_json_media_type(value: &str) -> bool {
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", subtype)) => {
            subtype == "json" || (subtype.ends_with("+json") && subtype.len() > "+json".len())
        }
        _ => false,
    }
}

/// Stage: the vendor's own rate limit, spent only by authenticated requests → 429 `rate-limited`.
#[derive(Clone, Copy, Default)]
pub struct VendorRateLimit;

#[derive(Debug, thiserror::Error)]
#[error("Vendor `{vendor}` is over its rate limit; retry after the time given.")]
pub struct RateLimited {
    pub vendor: String,
    pub retry_after: Duration,
}

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

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("The body nests deeper than {0} levels.")]
    TooDeep(usize),
    #[error("The body is not valid JSON: {0}.")]
    Invalid(String),
}

impl Stage<Verified> for ParseJson {
    type Out = Parsed;
    type Error = ParseError;

    fn run(&self, webhook: Verified) -> Result<Parsed, ParseError> {
        let document = self.parse(webhook.body())?;
        Ok(Parsed { webhook, document })
    }
}

impl ParseJson {
    /// The body as JSON, or why the gateway refuses it (also what `flowgate map` parses with).
    pub fn parse(&self, body: &[u8]) -> Result<Value, ParseError> {
        // Counted before parsing, so a hostile body costs one linear scan and no allocation.
        if nesting_depth(body) > self.max_depth {
            return Err(ParseError::TooDeep(self.max_depth));
        }
        serde_json::from_slice(body).map_err(|e| ParseError::Invalid(e.to_string()))
    }
}

/// The deepest nesting of arrays and objects in `bytes`, ignoring brackets inside strings.
pub fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &byte in bytes {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Stage: check the payload against the vendor's schemas → 422 `schema-violation`.
#[derive(Clone, Copy, Default)]
pub struct ValidateSchema;

#[derive(Debug, thiserror::Error)]
#[error("The payload breaks {} rule(s) of its schema.", .0.len())]
pub struct SchemaViolations(pub Vec<Violation>);

impl Stage<Unique> for ValidateSchema {
    type Out = Valid;
    type Error = SchemaViolations;

    fn run(&self, unique: Unique) -> Result<Valid, SchemaViolations> {
        Self::check(&unique.webhook.vendor().schemas, &unique.document)?;
        Ok(Valid {
            webhook: unique.webhook,
            document: unique.document,
            identity: unique.identity,
        })
    }
}

impl ValidateSchema {
    /// Every violation of `schemas` in `document` (also what `flowgate map` validates with).
    pub fn check(schemas: &VendorSchemas, document: &Value) -> Result<(), SchemaViolations> {
        let violations = schemas.violations(document);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(SchemaViolations(violations))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn vendor_names_follow_the_contracts_rule() {
        for ok in ["a", "example-photo", "v1.2_beta", &"x".repeat(64)] {
            assert!(is_vendor_name(ok), "{ok}");
        }
        let too_long = "x".repeat(65);
        for bad in ["", "a b", "a/b", "x\n", "é", "a\"b", too_long.as_str()] {
            assert!(!is_vendor_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn json_media_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/cloudevents+json",
        ] {
            assert!(is_json_media_type(ok), "{ok}");
        }
        for bad in [
            "text/json",
            "application/xml",
            "application/+json",
            "application/jsonx",
            "",
            "json",
        ] {
            assert!(!is_json_media_type(bad), "{bad}");
        }
    }

    #[test]
    fn depth_ignores_brackets_in_strings() {
        assert_eq!(nesting_depth(br#"{"a": [1, {"b": "[[[{{{"}]}"#), 3);
        assert_eq!(nesting_depth(br#"{"a": "\"[[["}"#), 1);
        assert_eq!(nesting_depth(b"42"), 0);
        assert_eq!(nesting_depth(&[b'['; 100]), 100);
    }

    proptest! {
        #[test]
        fn depth_matches_the_parsed_document(value in json_value()) {
            let text = serde_json::to_vec(&value).expect("serialises");
            prop_assert_eq!(nesting_depth(&text), depth_of(&value));
        }
    }

    fn depth_of(value: &Value) -> usize {
        match value {
            Value::Array(items) => 1 + items.iter().map(depth_of).max().unwrap_or(0),
            Value::Object(map) => 1 + map.values().map(depth_of).max().unwrap_or(0),
            _ => 0,
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[\\[\\]{}\"\\\\a-z]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(6, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-z\\[{\"]{0,4}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
