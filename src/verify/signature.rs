//! Vendor authentication on the raw body bytes (DESIGN section 4).
//!
//! A [`Verifier`] is built once per vendor from a [`VerifierSpec`]: secrets are decoded and HMAC
//! states keyed up front, so each request only clones a state and compares in constant time.
//! [`Verifier::sign`] plays the sender, so every scheme can be round-tripped in tests and tools.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::metrics::SignatureReason;

mod configured;
mod credentials;
mod hmac_header;
mod mac;
mod spec;
mod standard_webhooks;
mod stripe;
#[cfg(test)]
mod tests;

pub use spec::{Algorithm, Encoding, HmacSpec, SpecError, VerifierSpec};

use credentials::{Basic, Bearer};
use hmac_header::HmacHeader;
use spec::{Redacted, check_secrets, header_name};
use standard_webhooks::StandardWebhooks;
use stripe::Stripe;

/// How far a signed timestamp may lie from our clock, in either direction, unless configured.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Standard Webhooks header names.
pub const WEBHOOK_ID: &str = "webhook-id";
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
/// The same headers as Svix names them.
pub const SVIX_ID: &str = "svix-id";
pub const SVIX_TIMESTAMP: &str = "svix-timestamp";
pub const SVIX_SIGNATURE: &str = "svix-signature";
/// Prefix of a Standard Webhooks secret; the rest is base64.
pub const SECRET_PREFIX: &str = "whsec_";

/// Preset headers and prefixes.
pub const STRIPE_SIGNATURE: &str = "stripe-signature";
pub const GITHUB_SIGNATURE: &str = "x-hub-signature-256";
pub const GITHUB_PREFIX: &str = "sha256=";
pub const FLOW_SIGNATURE: &str = "x-flow-signature";
/// The header bearer and basic credentials arrive in.
pub const AUTHORIZATION: &str = "authorization";

/// The `signed` template when none is configured: the body alone.
pub const DEFAULT_SIGNED_TEMPLATE: &str = "{body}";

/// A vendor's authenticator, validated at construction. Cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    scheme: Arc<Scheme>,
}

enum Scheme {
    StandardWebhooks(StandardWebhooks),
    Hmac(HmacHeader),
    Stripe(Stripe),
    Bearer(Bearer),
    Basic(Basic),
}

/// What a successful check learned about the request: the proof that a vendor's verifier
/// accepted it. Only the verifier (this module) makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    /// The `webhook-id` (or `svix-id`) for standard-webhooks; `None` for other schemes.
    event_id: Option<String>,
}

impl Authenticated {
    /// The event id the signature covers, when the scheme has one.
    pub fn event_id(&self) -> Option<&str> {
        self.event_id.as_deref()
    }

    pub fn into_event_id(self) -> Option<String> {
        self.event_id
    }
}

/// Why a request failed authentication. The text is safe to show the vendor: it may name a
/// header, never a secret or the signature we expected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    /// A required header is absent, empty, or not visible ASCII.
    #[error("missing or unreadable header `{0}`")]
    MissingHeader(String),
    #[error("the signature timestamp is not an integer unix time in seconds")]
    BadTimestamp,
    #[error("the signature timestamp is too old")]
    Expired,
    #[error("the signature timestamp is too far in the future")]
    Future,
    /// The signature header is malformed, or no signature in it matched.
    #[error("no valid signature")]
    BadSignature,
    /// Bearer or basic credentials are malformed or wrong.
    #[error("invalid credentials")]
    BadCredentials,
}

impl SignatureError {
    /// The `reason` label of `flowgate_signature_failures_total`.
    pub fn reason(&self) -> SignatureReason {
        match self {
            Self::MissingHeader(_) => SignatureReason::MissingHeader,
            Self::BadTimestamp => SignatureReason::BadTimestamp,
            Self::Expired => SignatureReason::Expired,
            Self::Future => SignatureReason::Future,
            Self::BadSignature => SignatureReason::BadSignature,
            Self::BadCredentials => SignatureReason::BadCredentials,
        }
    }
}

// === impl Verifier ===

impl Verifier {
    /// Validates the spec and precomputes everything a request needs.
    ///
    /// # Errors
    ///
    /// A [`SpecError`] naming the first problem found; secrets by position only.
    pub fn new(spec: VerifierSpec) -> Result<Self, SpecError> {
        let scheme = match spec {
            VerifierSpec::StandardWebhooks { secrets, tolerance } => {
                Scheme::StandardWebhooks(StandardWebhooks::new(&secrets, tolerance)?)
            }
            VerifierSpec::Hmac(spec) => Scheme::Hmac(HmacHeader::new(&spec)?),
            VerifierSpec::Stripe { secrets, tolerance } => {
                Scheme::Stripe(Stripe::new(&secrets, tolerance)?)
            }
            VerifierSpec::Bearer { tokens } => Scheme::Bearer(Bearer::new(&tokens)?),
            VerifierSpec::Basic {
                username,
                passwords,
            } => Scheme::Basic(Basic::new(&username, &passwords)?),
        };
        Ok(Self {
            scheme: Arc::new(scheme),
        })
    }

    /// The scheme's name as written in the configuration (`verify.scheme`).
    pub fn scheme(&self) -> &'static str {
        match *self.scheme {
            Scheme::StandardWebhooks(_) => "standard-webhooks",
            Scheme::Hmac(_) | Scheme::Stripe(_) => "hmac",
            Scheme::Bearer(_) => "bearer",
            Scheme::Basic(_) => "basic",
        }
    }

    /// Authenticates a request from its headers and the exact body bytes received.
    ///
    /// # Errors
    ///
    /// The [`SignatureError`] for the first failed check: headers, then timestamp, then the
    /// signature or credentials.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Authenticated, SignatureError> {
        match &*self.scheme {
            Scheme::StandardWebhooks(s) => s.verify(headers, body, now),
            Scheme::Hmac(s) => s.verify(headers, body, now),
            Scheme::Stripe(s) => s.verify(headers, body, now),
            Scheme::Bearer(s) => s.verify(headers),
            Scheme::Basic(s) => s.verify(headers),
        }
    }

    /// Signs `body` as a sender would, with the FIRST secret; `event_id` is used where the
    /// scheme signs an id (standard-webhooks). Returns the headers to add to the request.
    ///
    /// `event_id` must be a valid header value; otherwise its header is left out and the
    /// request will not verify.
    pub fn sign(
        &self,
        body: &[u8],
        event_id: &str,
        now: SystemTime,
    ) -> Vec<(HeaderName, HeaderValue)> {
        match &*self.scheme {
            Scheme::StandardWebhooks(s) => s.sign(body, event_id, now),
            Scheme::Hmac(s) => s.sign(body, now),
            Scheme::Stripe(s) => s.sign(body, now),
            Scheme::Bearer(s) => s.sign(),
            Scheme::Basic(s) => s.sign(),
        }
    }

    fn secret_count(&self) -> usize {
        match &*self.scheme {
            Scheme::StandardWebhooks(s) => s.key_count(),
            Scheme::Hmac(s) => s.key_count(),
            Scheme::Stripe(s) => s.key_count(),
            Scheme::Bearer(s) => s.key_count(),
            Scheme::Basic(s) => s.key_count(),
        }
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("scheme", &self.scheme())
            .field("secrets", &Redacted(self.secret_count()))
            .finish()
    }
}

// === helpers shared by the schemes ===

/// A required header as text. Absent, blank and non-ASCII all count as missing: none of them
/// can carry a credential.
fn required_header<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, SignatureError> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .filter(|text| !text.trim().is_empty())
        .ok_or_else(|| SignatureError::MissingHeader(name.to_owned()))
}

/// Unix seconds written as plain ASCII digits; signs, spaces and fractions are refused so that
/// the text we sign over is the number we checked.
fn parse_timestamp(text: &str) -> Result<u64, SignatureError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::BadTimestamp);
    }
    text.parse().map_err(|_| SignatureError::BadTimestamp)
}

/// Replay protection both ways; too old and too new are told apart because they point at
/// different problems (a replay or a slow queue, versus a sender's clock running ahead).
fn check_freshness(
    timestamp: u64,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let now = unix_seconds(now);
    let tolerance = tolerance.as_secs();
    if timestamp < now.saturating_sub(tolerance) {
        Err(SignatureError::Expired)
    } else if timestamp > now.saturating_add(tolerance) {
        Err(SignatureError::Future)
    } else {
        Ok(())
    }
}

/// Whole seconds since the epoch; a clock before 1970 reads as 0.
fn unix_seconds(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A header pair for `sign`; `None` only when `value` cannot be a header value.
fn header_pair(name: HeaderName, value: &str) -> Option<(HeaderName, HeaderValue)> {
    Some((name, HeaderValue::from_str(value).ok()?))
}
