//! The environment layer: `FLOWGATE_<SECTION>__<KEY>` variables set scalar keys of the sections
//! below. A variable of that form naming no known key is an error, so a typo never silently
//! leaves the file's value in force; other variables are not configuration.

use std::collections::HashMap;

use super::keys::{closest, fields_of};
use super::{
    AdminConfig, ConfigError, DeliveryConfig, FlowConfig, LimitsConfig, LogConfig, Origin,
    ServerConfig, SimulatorConfig, StoreConfig,
};

const ENV_PREFIX: &str = "FLOWGATE_";

/// The sections variables may set, in the order the file lists them.
const ENV_SECTIONS: [&str; 8] = [
    "server",
    "admin",
    "store",
    "delivery",
    "flow",
    "limits",
    "log",
    "simulator",
];

/// Every key of `section` a variable may name, or `None` when no variable sets that section.
fn section_keys(section: &str) -> Option<&'static [&'static str]> {
    Some(match section {
        "server" => fields_of::<ServerConfig>(),
        "admin" => fields_of::<AdminConfig>(),
        "store" => fields_of::<StoreConfig>(),
        "delivery" => fields_of::<DeliveryConfig>(),
        "flow" => fields_of::<FlowConfig>(),
        "limits" => fields_of::<LimitsConfig>(),
        "log" => fields_of::<LogConfig>(),
        "simulator" => fields_of::<SimulatorConfig>(),
        _ => return None,
    })
}

/// Sets `[section] key` from every `FLOWGATE_<SECTION>__<KEY>` variable; values are scalar TOML
/// literals, or plain strings when they do not parse as one. Returns the variables that name
/// no known key; `env_keys` records which variable set which key.
pub(super) fn overlay(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
    env_keys: &mut HashMap<String, String>,
) -> Vec<ConfigError> {
    let mut vars: Vec<(String, String)> = env.into_iter().collect();
    vars.sort();
    let mut errors = Vec::new();
    for (var, raw) in vars {
        let Some((section, key)) = var
            .strip_prefix(ENV_PREFIX)
            .and_then(|rest| rest.split_once("__"))
        else {
            continue;
        };
        let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
        if let Err(message) = check_key(&section, &key) {
            errors.push(ConfigError {
                key: format!("{section}.{key}"),
                origin: Origin::Env(var),
                message,
            });
            continue;
        }
        let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .filter(|v| !matches!(v, toml::Value::Table(_) | toml::Value::Array(_)))
            .unwrap_or(toml::Value::String(raw));
        let entry = table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(section_table) = entry {
            section_table.insert(key.clone(), value);
            env_keys.insert(format!("{section}.{key}"), var);
        }
    }
    errors
}

/// Whether a variable may set `[section] key`; if not, what it could have meant.
fn check_key(section: &str, key: &str) -> Result<(), String> {
    let Some(keys) = section_keys(section) else {
        let sections = closest(section, &ENV_SECTIONS);
        let meant: Vec<String> = sections
            .iter()
            .filter(|s| section_keys(s).is_some_and(|keys| keys.contains(&key)))
            .map(|s| variable(s, key))
            .collect();
        let hint = match (meant.is_empty(), sections.first()) {
            (false, _) => format!("did you mean {}?", meant.join(" or ")),
            (true, Some(s)) => format!("did you mean section `{s}`?"),
            (true, None) => "tenants and vendors are configured only in the file".to_owned(),
        };
        return Err(format!(
            "names no section variables set ({}); {hint}",
            ENV_SECTIONS.join(", ")
        ));
    };
    if keys.contains(&key) {
        return Ok(());
    }
    let meant = closest(key, keys);
    Err(if meant.is_empty() {
        format!(
            "names no key of [{section}]; its keys are {}",
            keys.join(", ")
        )
    } else {
        let meant: Vec<String> = meant.iter().map(|k| variable(section, k)).collect();
        format!(
            "names no key of [{section}]; did you mean {}?",
            meant.join(" or ")
        )
    })
}

fn variable(section: &str, key: &str) -> String {
    format!(
        "{ENV_PREFIX}{}__{}",
        section.to_ascii_uppercase(),
        key.to_ascii_uppercase()
    )
}
