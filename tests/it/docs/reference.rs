//! The configuration reference cannot drift from the loader: `docs/configuration.md` has a
//! table for every section the loader knows, a row for every key of it, and no row for a key
//! the loader would refuse as unknown. The keys are read from the model's own types, as the
//! loader reads them.

use std::collections::BTreeSet;

use flowgate::config::{
    AdminConfig, Config, DeliveryConfig, FlowConfig, LimitsConfig, LogConfig, MapConfig,
    ServerConfig, SimulatorConfig, StoreConfig, TenantConfig, VendorConfig,
};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::REPO;

const REFERENCE: &str = "docs/configuration.md";

/// The field names a struct's derived `Deserialize` asks for: the keys its table accepts.
fn keys_of<'de, T: Deserialize<'de>>() -> BTreeSet<String> {
    let mut fields: &'static [&'static str] = &[];
    // The deserializer always fails once it has seen the names: no value is ever built.
    let _ = T::deserialize(FieldNames(&mut fields));
    assert!(!fields.is_empty(), "no field names read");
    fields.iter().map(ToString::to_string).collect()
}

/// A deserializer that only records the field list a struct hands to `deserialize_struct`.
struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("field names read"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// The text of the reference's `## `[table]`` section, up to the next heading of its level.
fn section<'a>(reference: &'a str, table: &str) -> &'a str {
    let heading = format!("## `[{table}]`\n");
    let start = reference
        .find(&heading)
        .unwrap_or_else(|| panic!("{REFERENCE} has no `## `[{table}]`` section"));
    let body = &reference[start + heading.len()..];
    &body[..body.find("\n## ").unwrap_or(body.len())]
}

/// The keys of a section's table rows (`| `key` | …`), as they are written.
fn documented_keys(section: &str) -> BTreeSet<String> {
    section
        .lines()
        .filter_map(|row| row.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(key, _)| key.to_owned())
        .collect()
}

/// A documented key as the loader sees it: `auth.kind` is a key of the `auth` table.
fn top_key(key: &str) -> &str {
    key.split('.').next().unwrap_or(key)
}

/// `token`, `token_env` and `token_file` are one secret key in its three forms, documented once
/// (the reference's "Secrets" says so).
fn secret_base(key: &str) -> &str {
    key.strip_suffix("_env")
        .or_else(|| key.strip_suffix("_file"))
        .unwrap_or(key)
}

#[test]
fn the_configuration_reference_documents_exactly_the_keys_the_loader_knows() {
    let reference = std::fs::read_to_string(format!("{REPO}/{REFERENCE}")).expect(REFERENCE);
    let tables: [(&str, BTreeSet<String>); 10] = [
        ("server", keys_of::<ServerConfig>()),
        ("admin", keys_of::<AdminConfig>()),
        ("store", keys_of::<StoreConfig>()),
        ("delivery", keys_of::<DeliveryConfig>()),
        ("flow", keys_of::<FlowConfig>()),
        ("limits", keys_of::<LimitsConfig>()),
        ("log", keys_of::<LogConfig>()),
        ("simulator", keys_of::<SimulatorConfig>()),
        ("tenants.NAME", keys_of::<TenantConfig>()),
        ("vendors.NAME", keys_of::<VendorConfig>()),
    ];
    let mut problems = Vec::new();
    for top in keys_of::<Config>() {
        if !tables.iter().any(|(table, _)| top_key(table) == top) {
            problems.push(format!("the section `[{top}]` has no table in this test"));
        }
    }
    for (table, known) in &tables {
        let documented = documented_keys(section(&reference, table));
        for key in known {
            let base = secret_base(key);
            if !documented.iter().any(|d| secret_base(top_key(d)) == base) {
                problems.push(format!("`{table}.{key}` is not documented"));
            }
        }
        for key in &documented {
            if !known.contains(top_key(key)) {
                problems.push(format!("`{table}.{key}` is documented but unknown"));
            }
        }
    }
    // The map's fields are listed in its prose, each in backticks.
    let map = section(&reference, "vendors.NAME.map");
    for key in keys_of::<MapConfig>() {
        if !map.contains(&format!("`{key}`")) && !map.contains(&format!("`{key} =")) {
            problems.push(format!("`vendors.NAME.map.{key}` is not documented"));
        }
    }
    assert!(problems.is_empty(), "{REFERENCE}:\n{}", problems.join("\n"));
}
