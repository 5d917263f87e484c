//! Secrets: each secret key comes as `<name>_env` (a variable), `<name>_file` (a file) or, for
//! local demos only, `<name>` inline. Resolved when a verb needs them, never logged or printed.

use std::path::PathBuf;

use super::{ConfigError, Source};

/// Where one secret key's value lives, checked for shape at load, read on `resolve`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretRef {
    /// The key as written, e.g. `vendors.acme.verify.secrets_env`.
    pub key: String,
    pub location: SecretLocation,
    /// Whether the key holds a list (several secrets for rotation) or one value.
    pub multi: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretLocation {
    Env(String),
    File(PathBuf),
    Inline(Vec<String>),
}

impl SecretRef {
    /// Builds the reference for `{prefix}.{name}` from its three forms, at most one of which may
    /// be given. `multi` keys hold a list of secrets (rotation), others one value.
    pub fn from_forms(
        source: &Source,
        (prefix, name, multi): (&str, &str, bool),
        inline: Option<Vec<String>>,
        env: Option<&String>,
        file: Option<&PathBuf>,
    ) -> Result<Option<SecretRef>, ConfigError> {
        let given = [inline.is_some(), env.is_some(), file.is_some()];
        let (key, location) = match (inline, env, file) {
            (None, None, None) => return Ok(None),
            _ if given.iter().filter(|g| **g).count() > 1 => {
                return Err(source.error(
                    format!("{prefix}.{name}"),
                    format!("give only one of `{name}`, `{name}_env` and `{name}_file`"),
                ));
            }
            (Some(values), _, _) => {
                let key = format!("{prefix}.{name}");
                check_inline(source, &key, &values, multi)?;
                (key, SecretLocation::Inline(values))
            }
            (_, Some(var), _) => (
                format!("{prefix}.{name}_env"),
                SecretLocation::Env(var.clone()),
            ),
            (_, _, Some(path)) => {
                let key = format!("{prefix}.{name}_file");
                let path = source.resolve(&key, path);
                (key, SecretLocation::File(path))
            }
        };
        Ok(Some(SecretRef {
            key,
            location,
            multi,
        }))
    }

    /// [`SecretRef::from_forms`] for a key that must be given in one of its forms.
    pub fn required(
        source: &Source,
        (prefix, name, multi): (&str, &str, bool),
        inline: Option<Vec<String>>,
        env: Option<&String>,
        file: Option<&PathBuf>,
    ) -> Result<SecretRef, ConfigError> {
        Self::from_forms(source, (prefix, name, multi), inline, env, file)?.ok_or_else(|| {
            source.error(
                format!("{prefix}.{name}_env"),
                format!("{name}, {name}_env or {name}_file is required"),
            )
        })
    }

    pub fn is_inline(&self) -> bool {
        matches!(self.location, SecretLocation::Inline(_))
    }

    /// Reads the secret(s). A list key splits its variable or file on spaces, commas and
    /// newlines; a single-valued key takes the whole value, trimmed.
    pub fn resolve(&self, source: &Source) -> Result<Vec<String>, ConfigError> {
        let raw = match &self.location {
            SecretLocation::Inline(values) => return self.non_empty(source, values.clone()),
            SecretLocation::Env(var) => std::env::var(var).map_err(|_| {
                source.error(&self.key, format!("environment variable {var} is not set"))
            })?,
            SecretLocation::File(path) => std::fs::read_to_string(path).map_err(|e| {
                source.error(&self.key, format!("cannot read {}: {e}", path.display()))
            })?,
        };
        let values = if self.multi {
            raw.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        } else {
            vec![raw.trim().to_owned()]
        };
        self.non_empty(source, values)
    }

    fn non_empty(&self, source: &Source, values: Vec<String>) -> Result<Vec<String>, ConfigError> {
        if values.is_empty() || values.iter().any(String::is_empty) {
            let what = match &self.location {
                SecretLocation::Env(var) => format!("environment variable {var}"),
                SecretLocation::File(path) => path.display().to_string(),
                SecretLocation::Inline(_) => "the inline value".to_owned(),
            };
            return Err(source.error(&self.key, format!("{what} holds no secret")));
        }
        Ok(values)
    }

    /// For the redacted summary: where the secret lives, never what it is.
    pub fn describe(&self) -> String {
        match &self.location {
            SecretLocation::Env(var) => format!("${var}"),
            SecretLocation::File(path) => format!("file {}", path.display()),
            SecretLocation::Inline(values) => format!("{} inline (demo only)", values.len()),
        }
    }
}

/// An inline value must hold a secret: the `_env` and `_file` forms refuse a blank one too. The
/// error names the entry of a list by its index.
fn check_inline(
    source: &Source,
    key: &str,
    values: &[String],
    multi: bool,
) -> Result<(), ConfigError> {
    if values.is_empty() {
        return Err(source.error(key, "lists no secret: give at least one"));
    }
    let blank = values.iter().enumerate().find(|(_, v)| v.trim().is_empty());
    if let Some((index, value)) = blank {
        let what = if value.is_empty() {
            "is empty"
        } else {
            "is only whitespace"
        };
        let entry = if multi {
            format!("{key}[{index}]")
        } else {
            key.to_owned()
        };
        return Err(source.error(entry, format!("{what}: an inline secret must hold a value")));
    }
    Ok(())
}
