//! `/admin/deliveries`: list, show (with the webhook's body while it is kept), retry, cancel,
//! delete and redrive deliveries. Query values are checked here, each bad one answered 400
//! `invalid-query` naming the parameter, so the store only ever sees a well-formed filter.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{AdminState, not_found_named, path_id, store_failed};
use crate::problem::{Code, Problem};
use crate::queue::{Deleted, DeliveryState, ListFilter, RedriveFilter, Retried};

/// `limit` when none is given, and the most one page holds.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

/// `GET /admin/deliveries` parameters, as given. Unknown parameters are refused, so a typo
/// (`?status=dead`) cannot silently list everything.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
    vendor: Option<String>,
    tenant: Option<String>,
    order_id: Option<String>,
    since: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedriveQuery {
    vendor: Option<String>,
    tenant: Option<String>,
    since: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryQuery {
    force: Option<String>,
}

pub async fn list(
    State(admin): State<AdminState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let filter = list_filter(query.map_err(bad_query)?.0)?;
    let page = admin
        .store
        .list(&filter)
        .await
        .map_err(|e| store_failed("list", e))?;
    Ok(Json(page).into_response())
}

pub async fn show(
    State(admin): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let key = path_id(&id, "delivery")?;
    let delivery = match admin.store.get(key).await {
        Ok(Some(delivery)) => delivery,
        Ok(None) => return Err(not_found_named("delivery", &id)),
        Err(error) => return Err(store_failed("show", error)),
    };
    let body = (admin.store.accepted_body(key).await).map_err(|e| store_failed("show", e))?;
    let mut shown = serde_json::to_value(&delivery).map_err(|e| {
        tracing::error!(error = %e, "a delivery could not be shown");
        Problem::internal()
    })?;
    with_body(&mut shown, body.as_deref());
    Ok(Json(shown).into_response())
}

/// Adds a kept body to `shown` as `body` and `body_encoding`: the text when it is UTF-8
/// (`utf-8`), else base64 (`base64`); both null when no body is kept.
pub(super) fn with_body(shown: &mut Value, body: Option<&[u8]>) {
    let (body, encoding) = match body {
        None => (Value::Null, Value::Null),
        Some(raw) => match std::str::from_utf8(raw) {
            Ok(text) => (text.into(), "utf-8".into()),
            Err(_) => (STANDARD.encode(raw).into(), "base64".into()),
        },
    };
    if let Some(fields) = shown.as_object_mut() {
        fields.insert("body".to_owned(), body);
        fields.insert("body_encoding".to_owned(), encoding);
    }
}

pub async fn retry(
    State(admin): State<AdminState>,
    Path(id): Path<String>,
    query: Result<Query<RetryQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let force = flag("force", query.map_err(bad_query)?.0.force)?;
    let key = path_id(&id, "delivery")?;
    let retried = admin
        .store
        .retry(key, force, Utc::now())
        .await
        .map_err(|e| store_failed("retry", e))?;
    let outcome = match &retried {
        Retried::Queued(_) => "queued",
        Retried::NotFound => "not_found",
        Retried::NotDead => "not_dead",
        Retried::Superseded => "superseded",
    };
    tracing::info!(action = "retry", delivery = %key, force, outcome, "admin action");
    match retried {
        Retried::Queued(delivery) => Ok((StatusCode::ACCEPTED, Json(delivery)).into_response()),
        Retried::NotFound => Err(not_found_named("delivery", &id)),
        Retried::NotDead => Err(Problem::new(
            Code::NotDead,
            format!(
                "Delivery {key} is not dead, or is a sync delivery (its vendor retries \
                 those); only dead queued deliveries can be retried."
            ),
        )),
        Retried::Superseded => Err(Problem::new(
            Code::Superseded,
            format!(
                "Order of delivery {key} has a newer delivered update; \
                 retry with ?force=true to send this older one anyway."
            ),
        )),
    }
}

pub async fn cancel(
    State(admin): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let key = path_id(&id, "delivery")?;
    let cancelled = admin
        .store
        .cancel(key)
        .await
        .map_err(|e| store_failed("cancel", e))?;
    let state = cancelled.as_ref().map(|d| d.state.as_str());
    tracing::info!(action = "cancel", delivery = %key, state, "admin action");
    match cancelled {
        Some(delivery) => Ok(Json(delivery).into_response()),
        None => Err(not_found_named("delivery", &id)),
    }
}

pub async fn delete(
    State(admin): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let key = path_id(&id, "delivery")?;
    let deleted = admin
        .store
        .delete(key)
        .await
        .map_err(|e| store_failed("delete", e))?;
    tracing::info!(action = "delete", delivery = %key, outcome = ?deleted, "admin action");
    match deleted {
        Deleted::Deleted => Ok(StatusCode::NO_CONTENT.into_response()),
        Deleted::NotFound => Err(not_found_named("delivery", &id)),
        Deleted::Open => Err(Problem::new(
            Code::NotFinished,
            format!(
                "Delivery {key} is still owed to Flow; only delivered or dead deliveries \
                 can be deleted (cancel it first)."
            ),
        )),
    }
}

pub async fn redrive(
    State(admin): State<AdminState>,
    query: Result<Query<RedriveQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let query = query.map_err(bad_query)?.0;
    let filter = RedriveFilter {
        vendor: given(query.vendor),
        tenant: given(query.tenant),
        since: since(query.since)?,
    };
    let (redriven, superseded) = admin
        .store
        .redrive(&filter, Utc::now())
        .await
        .map_err(|e| store_failed("redrive", e))?;
    tracing::info!(
        action = "redrive",
        vendor = filter.vendor.as_deref(),
        tenant = filter.tenant.as_deref(),
        since = ?filter.since,
        redriven,
        superseded,
        "admin action"
    );
    Ok(Json(json!({"redriven": redriven, "superseded": superseded})).into_response())
}

fn list_filter(query: ListQuery) -> Result<ListFilter, Problem> {
    let state = match given(query.state) {
        None => None,
        Some(text) => Some(DeliveryState::parse(&text).ok_or_else(|| {
            let known: Vec<_> = DeliveryState::ALL.iter().map(|s| s.as_str()).collect();
            invalid(format!("state must be one of {}.", known.join(", ")))
        })?),
    };
    let order_id = match given(query.order_id) {
        None => None,
        Some(text) => {
            Some(Uuid::parse_str(&text).map_err(|_| invalid("order_id must be a UUID.".into()))?)
        }
    };
    Ok(ListFilter {
        state,
        vendor: given(query.vendor),
        tenant: given(query.tenant),
        order_id,
        since: since(query.since)?,
        limit: limit(query.limit)?,
        cursor: given(query.cursor),
    })
}

/// A page's size: [`DEFAULT_LIMIT`] when not given, at most [`MAX_LIMIT`].
pub(super) fn limit(value: Option<String>) -> Result<usize, Problem> {
    match given(value) {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => text
            .parse()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                invalid(format!(
                    "limit must be a whole number from 1 to {MAX_LIMIT}."
                ))
            }),
    }
}

/// An empty value (`?vendor=`) means the parameter is not given.
pub(super) fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

pub(super) fn since(value: Option<String>) -> Result<Option<DateTime<Utc>>, Problem> {
    given(value)
        .map(|text| {
            DateTime::parse_from_rfc3339(&text)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    invalid("since must be an RFC 3339 time, such as 2025-01-31T12:00:00Z.".into())
                })
        })
        .transpose()
}

fn flag(name: &str, value: Option<String>) -> Result<bool, Problem> {
    match given(value).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(invalid(format!("{name} must be true or false."))),
    }
}

fn invalid(detail: String) -> Problem {
    Problem::new(Code::InvalidQuery, detail)
}

/// Unknown or repeated parameters; the rejection names the parameter, nothing internal.
pub(super) fn bad_query(rejection: QueryRejection) -> Problem {
    invalid(rejection.body_text())
}
