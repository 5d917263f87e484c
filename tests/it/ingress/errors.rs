//! One test per remaining error of the public listener: 404, 405, 401, 429, 400 and 422.

use std::time::Duration;

use super::{assert_accepted, gateway, limited_vendor, pointers};
use crate::support::assert_problem;
use crate::support::client::get;
use crate::support::fixtures::{
    self, BASIC_PASSWORD, BASIC_USER, BEARER_TOKEN, CANONICAL_SECRET, ORDER_ID, OTHER_SECRET,
    canonical, canonical_update, photo, photo_event,
};
use crate::support::sign::{self, sign_ago};

// === 404, 405 ===

#[tokio::test]
async fn an_unknown_vendor_is_404_unknown_vendor() {
    let gw = gateway().await;
    let reply = gw.send_signed("nobody", canonical_update()).await;
    assert_problem(&reply, 404, "unknown-vendor");
}

#[tokio::test]
async fn an_unknown_path_is_404_not_found() {
    let gw = gateway().await;
    for path in ["/", "/nope", "/webhooks", "/webhooks/canonical/extra"] {
        assert_problem(&get(&gw.url(path)).await, 404, "not-found");
        let reply = gw.post(path, canonical_update()).send().await;
        assert_problem(&reply, 404, "not-found");
    }
}

#[tokio::test]
async fn get_on_a_webhook_route_is_405_with_an_allow_header() {
    let gw = gateway().await;
    let reply = get(&gw.url("/webhooks/x")).await;
    assert_problem(&reply, 405, "method-not-allowed");
    assert_eq!(reply.header("allow"), Some("POST"));
}

// === 401 ===

#[tokio::test]
async fn a_webhook_without_signature_headers_is_401_naming_the_missing_header() {
    let gw = gateway().await;
    let reply = gw.webhook("canonical", canonical_update()).send().await;
    let problem = assert_problem(&reply, 401, "signature-invalid");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("webhook-id"), "{detail}");
}

#[tokio::test]
async fn a_signature_made_with_another_secret_is_401_and_names_no_secret() {
    let gw = gateway().await;
    let reply = gw
        .webhook("canonical", canonical_update())
        .signed(&sign::standard_webhooks(OTHER_SECRET))
        .send()
        .await;
    let problem = assert_problem(&reply, 401, "signature-invalid");
    let text = problem.to_string();
    for secret in [
        CANONICAL_SECRET,
        OTHER_SECRET,
        "Zmxvd2dhdGUtaXQtY2Fub25pY2FsLWtleQ",
    ] {
        assert!(!text.contains(secret), "{text}");
    }
}

#[tokio::test]
async fn a_body_changed_after_signing_is_401() {
    let gw = gateway().await;
    let tampered = canonical_update().replace("Completed", "Cancelled");
    let reply = gw
        .webhook("canonical", canonical_update())
        .signed(&canonical())
        .body(tampered.clone())
        .send()
        .await;
    assert_problem(&reply, 401, "signature-invalid");
    let reply = gw
        .webhook("photo", photo_event())
        .signed(&photo())
        .body(photo_event().replace("ph-1", "ph-2"))
        .send()
        .await;
    assert_problem(&reply, 401, "signature-invalid");
}

#[tokio::test]
async fn a_timestamp_outside_the_tolerance_is_401_too_old_or_too_new() {
    let gw = gateway().await;
    let body = canonical_update();
    let ten_minutes = Duration::from_secs(600);
    let stale = sign_ago(&canonical(), body.as_bytes(), ten_minutes);
    let reply = gw
        .webhook("canonical", body.clone())
        .headers(stale)
        .send()
        .await;
    let problem = assert_problem(&reply, 401, "signature-invalid");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("old")
    );

    let event_id = "msg_future";
    let future = std::time::SystemTime::now() + ten_minutes;
    let ahead = sign::sign_at(&canonical(), body.as_bytes(), event_id, future);
    let reply = gw.webhook("canonical", body).headers(ahead).send().await;
    let problem = assert_problem(&reply, 401, "signature-invalid");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("future")
    );
}

#[tokio::test]
async fn a_wrong_bearer_token_or_basic_password_is_401() {
    let gw = gateway().await;
    let wrong = [
        ("bearer", sign::bearer("not-the-token")),
        ("bearer", sign::basic(BASIC_USER, BASIC_PASSWORD)),
        ("basic", sign::basic(BASIC_USER, "not-the-password")),
        ("basic", sign::basic("someone-else", BASIC_PASSWORD)),
        ("basic", sign::bearer(BEARER_TOKEN)),
    ];
    for (vendor, credentials) in wrong {
        let reply = gw
            .webhook(vendor, canonical_update())
            .signed(&credentials)
            .send()
            .await;
        assert_problem(&reply, 401, "signature-invalid");
    }
    for vendor in ["bearer", "basic"] {
        let reply = gw.webhook(vendor, canonical_update()).send().await;
        assert_problem(&reply, 401, "signature-invalid");
    }
}

// === 429 ===

#[tokio::test]
async fn a_vendor_over_its_rate_limit_is_429_with_retry_after_and_others_are_unaffected() {
    let limited = limited_vendor("limited", "{ per_second = 1, burst = 2 }");
    let gw = fixtures::gateway("", &limited).await;
    for _ in 0..2 {
        let reply = gw.send_signed("limited", canonical_update()).await;
        assert_accepted(&reply);
    }
    let reply = gw.send_signed("limited", canonical_update()).await;
    assert_problem(&reply, 429, "rate-limited");
    assert!(reply.retry_after() >= 1, "{reply:?}");

    let other = gw.send_signed("canonical", canonical_update()).await;
    assert_accepted(&other);
}

// === 400 ===

const SHALLOW_JSON: &str = "[limits]\nmax_json_depth = 4\n";

#[tokio::test]
async fn a_body_that_is_not_json_is_400_invalid_json() {
    let gw = gateway().await;
    for body in [
        "this is not json",
        r#"{"orderId": "#,
        "",
        r#"{"a": 1} trailing"#,
    ] {
        let reply = gw.send_signed("canonical", body).await;
        assert_problem(&reply, 400, "invalid-json");
    }
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_400_invalid_json() {
    let gw = gateway().await;
    let body = format!(r#"{{"orderId":"{ORDER_ID}","status":"caf#"}}"#).replace('#', "\u{0}");
    let mut bytes = body.into_bytes();
    let at = bytes.iter().position(|b| *b == 0).expect("the marker");
    bytes[at] = 0xff;
    let reply = gw.send_signed("canonical", bytes).await;
    assert_problem(&reply, 400, "invalid-json");
}

#[tokio::test]
async fn nesting_deeper_than_max_json_depth_is_400_and_nesting_at_the_limit_is_parsed() {
    let gw = fixtures::gateway("", SHALLOW_JSON).await;
    let too_deep = format!(r#"{{"orderId":"{ORDER_ID}","metadata":{{"a":[[["x"]]]}}}}"#);
    let reply = gw.send_signed("canonical", too_deep).await;
    assert_problem(&reply, 400, "invalid-json");

    // Depth 4 is parsed; it fails the schema instead (metadata values are strings).
    let at_limit = format!(r#"{{"orderId":"{ORDER_ID}","metadata":{{"a":[["x"]]}}}}"#);
    let reply = gw.send_signed("canonical", at_limit).await;
    assert_problem(&reply, 422, "schema-violation");
}

// === 422 ===

#[tokio::test]
async fn every_schema_violation_is_listed_with_its_json_pointer() {
    let gw = gateway().await;
    let body = r#"{"orderId":"not-a-guid","state":"CreatedNotSent","colour":"red"}"#;
    let reply = gw.send_signed("canonical", body).await;
    let problem = assert_problem(&reply, 422, "schema-violation");
    let pointers = pointers(&problem);
    for expected in ["/orderId", "/state", ""] {
        assert!(pointers.contains(&expected), "{expected:?} in {pointers:?}");
    }
}

#[tokio::test]
async fn a_canonical_update_with_nothing_to_say_is_422_at_the_root() {
    let gw = gateway().await;
    let body = format!(r#"{{"orderId":"{ORDER_ID}"}}"#);
    let reply = gw.send_signed("canonical", body).await;
    let problem = assert_problem(&reply, 422, "schema-violation");
    assert_eq!(pointers(&problem), [""]);
}
