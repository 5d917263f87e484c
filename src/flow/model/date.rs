//! Flow's dates (.NET `DateTimeOffset`): ISO 8601 with 0 to 7 fractional digits and any offset,
//! and, since .NET sometimes omits it, no offset at all, read as UTC.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDateTime, SecondsFormat};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A date as Flow wrote it, offset kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowDate(pub DateTime<FixedOffset>);

/// Text that is not one of the date forms Flow writes.
#[derive(Debug, thiserror::Error)]
#[error("not an ISO 8601 date and time")]
pub struct NotADate;

impl FromStr for FlowDate {
    type Err = NotADate;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if let Ok(date) = DateTime::parse_from_rfc3339(text) {
            return Ok(FlowDate(date));
        }
        // ISO 8601 allows an offset without a colon (`+0200`).
        if let Ok(date) = DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z") {
            return Ok(FlowDate(date));
        }
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .map(|local| FlowDate(local.and_utc().fixed_offset()))
            .map_err(|_| NotADate)
    }
}

impl fmt::Display for FlowDate {
    /// RFC 3339, with as many fractional digits as the value needs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

impl Serialize for FlowDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FlowDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
