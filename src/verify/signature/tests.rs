//! Unit tests for the signature schemes, one file per scheme family plus shared helpers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};

use super::*;

mod credentials;
mod hmac;
mod properties;
mod spec;
mod standard_webhooks;
mod vectors;

/// A fixed "now" (2025-11-28T12:00:00Z) so tolerance edges are exact.
const NOW: u64 = 1_764_331_200;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn verifier(spec: VerifierSpec) -> Verifier {
    Verifier::new(spec).expect("valid spec")
}

/// A `whsec_` secret from raw key bytes.
fn whsec(key: &[u8]) -> String {
    use base64::Engine as _;
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

fn to_map(pairs: Vec<(HeaderName, HeaderValue)>) -> HeaderMap {
    pairs.into_iter().collect()
}

/// Signs with `signer` at `signed_at` and returns the headers.
fn signed(signer: &Verifier, body: &[u8], signed_at: u64) -> HeaderMap {
    to_map(signer.sign(body, "msg_1", at(signed_at)))
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    headers.insert(
        name,
        HeaderValue::from_str(value).expect("valid header value"),
    );
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .expect("header present")
}

fn missing(name: &str) -> SignatureError {
    SignatureError::MissingHeader(name.to_owned())
}
