//! THE layer order of the public listener, outer → inner, written once. The first check that
//! fails answers, so this order is also the precedence between errors (contract section 2).

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::Request;
use tokio::sync::watch;
use tower::ServiceBuilder;
use tower::util::{BoxCloneSyncService, MapRequestLayer};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use super::body::ReadBodyLayer;
use super::capacity::Capacity;
use super::checks::{
    Authenticate, CheckClientAddr, LookupVendor, ObserveSchemas, ParseJson, RequireJson,
    ValidateSchema, VendorRateLimit,
};
use super::dedup::Deduplicate;
use super::guard::{DeadlineLayer, InFlightLayer};
use super::keep::KeepRejectionsLayer;
use super::outcome::RecordOutcomeLayer;
use super::update::{CheckFlowToken, MapUpdate, RequireChange, ResolveTenant};
use super::webhook::{Authorized, Known};
use super::{AsyncStageLayer, FlowPath, Pipeline, StageLayer, Vendors};
use crate::config::Config;
use crate::http::client_addr::ClientAddrs;
use crate::http::trace_context::set_trace_context;
use crate::http::{RequestIdLayer, panicked, span};
use crate::metrics::Metrics;
use crate::order::OrderBook;

/// Wraps every route of the public listener.
pub fn around_routes(
    router: Router,
    config: &Config,
    metrics: Metrics,
    in_flight: &Capacity,
    cut: watch::Receiver<bool>,
) -> Router {
    let server = &config.server;
    let client_addrs = ClientAddrs::new(&server.trusted_proxies);
    let layers = ServiceBuilder::new()
        // First, so every answer (even a panic's or a timeout's) carries the id and is rendered.
        .layer(RequestIdLayer)
        // Before the span, so the span and the delivery share the caller's trace.
        .layer(MapRequestLayer::new(set_trace_context::<Body>))
        // Outside the outcome line, which logs it, and the stages, which check it.
        .layer(MapRequestLayer::new(move |request: Request<Body>| {
            client_addrs.mark(request)
        }))
        // Inside the id, so the span names it. Every answer is logged by the outcome line or
        // its route, a panic where it is caught: a 5xx (503 `overloaded` under load, `/ping`
        // while draining) is not logged again at error level.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(span)
                .on_response(DefaultOnResponse::new().level(Level::DEBUG))
                .on_failure(()),
        )
        // Outside everything that can answer a webhook (panic, deadline, shedding, the stages),
        // so each webhook is counted and logged once, whoever answered it.
        .layer(RecordOutcomeLayer::new(metrics))
        // A bug answers 500 `internal` instead of dropping the connection.
        .layer(CatchPanicLayer::custom(panicked))
        // The deadline covers the slow parts (reading the body) of everything inside it.
        .layer(DeadlineLayer::new(server.request_timeout))
        // Shed before any work is done for a request we cannot afford.
        .layer(InFlightLayer::new(in_flight.semaphore(), cut));
    router.layer(layers)
}

/// The stages of one webhook, in the contract's order.
pub fn webhook_pipeline(
    vendors: Arc<Vendors>,
    flow: &FlowPath,
    config: &Config,
    buffered: &Capacity,
) -> Pipeline {
    let server = &config.server;
    let store = flow.dispatch.store.clone();
    let book: Arc<dyn OrderBook> = store.clone();
    let dispatch = flow.dispatch.clone();
    let stages = ServiceBuilder::new()
        // 404: the vendor decides everything that follows (secrets, schema, limits).
        .layer(StageLayer::new(LookupVendor::new(vendors)))
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
        .service_fn(move |authorized: Authorized| {
            let dispatch = dispatch.clone();
            let known = authorized.outcome_fields();
            async move { Ok::<_, Infallible>(known.mark(dispatch.answer(authorized).await)) }
        });
    BoxCloneSyncService::new(stages)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn boom() -> &'static str {
        panic!("secret detail /etc/flowgate")
    }

    #[tokio::test]
    async fn a_panic_is_answered_500_internal_without_its_message() {
        let panicking = Router::new().route("/boom", get(boom));
        let (_cut, cut) = watch::channel(false);
        let config = Config::default();
        let metrics = Metrics::from_config(&config);
        let router = around_routes(panicking, &config, metrics, &Capacity::new(8), cut);
        let request = Request::get("/boom").body(Body::empty()).expect("request");
        let response = router.oneshot(request).await.expect("answered");
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
