//! Signs bodies the way vendors do, with the crate's own verifiers: what `sign` writes,
//! `verify` must accept, so a 401 in a test means the request was meant to fail.

use std::time::{Duration, SystemTime};

use flowgate::verify::signature::{HmacSpec, Verifier, VerifierSpec};
use http::{HeaderName, HeaderValue};

pub type Headers = Vec<(HeaderName, HeaderValue)>;

/// A `standard-webhooks` vendor with one `whsec_` secret and the default tolerance.
pub fn standard_webhooks(secret: &str) -> VerifierSpec {
    VerifierSpec::StandardWebhooks {
        secrets: vec![secret.to_owned()],
        tolerance: flowgate::verify::signature::DEFAULT_TOLERANCE,
    }
}

/// An `hmac` vendor with `preset = "github"`.
pub fn github(secret: &str) -> VerifierSpec {
    VerifierSpec::Hmac(HmacSpec::github(vec![secret.to_owned()]))
}

pub fn bearer(token: &str) -> VerifierSpec {
    VerifierSpec::Bearer {
        tokens: vec![token.to_owned()],
    }
}

pub fn basic(username: &str, password: &str) -> VerifierSpec {
    VerifierSpec::Basic {
        username: username.to_owned(),
        passwords: vec![password.to_owned()],
    }
}

/// The headers a vendor would send with `body` now, under a fresh event id.
pub fn sign(spec: &VerifierSpec, body: &[u8]) -> Headers {
    let event_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    sign_at(spec, body, &event_id, SystemTime::now())
}

/// The headers a vendor would have sent with `body` `ago` in the past.
pub fn sign_ago(spec: &VerifierSpec, body: &[u8], ago: Duration) -> Headers {
    let event_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    sign_at(spec, body, &event_id, SystemTime::now() - ago)
}

pub fn sign_at(spec: &VerifierSpec, body: &[u8], event_id: &str, at: SystemTime) -> Headers {
    let verifier = Verifier::new(spec.clone()).expect("a valid test verifier");
    let headers = verifier.sign(body, event_id, at);
    assert!(!headers.is_empty(), "signing produced no headers");
    headers
}

/// The same Standard Webhooks headers under their `svix-*` names.
pub fn as_svix(headers: Headers) -> Headers {
    headers
        .into_iter()
        .map(|(name, value)| {
            let svix = name.as_str().replacen("webhook-", "svix-", 1);
            (HeaderName::try_from(svix).expect("a header name"), value)
        })
        .collect()
}
