//! `GET /launch/{vendor}`: Core's order button opens it with the order's query. The tenant is
//! resolved, the FlowToken verified and the binding recorded before the broker is sent on (302)
//! to the vendor's `launch_url`. Failures are short HTML pages, since a person is looking.

use axum::extract::{Path, RawQuery, State};
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use uuid::Uuid;

use super::guard::RequestDeadline;
use super::vendors::{Launch, Vendor};
use super::{FlowPath, Ingress};
use crate::metrics::UNKNOWN_VENDOR;
use crate::route::{self, Claim, RouteError};
use crate::verify::flow_token::TokenError;

/// Why a launch cannot go on; each is one short page.
#[derive(Debug, thiserror::Error)]
enum LaunchError {
    #[error("This order link is not for a known service.")]
    UnknownVendor,
    #[error("The order link is incomplete: {0}.")]
    BadQuery(String),
    #[error("The order link names a customer this service does not serve.")]
    Tenant(#[from] RouteError),
    #[error("The order link's token was not accepted. Open the order again from Core.")]
    Token,
    #[error("The order link's token belongs to another order. Open the order again from Core.")]
    Mismatch,
    #[error("Core could not be reached to check the order link. Try again in a moment.")]
    Unavailable,
}

impl LaunchError {
    fn status(&self) -> StatusCode {
        match self {
            Self::UnknownVendor => StatusCode::NOT_FOUND,
            Self::BadQuery(_) => StatusCode::BAD_REQUEST,
            Self::Tenant(RouteError::Unresolved) => StatusCode::BAD_REQUEST,
            Self::Tenant(_) | Self::Mismatch => StatusCode::FORBIDDEN,
            Self::Token => StatusCode::UNAUTHORIZED,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl From<TokenError> for LaunchError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Invalid => Self::Token,
            TokenError::Mismatch => Self::Mismatch,
            TokenError::Unavailable { .. } => Self::Unavailable,
        }
    }
}

/// The order as Core's button describes it.
struct LaunchQuery {
    order_id: Uuid,
    flow_url: Option<String>,
    tenant_id: Option<i64>,
    token: String,
    case_id: Option<i64>,
}

pub async fn launch(
    State(ingress): State<Ingress>,
    Path(vendor): Path<String>,
    RawQuery(query): RawQuery,
    deadline: Option<axum::Extension<RequestDeadline>>,
) -> Response {
    let query = query.unwrap_or_default();
    let deadline = deadline.map_or_else(
        || tokio::time::Instant::now() + std::time::Duration::from_secs(10),
        |d| d.0.0,
    );
    let configured = ingress.vendors.get(&vendor);
    // The path's name is the caller's: only a configured one is repeated in the log.
    let vendor = configured
        .as_ref()
        .map_or(UNKNOWN_VENDOR, |v| v.name.as_str());
    let result = match &configured {
        Some(vendor) => match &vendor.launch {
            Some(launch) => admit(&ingress.flow, vendor, launch, &query, deadline).await,
            None => Err(LaunchError::UnknownVendor),
        },
        None => Err(LaunchError::UnknownVendor),
    };
    let mut response = match result {
        Ok(location) => redirect(&location),
        Err(error) => {
            tracing::info!(vendor, status = error.status().as_u16(), reason = %error, "launch refused");
            (error.status(), page(&error.to_string())).into_response()
        }
    };
    // The URL holds the broker's token: keep it out of caches and referrers.
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Resolves, verifies and binds; the vendor's URL with the query on success.
async fn admit(
    flow: &FlowPath,
    vendor: &Vendor,
    launch: &Launch,
    query: &str,
    deadline: tokio::time::Instant,
) -> Result<String, LaunchError> {
    let asked = parse(launch, query)?;
    let book = &flow.dispatch.store;
    let binding = book
        .binding(asked.order_id)
        .await
        .map_err(|_| LaunchError::Unavailable)?;
    let claim = Claim {
        vendor: &vendor.name,
        flow_url: asked.flow_url.as_deref(),
        tenant_id: asked.tenant_id,
    };
    let name = flow
        .tenants
        .resolve(claim, vendor.routing(), binding.as_ref())?;
    let tenant = flow.tenants.flow(&name).ok_or(RouteError::Unresolved)?;
    let verified = flow
        .tokens
        .verify(tenant, &asked.token, asked.order_id, deadline)
        .await?;
    let mut made = verified.binding(&name, &vendor.name);
    made.case_id = made.case_id.or(asked.case_id);
    route::bind(book.as_ref(), asked.order_id, made)
        .await
        .map_err(|_| LaunchError::Unavailable)??;
    tracing::info!(vendor = %vendor.name, tenant = %name, order_id = %asked.order_id, "launch admitted");
    Ok(with_query(&launch.url, query))
}

fn parse(launch: &Launch, query: &str) -> Result<LaunchQuery, LaunchError> {
    let names = &launch.params;
    let get = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
            .filter(|value| !value.is_empty())
    };
    let missing = |name: &str| LaunchError::BadQuery(format!("`{name}` is missing"));
    let malformed =
        |name: &str, what: &str| LaunchError::BadQuery(format!("`{name}` is not {what}"));
    let order = get(&names.order_id).ok_or_else(|| missing(&names.order_id))?;
    let order_id =
        Uuid::parse_str(order.trim()).map_err(|_| malformed(&names.order_id, "an order id"))?;
    let number = |name: &str| {
        get(name)
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| malformed(name, "a number"))
            })
            .transpose()
    };
    Ok(LaunchQuery {
        order_id,
        flow_url: get(&names.flow_url),
        tenant_id: number(&names.tenant_id)?,
        token: get(&names.token).ok_or_else(|| missing(&names.token))?,
        case_id: number(&names.case_id)?,
    })
}

/// `url` with `query` appended: a name in both takes the launch query's value.
fn with_query(url: &str, query: &str) -> String {
    let (base, own) = url.split_once('?').unwrap_or((url, ""));
    let given: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let mut merged = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(own.as_bytes()) {
        if !given.iter().any(|(k, _)| *k == key) {
            merged.append_pair(&key, &value);
        }
    }
    for (key, value) in &given {
        merged.append_pair(key, value);
    }
    let merged = merged.finish();
    if merged.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{merged}")
    }
}

fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut response = StatusCode::FOUND.into_response();
            response.headers_mut().insert(header::LOCATION, value);
            response
        }
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            page("The service's address is not usable."),
        )
            .into_response(),
    }
}

/// A page a broker can read; `message` is ours, never an echo of the query.
fn page(message: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Order link</title></head>\
         <body><h1>This order cannot be opened</h1><p>{}</p></body></html>\n",
        escape(message)
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::with_query;

    #[test]
    fn the_launch_query_is_merged_into_the_vendors_url() {
        assert_eq!(
            with_query("https://photo.example/order", "orderId=1&token=a%2Bb"),
            "https://photo.example/order?orderId=1&token=a%2Bb"
        );
        assert_eq!(
            with_query(
                "https://photo.example/order?src=core&orderId=old",
                "orderId=1"
            ),
            "https://photo.example/order?src=core&orderId=1"
        );
        assert_eq!(
            with_query("https://photo.example/order", ""),
            "https://photo.example/order"
        );
    }
}
