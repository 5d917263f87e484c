//! One canonical field as a vendor fills it: where its value comes from (a pointer, a literal or
//! a value table) and how that value becomes text, a GUID, a tenant id or a state.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::Value;
use uuid::Uuid;

use super::MappingError;
use super::pointer::Pointer;
use super::text::{Cutter, kind, quote, scalar_text};
use crate::config::FieldSource;
use crate::order::{SETTABLE_STATES, is_settable_state};

/// A canonical field as one vendor fills it.
#[derive(Clone, Debug)]
pub struct Field {
    /// The name errors use: the map key (`order_id`) or the envelope's member (`orderId`).
    name: &'static str,
    /// `None` when the vendor never sets the field.
    source: Option<Source>,
}

#[derive(Clone, Debug)]
enum Source {
    Pointer(Pointer),
    Literal(String),
    Table(Table),
}

/// `{ from, values, default }`: the value at `from`, as text, looked up in `values`.
#[derive(Clone, Debug)]
struct Table {
    from: Pointer,
    values: HashMap<String, String>,
    default: Option<String>,
}

/// A value one payload gave a field, not yet converted.
pub enum Found<'a> {
    /// Straight from the payload, with the pointer that found it.
    Json(&'a Value, &'a Pointer),
    /// From the configuration: a literal, or a value table's answer.
    Config(&'a str),
}

// === impl Field ===

impl Field {
    /// A field of a `[vendors.X.map]`, named by its key there.
    pub fn mapped(name: &'static str, source: Option<&FieldSource>) -> Self {
        let source = source.map(|source| match source {
            FieldSource::Pointer(pointer) => Source::Pointer(Pointer::new(pointer)),
            FieldSource::Literal(value) => Source::Literal(value.clone()),
            FieldSource::Table {
                from,
                values,
                default,
            } => Source::Table(Table {
                from: Pointer::new(from),
                values: values.iter().cloned().collect(),
                default: default.clone(),
            }),
        });
        Self { name, source }
    }

    /// A member of the canonical envelope, read at `pointer`.
    pub fn member(name: &'static str, pointer: &str) -> Self {
        let source = Some(Source::Pointer(Pointer::new(pointer)));
        Self { name, source }
    }

    /// The value table's `default`, if the field has a table with one.
    pub fn table_default(&self) -> Option<&str> {
        match &self.source {
            Some(Source::Table(table)) => table.default.as_deref(),
            _ => None,
        }
    }

    /// What the payload gives the field; `None` when a pointer finds nothing or `null`.
    pub fn find<'a>(&'a self, document: &'a Value) -> Result<Option<Found<'a>>, MappingError> {
        match self.source.as_ref() {
            None => Ok(None),
            Some(Source::Pointer(pointer)) => {
                Ok(present(pointer, document).map(|value| Found::Json(value, pointer)))
            }
            Some(Source::Literal(value)) => Ok(Some(Found::Config(value))),
            Some(Source::Table(table)) => table.look_up(self, document),
        }
    }

    /// The field as text, numbers and booleans included.
    fn text<'a>(&'a self, document: &'a Value) -> Result<Option<Cow<'a, str>>, MappingError> {
        let found = self.find(document)?;
        found.map(|found| found.text(self.name)).transpose()
    }

    /// The field as text cut to the limit, a cut recorded under `label`.
    pub fn cut_text(
        &self,
        document: &Value,
        cutter: &mut Cutter,
        label: &'static str,
    ) -> Result<Option<String>, MappingError> {
        let text = self.text(document)?;
        Ok(text.map(|text| cutter.apply(text, label)))
    }

    /// The field as text, whatever its length.
    pub fn whole_text(&self, document: &Value) -> Result<Option<String>, MappingError> {
        Ok(self.text(document)?.map(Cow::into_owned))
    }

    /// The order id, which every webhook must carry, normalised to a GUID.
    pub fn order_id(&self, document: &Value) -> Result<Uuid, MappingError> {
        let found = self.find(document)?.ok_or_else(|| self.missing())?;
        let text = found.text(self.name)?;
        parse_guid(&text)
            .ok_or_else(|| self.error(format!("{} is not a GUID", found.subject(&text))))
    }

    /// A tenant id: a whole number of at least 0, written as a number or as digits.
    pub fn tenant_id(&self, document: &Value) -> Result<Option<i64>, MappingError> {
        let Some(found) = self.find(document)? else {
            return Ok(None);
        };
        let text = found.text(self.name)?;
        let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        match digits.then(|| text.parse::<i64>().ok()).flatten() {
            Some(id) => Ok(Some(id)),
            None => Err(self.error(format!(
                "{} is not a tenant id (a whole number from 0 to {})",
                found.subject(&text),
                i64::MAX
            ))),
        }
    }

    /// A state a vendor may set, exact case.
    pub fn state(&self, document: &Value) -> Result<Option<String>, MappingError> {
        let Some(found) = self.find(document)? else {
            return Ok(None);
        };
        let text = found.text(self.name)?;
        if is_settable_state(&text) {
            return Ok(Some(text.into_owned()));
        }
        Err(self.error(format!(
            "{} is not a state a vendor may set (one of {})",
            found.subject(&text),
            SETTABLE_STATES.join(", ")
        )))
    }

    pub fn error(&self, reason: String) -> MappingError {
        MappingError::new(self.name, reason)
    }

    fn missing(&self) -> MappingError {
        match self.source.as_ref() {
            Some(Source::Pointer(pointer) | Source::Table(Table { from: pointer, .. })) => {
                self.error(format!("no value at `{}`", pointer.as_str()))
            }
            Some(Source::Literal(_)) | None => {
                self.error("the map does not say where it is".to_owned())
            }
        }
    }
}

// === impl Table ===

impl Table {
    /// The table's answer for the value at `from`; `None` when `from` finds nothing, for the
    /// default stands in only for values the table does not list.
    fn look_up<'a>(
        &'a self,
        field: &Field,
        document: &'a Value,
    ) -> Result<Option<Found<'a>>, MappingError> {
        let Some(value) = present(&self.from, document) else {
            return Ok(None);
        };
        let found = Found::Json(value, &self.from);
        let key = found.text(field.name)?;
        match self.values.get(key.as_ref()).or(self.default.as_ref()) {
            Some(answer) => Ok(Some(Found::Config(answer))),
            None => Err(field.error(format!(
                "{} is not in the value table and there is no default",
                found.subject(&key)
            ))),
        }
    }
}

/// What `pointer` finds in `document`, a `null` counting as nothing.
pub fn present<'a>(pointer: &Pointer, document: &'a Value) -> Option<&'a Value> {
    pointer.find(document).filter(|value| !value.is_null())
}

/// A GUID as Core writes them: hyphenated, braced or 32 hex digits, any case. `Uuid::try_parse`
/// alone would also take the `urn:uuid:` form, which Core never sends.
fn parse_guid(text: &str) -> Option<Uuid> {
    match text.len() {
        32 | 36 | 38 => Uuid::try_parse(text).ok(),
        _ => None,
    }
}

// === impl Found ===

impl<'a> Found<'a> {
    /// The value as text; an object or array is an error naming `field`.
    pub fn text(&self, field: &str) -> Result<Cow<'a, str>, MappingError> {
        match *self {
            Found::Json(value, pointer) => scalar_text(value).ok_or_else(|| {
                let reason = format!(
                    "`{}` holds {}, not a string, number or boolean",
                    pointer.as_str(),
                    kind(value)
                );
                MappingError::new(field, reason)
            }),
            Found::Config(text) => Ok(Cow::Borrowed(text)),
        }
    }

    /// The value (already as `text`) and where it was found, for an error message.
    pub fn subject(&self, text: &str) -> String {
        match self {
            Found::Json(_, pointer) => format!("{} at `{}`", quote(text), pointer.as_str()),
            Found::Config(_) => quote(text),
        }
    }
}
