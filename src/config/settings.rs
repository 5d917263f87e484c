//! The settings as loaded (file and environment merged, before typing), kept beside the typed
//! configuration so a reload can say what changed and `flowgate_config_info` can name the running
//! configuration by a hash.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

/// Keys that only take effect at start: a reload keeps their running values (contract section
/// 16). A name ending in `.` stands for every key under it.
pub const START_ONLY: [&str; 11] = [
    "server.listen",
    "server.admin_listen",
    "server.proxy_protocol",
    "store.url",
    "store.schema",
    "store.sync",
    "simulator.",
    "delivery.workers",
    "flow.connect_timeout",
    "log.format",
    "log.level",
];

/// The sections whose entries (`tenants.X`, `vendors.X`) are compared whole.
const ENTRY_SECTIONS: [&str; 2] = ["tenants", "vendors"];

/// The merged TOML table the configuration was read from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings(pub(super) toml::Table);

impl Settings {
    /// A short hash of the settings, the same whatever their order in the file: the first 16
    /// hex digits of SHA-256 over their canonical JSON. The contents of the files they name
    /// (schemas, secrets, certificates) are not part of it.
    pub fn hash(&self) -> String {
        // serde_json's maps are sorted: the same settings always give the same bytes.
        let canonical = serde_json::to_value(&self.0)
            .and_then(|value| serde_json::to_vec(&value))
            .unwrap_or_default();
        hex::encode(&Sha256::digest(canonical)[..8])
    }

    /// The keys whose values differ between `self` and `other`: `section.key` for the plain
    /// sections, `section.key.inner` under a table such as `server.tls`, and `tenants.X` or
    /// `vendors.X` for a tenant or vendor added, removed or changed in any way.
    pub fn changed(&self, other: &Settings) -> Vec<String> {
        let mut changed = BTreeSet::new();
        let sections: BTreeSet<&String> = self.0.keys().chain(other.0.keys()).collect();
        for section in sections {
            let (old, new) = (self.0.get(section), other.0.get(section));
            if ENTRY_SECTIONS.contains(&section.as_str()) {
                diff(section, old, new, 1, &mut changed);
            } else {
                diff(section, old, new, usize::MAX, &mut changed);
            }
        }
        changed.into_iter().collect()
    }
}

/// Records `key` when `old` and `new` differ, descending `depth` levels into tables to name
/// the keys inside that differ.
fn diff(
    key: &str,
    old: Option<&toml::Value>,
    new: Option<&toml::Value>,
    depth: usize,
    changed: &mut BTreeSet<String>,
) {
    if old == new {
        return;
    }
    match (old, new) {
        (Some(toml::Value::Table(old)), Some(toml::Value::Table(new))) if depth > 0 => {
            let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
            for inner in keys {
                let name = format!("{key}.{inner}");
                diff(&name, old.get(inner), new.get(inner), depth - 1, changed);
            }
        }
        (None | Some(toml::Value::Table(_)), Some(toml::Value::Table(new))) if depth > 0 => {
            // A table added: each key it sets is new.
            for (inner, value) in new {
                diff(
                    &format!("{key}.{inner}"),
                    None,
                    Some(value),
                    depth - 1,
                    changed,
                );
            }
        }
        (Some(toml::Value::Table(old)), None) if depth > 0 => {
            for (inner, value) in old {
                diff(
                    &format!("{key}.{inner}"),
                    Some(value),
                    None,
                    depth - 1,
                    changed,
                );
            }
        }
        _ => {
            changed.insert(key.to_owned());
        }
    }
}

/// Whether `key` only takes effect at start.
pub fn start_only(key: &str) -> bool {
    START_ONLY.iter().any(|only| match only.strip_suffix('.') {
        Some(section) => key
            .strip_prefix(section)
            .is_some_and(|r| r.starts_with('.')),
        None => key == *only || key.starts_with(&format!("{only}.")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> Settings {
        Settings(toml::from_str(text).expect("TOML"))
    }

    #[test]
    fn the_hash_ignores_order_and_follows_values() {
        let a = settings("[server]\nmax_in_flight = 5\nrequest_timeout = \"3s\"\n");
        let b = settings("[server]\nrequest_timeout = \"3s\"\nmax_in_flight = 5\n");
        let c = settings("[server]\nrequest_timeout = \"3s\"\nmax_in_flight = 6\n");
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a.hash(), c.hash());
        assert_eq!(a.hash().len(), 16);
    }

    #[test]
    fn changes_are_named_by_key_and_by_entry() {
        let old = settings(
            "[server]\nmax_in_flight = 5\n[server.tls]\ncert_file = \"a\"\n\
             [vendors.a]\nschema = \"x\"\n[vendors.b]\nschema = \"y\"\n[tenants.t]\nbase_url = \"u\"\n",
        );
        let new = settings(
            "[server]\nmax_in_flight = 6\n[server.tls]\ncert_file = \"b\"\n\
             [vendors.a]\nschema = \"x\"\n[vendors.c]\nschema = \"y\"\n[tenants.t]\nbase_url = \"v\"\n\
             [simulator]\nenabled = true\n",
        );
        assert_eq!(
            old.changed(&new),
            [
                "server.max_in_flight",
                "server.tls.cert_file",
                "simulator.enabled",
                "tenants.t",
                "vendors.b",
                "vendors.c",
            ]
        );
        assert!(old.changed(&old).is_empty());
    }

    #[test]
    fn start_only_keys_are_known_by_name_and_section() {
        assert!(start_only("server.listen"));
        assert!(start_only("simulator.enabled"));
        assert!(start_only("log.level"));
        assert!(!start_only("server.listener"));
        assert!(!start_only("server.max_in_flight"));
        assert!(!start_only("vendors.simulator"));
        assert!(!start_only("simulator"));
    }
}
