//! Configuration in layers: built-in defaults, then `config.toml`, then `FLOWGATE_<SECTION>__<KEY>`
//! variables. Loaded and checked once; every error names its key and where the value came from.

mod base_url;
pub(crate) mod check;
mod env;
mod error;
mod keys;
mod listeners;
mod model;
mod parse;
mod secret;
mod settings;
pub mod summary;
mod value;
mod vendor;
mod verify;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use base_url::normalise_base_url;
pub use error::{ConfigError, ConfigErrors, Origin};
pub use model::*;
pub use secret::SecretRef;
pub use settings::{Settings, start_only};
pub use value::{AddressRange, ByteSize, FieldSource, MetadataMap};
pub use vendor::{Dedup, FlowTokenPolicy, LaunchParams, MapConfig, VendorConfig};
pub use verify::{Algorithm, Encoding, Preset, Scheme, VerifyConfig};

/// The file the configuration came from; relative paths in it resolve against its directory.
#[derive(Clone, Debug, Default)]
pub struct Source {
    pub file: PathBuf,
    pub dir: PathBuf,
    /// `section.key` → the variable that set it, so errors name the variable, not the file.
    pub env_keys: HashMap<String, String>,
}

impl Source {
    /// Resolves the path `key` holds: against the file's directory when the file set it, as it
    /// is (against the working directory) when a variable did.
    pub fn resolve(&self, key: &str, path: &Path) -> PathBuf {
        if path.is_absolute() || self.env_keys.contains_key(key) {
            path.to_owned()
        } else {
            self.dir.join(path)
        }
    }

    /// Where the value of `key` (or the key that holds it) came from.
    pub fn origin(&self, key: &str) -> Origin {
        let set_by_env = self.env_keys.iter().find(|(env_key, _)| {
            key.strip_prefix(env_key.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        });
        match set_by_env {
            Some((_, var)) => Origin::Env(var.clone()),
            None => Origin::File(self.file.clone()),
        }
    }

    pub fn error(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        let key = key.into();
        ConfigError {
            origin: self.origin(&key),
            key,
            message: message.into(),
        }
    }
}

impl Config {
    /// Reads `path`, overlays the process environment and checks everything that needs no
    /// secret and no other file. Secrets and schemas are resolved by those who use them.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        Self::load_with_env(path, std::env::vars())
    }

    pub fn load_with_env(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigErrors> {
        let file_error = |message: String| ConfigError {
            key: String::new(),
            origin: Origin::File(path.to_owned()),
            message,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| file_error(format!("cannot read the configuration file: {e}")))?;
        let mut table: toml::Table =
            toml::from_str(&text).map_err(|e| file_error(syntax_error(&text, &e)))?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_owned();
        let mut source = Source {
            file: path.to_owned(),
            dir,
            env_keys: HashMap::new(),
        };
        let mut errors = env::overlay(&mut table, env, &mut source.env_keys);
        let settings = Settings(table.clone());
        let parse::Parsed {
            mut config,
            unread,
            errors: parse_errors,
        } = Config::from_table(table, &source);
        errors.splice(0..0, parse_errors);
        config.settings = settings;
        if let Err(found) = config.check(&unread) {
            errors.extend(found.0);
        }
        ConfigErrors(errors).into_result().map(|()| config)
    }
}

/// A TOML syntax error on one line, where toml's own rendering draws the line over several.
fn syntax_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim_end();
    let Some(before) = error.span().and_then(|span| text.get(..span.start)) else {
        return format!("not valid TOML: {message}");
    };
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .unwrap_or_default()
        .chars()
        .count()
        + 1;
    format!("not valid TOML at line {line}, column {column}: {message}")
}

#[cfg(test)]
mod guard_tests;
#[cfg(test)]
mod tests;
