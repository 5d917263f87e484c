//! What the configuration asks a verifier to do, and why a configuration is refused.
//!
//! Secrets arrive here already resolved to strings; `Debug` prints how many, never which.

use std::fmt;
use std::time::Duration;

use http::HeaderName;

pub use crate::config::{Algorithm, Encoding};

use super::{
    DEFAULT_SIGNED_TEMPLATE, DEFAULT_TOLERANCE, FLOW_SIGNATURE, GITHUB_PREFIX, GITHUB_SIGNATURE,
};

/// What the configuration asks for, secrets already resolved to strings.
///
/// `Debug` prints how many secrets there are, never their values.
#[derive(Clone)]
pub enum VerifierSpec {
    StandardWebhooks {
        secrets: Vec<String>,
        tolerance: Duration,
    },
    Hmac(HmacSpec),
    Stripe {
        secrets: Vec<String>,
        tolerance: Duration,
    },
    Bearer {
        tokens: Vec<String>,
    },
    Basic {
        username: String,
        passwords: Vec<String>,
    },
}

/// A generic HMAC header (`scheme = "hmac"`). `Debug` redacts the secrets.
#[derive(Clone)]
pub struct HmacSpec {
    pub header: String,
    pub algorithm: Algorithm,
    pub encoding: Encoding,
    /// Written before the encoded MAC, e.g. `sha256=`; required in the header when set.
    pub prefix: Option<String>,
    /// A header carrying unix seconds; the template must then sign `{timestamp}`.
    pub timestamp_header: Option<String>,
    /// Used only with `timestamp_header`.
    pub tolerance: Duration,
    /// What is signed: `{body}` (the default) or e.g. `{timestamp}.{body}`.
    pub signed: String,
    /// The key is each secret's UTF-8 bytes as written.
    pub secrets: Vec<String>,
}

impl HmacSpec {
    /// GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
    pub fn github(secrets: Vec<String>) -> Self {
        Self::body_only(GITHUB_SIGNATURE, Some(GITHUB_PREFIX), secrets)
    }

    /// Flow: `X-Flow-Signature: <lowercase hex HMAC-SHA256 of the body>`.
    pub fn flow(secrets: Vec<String>) -> Self {
        Self::body_only(FLOW_SIGNATURE, None, secrets)
    }

    fn body_only(header: &str, prefix: Option<&str>, secrets: Vec<String>) -> Self {
        Self {
            header: header.to_owned(),
            algorithm: Algorithm::Sha256,
            encoding: Encoding::Hex,
            prefix: prefix.map(str::to_owned),
            timestamp_header: None,
            tolerance: DEFAULT_TOLERANCE,
            signed: DEFAULT_SIGNED_TEMPLATE.to_owned(),
            secrets,
        }
    }
}

/// A configuration a verifier cannot be built from. Secrets are named by their 1-based
/// position in the list, never by value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("no {what}s configured")]
    NoSecrets { what: &'static str },
    #[error("{what} #{position} is empty")]
    EmptySecret { what: &'static str, position: usize },
    #[error("secret #{position} is not valid base64 after the `whsec_` prefix")]
    SecretNotBase64 { position: usize },
    #[error("secret #{position} cannot be used as an HMAC key")]
    UnusableKey { position: usize },
    #[error(
        "token #{position} cannot be sent in a header (control characters or surrounding spaces)"
    )]
    TokenNotHeaderSafe { position: usize },
    #[error("`{name}` is not a valid HTTP header name")]
    InvalidHeaderName { name: String },
    #[error("the signed template must contain `{{body}}` exactly once, found {count}")]
    BodyPlaceholder { count: usize },
    #[error("the signed template has an unknown placeholder `{{{name}}}`")]
    UnknownPlaceholder { name: String },
    #[error("the signed template uses `{{timestamp}}` but no timestamp_header is set")]
    TimestampWithoutHeader,
    #[error(
        "timestamp_header is set but the signed template lacks `{{timestamp}}`, so the timestamp would not be authenticated"
    )]
    TimestampNotSigned,
    #[error("the basic username is empty")]
    EmptyUsername,
    #[error("the basic username contains `:`, which basic credentials cannot carry")]
    UsernameHasColon,
}

// === construction checks shared by the schemes ===

/// Checks a secret list: at least one, none empty.
pub(super) fn check_secrets(secrets: &[String], what: &'static str) -> Result<(), SpecError> {
    if secrets.is_empty() {
        return Err(SpecError::NoSecrets { what });
    }
    match secrets.iter().position(String::is_empty) {
        Some(index) => Err(SpecError::EmptySecret {
            what,
            position: index + 1,
        }),
        None => Ok(()),
    }
}

/// Parses a configured header name (any case).
pub(super) fn header_name(name: &str) -> Result<HeaderName, SpecError> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| SpecError::InvalidHeaderName {
        name: name.to_owned(),
    })
}

// === Debug with secrets redacted ===

/// Stands in for a list of secrets in `Debug` output.
pub(super) struct Redacted(pub(super) usize);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} redacted>", self.0)
    }
}

impl fmt::Debug for VerifierSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::StandardWebhooks { secrets, tolerance } => f
                .debug_struct("StandardWebhooks")
                .field("secrets", &Redacted(secrets.len()))
                .field("tolerance", tolerance)
                .finish(),
            Self::Hmac(spec) => f.debug_tuple("Hmac").field(spec).finish(),
            Self::Stripe { secrets, tolerance } => f
                .debug_struct("Stripe")
                .field("secrets", &Redacted(secrets.len()))
                .field("tolerance", tolerance)
                .finish(),
            Self::Bearer { tokens } => f
                .debug_struct("Bearer")
                .field("tokens", &Redacted(tokens.len()))
                .finish(),
            Self::Basic {
                username,
                passwords,
            } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("passwords", &Redacted(passwords.len()))
                .finish(),
        }
    }
}

impl fmt::Debug for HmacSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacSpec")
            .field("header", &self.header)
            .field("algorithm", &self.algorithm)
            .field("encoding", &self.encoding)
            .field("prefix", &self.prefix)
            .field("timestamp_header", &self.timestamp_header)
            .field("tolerance", &self.tolerance)
            .field("signed", &self.signed)
            .field("secrets", &Redacted(self.secrets.len()))
            .finish()
    }
}
