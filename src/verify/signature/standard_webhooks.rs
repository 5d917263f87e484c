//! Standard Webhooks (and Svix): `v1,<base64 HMAC-SHA256>` over `{id}.{timestamp}.{body}`,
//! keyed with the base64-decoded `whsec_` secret.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::mac::{BASE64_LENIENT, KeyedMac, Tag, any_matches};
use super::{
    Algorithm, Authenticated, Encoding, SECRET_PREFIX, SVIX_ID, SVIX_SIGNATURE, SVIX_TIMESTAMP,
    SignatureError, SpecError, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP, check_freshness,
    check_secrets, header_pair, parse_timestamp, required_header, unix_seconds,
};

/// The only signature version this scheme checks; others (e.g. `v1a`, Ed25519) are skipped.
const VERSION: &str = "v1";

/// One header family; a request's id, timestamp and signature are all read from the same one.
struct Family {
    id: &'static str,
    timestamp: &'static str,
    signature: &'static str,
}

const UNBRANDED: Family = Family {
    id: WEBHOOK_ID,
    timestamp: WEBHOOK_TIMESTAMP,
    signature: WEBHOOK_SIGNATURE,
};
const SVIX: Family = Family {
    id: SVIX_ID,
    timestamp: SVIX_TIMESTAMP,
    signature: SVIX_SIGNATURE,
};

pub(super) struct StandardWebhooks {
    keys: Vec<KeyedMac>,
    tolerance: Duration,
}

impl StandardWebhooks {
    pub(super) fn new(secrets: &[String], tolerance: Duration) -> Result<Self, SpecError> {
        check_secrets(secrets, "secret")?;
        let keys = secrets
            .iter()
            .enumerate()
            .map(|(index, secret)| {
                let position = index + 1;
                let key = decode_secret(secret, position)?;
                KeyedMac::new(Algorithm::Sha256, &key, position)
            })
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
        // Mixing families could pair one sender's id with another's signature; pick one whole.
        let family =
            if !headers.contains_key(WEBHOOK_SIGNATURE) && headers.contains_key(SVIX_SIGNATURE) {
                &SVIX
            } else {
                &UNBRANDED
            };
        let id = required_header(headers, family.id)?;
        let timestamp = required_header(headers, family.timestamp)?;
        let signatures = required_header(headers, family.signature)?;
        check_freshness(parse_timestamp(timestamp)?, now, self.tolerance)?;

        let expected: Vec<Tag> = self
            .keys
            .iter()
            .map(|key| signed(key, id, timestamp, body))
            .collect();
        let entries = signatures
            .split(' ')
            .filter_map(|entry| {
                entry
                    .split_once(',')
                    .filter(|(version, _)| *version == VERSION)
            })
            .map(|(_, encoded)| encoded);
        if !any_matches(&expected, Encoding::Base64, entries) {
            return Err(SignatureError::BadSignature);
        }
        Ok(Authenticated {
            event_id: Some(id.to_owned()),
        })
    }

    pub(super) fn sign(
        &self,
        body: &[u8],
        event_id: &str,
        now: SystemTime,
    ) -> Vec<(HeaderName, HeaderValue)> {
        let Some(key) = self.keys.first() else {
            return Vec::new();
        };
        let timestamp = unix_seconds(now).to_string();
        let signature = format!(
            "{VERSION},{}",
            signed(key, event_id, &timestamp, body).encode(Encoding::Base64)
        );
        [
            header_pair(HeaderName::from_static(WEBHOOK_ID), event_id),
            header_pair(HeaderName::from_static(WEBHOOK_TIMESTAMP), &timestamp),
            header_pair(HeaderName::from_static(WEBHOOK_SIGNATURE), &signature),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

fn signed(key: &KeyedMac, id: &str, timestamp: &str, body: &[u8]) -> Tag {
    key.tag([id.as_bytes(), b".", timestamp.as_bytes(), b".", body])
}

/// `whsec_<base64>` (the prefix is optional) to key bytes.
fn decode_secret(secret: &str, position: usize) -> Result<Vec<u8>, SpecError> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    match BASE64_LENIENT.decode(encoded) {
        Ok(key) if !key.is_empty() => Ok(key),
        Ok(_) => Err(SpecError::EmptySecret {
            what: "secret",
            position,
        }),
        Err(_) => Err(SpecError::SecretNotBase64 { position }),
    }
}
