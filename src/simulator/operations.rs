//! Flow's order operations once a call is authenticated and admitted: updatestate, PATCH and
//! VerifyToken. Request JSON keys are read case-insensitively, as ASP.NET's binder does.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::auth;
use super::model::{OrderPatch, OrderState};
use super::{Shared, json_response, lock};

/// The four Flow operations flowgate calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operation {
    AuthToken,
    VerifyToken,
    Patch,
    UpdateState,
}

impl Operation {
    /// The name used by the call log and by faults.
    pub(super) fn name(self) -> &'static str {
        match self {
            Operation::AuthToken => "auth_token",
            Operation::VerifyToken => "verify_token",
            Operation::Patch => "patch",
            Operation::UpdateState => "updatestate",
        }
    }
}

/// Why Flow refuses an operation's request.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    /// Model binding failed: 400 with ASP.NET's validation problem.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// Assumption: Flow's documentation does not say how it answers a FlowToken it did not
    /// issue (or one that expired); the simulator answers 401, like a rejected credential.
    #[error("the FlowToken is unknown")]
    UnknownFlowToken,
    /// Only reachable if routing hands an order operation no order id.
    #[error("no order id")]
    NoOrder,
}

impl Refusal {
    fn invalid(field: &str, message: &str) -> Refusal {
        Refusal::Invalid {
            field: field.to_owned(),
            message: message.to_owned(),
        }
    }

    fn into_response(self) -> Response {
        match self {
            Refusal::Invalid { field, message } => validation_problem(&field, &message),
            Refusal::UnknownFlowToken => auth::unauthorized(false),
            Refusal::NoOrder => super::status_only(StatusCode::NOT_FOUND),
        }
    }
}

/// Runs an operation other than `auth_token`; `order` is set for updatestate and PATCH.
pub(super) fn run(
    shared: &Shared,
    operation: Operation,
    order: Option<Uuid>,
    body: &[u8],
) -> Response {
    let result = match (operation, order) {
        (Operation::UpdateState, Some(guid)) => update_state(shared, guid, body),
        (Operation::Patch, Some(guid)) => patch(shared, guid, body),
        (Operation::VerifyToken, _) => verify_token(shared, body),
        _ => Err(Refusal::NoOrder),
    };
    match result {
        Ok(model) => json_response(StatusCode::OK, &model),
        Err(refusal) => refusal.into_response(),
    }
}

fn update_state(shared: &Shared, guid: Uuid, body: &[u8]) -> Result<Value, Refusal> {
    let fields = json_object(body)?;
    let state = match field(&fields, "State") {
        None => return Err(Refusal::invalid("State", "The State field is required.")),
        Some(value) => OrderState::from_json(value).ok_or_else(|| {
            Refusal::invalid(
                "$.State",
                "The JSON value could not be converted to MarketingIntegratorOrderState.",
            )
        })?,
    };
    let status = optional_string(&fields, "Status")?;
    Ok(lock(&shared.orders).update_state(guid, status, state))
}

fn patch(shared: &Shared, guid: Uuid, body: &[u8]) -> Result<Value, Refusal> {
    let fields = json_object(body)?;
    let patch = OrderPatch {
        title: optional_string(&fields, "Title")?,
        action_text: optional_string(&fields, "ActionText")?,
        metadata: metadata_text(field(&fields, "Metadata"))?,
    };
    Ok(lock(&shared.orders).patch(guid, patch))
}

fn verify_token(shared: &Shared, body: &[u8]) -> Result<Value, Refusal> {
    let fields = json_object(body)?;
    let token = optional_string(&fields, "Token")?
        .ok_or_else(|| Refusal::invalid("Token", "The Token field is required."))?;
    lock(&shared.orders)
        .verify(&token)
        .ok_or(Refusal::UnknownFlowToken)
}

/// Flow stores the metadata list as JSON text and returns it that way.
fn metadata_text(value: Option<&Value>) -> Result<Option<String>, Refusal> {
    let Some(value) = value else {
        return Ok(None);
    };
    let Value::Array(items) = value else {
        let message = "The JSON value could not be converted to a list.";
        return Err(Refusal::invalid("$.Metadata", message));
    };
    let mut entries = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(pair) = item else {
            let message = "The JSON value could not be converted to a key/value pair.";
            return Err(Refusal::invalid(&format!("$.Metadata[{i}]"), message));
        };
        let key = optional_string(pair, "Key")?;
        let value = optional_string(pair, "Value")?;
        entries.push(json!({ "Key": key, "Value": value }));
    }
    Ok(Some(Value::Array(entries).to_string()))
}

/// The request body as a JSON object; anything else fails model binding.
fn json_object(body: &[u8]) -> Result<Map<String, Value>, Refusal> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(Refusal::invalid(
            "$",
            "The JSON value could not be converted to the request model.",
        )),
        Err(error) => Err(Refusal::invalid(
            "$",
            &format!("The request body is not valid JSON: {error}"),
        )),
    }
}

/// A field by name in any case; JSON null counts as absent.
fn field<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    fields
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
        .filter(|value| !value.is_null())
}

fn optional_string(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, Refusal> {
    match field(fields, name) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(Refusal::invalid(
            &format!("$.{name}"),
            "The JSON value could not be converted to System.String.",
        )),
    }
}

/// A W3C trace id, as ASP.NET puts in every problem body.
fn trace_id() -> String {
    let (span, _) = Uuid::new_v4().as_u64_pair();
    format!("00-{}-{span:016x}-00", Uuid::new_v4().simple())
}

/// ASP.NET Core's validation problem: `{"title", "status": 400, "errors": {field: [..]}}`.
fn validation_problem(field: &str, message: &str) -> Response {
    let body = json!({
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "errors": { field: [message] },
        "traceId": trace_id(),
    });
    let mut response = json_response(StatusCode::BAD_REQUEST, &body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json; charset=utf-8"),
    );
    response
}
