//! Value types of the config file that serde has no shape for: humantime durations, byte sizes,
//! optional paths, address ranges, mapping sources (pointer, literal or value table) and ordered metadata maps.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

/// `"5s"`, `"10m"`, `"1h 30m"`: humantime strings.
pub mod duration {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(de::Error::custom)
    }

    pub fn parse(text: &str) -> Result<Duration, String> {
        humantime::parse_duration(text.trim())
            .map_err(|e| format!("`{text}` is not a duration such as \"5s\" or \"10m\" ({e})"))
    }

    pub mod option {
        use super::*;

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            super::deserialize(d).map(Some)
        }
    }
}

pub mod duration_list {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        texts
            .iter()
            .map(|t| duration::parse(t))
            .collect::<Result<_, _>>()
            .map_err(de::Error::custom)
    }
}

/// An optional file: absent or `""` means none.
pub mod optional_path {
    use std::path::PathBuf;

    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
        let path = PathBuf::deserialize(d)?;
        Ok(Some(path).filter(|p| !p.as_os_str().is_empty()))
    }
}

/// A range of client addresses: a CIDR such as `"203.0.113.0/24"` or `"2001:db8::/32"`, or one
/// address (the range of just it). Host bits below the prefix are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressRange(pub ipnet::IpNet);

impl AddressRange {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let range = match text.parse::<ipnet::IpNet>() {
            Ok(range) => range.trunc(),
            Err(_) => text
                .parse::<std::net::IpAddr>()
                .map(ipnet::IpNet::from)
                .map_err(|_| {
                    format!(
                        "`{text}` is not an address range such as \"203.0.113.0/24\" or an address"
                    )
                })?,
        };
        Ok(AddressRange(range))
    }

    /// Whether `address` is in the range; an IPv4 address written as IPv6 (`::ffff:a.b.c.d`)
    /// counts as the IPv4 address it is.
    pub fn contains(&self, address: std::net::IpAddr) -> bool {
        self.0.contains(&address.to_canonical())
    }
}

impl<'de> Deserialize<'de> for AddressRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        AddressRange::parse(&text).map_err(de::Error::custom)
    }
}

/// A size in bytes: an integer, or a string such as `"512MiB"` or `"1GB"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let factor: u64 = match unit.trim() {
            "" | "B" => 1,
            "KB" | "kB" => 1000,
            "KiB" => 1 << 10,
            "MB" => 1000 * 1000,
            "MiB" => 1 << 20,
            "GB" => 1000 * 1000 * 1000,
            "GiB" => 1 << 30,
            "TB" => 1000 * 1000 * 1000 * 1000,
            "TiB" => 1 << 40,
            _ => {
                return Err(format!(
                    "`{text}` is not a size such as \"512MiB\" or \"1GB\""
                ));
            }
        };
        let number: u64 = digits
            .parse()
            .map_err(|_| format!("`{text}` is not a size such as \"512MiB\" or \"1GB\""))?;
        number
            .checked_mul(factor)
            .map(ByteSize)
            .ok_or_else(|| format!("`{text}` is too large"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bytes(n) => Ok(ByteSize(n)),
            Raw::Text(t) => ByteSize::parse(&t).map_err(de::Error::custom),
        }
    }
}

/// Where one canonical field comes from: a JSON pointer into the payload, a literal, or a value
/// table looked up with the value a pointer finds.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldSource {
    Pointer(String),
    Literal(String),
    Table {
        from: String,
        values: Vec<(String, String)>,
        default: Option<String>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldSourceTable {
    value: Option<String>,
    from: Option<String>,
    values: Option<MetadataMap>,
    default: Option<String>,
}

impl<'de> Deserialize<'de> for FieldSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SourceVisitor;
        impl<'de> Visitor<'de> for SourceVisitor {
            type Value = FieldSource;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON pointer string, { value = \"...\" } or { from = \"/pointer\", values = {...} }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldSource, E> {
                Ok(FieldSource::Pointer(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FieldSource, A::Error> {
                let table =
                    FieldSourceTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                table.into_source().map_err(de::Error::custom)
            }
        }
        d.deserialize_any(SourceVisitor)
    }
}

impl FieldSourceTable {
    fn into_source(self) -> Result<FieldSource, &'static str> {
        match self {
            Self {
                value: Some(value),
                from: None,
                values: None,
                default: None,
            } => Ok(FieldSource::Literal(value)),
            Self {
                value: None,
                from: Some(from),
                values: Some(MetadataMap(values)),
                default,
            } => Ok(FieldSource::Table {
                from,
                values,
                default,
            }),
            Self { value: Some(_), .. } => {
                Err("`value` (a literal) cannot be combined with `from`, `values` or `default`")
            }
            _ => Err("a value table needs both `from` (a JSON pointer) and `values`"),
        }
    }
}

/// A TOML table of string to string that keeps the order it is written in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetadataMap(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for MetadataMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PairsVisitor;
        impl<'de> Visitor<'de> for PairsVisitor {
            type Value = MetadataMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MetadataMap, A::Error> {
                let mut pairs = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, String>()? {
                    pairs.push((key, value));
                }
                Ok(MetadataMap(pairs))
            }
        }
        d.deserialize_map(PairsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_parse_with_and_without_units() {
        assert_eq!(ByteSize::parse("1GiB"), Ok(ByteSize(1 << 30)));
        assert_eq!(ByteSize::parse("512 MB"), Ok(ByteSize(512_000_000)));
        assert_eq!(ByteSize::parse("42"), Ok(ByteSize(42)));
        assert!(ByteSize::parse("1 parsec").is_err());
        assert!(ByteSize::parse("GiB").is_err());
        assert!(ByteSize::parse("99999999999TiB").is_err());
    }

    #[test]
    fn durations_name_the_bad_text() {
        assert_eq!(duration::parse("5s"), Ok(Duration::from_secs(5)));
        assert!(duration::parse("soon").unwrap_err().contains("`soon`"));
    }
}
