//! `/admin/rejections`: the webhooks that authenticated but were refused (contract section 17),
//! listed newest first without their bodies, shown one at a time with the body exactly as
//! received, and deleted.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::deliveries::{bad_query, given, limit, since, with_body};
use super::{AdminState, not_found_named, path_id, store_failed};
use crate::problem::Problem;
use crate::queue::{Rejection, RejectionFilter};

/// `GET /admin/rejections` parameters, as given; unknown ones are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    vendor: Option<String>,
    code: Option<String>,
    since: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

pub async fn list(
    State(admin): State<AdminState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let query = query.map_err(bad_query)?.0;
    let filter = RejectionFilter {
        vendor: given(query.vendor),
        code: given(query.code),
        since: since(query.since)?,
        limit: limit(query.limit)?,
        cursor: given(query.cursor),
        ..RejectionFilter::default()
    };
    let page = admin
        .store
        .rejections(&filter)
        .await
        .map_err(|e| store_failed("list rejections", e))?;
    let rejections: Vec<Value> = page.rejections.iter().map(listed).collect();
    Ok(Json(json!({"rejections": rejections, "next_cursor": page.next_cursor})).into_response())
}

pub async fn show(
    State(admin): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let key = path_id(&id, "rejection")?;
    match admin.store.rejection(key).await {
        Ok(Some(rejection)) => Ok(Json(shown(&rejection)).into_response()),
        Ok(None) => Err(not_found_named("rejection", &id)),
        Err(error) => Err(store_failed("show rejection", error)),
    }
}

pub async fn delete(
    State(admin): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let key = path_id(&id, "rejection")?;
    let deleted = admin
        .store
        .delete_rejection(key)
        .await
        .map_err(|e| store_failed("delete rejection", e))?;
    tracing::info!(action = "delete", rejection = %key, deleted, "admin action");
    if deleted {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_found_named("rejection", &id))
    }
}

/// A rejection as listed: everything but its body.
fn listed(rejection: &Rejection) -> Value {
    json!({
        "id": rejection.id,
        "vendor": rejection.vendor,
        "received_at": rejection.received_at,
        "status": rejection.status,
        "code": rejection.code,
        "detail": rejection.detail,
        "errors": rejection.errors,
        "event_id": rejection.event_id,
        "request_id": rejection.request_id,
        "content_type": rejection.content_type,
        "delivery_id": rejection.delivery_id,
    })
}

/// A rejection with its body ([`with_body`]).
fn shown(rejection: &Rejection) -> Value {
    let mut shown = listed(rejection);
    with_body(&mut shown, Some(&rejection.body));
    shown
}
