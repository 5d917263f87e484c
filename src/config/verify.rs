//! `vendors.X.verify`: how a vendor authenticates, as one flat table, and the checks that its
//! keys fit the scheme. The verifier itself is built from it in `crate::verify`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::value::duration;
use super::{ConfigError, SecretRef, Source};

/// `verify = {...}`: one flat table; `check` below rejects keys the chosen scheme does not use.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyConfig {
    pub scheme: Scheme,
    pub preset: Option<Preset>,
    pub header: Option<String>,
    pub algorithm: Option<Algorithm>,
    pub encoding: Option<Encoding>,
    pub prefix: Option<String>,
    pub timestamp_header: Option<String>,
    pub signed: Option<String>,
    #[serde(default, with = "duration::option")]
    pub tolerance: Option<Duration>,
    pub secrets: Option<Vec<String>>,
    pub secrets_env: Option<String>,
    pub secrets_file: Option<PathBuf>,
    pub tokens: Option<Vec<String>>,
    pub tokens_env: Option<String>,
    pub tokens_file: Option<PathBuf>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    StandardWebhooks,
    Hmac,
    Bearer,
    Basic,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    Github,
    Stripe,
    Flow,
}

/// The hash under an HMAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Sha256,
    Sha512,
}

/// How a MAC is written in a header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Hex; read in either case, written lowercase.
    Hex,
    /// Standard alphabet; padding optional when read, written padded.
    Base64,
}

impl VerifyConfig {
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
}
