//! `vendors.X.verify`: checks that the keys fit the scheme, and turns the table plus resolved
//! secrets into the verifier's spec.

use super::{Algorithm, ConfigError, Encoding, Preset, Scheme, SecretRef, Source, Verify};
use crate::verify::signature::{
    self, DEFAULT_SIGNED_TEMPLATE, DEFAULT_TOLERANCE, HmacSpec, VerifierSpec,
};

impl Verify {
    /// Every key given in the table, with its name, for the "not used by this scheme" check.
    fn given_keys(&self) -> Vec<&'static str> {
        let keys = [
            ("preset", self.preset.is_some()),
            ("header", self.header.is_some()),
            ("algorithm", self.algorithm.is_some()),
            ("encoding", self.encoding.is_some()),
            ("prefix", self.prefix.is_some()),
            ("timestamp_header", self.timestamp_header.is_some()),
            ("signed", self.signed.is_some()),
            ("tolerance", self.tolerance.is_some()),
            ("secrets", self.secrets.is_some()),
            ("secrets_env", self.secrets_env.is_some()),
            ("secrets_file", self.secrets_file.is_some()),
            ("tokens", self.tokens.is_some()),
            ("tokens_env", self.tokens_env.is_some()),
            ("tokens_file", self.tokens_file.is_some()),
            ("username", self.username.is_some()),
            ("password", self.password.is_some()),
            ("password_env", self.password_env.is_some()),
            ("password_file", self.password_file.is_some()),
        ];
        keys.into_iter()
            .filter(|(_, given)| *given)
            .map(|(k, _)| k)
            .collect()
    }

    fn allowed_keys(&self) -> &'static [&'static str] {
        const SECRETS: [&str; 3] = ["secrets", "secrets_env", "secrets_file"];
        match (self.scheme, self.preset) {
            (Scheme::StandardWebhooks, _) => &["tolerance", SECRETS[0], SECRETS[1], SECRETS[2]],
            (Scheme::Hmac, Some(Preset::Stripe)) => {
                &["preset", "tolerance", SECRETS[0], SECRETS[1], SECRETS[2]]
            }
            (Scheme::Hmac, Some(_)) => &["preset", SECRETS[0], SECRETS[1], SECRETS[2]],
            (Scheme::Hmac, None) => &[
                "header",
                "algorithm",
                "encoding",
                "prefix",
                "timestamp_header",
                "signed",
                "tolerance",
                SECRETS[0],
                SECRETS[1],
                SECRETS[2],
            ],
            (Scheme::Bearer, _) => &["tokens", "tokens_env", "tokens_file"],
            (Scheme::Basic, _) => &["username", "password", "password_env", "password_file"],
        }
    }

    /// Where the scheme's secret lives: `secrets`, `tokens` or `password`.
    pub fn secret(&self, source: &Source, key: &str) -> Result<SecretRef, ConfigError> {
        let (name, multi, inline, env, file) = match self.scheme {
            Scheme::StandardWebhooks | Scheme::Hmac => (
                "secrets",
                true,
                self.secrets.clone(),
                &self.secrets_env,
                &self.secrets_file,
            ),
            Scheme::Bearer => (
                "tokens",
                true,
                self.tokens.clone(),
                &self.tokens_env,
                &self.tokens_file,
            ),
            Scheme::Basic => (
                "password",
                false,
                self.password.clone().map(|p| vec![p]),
                &self.password_env,
                &self.password_file,
            ),
        };
        SecretRef::required(
            source,
            (key, name, multi),
            inline,
            env.as_ref(),
            file.as_ref(),
        )
    }

    /// Structural checks at load: keys fit the scheme, the secret is named, required keys exist.
    pub(super) fn check(&self, source: &Source, key: &str) -> Vec<ConfigError> {
        let allowed = self.allowed_keys();
        let scheme = self.scheme_name();
        let mut errors: Vec<ConfigError> = self
            .given_keys()
            .into_iter()
            .filter(|k| !allowed.contains(k))
            .map(|k| {
                source.error(
                    format!("{key}.{k}"),
                    format!("not used by scheme \"{scheme}\""),
                )
            })
            .collect();
        if let Err(e) = self.secret(source, key) {
            errors.push(e);
        }
        if self.scheme == Scheme::Hmac && self.preset.is_none() && self.header.is_none() {
            errors.push(source.error(
                format!("{key}.header"),
                "scheme \"hmac\" needs a header or a preset",
            ));
        }
        if self.scheme == Scheme::Basic && self.username.as_deref().is_none_or(str::is_empty) {
            errors.push(source.error(
                format!("{key}.username"),
                "scheme \"basic\" needs a username",
            ));
        }
        errors
    }

    pub fn scheme_name(&self) -> &'static str {
        match self.scheme {
            Scheme::StandardWebhooks => "standard-webhooks",
            Scheme::Hmac => "hmac",
            Scheme::Bearer => "bearer",
            Scheme::Basic => "basic",
        }
    }

    /// Resolves the secret and builds the verifier; its own checks are reported under this key.
    pub fn verifier(&self, source: &Source, key: &str) -> Result<signature::Verifier, ConfigError> {
        let secrets = self.secret(source, key)?.resolve(source)?;
        signature::Verifier::new(self.spec(secrets)).map_err(|e| source.error(key, e.to_string()))
    }

    fn spec(&self, secrets: Vec<String>) -> VerifierSpec {
        let tolerance = self.tolerance.unwrap_or(DEFAULT_TOLERANCE);
        match (self.scheme, self.preset) {
            (Scheme::StandardWebhooks, _) => VerifierSpec::StandardWebhooks { secrets, tolerance },
            (Scheme::Hmac, Some(Preset::Stripe)) => VerifierSpec::Stripe { secrets, tolerance },
            (Scheme::Hmac, Some(Preset::Github)) => VerifierSpec::Hmac(HmacSpec::github(secrets)),
            (Scheme::Hmac, Some(Preset::Flow)) => VerifierSpec::Hmac(HmacSpec::flow(secrets)),
            (Scheme::Hmac, None) => VerifierSpec::Hmac(HmacSpec {
                header: self.header.clone().unwrap_or_default(),
                algorithm: self.algorithm.unwrap_or(Algorithm::Sha256),
                encoding: self.encoding.unwrap_or(Encoding::Hex),
                prefix: self.prefix.clone(),
                timestamp_header: self.timestamp_header.clone(),
                tolerance,
                signed: self
                    .signed
                    .clone()
                    .unwrap_or_else(|| DEFAULT_SIGNED_TEMPLATE.to_owned()),
                secrets,
            }),
            (Scheme::Bearer, _) => VerifierSpec::Bearer { tokens: secrets },
            (Scheme::Basic, _) => VerifierSpec::Basic {
                username: self.username.clone().unwrap_or_default(),
                passwords: secrets,
            },
        }
    }
}
