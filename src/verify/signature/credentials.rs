//! `bearer` and `basic`: a shared credential in `Authorization`.
//!
//! Credentials are compared as SHA-256 digests: equal length for every candidate, so the
//! constant-time compare leaks neither content nor length, and nothing can panic on a mismatch.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use super::mac::BASE64_LENIENT;
use super::{
    AUTHORIZATION, Authenticated, SignatureError, SpecError, check_secrets, required_header,
};

/// Digests of the accepted credentials, plus the first in clear for `sign`.
struct Credentials {
    digests: Vec<[u8; 32]>,
    first: String,
}

impl Credentials {
    fn new(accepted: Vec<String>) -> Self {
        let digests = accepted.iter().map(|c| digest(c.as_bytes())).collect();
        let first = accepted.into_iter().next().unwrap_or_default();
        Self { digests, first }
    }

    /// Compares against every accepted credential without stopping at a match, so timing
    /// does not tell which one (or whether a later one) matched.
    fn accepts(&self, candidate: &[u8]) -> bool {
        let candidate = digest(candidate);
        let mut matched = Choice::from(0);
        for accepted in &self.digests {
            matched |= accepted.ct_eq(&candidate);
        }
        bool::from(matched)
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// `Authorization: <scheme> <param>`, the scheme matched case-insensitively.
fn authorization<'h>(headers: &'h HeaderMap, scheme: &str) -> Result<&'h str, SignatureError> {
    let value = required_header(headers, AUTHORIZATION)?;
    let (name, param) = value
        .trim()
        .split_once(' ')
        .ok_or(SignatureError::BadCredentials)?;
    let param = param.trim();
    if name.eq_ignore_ascii_case(scheme) && !param.is_empty() {
        Ok(param)
    } else {
        Err(SignatureError::BadCredentials)
    }
}

fn authorization_pair(value: String) -> Vec<(HeaderName, HeaderValue)> {
    let Ok(mut value) = HeaderValue::try_from(value) else {
        return Vec::new();
    };
    // Keeps the credential out of HPACK tables and anything that honours the flag.
    value.set_sensitive(true);
    vec![(HeaderName::from_static(AUTHORIZATION), value)]
}

// === impl Bearer ===

pub(super) struct Bearer(Credentials);

impl Bearer {
    pub(super) fn new(tokens: &[String]) -> Result<Self, SpecError> {
        check_secrets(tokens, "token")?;
        // A token a header cannot carry (or whose edges a parser trims) could never match;
        // say so at start-up instead.
        let unsendable = |t: &String| HeaderValue::from_str(t).is_err() || t.trim() != t;
        if let Some(index) = tokens.iter().position(unsendable) {
            return Err(SpecError::TokenNotHeaderSafe {
                position: index + 1,
            });
        }
        Ok(Self(Credentials::new(tokens.to_vec())))
    }

    pub(super) fn key_count(&self) -> usize {
        self.0.digests.len()
    }

    pub(super) fn verify(&self, headers: &HeaderMap) -> Result<Authenticated, SignatureError> {
        let token = authorization(headers, "bearer")?;
        if self.0.accepts(token.as_bytes()) {
            Ok(Authenticated { event_id: None })
        } else {
            Err(SignatureError::BadCredentials)
        }
    }

    pub(super) fn sign(&self) -> Vec<(HeaderName, HeaderValue)> {
        authorization_pair(format!("Bearer {}", self.0.first))
    }
}

// === impl Basic ===

/// Holds `username:password` for each password: RFC 7617 splits at the first colon, so with
/// a colon-free username comparing the whole pair is the same check, done once.
pub(super) struct Basic(Credentials);

impl Basic {
    pub(super) fn new(username: &str, passwords: &[String]) -> Result<Self, SpecError> {
        if username.is_empty() {
            return Err(SpecError::EmptyUsername);
        }
        if username.contains(':') {
            return Err(SpecError::UsernameHasColon);
        }
        check_secrets(passwords, "password")?;
        let pairs = passwords
            .iter()
            .map(|p| format!("{username}:{p}"))
            .collect();
        Ok(Self(Credentials::new(pairs)))
    }

    pub(super) fn key_count(&self) -> usize {
        self.0.digests.len()
    }

    pub(super) fn verify(&self, headers: &HeaderMap) -> Result<Authenticated, SignatureError> {
        let encoded = authorization(headers, "basic")?;
        let decoded = BASE64_LENIENT
            .decode(encoded)
            .map_err(|_| SignatureError::BadCredentials)?;
        if decoded.contains(&b':') && self.0.accepts(&decoded) {
            Ok(Authenticated { event_id: None })
        } else {
            Err(SignatureError::BadCredentials)
        }
    }

    pub(super) fn sign(&self) -> Vec<(HeaderName, HeaderValue)> {
        authorization_pair(format!("Basic {}", STANDARD.encode(&self.0.first)))
    }
}
