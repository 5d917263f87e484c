//! `/admin/vendors/{vendor}/drift`: the properties a vendor's accepted payloads carried that its
//! schema does not declare (contract section 17), the most recently seen first. Held in this
//! process's memory: each replica answers for the webhooks it took since it started.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{AdminState, not_found_named};
use crate::problem::Problem;

pub async fn drift(
    State(admin): State<AdminState>,
    Path(vendor): Path<String>,
) -> Result<Response, Problem> {
    let pointers = admin
        .drift
        .pointers(&vendor)
        .ok_or_else(|| not_found_named("vendor", &vendor))?;
    Ok(Json(json!({"vendor": vendor, "pointers": pointers})).into_response())
}
