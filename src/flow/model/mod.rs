//! Flow's bodies as typed structs. Requests are written PascalCase; responses are read
//! case-insensitively and leniently (section 1): unknown fields are ignored, and a field that is
//! null, absent or of the wrong type is absent rather than failing the whole answer.

mod date;
mod lenient;
#[cfg(test)]
mod tests;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use date::{FlowDate, NotADate};

// === requests ===

/// `POST .../orders/{orderId}/updatestate`: adds an entry to the order's status history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateStateRequest {
    /// Free text the broker reads.
    pub status: String,
    /// A MarketingIntegratorOrderState name; it drives the customer's checklists.
    pub state: String,
}

/// `PATCH .../orders/{orderId}`: replaces all three fields, so `None` is sent as null.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PatchRequest {
    pub title: Option<String>,
    pub action_text: Option<String>,
    pub metadata: Vec<MetadataEntry>,
}

/// One key–value line Core shows on the order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetadataEntry {
    pub key: String,
    pub value: String,
}

/// `POST .../VerifyToken`: the FlowToken a vendor carried.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VerifyTokenRequest {
    pub token: String,
}

impl std::fmt::Debug for VerifyTokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyTokenRequest")
            .field("token", &"<redacted>")
            .finish()
    }
}

// === responses ===

/// MarketingIntegratorOrderModel: what updatestate and PATCH answer.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct OrderModel {
    #[serde(default, deserialize_with = "lenient::field")]
    pub id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::field")]
    pub guid: Option<Uuid>,
    #[serde(default, deserialize_with = "lenient::field")]
    pub title: Option<String>,
    #[serde(default, rename = "actiontext", deserialize_with = "lenient::field")]
    pub action_text: Option<String>,
    #[serde(default, rename = "casebaseid", deserialize_with = "lenient::field")]
    pub case_base_id: Option<i64>,
    #[serde(
        default,
        rename = "marketingintegratorid",
        deserialize_with = "lenient::field"
    )]
    pub marketing_integrator_id: Option<i64>,
    #[serde(default, rename = "createddate", deserialize_with = "lenient::field")]
    pub created_date: Option<FlowDate>,
    #[serde(default, rename = "modifieddate", deserialize_with = "lenient::field")]
    pub modified_date: Option<FlowDate>,
    /// A string in responses (a list in requests).
    #[serde(default, deserialize_with = "lenient::field")]
    pub metadata: Option<String>,
    #[serde(default, rename = "orderstatuses", deserialize_with = "lenient::list")]
    pub order_statuses: Vec<OrderStatus>,
}

/// One entry of an order's status history.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct OrderStatus {
    #[serde(default, deserialize_with = "lenient::field")]
    pub id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::field")]
    pub status: Option<String>,
    /// The state's name; an ordinal is read as its name.
    #[serde(
        default,
        rename = "orderstatetype",
        deserialize_with = "lenient::state"
    )]
    pub order_state_type: Option<String>,
    #[serde(default, rename = "createddate", deserialize_with = "lenient::field")]
    pub created_date: Option<FlowDate>,
}

/// MarketingIntegratorTokenModel: who handed out a FlowToken, and for which orders.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct TokenModel {
    #[serde(default, rename = "userid", deserialize_with = "lenient::field")]
    pub user_id: Option<i64>,
    #[serde(default, rename = "fullname", deserialize_with = "lenient::field")]
    pub full_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::field")]
    pub email: Option<String>,
    #[serde(
        default,
        rename = "brokercompanyname",
        deserialize_with = "lenient::field"
    )]
    pub broker_company_name: Option<String>,
    #[serde(default, rename = "officeid", deserialize_with = "lenient::field")]
    pub office_id: Option<i64>,
    #[serde(default, rename = "officename", deserialize_with = "lenient::field")]
    pub office_name: Option<String>,
    #[serde(default, rename = "caseid", deserialize_with = "lenient::field")]
    pub case_id: Option<i64>,
    /// Every `OrderId` named in `Data`; empty when `Data` names none.
    #[serde(default, rename = "data", deserialize_with = "lenient::order_ids")]
    pub order_ids: Vec<Uuid>,
}

/// `/authtoken`'s answer (OAuth names, snake_case).
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AccessToken {
    #[serde(default, deserialize_with = "lenient::field")]
    pub access_token: Option<String>,
    #[serde(default, deserialize_with = "lenient::field")]
    pub token_type: Option<String>,
    /// Seconds; Flow issues 1200.
    #[serde(default, deserialize_with = "lenient::field")]
    pub expires_in: Option<u64>,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let token = self.access_token.as_ref().map(|_| "<redacted>");
        f.debug_struct("AccessToken")
            .field("access_token", &token)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

// === reading ===

/// A response body that could not be read at all (fields are lenient, the whole is not).
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("the body is not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("the body is JSON but not an object")]
    NotAnObject,
    #[error("the body is not the expected JSON object: {0}")]
    Shape(serde_json::Error),
}

/// Reads one of the response models from Flow's body, keys compared case-insensitively.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ModelError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(ModelError::NotJson)?;
    // serde would read an array positionally into a struct: Flow's models are objects.
    if !value.is_object() {
        return Err(ModelError::NotAnObject);
    }
    T::deserialize(lenient::lowercase_keys(value)).map_err(ModelError::Shape)
}
