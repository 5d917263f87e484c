//! Turns the merged TOML table into a [`Config`] section by section and, under `[tenants]` and
//! `[vendors]`, entry by entry, so a mistake in one table does not hide those in the others.
//! Within one table serde stops at the first mistake.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use super::keys::{closest, fields_of};
use super::{Config, ConfigError, Source};

/// What reading the table gave: the configuration, in which a table with a mistake is left at
/// its defaults (or out, for a tenant or vendor); the keys of those tables; and the mistakes.
pub(super) struct Parsed {
    pub config: Config,
    pub unread: Vec<String>,
    pub errors: Vec<ConfigError>,
}

impl Config {
    /// Reads `table` whole, recording every mistake instead of stopping at the first.
    pub(super) fn from_table(mut table: toml::Table, source: &Source) -> Parsed {
        let (mut errors, mut unread) = (Vec::new(), Vec::new());
        let mut reader = SectionReader {
            table: &mut table,
            source,
            errors: &mut errors,
            unread: &mut unread,
        };
        let config = Config {
            server: reader.section("server"),
            admin: reader.section("admin"),
            store: reader.section("store"),
            delivery: reader.section("delivery"),
            flow: reader.section("flow"),
            limits: reader.section("limits"),
            log: reader.section("log"),
            simulator: reader.section("simulator"),
            tenants: reader.entries("tenants"),
            vendors: reader.entries("vendors"),
            source: source.clone(),
            settings: super::Settings::default(),
        };
        let sections = fields_of::<Config>();
        for (name, _) in table {
            let message = match closest(&name, sections).first() {
                Some(meant) => format!("unknown section; did you mean `{meant}`?"),
                None => format!("unknown section; the sections are {}", sections.join(", ")),
            };
            errors.push(source.error(name, message));
        }
        Parsed {
            config,
            unread,
            errors,
        }
    }
}

struct SectionReader<'a> {
    table: &'a mut toml::Table,
    source: &'a Source,
    errors: &'a mut Vec<ConfigError>,
    unread: &'a mut Vec<String>,
}

impl SectionReader<'_> {
    /// `[name]`, or its defaults when absent or wrong (the error is recorded).
    fn section<T: DeserializeOwned + Default>(&mut self, name: &str) -> T {
        match self.table.remove(name) {
            Some(value) => self.read(name, value).unwrap_or_default(),
            None => T::default(),
        }
    }

    /// `[name.X]` for every X; an entry with a mistake is left out (the error is recorded).
    fn entries<T: DeserializeOwned>(&mut self, name: &str) -> BTreeMap<String, T> {
        let entries = match self.table.remove(name) {
            None => return BTreeMap::new(),
            Some(toml::Value::Table(entries)) => entries,
            Some(_) => {
                let message = format!("must be a table of [{name}.NAME] tables");
                self.errors.push(self.source.error(name, message));
                self.unread.push(name.to_owned());
                return BTreeMap::new();
            }
        };
        entries
            .into_iter()
            .filter_map(|(entry, value)| {
                let key = format!("{name}.{entry}");
                Some((entry, self.read(&key, value)?))
            })
            .collect()
    }

    /// Reads `value`, the table at `key`.
    fn read<T: DeserializeOwned>(&mut self, key: &str, value: toml::Value) -> Option<T> {
        serde_path_to_error::deserialize(value)
            .map_err(|e| {
                let path = e.path().to_string();
                let full = if path == "." {
                    key.to_owned()
                } else {
                    format!("{key}.{path}")
                };
                let message = e.inner().message().to_owned();
                self.errors.push(self.source.error(full, message));
                self.unread.push(key.to_owned());
            })
            .ok()
    }
}
