//! The verifier a vendor's `verify` table asks for: its secret resolved, its spec built, and
//! the verifier's own refusals reported under the table's key.

use super::{
    Algorithm, DEFAULT_SIGNED_TEMPLATE, DEFAULT_TOLERANCE, Encoding, HmacSpec, Verifier,
    VerifierSpec,
};
use crate::config::{ConfigError, Preset, Scheme, Source, VerifyConfig};

impl Verifier {
    /// Resolves the secret and builds the verifier of `verify`, the table at `key`.
    pub fn from_config(
        verify: &VerifyConfig,
        source: &Source,
        key: &str,
    ) -> Result<Verifier, ConfigError> {
        let secrets = verify.secret(source, key)?.resolve(source)?;
        Verifier::new(spec(verify, secrets)).map_err(|e| source.error(key, e.to_string()))
    }
}

fn spec(verify: &VerifyConfig, secrets: Vec<String>) -> VerifierSpec {
    let tolerance = verify.tolerance.unwrap_or(DEFAULT_TOLERANCE);
    match (verify.scheme, verify.preset) {
        (Scheme::StandardWebhooks, _) => VerifierSpec::StandardWebhooks { secrets, tolerance },
        (Scheme::Hmac, Some(Preset::Stripe)) => VerifierSpec::Stripe { secrets, tolerance },
        (Scheme::Hmac, Some(Preset::Github)) => VerifierSpec::Hmac(HmacSpec::github(secrets)),
        (Scheme::Hmac, Some(Preset::Flow)) => VerifierSpec::Hmac(HmacSpec::flow(secrets)),
        (Scheme::Hmac, None) => VerifierSpec::Hmac(HmacSpec {
            header: verify.header.clone().unwrap_or_default(),
            algorithm: verify.algorithm.unwrap_or(Algorithm::Sha256),
            encoding: verify.encoding.unwrap_or(Encoding::Hex),
            prefix: verify.prefix.clone(),
            timestamp_header: verify.timestamp_header.clone(),
            tolerance,
            signed: verify
                .signed
                .clone()
                .unwrap_or_else(|| DEFAULT_SIGNED_TEMPLATE.to_owned()),
            secrets,
        }),
        (Scheme::Bearer, _) => VerifierSpec::Bearer { tokens: secrets },
        (Scheme::Basic, _) => VerifierSpec::Basic {
            username: verify.username.clone().unwrap_or_default(),
            passwords: secrets,
        },
    }
}
