//! Lenient reading: a field of the wrong type is absent rather than fatal, list items that do
//! not fit are skipped, and object keys are lowercased so the models match any casing.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::order::ORDER_STATES as STATES;

/// Lowercases every object key, recursively (the depth is bounded by serde_json's own limit).
pub fn lowercase_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (key.to_lowercase(), lowercase_keys(value)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(lowercase_keys).collect()),
        other => other,
    }
}

/// A field that is absent when null or of the wrong type.
pub fn field<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).ok())
}

/// A list whose items that do not fit are skipped; anything but an array is empty.
pub fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let Value::Array(items) = Value::deserialize(deserializer)? else {
        return Ok(Vec::new());
    };
    Ok(items
        .into_iter()
        .filter_map(|item| serde_json::from_value(item).ok())
        .collect())
}

/// An order state sent as its name, or as its ordinal.
pub fn state<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match Value::deserialize(deserializer)? {
        Value::String(name) => Some(name),
        Value::Number(n) => n
            .as_u64()
            .and_then(|i| STATES.get(usize::try_from(i).ok()?))
            .map(|name| (*name).to_owned()),
        _ => None,
    })
}

/// The `OrderId`s a token's `Data` names: a dictionary of objects carrying `OrderId`, or a flat
/// object with `OrderId` itself. An `OrderId` that is not a GUID still constrains the token (it
/// is read as the nil GUID, which matches no order), so an odd answer never widens a token.
pub fn order_ids<'de, D>(deserializer: D) -> Result<Vec<Uuid>, D::Error>
where
    D: Deserializer<'de>,
{
    let Value::Object(data) = Value::deserialize(deserializer)? else {
        return Ok(Vec::new());
    };
    let mut ids: Vec<Uuid> = data.get("orderid").and_then(order_id).into_iter().collect();
    for entry in data.values() {
        if let Some(id) = entry.get("orderid").and_then(order_id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// `None` for a null or empty `OrderId` (it names nothing); the nil GUID for one that is not a
/// GUID.
fn order_id(value: &Value) -> Option<Uuid> {
    match value {
        Value::Null => None,
        Value::String(text) if text.trim().is_empty() => None,
        Value::String(text) => Some(Uuid::parse_str(text.trim()).unwrap_or(Uuid::nil())),
        _ => Some(Uuid::nil()),
    }
}
