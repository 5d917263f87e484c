//! Keyed HMAC states (keyed once per secret, cloned per request) and the encodings MACs travel in.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Sha256, Sha512};
use subtle::{Choice, ConstantTimeEq};

use super::{Algorithm, Encoding, SpecError};

/// The longest tag we produce (SHA-512); also bounds how much of a header we decode.
const MAX_TAG_LEN: usize = 64;

/// Standard alphabet, padding optional: senders differ on whether they pad.
pub(super) const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// An HMAC state already keyed with one secret. Cloning it skips the key schedule.
#[derive(Clone)]
pub(super) enum KeyedMac {
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

impl KeyedMac {
    /// `position` (1-based) names the secret if the key is refused, which HMAC never does
    /// for any key length; the error keeps this path free of panics all the same.
    pub(super) fn new(
        algorithm: Algorithm,
        key: &[u8],
        position: usize,
    ) -> Result<Self, SpecError> {
        let unusable = |_| SpecError::UnusableKey { position };
        Ok(match algorithm {
            Algorithm::Sha256 => Self::Sha256(Hmac::new_from_slice(key).map_err(unusable)?),
            Algorithm::Sha512 => Self::Sha512(Hmac::new_from_slice(key).map_err(unusable)?),
        })
    }

    /// The MAC over the concatenation of `parts`, fed piecewise so nothing is copied.
    pub(super) fn tag<'a>(&self, parts: impl IntoIterator<Item = &'a [u8]>) -> Tag {
        match self {
            Self::Sha256(state) => finish(state.clone(), parts),
            Self::Sha512(state) => finish(state.clone(), parts),
        }
    }
}

fn finish<'a, M: Mac>(mut state: M, parts: impl IntoIterator<Item = &'a [u8]>) -> Tag {
    for part in parts {
        state.update(part);
    }
    Tag::new(&state.finalize().into_bytes())
}

/// A computed MAC, kept on the stack.
pub(super) struct Tag {
    bytes: [u8; MAX_TAG_LEN],
    len: usize,
}

impl Tag {
    fn new(mac: &[u8]) -> Self {
        let len = mac.len().min(MAX_TAG_LEN);
        let mut bytes = [0; MAX_TAG_LEN];
        bytes[..len].copy_from_slice(&mac[..len]);
        Self { bytes, len }
    }

    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Constant-time in the content; a length mismatch (public anyway) is simply no match.
    pub(super) fn matches(&self, candidate: &[u8]) -> Choice {
        self.as_bytes().ct_eq(candidate)
    }

    pub(super) fn encode(&self, encoding: Encoding) -> String {
        match encoding {
            Encoding::Hex => hex::encode(self.as_bytes()),
            Encoding::Base64 => STANDARD.encode(self.as_bytes()),
        }
    }
}

/// A MAC as received, decoded into a stack buffer. Anything that cannot be a tag of ours
/// (bad characters, longer than any tag) decodes to nothing.
pub(super) struct Candidate {
    bytes: [u8; MAX_TAG_LEN],
    len: usize,
}

impl Candidate {
    pub(super) fn decode(encoding: Encoding, text: &str) -> Option<Self> {
        let mut bytes = [0; MAX_TAG_LEN];
        let len = match encoding {
            Encoding::Hex => {
                let len = text.len() / 2;
                if len > MAX_TAG_LEN {
                    return None;
                }
                // Refuses an odd length too: `len` digit pairs must fill the text exactly.
                hex::decode_to_slice(text, &mut bytes[..len]).ok()?;
                len
            }
            Encoding::Base64 => BASE64_LENIENT.decode_slice(text, &mut bytes).ok()?,
        };
        Some(Self { bytes, len })
    }

    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Whether any encoded candidate equals any expected tag. Every pair is compared, without
/// stopping at a match, so the time taken says nothing about which candidate or secret matched.
/// A candidate that does not decode matches nothing.
pub(super) fn any_matches<'a>(
    expected: &[Tag],
    encoding: Encoding,
    candidates: impl IntoIterator<Item = &'a str>,
) -> bool {
    let mut matched = Choice::from(0);
    for candidate in candidates
        .into_iter()
        .filter_map(|c| Candidate::decode(encoding, c))
    {
        for tag in expected {
            matched |= tag.matches(candidate.as_bytes());
        }
    }
    bool::from(matched)
}
