//! The public listener: `POST /webhooks/{vendor}` through the pipeline of `stack.rs`,
//! `GET /launch/{vendor}` for Core's order button, and `GET`/`HEAD /ping` for Core. Everything
//! else is a 404 or 405 problem.

mod body;
mod capacity;
mod checks;
pub mod dedup;
pub mod dispatch;
mod guard;
mod keep;
mod launch;
pub mod outcome;
pub(crate) mod stack;
mod stage;
pub mod update;
mod vendors;
pub mod webhook;

use std::borrow::Cow;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::future::BoxFuture;
use http::{HeaderValue, Method, Request, StatusCode, header};
use percent_encoding::percent_decode_str;
use tokio::sync::watch;
use tower::ServiceExt;

pub use capacity::{Capacities, Capacity};
pub use checks::{ParseJson, ValidateSchema};
pub use dispatch::Dispatch;
pub use stage::{AsyncStage, AsyncStageLayer, Link, Stage, StageLayer};
pub use update::{CheckFlowToken, MapUpdate, RequireChange, ResolveTenant};
pub use vendors::{Vendor, Vendors, vendor_mapper, vendor_schemas};
use webhook::Inbound;

use crate::config::Config;
use crate::health::Health;
use crate::http::server::Serve;
use crate::http::{method_not_allowed, not_found};
use crate::metrics::{Metrics, VendorMetrics};
use crate::route::Tenants;
use crate::validate::Drift;
use crate::verify::UnknownVendor;
use crate::verify::flow_token::FlowTokens;

/// What stands between a parsed webhook and Flow: the tenants, the FlowToken verifier, the
/// drift record (which outlives configurations), and the last stage (store, deliverer, tenant
/// controls), built once at start-up.
#[derive(Clone)]
pub struct FlowPath {
    pub tenants: Arc<Tenants>,
    pub tokens: Arc<FlowTokens>,
    pub drift: Arc<Drift>,
    pub dispatch: Dispatch,
}

/// What `/launch/{vendor}` reads.
#[derive(Clone)]
struct Ingress {
    vendors: Arc<Vendors>,
    flow: FlowPath,
}

/// The public listener: its fixed routes inside the edge of `stack.rs`, one service answering
/// through a shared reference (axum's router only behind `/launch/{vendor}`).
struct PublicRoutes<P>(Arc<Public<P>>);

struct Public<P> {
    edge: stack::Edge,
    /// The webhook stages (`stack.rs`), answering through a shared reference.
    pipeline: P,
    vendors: Arc<Vendors>,
    metrics: Metrics,
    health: Health,
    /// `/launch/{vendor}`, whose query and path extractors axum's router gives.
    launch: Router,
}

/// The public listener's routes inside the layers of `stack.rs`, admitting requests within
/// `capacities`; requests still running when `cut` turns true are answered 503 and dropped.
pub fn router(
    config: &Config,
    vendors: Arc<Vendors>,
    flow: FlowPath,
    health: Health,
    metrics: Metrics,
    capacities: &Capacities,
    cut: watch::Receiver<bool>,
) -> impl Serve {
    let pipeline = stack::webhook_pipeline(&flow, config, &capacities.buffered);
    let launch = Router::new()
        .route("/launch/{vendor}", get(launch::launch))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(Ingress {
            vendors: vendors.clone(),
            flow,
        });
    PublicRoutes(Arc::new(Public {
        edge: stack::Edge::new(config, &capacities.in_flight, cut),
        pipeline,
        vendors,
        metrics,
        health,
        launch,
    }))
}

impl<P: Link<Inbound>> Serve for PublicRoutes<P> {
    fn serve(&self, request: Request<Body>) -> BoxFuture<'static, Response> {
        let public = self.0.clone();
        Box::pin(async move {
            let route = Route::of(&request, &public.vendors);
            let counted = public.counted(&route);
            let answer = |request| public.answer(route, request);
            public.edge.answer(request, counted, answer).await
        })
    }
}

impl<P: Link<Inbound>> Public<P> {
    /// The series a webhook's outcome is counted in: its vendor's, resolved when the
    /// configuration was loaded (`unknown`'s for a vendor not configured); none for other routes.
    fn counted(&self, route: &Route) -> Option<VendorMetrics> {
        let Route::Webhook(vendor) = route else {
            return None;
        };
        Some(match vendor {
            Ok(vendor) => vendor.metrics.clone(),
            // A vendor a reload removed keeps its series.
            Err(UnknownVendor::Named(name)) => self.metrics.vendor(name),
            Err(_) => self.metrics.unknown_vendor(),
        })
    }

    async fn answer(&self, route: Route, request: Request<Body>) -> Response {
        match route {
            Route::Webhook(vendor) => {
                let inbound = Inbound { vendor, request };
                // Boxed: the edge's own state stays small, and is moved cheaply.
                Box::pin(self.pipeline.answer(inbound)).await
            }
            Route::Ping => ping(&self.health).into_response(),
            Route::Launch => match self.launch.clone().oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            },
            Route::WrongMethod(allow) => {
                let mut response = method_not_allowed().await.into_response();
                let allow = HeaderValue::from_static(allow);
                response.headers_mut().insert(header::ALLOW, allow);
                response
            }
            Route::NotFound => not_found().await.into_response(),
        }
    }
}

/// Which fixed route a request is for, read once from its method and path as axum's router
/// matched them (a `{vendor}` segment is one or more characters, no `/`), a webhook's vendor
/// looked up once for both its outcome's series and its stages.
enum Route {
    /// `POST /webhooks/{vendor}`: the vendor, or why the path names none.
    Webhook(Result<Arc<Vendor>, UnknownVendor>),
    /// `/launch/{vendor}`, any method: its router answers a method it does not take.
    Launch,
    /// `GET` or `HEAD /ping`.
    Ping,
    /// A route's path with a method it does not take: the 405's `Allow` header.
    WrongMethod(&'static str),
    NotFound,
}

impl Route {
    fn of(request: &Request<Body>, vendors: &Vendors) -> Route {
        let (method, path) = (request.method(), request.uri().path());
        let segment = |rest: Option<&str>| rest.is_some_and(|s| !s.is_empty() && !s.contains('/'));
        if path == "/ping" {
            return match *method {
                Method::GET | Method::HEAD => Route::Ping,
                _ => Route::WrongMethod("GET,HEAD"),
            };
        }
        if let Some(vendor) = path.strip_prefix("/webhooks/")
            && segment(Some(vendor))
        {
            return match *method {
                Method::POST => Route::Webhook(lookup(vendors, vendor)),
                _ => Route::WrongMethod("POST"),
            };
        }
        if segment(path.strip_prefix("/launch/")) {
            return Route::Launch;
        }
        Route::NotFound
    }
}

/// The vendor a path segment names, percent-decoded as the router decoded it.
fn lookup(vendors: &Vendors, segment: &str) -> Result<Arc<Vendor>, UnknownVendor> {
    let name: Cow<'_, str> = percent_decode_str(segment)
        .decode_utf8()
        .map_err(|_| UnknownVendor::Undecodable)?;
    vendors.lookup(&name)
}

/// Core's PingUrl: 200 while ready, 503 while starting or draining.
fn ping(health: &Health) -> StatusCode {
    if health.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How `Route::of` reads a request: the route, or its 405's `Allow`, or 404.
    fn route(vendors: &Vendors, method: Method, path: &str) -> &'static str {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .expect("a request");
        match Route::of(&request, vendors) {
            Route::Webhook(Ok(_)) => "webhook",
            Route::Webhook(Err(UnknownVendor::Named(_))) => "unknown",
            Route::Webhook(Err(UnknownVendor::Malformed)) => "malformed",
            Route::Webhook(Err(UnknownVendor::Undecodable)) => "undecodable",
            Route::Launch => "launch",
            Route::Ping => "ping",
            Route::WrongMethod(allow) => allow,
            Route::NotFound => "404",
        }
    }

    #[test]
    fn requests_are_routed_as_the_router_matched_them() {
        let config = Config::default();
        let metrics = Metrics::from_config(&config);
        let vendors = Vendors::build(&config, &metrics, None).expect("no vendors");
        let vendors = &vendors;
        assert_eq!(route(vendors, Method::GET, "/ping"), "ping");
        assert_eq!(route(vendors, Method::HEAD, "/ping"), "ping");
        assert_eq!(route(vendors, Method::POST, "/ping"), "GET,HEAD");
        assert_eq!(route(vendors, Method::POST, "/webhooks/acme"), "unknown");
        assert_eq!(route(vendors, Method::POST, "/webhooks/a%20b"), "malformed");
        assert_eq!(route(vendors, Method::POST, "/webhooks/%FF"), "undecodable");
        assert_eq!(route(vendors, Method::GET, "/webhooks/acme"), "POST");
        assert_eq!(route(vendors, Method::GET, "/launch/acme"), "launch");
        assert_eq!(route(vendors, Method::POST, "/launch/acme"), "launch");
        let elsewhere = [
            "/",
            "/webhooks",
            "/webhooks/",
            "/webhooks/a/",
            "/webhooks/a/b",
        ];
        for path in elsewhere
            .into_iter()
            .chain(["/launch/", "/launch/a/b", "/ping/"])
        {
            assert_eq!(route(vendors, Method::POST, path), "404", "{path}");
            assert_eq!(route(vendors, Method::GET, path), "404", "{path}");
        }
    }
}
