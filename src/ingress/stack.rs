//! THE layer order of the public listener, outer → inner, written once. The first check that
//! fails answers, so this order is also the precedence between errors (contract section 2).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use futures_util::FutureExt;
use http::Request;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceBuilder;
use tracing::Instrument;

use super::body::ReadBodyLayer;
use super::capacity::Capacity;
use super::checks::{
    Authenticate, CheckClientAddr, LookupVendor, ObserveSchemas, ParseJson, RequireJson,
    ValidateSchema, VendorRateLimit,
};
use super::dedup::Deduplicate;
use super::guard;
use super::keep::KeepRejectionsLayer;
use super::outcome;
use super::stage::Link;
use super::update::{CheckFlowToken, MapUpdate, RequireChange, ResolveTenant};
use super::webhook::Inbound;
use super::webhook::{Authorized, Known};
use super::{AsyncStageLayer, Dispatch, FlowPath, StageLayer};
use crate::config::Config;
use crate::http::client_addr::{ClientAddr, ClientAddrs};
use crate::http::request_id::REQUEST_ID;
use crate::http::{RequestId, panicked, traced_span};
use crate::metrics::VendorMetrics;
use crate::order::OrderBook;
use crate::problem::Problem;

/// What wraps every request of the public listener, outer → inner, in [`Edge::answer`]: one
/// function, not a stack of layers, because each of them only wraps the next (as layers, each
/// would clone itself and box a future for every request).
pub struct Edge {
    client_addrs: ClientAddrs,
    timeout: Duration,
    in_flight: Arc<Semaphore>,
    cut: watch::Receiver<bool>,
}

impl Edge {
    pub fn new(config: &Config, in_flight: &Capacity, cut: watch::Receiver<bool>) -> Edge {
        let server = &config.server;
        Edge {
            client_addrs: ClientAddrs::new(&server.trusted_proxies),
            timeout: server.request_timeout,
            in_flight: in_flight.semaphore(),
            cut,
        }
    }

    /// Answers `request` with `route`; a webhook's outcome is counted in `counted`.
    pub async fn answer<F, Fut>(
        &self,
        mut request: Request<Body>,
        counted: Option<VendorMetrics>,
        route: F,
    ) -> Response
    where
        F: FnOnce(Request<Body>) -> Fut,
        Fut: Future<Output = Response>,
    {
        // First, so every answer (even a panic's or a timeout's) carries the id and is rendered.
        let id = RequestId::from_header(request.headers().get(REQUEST_ID));
        request.extensions_mut().insert(id.clone());
        // Outside the outcome line, which logs it, and the stages, which check it.
        self.client_addrs.mark_in_place(&mut request);
        let client = request.extensions().get::<ClientAddr>().copied();
        // Inside the id, so the span names it, with the caller's trace (kept for the delivery
        // when the span is logged, so both say the same trace). Every answer is logged by the
        // outcome line or its route, a panic where it is caught: a 5xx (503 `overloaded` under
        // load, `/ping` while draining) is not logged again at error level.
        let span = traced_span(&mut request);
        let answered = async {
            tracing::debug!(target: ON_REQUEST, "started processing request");
            let started = Instant::now();
            // Outside everything that can answer a webhook (panic, deadline, shedding, the
            // stages), so each webhook is counted and logged once, whoever answered it.
            let answer = || self.guarded(request, route);
            let response = outcome::recorded(counted, &id, client, answer).await;
            tracing::debug!(
                target: ON_RESPONSE,
                latency = %format_args!("{} ms", started.elapsed().as_millis()),
                status = i32::from(response.status().as_u16()),
                "finished processing request"
            );
            response
        };
        let answered = answered.instrument(span).await;
        let mut response = Problem::render(answered, id.as_str());
        response.headers_mut().insert(REQUEST_ID, id.0);
        response
    }

    async fn guarded<F, Fut>(&self, mut request: Request<Body>, route: F) -> Response
    where
        F: FnOnce(Request<Body>) -> Fut,
        Fut: Future<Output = Response>,
    {
        let deadline = guard::set_deadline(&mut request, self.timeout);
        // Shed before any work is done for a request we cannot afford.
        let admitted = guard::admitted(&self.in_flight, &self.cut, || route(request));
        // The deadline covers the slow parts (reading the body) of everything inside it.
        let limited = guard::within_deadline(deadline, self.timeout, admitted);
        // A bug answers 500 `internal` instead of dropping the connection.
        let caught = AssertUnwindSafe(limited).catch_unwind().await;
        caught.unwrap_or_else(panicked)
    }
}

/// The targets of the lines a request's start and end log at debug level: tower-http's, whose
/// trace layer wrote them before, so a filter that names them still selects them.
const ON_REQUEST: &str = "tower_http::trace::on_request";
const ON_RESPONSE: &str = "tower_http::trace::on_response";

/// The stages of one webhook, in the contract's order.
pub fn webhook_pipeline(
    flow: &FlowPath,
    config: &Config,
    buffered: &Capacity,
) -> impl Link<Inbound> + use<> {
    let server = &config.server;
    let store = flow.dispatch.store.clone();
    let book: Arc<dyn OrderBook> = store.clone();
    let dispatch = flow.dispatch.clone();
    ServiceBuilder::new()
        // 404: the vendor decides everything that follows (secrets, schema, limits).
        .layer(StageLayer::new(LookupVendor))
        // 403: a vendor's published sending ranges, before a byte of its body is read.
        .layer(StageLayer::new(CheckClientAddr))
        // 415: refuse before reading a body we could not parse anyway.
        .layer(StageLayer::new(RequireJson))
        // 413 / 503: read the body with a hard cap; nothing later sees a partial body.
        .layer(ReadBodyLayer::new(
            server.max_body_bytes,
            buffered.semaphore(),
        ))
        // 401: authenticate on the raw bytes, before anything interprets them.
        .layer(StageLayer::new(Authenticate))
        // 429: only authenticated requests spend the vendor's budget.
        .layer(StageLayer::new(VendorRateLimit))
        // From here on a refusal of an authenticated webhook is kept, with its body, for replay
        // (left out when `store.rejection_retention` is 0s: none is kept).
        .option_layer(KeepRejectionsLayer::for_retention(
            config.store.rejection_retention,
            store.clone(),
        ))
        // 400: parse with a nesting limit.
        .layer(StageLayer::new(ParseJson::new(
            config.limits.max_json_depth,
        )))
        // 200 / 409: a repeat is answered as its original before anything below can fail.
        .layer(AsyncStageLayer::new(Deduplicate::new(
            store,
            flow.dispatch.dedup_window,
        )))
        // 422: the vendor's schemas, every violation listed.
        .layer(StageLayer::new(ValidateSchema))
        // Never answers: the shadow schema and drift see only what the live schemas accepted,
        // and every such payload, before the map or routing can refuse it.
        .layer(StageLayer::new(ObserveSchemas::new(flow.drift.clone())))
        // 422: only now is the payload known to have the shape the map reads.
        .layer(StageLayer::new(MapUpdate))
        // 422: an update that sets nothing has nothing to deliver; its order is known by now.
        .layer(StageLayer::new(RequireChange))
        // 403 / 422: the order's tenant, from configured tenants only (the SSRF guard).
        .layer(AsyncStageLayer::new(ResolveTenant::new(
            flow.tenants.clone(),
            book.clone(),
        )))
        // 401 / 403 / 503: asks the resolved tenant's Flow, so it comes after routing.
        .layer(AsyncStageLayer::new(CheckFlowToken::new(
            flow.tokens.clone(),
            book,
        )))
        // 202 after the commit (queued); 200 / 502 / 503 / 504 from Flow (sync).
        .service(Dispatched(dispatch))
}

/// The last link: the update dispatched, its answer marked with what the webhook knew.
struct Dispatched(Dispatch);

impl Link<Authorized> for Dispatched {
    async fn answer(&self, authorized: Authorized) -> Response {
        let known = authorized.outcome_fields();
        known.mark(Box::pin(self.0.answer(authorized)).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_panic_is_answered_500_internal_without_its_message() {
        let (_cut, cut) = watch::channel(false);
        let config = Config::default();
        let edge = Edge::new(&config, &Capacity::new(8), cut);
        let request = Request::get("/boom").body(Body::empty()).expect("request");
        let response = edge
            .answer(request, None, |_| async {
                panic!("secret detail /etc/flowgate");
            })
            .await;
        assert_eq!(response.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().contains_key("x-request-id"));
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains(r#""code":"internal""#), "{text}");
        assert!(
            !text.contains("secret detail") && !text.contains("/etc/flowgate"),
            "{text}"
        );
    }
}
