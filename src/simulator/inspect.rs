//! The `/sim` routes: seed orders with FlowTokens, read orders and the call log, set faults and
//! expire access tokens. Request keys are camelCase, as DESIGN section 12 writes them.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::calls::Since;
use super::faults::FaultSpec;
use super::{Shared, json_response, lock, status_only};

/// The case a seeded order belongs to when the caller names none.
const DEFAULT_CASE_ID: i64 = 1001;
/// The broker user a seeded FlowToken names when the caller names none.
const DEFAULT_USER_ID: i64 = 7;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NewOrder {
    case_id: Option<i64>,
    user_id: Option<i64>,
}

/// `POST /sim/orders`: an order in state CreatedNotSent and a FlowToken naming it.
pub(super) async fn create_order(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    // An empty body is the common case in tests: every field has a default.
    let request = if body.is_empty() {
        NewOrder::default()
    } else {
        match serde_json::from_slice::<NewOrder>(&body) {
            Ok(request) => request,
            Err(e) => return error(&e.to_string()),
        }
    };
    let case_id = request.case_id.unwrap_or(DEFAULT_CASE_ID);
    let user_id = request.user_id.unwrap_or(DEFAULT_USER_ID);
    let (guid, token) = lock(&shared.orders).create_with_token(case_id, user_id);
    let body = json!({ "Guid": guid.hyphenated().to_string(), "FlowToken": token });
    json_response(StatusCode::OK, &body)
}

/// `GET /sim/orders/{guid}`: the order model with its status history.
pub(super) async fn get_order(
    State(shared): State<Arc<Shared>>,
    Path(guid): Path<String>,
) -> Response {
    let model = Uuid::parse_str(&guid)
        .ok()
        .and_then(|guid| lock(&shared.orders).get(guid));
    match model {
        Some(model) => json_response(StatusCode::OK, &model),
        None => status_only(StatusCode::NOT_FOUND),
    }
}

/// `GET /sim/calls?since=`: recorded `/flow` calls, oldest first.
pub(super) async fn list_calls(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let since = match Since::parse(query.get("since").map(String::as_str)) {
        Ok(since) => since,
        Err(message) => return error(&message),
    };
    let calls = lock(&shared.calls).list(since);
    json_response(StatusCode::OK, &Value::Array(calls))
}

/// `POST /sim/faults`: adds a fault after the ones already active.
pub(super) async fn add_fault(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let spec = match serde_json::from_slice::<FaultSpec>(&body) {
        Ok(spec) => spec,
        Err(e) => return error(&e.to_string()),
    };
    let added = lock(&shared.faults).add(spec);
    match added {
        Ok(()) => status_only(StatusCode::NO_CONTENT),
        Err(message) => error(&message),
    }
}

/// `DELETE /sim/faults`.
pub(super) async fn clear_faults(State(shared): State<Arc<Shared>>) -> Response {
    lock(&shared.faults).clear();
    status_only(StatusCode::NO_CONTENT)
}

/// `POST /sim/tokens/expire`.
pub(super) async fn expire_tokens(State(shared): State<Arc<Shared>>) -> Response {
    lock(&shared.tokens).expire_all();
    status_only(StatusCode::NO_CONTENT)
}

fn error(message: &str) -> Response {
    json_response(StatusCode::BAD_REQUEST, &json!({ "error": message }))
}
