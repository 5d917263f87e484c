//! The `stripe` preset: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]` over `{t}.{body}`,
//! HMAC-SHA256 keyed with the secret's bytes as written (`whsec_` included, not decoded).

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};

use super::mac::{KeyedMac, Tag, any_matches};
use super::{
    Algorithm, Authenticated, Encoding, STRIPE_SIGNATURE, SignatureError, SpecError,
    check_freshness, check_secrets, header_pair, parse_timestamp, required_header, unix_seconds,
};

/// The only scheme checked; `v0` is Stripe's legacy test scheme and is ignored.
const SCHEME: &str = "v1";

pub(super) struct Stripe {
    keys: Vec<KeyedMac>,
    tolerance: Duration,
}

impl Stripe {
    pub(super) fn new(secrets: &[String], tolerance: Duration) -> Result<Self, SpecError> {
        check_secrets(secrets, "secret")?;
        let keys = secrets
            .iter()
            .enumerate()
            .map(|(index, secret)| KeyedMac::new(Algorithm::Sha256, secret.as_bytes(), index + 1))
            .collect::<Result<_, _>>()?;
        Ok(Self { keys, tolerance })
    }

    pub(super) fn key_count(&self) -> usize {
        self.keys.len()
    }

    pub(super) fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Authenticated, SignatureError> {
        let value = required_header(headers, STRIPE_SIGNATURE)?;
        let timestamp = timestamp_field(value)?;
        check_freshness(parse_timestamp(timestamp)?, now, self.tolerance)?;

        let expected: Vec<Tag> = self
            .keys
            .iter()
            .map(|key| signed(key, timestamp, body))
            .collect();
        let v1 = fields(value).filter_map(|(name, v)| (name == SCHEME).then_some(v));
        if !any_matches(&expected, Encoding::Hex, v1) {
            return Err(SignatureError::BadSignature);
        }
        Ok(Authenticated { event_id: None })
    }

    pub(super) fn sign(&self, body: &[u8], now: SystemTime) -> Vec<(HeaderName, HeaderValue)> {
        let Some(key) = self.keys.first() else {
            return Vec::new();
        };
        let timestamp = unix_seconds(now).to_string();
        let mac = signed(key, &timestamp, body).encode(Encoding::Hex);
        let value = format!("t={timestamp},{SCHEME}={mac}");
        header_pair(HeaderName::from_static(STRIPE_SIGNATURE), &value)
            .into_iter()
            .collect()
    }
}

fn signed(key: &KeyedMac, timestamp: &str, body: &[u8]) -> Tag {
    key.tag([timestamp.as_bytes(), b".", body])
}

/// `name=value` pairs; a piece without `=` is skipped like an unknown scheme.
fn fields(value: &str) -> impl Iterator<Item = (&str, &str)> {
    value
        .split(',')
        .filter_map(|field| field.split_once('='))
        .map(|(n, v)| (n.trim(), v.trim()))
}

/// The single `t=` field. A second one is refused: which of the two would be signed?
fn timestamp_field(value: &str) -> Result<&str, SignatureError> {
    let mut found = fields(value).filter_map(|(name, v)| (name == "t").then_some(v));
    match (found.next(), found.next()) {
        (Some(timestamp), None) => Ok(timestamp),
        _ => Err(SignatureError::BadTimestamp),
    }
}
