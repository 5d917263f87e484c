//! `GET /metrics` on the admin listener (DESIGN section 11): every counter moves where its event
//! happens, by exactly as much, under the configured vendor and tenant labels; the queue gauges
//! describe the store, also after a restart (`queue.rs`); the exposition passes `promtool check
//! metrics` (`promtool.rs`). The outcome log lines are checked in `logs.rs`, those of refused
//! webhooks in `refusals.rs`.

mod forging;
mod gauges;
mod logs;
mod promtool;
mod queue;
mod refusals;
mod startup;

use serde_json::json;

use crate::flow::{canonical_body, post_canonical};
use crate::queue::{accepted, post, queued_config};
use crate::support::Gateway;
use crate::support::admin::until_state;
use crate::support::client::get;
use crate::support::fixtures::{self, CONFIG_FILES, canonical};
use crate::support::flow::FlowSim;
use crate::support::sign::sign;

/// One scrape of `/metrics`.
struct Scrape(String);

impl Scrape {
    async fn of(gw: &Gateway) -> Scrape {
        let reply = get(&gw.admin_url("/metrics")).await;
        let text = String::from_utf8_lossy(&reply.body).into_owned();
        assert_eq!(reply.status, 200, "{text}");
        assert_eq!(
            reply.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        Scrape(text)
    }

    /// The value of `name{labels}`, the labels in the order the metric declares them; fails
    /// when the series is not exported.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        let series = match labels.is_empty() {
            true => name.to_owned(),
            false => format!("{name}{{{}}}", labels.join(",")),
        };
        self.0
            .lines()
            .find_map(|line| line.strip_prefix(series.as_str())?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{series} is not exported:\n{}", self.0))
            .parse()
            .expect("a number")
    }

    fn received(&self, vendor: &str, outcome: &str) -> f64 {
        let labels = [("vendor", vendor), ("outcome", outcome)];
        self.value("flowgate_webhooks_received_total", &labels)
    }

    /// Every webhook of `vendor`, whatever its outcome.
    fn received_all(&self, vendor: &str) -> f64 {
        let prefix = format!("flowgate_webhooks_received_total{{vendor=\"{vendor}\",");
        self.0
            .lines()
            .filter_map(|line| line.strip_prefix(prefix.as_str()))
            .filter_map(|rest| rest.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    fn flow_requests(&self, operation: &str, class: &str) -> f64 {
        let labels = [
            ("tenant", "sim"),
            ("operation", operation),
            ("status_class", class),
        ];
        self.value("flowgate_flow_requests_total", &labels)
    }

    fn deliveries(&self, vendor: &str, result: &str) -> f64 {
        let labels = [("vendor", vendor), ("result", result)];
        self.value("flowgate_deliveries_total", &labels)
    }

    fn depth(&self, state: &str) -> f64 {
        self.value("flowgate_queue_depth", &[("state", state)])
    }
}

/// How much each of `series` moved between two scrapes.
fn moved(before: &Scrape, after: &Scrape, series: impl Fn(&Scrape) -> f64) -> f64 {
    series(after) - series(before)
}

/// A canonical update with `members` for a new order.
fn canonical_for_new_order(members: serde_json::Value) -> String {
    canonical_body(&uuid::Uuid::new_v4().to_string(), members)
}

#[tokio::test]
async fn every_webhook_is_counted_once_under_its_vendor_and_outcome() {
    let gw = fixtures::gateway("", &queued_config()).await;
    let before = Scrape::of(&gw).await;
    let valid = || canonical_for_new_order(json!({"state": "Completed"}));

    accepted(
        &post(
            &gw,
            &uuid::Uuid::new_v4().to_string(),
            json!({"state": "InProcess"}),
        )
        .await,
    );
    // A title longer than limits.max_field_chars is cut (and counted once: the duplicate is
    // answered before it is mapped).
    let body = canonical_for_new_order(json!({"state": "Completed", "title": "x".repeat(300)}));
    let headers = sign(&canonical(), body.as_bytes());
    let first = gw
        .webhook("canonical", body.clone())
        .headers(headers.clone());
    assert_eq!(first.send().await.json()["state"], "delivered");
    let again = gw.webhook("canonical", body).headers(headers).send().await;
    assert_eq!(again.json()["duplicate"], true);
    let rejected = [
        // Signed, then the body changed: the signature no longer matches.
        (
            gw.webhook("canonical", valid())
                .signed(&canonical())
                .body(valid()),
            401,
        ),
        (gw.webhook("canonical", valid()), 401),
        (
            gw.webhook("canonical", "{not json").signed(&canonical()),
            400,
        ),
        // The path's vendor percent-encoded: processed as `canonical`, so counted as it.
        (
            gw.webhook("c%61nonical", "{not json").signed(&canonical()),
            400,
        ),
        (
            gw.webhook(
                "canonical",
                canonical_for_new_order(json!({"state": "Completed", "extra": 1})),
            )
            .signed(&canonical()),
            422,
        ),
        (
            gw.webhook("canonical", valid())
                .header("content-type", "text/plain"),
            415,
        ),
        (
            gw.webhook(
                "canonical",
                canonical_for_new_order(
                    json!({"state": "Completed", "flowUrl": "https://elsewhere.example/flow"}),
                ),
            )
            .signed(&canonical()),
            403,
        ),
        (
            gw.webhook("no-such-vendor", valid()).signed(&canonical()),
            404,
        ),
    ];
    for (webhook, status) in rejected {
        let reply = webhook.send().await;
        assert_eq!(reply.status, status, "{reply:?}");
    }

    let after = Scrape::of(&gw).await;
    let expected = [
        ("queued", "accepted", 1.0),
        ("canonical", "delivered", 1.0),
        ("canonical", "duplicate", 1.0),
        ("canonical", "unauthenticated", 2.0),
        ("canonical", "invalid_json", 2.0),
        ("canonical", "schema_invalid", 1.0),
        ("canonical", "unsupported_media_type", 1.0),
        ("canonical", "tenant_rejected", 1.0),
        ("unknown", "unknown_vendor", 1.0),
    ];
    for (vendor, outcome, count) in expected {
        let got = moved(&before, &after, |s| s.received(vendor, outcome));
        assert_eq!(got, count, "{vendor} {outcome}");
    }
    for (vendor, count) in [
        ("queued", 1.0),
        ("canonical", 9.0),
        ("unknown", 1.0),
        ("photo", 0.0),
    ] {
        assert_eq!(
            moved(&before, &after, |s| s.received_all(vendor)),
            count,
            "{vendor}"
        );
        let durations = |s: &Scrape| {
            s.value(
                "flowgate_webhook_duration_seconds_count",
                &[("vendor", vendor)],
            )
        };
        assert_eq!(
            moved(&before, &after, durations),
            count,
            "{vendor} durations"
        );
    }
    for (reason, count) in [
        ("bad_signature", 1.0),
        ("missing_header", 1.0),
        ("expired", 0.0),
    ] {
        let failures = |s: &Scrape| {
            let labels = [("vendor", "canonical"), ("reason", reason)];
            s.value("flowgate_signature_failures_total", &labels)
        };
        assert_eq!(moved(&before, &after, failures), count, "{reason}");
    }
    for (field, count) in [("title", 1.0), ("status", 0.0)] {
        let truncated = |s: &Scrape| {
            let labels = [("vendor", "canonical"), ("field", field)];
            s.value("flowgate_fields_truncated_total", &labels)
        };
        assert_eq!(moved(&before, &after, truncated), count, "{field}");
    }
}

#[tokio::test]
async fn deliveries_flow_calls_and_flow_tokens_are_counted() {
    let gw = fixtures::gateway("", &queued_config()).await;
    let sim = gw.sim();
    let before = Scrape::of(&gw).await;

    // Retried once, then delivered.
    sim.fault(json!({"op": "updatestate", "status": 503, "fail_next": 1}))
        .await;
    let order = uuid::Uuid::new_v4().to_string();
    let id = accepted(&post(&gw, &order, json!({"state": "InProcess"})).await);
    until_state(&gw, &id, "delivered").await;
    // Flow's 429: paced, then delivered.
    sim.fault(json!({"op": "updatestate", "status": 429, "retry_after": 1, "fail_next": 1}))
        .await;
    let id = accepted(&post(&gw, &order, json!({"state": "Completed"})).await);
    until_state(&gw, &id, "delivered").await;
    // Refused: dead at once.
    sim.fault(json!({"op": "updatestate", "status": 400, "fail_next": 1}))
        .await;
    let id = accepted(&post(&gw, &order, json!({"state": "Error"})).await);
    until_state(&gw, &id, "dead").await;

    // A FlowToken that verifies, one Flow does not know, and one for another order.
    let (guid, token) = sim.create_order(7).await;
    let members = json!({"state": "InProcess", "flowToken": token});
    assert_eq!(
        post_canonical(&gw, "canonical", &guid, members)
            .await
            .status,
        200
    );
    let forged = json!({"state": "InProcess", "flowToken": "not-a-token-flow-issued"});
    let other = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        post_canonical(&gw, "canonical", &other, forged)
            .await
            .status,
        401
    );
    let stolen = json!({"state": "InProcess", "flowToken": token});
    let another = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        post_canonical(&gw, "canonical", &another, stolen)
            .await
            .status,
        403
    );

    let after = Scrape::of(&gw).await;
    let deliveries = [
        ("queued", "delivered", 2.0),
        ("queued", "retried", 2.0),
        ("queued", "dead", 1.0),
        // Sync: the token that verified; the refused ones never became deliveries.
        ("canonical", "delivered", 1.0),
        ("canonical", "retried", 0.0),
        ("canonical", "dead", 0.0),
    ];
    for (vendor, result, count) in deliveries {
        let got = moved(&before, &after, |s| s.deliveries(vendor, result));
        assert_eq!(got, count, "{vendor} {result}");
    }
    let lag = |s: &Scrape| {
        s.value(
            "flowgate_delivery_lag_seconds_count",
            &[("vendor", "queued")],
        )
    };
    assert_eq!(moved(&before, &after, lag), 2.0);
    for (class, count) in [("2xx", 3.0), ("4xx", 2.0), ("5xx", 1.0), ("timeout", 0.0)] {
        let updates = moved(&before, &after, |s| s.flow_requests("updatestate", class));
        assert_eq!(updates, count, "updatestate {class}");
    }
    assert_eq!(
        moved(&before, &after, |s| s.flow_requests("verify_token", "2xx")),
        1.0
    );
    assert_eq!(
        moved(&before, &after, |s| s.flow_requests("verify_token", "4xx")),
        1.0
    );
    assert_eq!(
        moved(&before, &after, |s| s.flow_requests("auth_token", "2xx")),
        1.0
    );
    let durations = |s: &Scrape| {
        let labels = [("tenant", "sim"), ("operation", "updatestate")];
        s.value("flowgate_flow_request_duration_seconds_count", &labels)
    };
    assert_eq!(moved(&before, &after, durations), 6.0);
    let throttled = |cause: &'static str| {
        move |s: &Scrape| {
            let labels = [("tenant", "sim"), ("cause", cause)];
            s.value("flowgate_flow_throttled_total", &labels)
        }
    };
    assert_eq!(moved(&before, &after, throttled("flow_429")), 1.0);
    assert_eq!(moved(&before, &after, throttled("bucket")), 0.0);
    for (result, count) in [
        ("valid", 1.0),
        ("invalid", 1.0),
        ("mismatch", 1.0),
        ("error", 0.0),
    ] {
        let tokens = |s: &Scrape| {
            let labels = [("tenant", "sim"), ("result", result)];
            s.value("flowgate_token_verifications_total", &labels)
        };
        assert_eq!(moved(&before, &after, tokens), count, "token {result}");
    }
}

#[tokio::test]
async fn our_own_bucket_holding_a_call_back_is_counted() {
    let sim = FlowSim::start().await;
    // One call in the bucket: the access token spends it, so the update waits a quarter second.
    let config = fixtures::config("", &sim, "").replace(
        "per_second = 1000, burst = 1000",
        "per_second = 4, burst = 1",
    );
    let gw = Gateway::start_with_files(&config, CONFIG_FILES)
        .await
        .with_sim(sim);
    let before = Scrape::of(&gw).await;
    let order = uuid::Uuid::new_v4().to_string();
    let reply = post_canonical(&gw, "canonical", &order, json!({"state": "InProcess"})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let after = Scrape::of(&gw).await;
    let bucket = |s: &Scrape| {
        let labels = [("tenant", "sim"), ("cause", "bucket")];
        s.value("flowgate_flow_throttled_total", &labels)
    };
    assert_eq!(moved(&before, &after, bucket), 1.0);
    assert_eq!(
        moved(&before, &after, |s| s.flow_requests("updatestate", "2xx")),
        1.0
    );
    assert_eq!(
        moved(&before, &after, |s| s.deliveries("canonical", "delivered")),
        1.0
    );
}
