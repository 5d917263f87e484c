//! The `metadata` lines of an update: display key → pointer from a map, in the order the config
//! writes them, or the canonical envelope's list of `{key, value}` or object of strings.

use std::borrow::Cow;

use serde_json::Value;

use super::MappingError;
use super::field::{Found, present};
use super::pointer::Pointer;
use super::text::{Cutter, cut, kind, quote, scalar_text};
use crate::config::MetadataMap;

/// The canonical field's name, in errors of a canonical vendor and in `Mapped::truncated`.
const FIELD: &str = "metadata";

/// Where a vendor's metadata lines come from.
#[derive(Clone, Debug)]
pub enum Metadata {
    Unset,
    Lines(Vec<Line>),
    /// The canonical envelope's member at this pointer.
    Envelope(Pointer),
}

/// One configured line: its display key and where its value is.
#[derive(Clone, Debug)]
pub struct Line {
    /// `metadata.<display key>`, the map key errors name.
    name: String,
    /// The display key, cut to the limit once at start-up.
    key: String,
    key_cut: bool,
    pointer: Pointer,
}

type Lines = Vec<(String, String)>;

impl Metadata {
    pub fn mapped(map: Option<&MetadataMap>, max_field_chars: usize) -> Self {
        let Some(MetadataMap(pairs)) = map else {
            return Self::Unset;
        };
        let lines = pairs.iter().map(|(display, pointer)| {
            let short = cut(display, max_field_chars);
            Line {
                name: format!("{FIELD}.{display}"),
                key_cut: short.is_some(),
                key: short.unwrap_or_else(|| display.clone()),
                pointer: Pointer::new(pointer),
            }
        });
        Self::Lines(lines.collect())
    }

    /// The lines one payload gives, cut to the limit; `None` when no line has a value.
    pub fn lines(
        &self,
        document: &Value,
        cutter: &mut Cutter,
    ) -> Result<Option<Lines>, MappingError> {
        let lines = match self {
            Self::Unset => return Ok(None),
            Self::Lines(lines) => mapped_lines(lines, document, cutter)?,
            Self::Envelope(pointer) => match present(pointer, document) {
                None => return Ok(None),
                Some(value) => envelope_lines(value, pointer, cutter)?,
            },
        };
        Ok((!lines.is_empty()).then_some(lines))
    }
}

/// A line whose pointer finds nothing (or `null`) is left out; the others keep their order.
fn mapped_lines(
    lines: &[Line],
    document: &Value,
    cutter: &mut Cutter,
) -> Result<Lines, MappingError> {
    let mut found = Vec::with_capacity(lines.len());
    for line in lines {
        let Some(value) = present(&line.pointer, document) else {
            continue;
        };
        let value = Found::Json(value, &line.pointer).text(&line.name)?;
        if line.key_cut {
            cutter.record(FIELD);
        }
        found.push((line.key.clone(), cutter.apply(value, FIELD)));
    }
    Ok(found)
}

/// A list keeps its order; an object comes in serde_json's map order, which is alphabetical by
/// key because this crate builds serde_json without `preserve_order`. Null values are left out.
fn envelope_lines(
    value: &Value,
    pointer: &Pointer,
    cutter: &mut Cutter,
) -> Result<Lines, MappingError> {
    let at = pointer.as_str();
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .filter_map(|(index, item)| list_item(item, at, index, cutter).transpose())
            .collect(),
        Value::Object(members) => members
            .iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(key, value)| {
                let value = scalar(value, || format!("member {} of `{at}`", quote(key)))?;
                Ok((
                    cutter.apply(Cow::Borrowed(key), FIELD),
                    cutter.apply(value, FIELD),
                ))
            })
            .collect(),
        other => Err(MappingError::new(
            FIELD,
            format!(
                "`{at}` holds {}, not a list of {{key, value}} or an object of strings",
                kind(other)
            ),
        )),
    }
}

/// Item `index` of the list at `at`; a missing or null `value` leaves the line out.
fn list_item(
    item: &Value,
    at: &str,
    index: usize,
    cutter: &mut Cutter,
) -> Result<Option<(String, String)>, MappingError> {
    let at = || format!("{at}/{index}");
    let Value::Object(members) = item else {
        let reason = format!("`{}` holds {}, not {{key, value}}", at(), kind(item));
        return Err(MappingError::new(FIELD, reason));
    };
    let key = match members.get("key").filter(|key| !key.is_null()) {
        Some(key) => scalar(key, || format!("`{}/key`", at()))?,
        None => return Err(MappingError::new(FIELD, format!("`{}` has no `key`", at()))),
    };
    let Some(value) = members.get("value").filter(|value| !value.is_null()) else {
        return Ok(None);
    };
    let value = scalar(value, || format!("`{}/value`", at()))?;
    Ok(Some((cutter.apply(key, FIELD), cutter.apply(value, FIELD))))
}

/// `value` as text, or an error saying what `place` holds instead.
fn scalar(value: &Value, place: impl FnOnce() -> String) -> Result<Cow<'_, str>, MappingError> {
    scalar_text(value).ok_or_else(|| {
        let reason = format!(
            "{} holds {}, not a string, number or boolean",
            place(),
            kind(value)
        );
        MappingError::new(FIELD, reason)
    })
}
