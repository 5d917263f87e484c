//! The public and admin listeners as vendors and orchestrators see them: each answer of the
//! inbound edge, the precedence between errors, request ids and health (DESIGN sections 2, 4, 9).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::client::{get, head};
use crate::support::fixtures::{
    self, BASIC_PASSWORD, BASIC_USER, BEARER_TOKEN, CANONICAL_SECRET, ORDER_ID, OTHER_SECRET,
    canonical, canonical_update, canonical_update_of_length, photo, photo_event,
};
use crate::support::raw::RawConnection;
use crate::support::sign::{self, as_svix, sign_ago};
use crate::support::{Gateway, Reply, assert_problem, eventually};

async fn gateway() -> Gateway {
    fixtures::gateway("", "").await
}

/// A standard-webhooks vendor named `name` with `rate_limit`, for tests of the limit.
fn limited_vendor(name: &str, rate_limit: &str) -> String {
    format!(
        "[vendors.{name}]\nverify = {{ scheme = \"standard-webhooks\", secrets = [\"{CANONICAL_SECRET}\"] }}\nrate_limit = {rate_limit}\n"
    )
}

fn assert_accepted(reply: &Reply) {
    let text = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, 202, "{text}");
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    let id = body["id"].as_str().expect("`id` is a string");
    uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("`id` {id:?} is not a UUID: {e}"));
    assert_eq!(body["state"], "pending", "{body}");
    assert_eq!(body["duplicate"], false, "{body}");
}

fn pointers(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .expect("`errors` is a list")
        .iter()
        .map(|error| error["pointer"].as_str().expect("a string pointer"))
        .collect()
}

// === accepted ===

#[tokio::test]
async fn a_canonical_webhook_signed_with_standard_webhooks_is_202_pending() {
    let gw = gateway().await;
    let reply = gw
        .webhook("canonical", canonical_update())
        .signed(&canonical())
        .send()
        .await;
    assert_accepted(&reply);
}

#[tokio::test]
async fn a_mapped_vendor_signed_with_the_github_preset_is_checked_against_its_own_schema() {
    let gw = gateway().await;
    let accepted = gw
        .webhook("photo", photo_event())
        .signed(&photo())
        .send()
        .await;
    assert_accepted(&accepted);

    let unknown_type = photo_event().replace("order.delivered", "order.lost");
    let reply = gw
        .webhook("photo", unknown_type)
        .signed(&photo())
        .send()
        .await;
    let problem = assert_problem(&reply, 422, "schema-violation");
    assert_eq!(pointers(&problem), ["/type"]);
}

#[tokio::test]
async fn standard_webhooks_under_svix_header_names_are_accepted() {
    let gw = gateway().await;
    let body = canonical_update();
    let headers = as_svix(sign::sign(&canonical(), body.as_bytes()));
    assert!(
        headers
            .iter()
            .all(|(name, _)| name.as_str().starts_with("svix-"))
    );
    let reply = gw.webhook("canonical", body).headers(headers).send().await;
    assert_accepted(&reply);
}

#[tokio::test]
async fn bearer_and_basic_vendors_are_accepted_with_their_credentials() {
    let gw = gateway().await;
    let bearer = sign::bearer(BEARER_TOKEN);
    let reply = gw
        .webhook("bearer", canonical_update())
        .signed(&bearer)
        .send()
        .await;
    assert_accepted(&reply);
    let basic = sign::basic(BASIC_USER, BASIC_PASSWORD);
    let reply = gw
        .webhook("basic", canonical_update())
        .signed(&basic)
        .send()
        .await;
    assert_accepted(&reply);
}

// === 404, 405 ===

#[tokio::test]
async fn an_unknown_vendor_is_404_unknown_vendor() {
    let gw = gateway().await;
    let reply = gw
        .webhook("nobody", canonical_update())
        .signed(&canonical())
        .send()
        .await;
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

// === 415 ===

#[tokio::test]
async fn a_missing_or_non_json_content_type_is_415() {
    let gw = gateway().await;
    let missing = gw
        .webhook("canonical", canonical_update())
        .without("content-type")
        .signed(&canonical())
        .send()
        .await;
    assert_problem(&missing, 415, "unsupported-media-type");
    for content_type in [
        "text/plain",
        "text/json",
        "application/xml",
        "application/+json",
    ] {
        let reply = gw
            .webhook("canonical", canonical_update())
            .header("content-type", content_type)
            .signed(&canonical())
            .send()
            .await;
        assert_problem(&reply, 415, "unsupported-media-type");
    }
}

#[tokio::test]
async fn json_media_types_with_parameters_or_a_json_suffix_are_accepted() {
    let gw = gateway().await;
    for content_type in [
        "application/json; charset=utf-8",
        "application/cloudevents+json; charset=utf-8",
        "Application/JSON",
    ] {
        let reply = gw
            .webhook("canonical", canonical_update())
            .header("content-type", content_type)
            .signed(&canonical())
            .send()
            .await;
        assert_accepted(&reply);
    }
}

// === 413 ===

const SMALL_BODIES: &str = "max_body_bytes = 512";

#[tokio::test]
async fn a_body_of_exactly_max_body_bytes_is_accepted() {
    let gw = fixtures::gateway(SMALL_BODIES, "").await;
    let body = canonical_update_of_length(512);
    let reply = gw
        .webhook("canonical", body)
        .signed(&canonical())
        .send()
        .await;
    assert_accepted(&reply);
}

#[tokio::test]
async fn a_content_length_above_max_body_bytes_is_413() {
    let gw = fixtures::gateway(SMALL_BODIES, "").await;
    let body = canonical_update_of_length(513);
    let reply = gw
        .webhook("canonical", body)
        .signed(&canonical())
        .send()
        .await;
    assert_problem(&reply, 413, "payload-too-large");
}

#[tokio::test]
async fn a_chunked_body_growing_past_max_body_bytes_is_413() {
    let gw = fixtures::gateway(SMALL_BODIES, "").await;
    let mut request = format!(
        "POST /webhooks/canonical HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        gw.public
    )
    .into_bytes();
    for _ in 0..4 {
        let chunk = "x".repeat(200);
        request.extend_from_slice(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes());
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let mut connection = RawConnection::open(gw.public).await;
    // The server may answer and close before it has read everything; the answer is what counts.
    let _ = connection.write(&request).await;
    assert_problem(&connection.reply().await, 413, "payload-too-large");
}

#[tokio::test]
async fn a_content_length_claiming_more_than_the_cap_is_413_without_waiting_for_the_body() {
    let gw = fixtures::gateway(SMALL_BODIES, "").await;
    let held = gw
        .webhook("canonical", vec![b' '; 1_000_000])
        .signed(&canonical())
        .hold(2)
        .await;
    // request_timeout is the default 10s: an answer inside 2s was not waiting for the body.
    let reply = held.reply_within(Duration::from_secs(2)).await;
    assert_problem(&reply, 413, "payload-too-large");
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
        let reply = gw
            .webhook("limited", canonical_update())
            .signed(&canonical())
            .send()
            .await;
        assert_accepted(&reply);
    }
    let reply = gw
        .webhook("limited", canonical_update())
        .signed(&canonical())
        .send()
        .await;
    assert_problem(&reply, 429, "rate-limited");
    assert!(reply.retry_after() >= 1, "{reply:?}");

    let other = gw
        .webhook("canonical", canonical_update())
        .signed(&canonical())
        .send()
        .await;
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
        let reply = gw
            .webhook("canonical", body)
            .signed(&canonical())
            .send()
            .await;
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
    let reply = gw
        .webhook("canonical", bytes)
        .signed(&canonical())
        .send()
        .await;
    assert_problem(&reply, 400, "invalid-json");
}

#[tokio::test]
async fn nesting_deeper_than_max_json_depth_is_400_and_nesting_at_the_limit_is_parsed() {
    let gw = fixtures::gateway("", SHALLOW_JSON).await;
    let too_deep = format!(r#"{{"orderId":"{ORDER_ID}","metadata":{{"a":[[["x"]]]}}}}"#);
    let reply = gw
        .webhook("canonical", too_deep)
        .signed(&canonical())
        .send()
        .await;
    assert_problem(&reply, 400, "invalid-json");

    // Depth 4 is parsed; it fails the schema instead (metadata values are strings).
    let at_limit = format!(r#"{{"orderId":"{ORDER_ID}","metadata":{{"a":[["x"]]}}}}"#);
    let reply = gw
        .webhook("canonical", at_limit)
        .signed(&canonical())
        .send()
        .await;
    assert_problem(&reply, 422, "schema-violation");
}

// === 422 ===

#[tokio::test]
async fn every_schema_violation_is_listed_with_its_json_pointer() {
    let gw = gateway().await;
    let body = r#"{"orderId":"not-a-guid","state":"CreatedNotSent","colour":"red"}"#;
    let reply = gw
        .webhook("canonical", body)
        .signed(&canonical())
        .send()
        .await;
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
    let reply = gw
        .webhook("canonical", body)
        .signed(&canonical())
        .send()
        .await;
    let problem = assert_problem(&reply, 422, "schema-violation");
    assert_eq!(pointers(&problem), [""]);
}

// === 503, 408 ===

#[tokio::test]
async fn a_request_beyond_max_in_flight_is_503_overloaded_with_retry_after() {
    let gw = fixtures::gateway("max_in_flight = 1", "").await;
    let held = gw
        .webhook("canonical", canonical_update())
        .signed(&canonical())
        .hold(10)
        .await;
    let send = async || {
        gw.webhook("canonical", canonical_update())
            .signed(&canonical())
            .send()
            .await
    };
    let reply = eventually("a second request is shed", send, |r| r.status == 503).await;
    assert_problem(&reply, 503, "overloaded");
    assert!(reply.retry_after() >= 1, "{reply:?}");

    assert_accepted(&held.finish().await);
    assert_accepted(&send().await);
}

#[tokio::test]
async fn a_body_that_does_not_fit_max_buffered_bytes_is_503_overloaded() {
    let server = "max_body_bytes = 1024\nmax_buffered_bytes = 1024";
    let gw = fixtures::gateway(server, "").await;
    let held = gw
        .webhook("canonical", canonical_update_of_length(1000))
        .signed(&canonical())
        .hold(700)
        .await;
    let send = async || {
        gw.webhook("canonical", canonical_update_of_length(600))
            .signed(&canonical())
            .send()
            .await
    };
    let reply = eventually("a body beyond the budget is shed", send, |r| {
        r.status == 503
    })
    .await;
    assert_problem(&reply, 503, "overloaded");
    assert!(reply.retry_after() >= 1, "{reply:?}");

    assert_accepted(&held.finish().await);
    assert_accepted(&send().await);
}

#[tokio::test]
async fn a_body_that_never_completes_is_408_after_request_timeout() {
    let gw = fixtures::gateway(r#"request_timeout = "1s""#, "").await;
    let started = Instant::now();
    let held = gw
        .webhook("canonical", canonical_update())
        .signed(&canonical())
        .hold(10)
        .await;
    let reply = held.reply_within(Duration::from_secs(5)).await;
    assert_problem(&reply, 408, "request-timeout");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "answered too early"
    );
}

// === precedence: the first failing check answers, and nothing after it runs ===

#[tokio::test]
async fn an_unknown_vendor_is_404_whatever_its_content_type_or_signature() {
    let gw = gateway().await;
    let reply = gw
        .webhook("nobody", "not json")
        .header("content-type", "text/plain")
        .send()
        .await;
    assert_problem(&reply, 404, "unknown-vendor");
}

#[tokio::test]
async fn a_wrong_content_type_is_415_before_the_signature_is_checked() {
    let gw = gateway().await;
    let reply = gw
        .webhook("canonical", canonical_update())
        .header("content-type", "text/plain")
        .send()
        .await;
    assert_problem(&reply, 415, "unsupported-media-type");
}

#[tokio::test]
async fn a_too_large_body_is_413_before_its_signature_is_checked() {
    let gw = fixtures::gateway(SMALL_BODIES, "").await;
    let forged = sign::sign(&sign::standard_webhooks(OTHER_SECRET), b"other");
    let reply = gw
        .webhook("canonical", canonical_update_of_length(513))
        .headers(forged)
        .send()
        .await;
    assert_problem(&reply, 413, "payload-too-large");
}

#[tokio::test]
async fn a_bad_signature_is_401_even_when_the_body_is_not_json() {
    let gw = gateway().await;
    let reply = gw
        .webhook("canonical", "not json at all")
        .signed(&sign::standard_webhooks(OTHER_SECRET))
        .send()
        .await;
    assert_problem(&reply, 401, "signature-invalid");
}

#[tokio::test]
async fn failed_authentications_do_not_spend_the_vendor_rate_limit() {
    let once = limited_vendor("once", "{ per_second = 0.01, burst = 1 }");
    let gw = fixtures::gateway("", &once).await;
    for _ in 0..5 {
        let reply = gw
            .webhook("once", canonical_update())
            .signed(&sign::standard_webhooks(OTHER_SECRET))
            .send()
            .await;
        assert_problem(&reply, 401, "signature-invalid");
    }
    let signed = async || {
        gw.webhook("once", canonical_update())
            .signed(&canonical())
            .send()
            .await
    };
    assert_accepted(&signed().await);
    assert_problem(&signed().await, 429, "rate-limited");
}

#[tokio::test]
async fn a_rate_limited_webhook_is_429_before_its_body_is_parsed() {
    let once = limited_vendor("once", "{ per_second = 0.01, burst = 1 }");
    let gw = fixtures::gateway("", &once).await;
    let first = gw
        .webhook("once", canonical_update())
        .signed(&canonical())
        .send()
        .await;
    assert_accepted(&first);
    let reply = gw
        .webhook("once", "not json")
        .signed(&canonical())
        .send()
        .await;
    assert_problem(&reply, 429, "rate-limited");
}

// === x-request-id ===

#[tokio::test]
async fn a_safe_request_id_is_echoed_in_the_header_and_the_problem_body() {
    let gw = gateway().await;
    let id = "abc-123_X.y";
    let problem = gw
        .webhook("nobody", canonical_update())
        .header("x-request-id", id)
        .send()
        .await;
    assert_eq!(problem.request_id(), id);
    assert_eq!(
        assert_problem(&problem, 404, "unknown-vendor")["request_id"],
        id
    );

    let accepted = gw
        .webhook("canonical", canonical_update())
        .header("x-request-id", id)
        .signed(&canonical())
        .send()
        .await;
    assert_accepted(&accepted);
    assert_eq!(accepted.request_id(), id);
}

#[tokio::test]
async fn an_unsafe_request_id_is_replaced_by_a_fresh_one() {
    let gw = gateway().await;
    let too_long = "x".repeat(200);
    for unsafe_id in ["has space", "semi;colon", "slash/ed", too_long.as_str()] {
        let reply = gw
            .webhook("nobody", canonical_update())
            .header("x-request-id", unsafe_id)
            .send()
            .await;
        assert_ne!(reply.request_id(), unsafe_id);
        assert_problem(&reply, 404, "unknown-vendor");
    }
}

#[tokio::test]
async fn a_missing_request_id_is_generated_fresh_for_each_request() {
    let gw = gateway().await;
    let first = gw.webhook("nobody", canonical_update()).send().await;
    let second = gw.webhook("nobody", canonical_update()).send().await;
    assert_ne!(first.request_id(), second.request_id());
}

#[tokio::test]
async fn every_kind_of_answer_carries_a_request_id() {
    let gw = gateway().await;
    let answers = [
        gw.webhook("canonical", canonical_update())
            .signed(&canonical())
            .send()
            .await,
        gw.webhook("canonical", canonical_update()).send().await,
        get(&gw.url("/ping")).await,
        head(&gw.url("/ping")).await,
        get(&gw.url("/nope")).await,
        get(&gw.admin_url("/healthz")).await,
        get(&gw.admin_url("/readyz")).await,
        get(&gw.admin_url("/nope")).await,
    ];
    for reply in &answers {
        // `send` already checked the id's shape; here it is the point of the test.
        assert!(!reply.request_id().is_empty(), "{reply:?}");
    }
}

// === health ===

#[tokio::test]
async fn ping_answers_200_to_get_and_head_while_running() {
    let gw = gateway().await;
    assert_eq!(get(&gw.url("/ping")).await.status, 200);
    let reply = head(&gw.url("/ping")).await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.is_empty());
}

#[tokio::test]
async fn admin_healthz_and_readyz_answer_200_while_running() {
    let gw = gateway().await;
    assert_eq!(get(&gw.admin_url("/healthz")).await.status, 200);
    let ready = get(&gw.admin_url("/readyz")).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json(), serde_json::json!({"ready": true}));
}

#[tokio::test]
async fn an_unknown_admin_path_is_404_not_found() {
    let gw = gateway().await;
    assert_problem(&get(&gw.admin_url("/nope")).await, 404, "not-found");
    assert_problem(&get(&gw.admin_url("/ping")).await, 404, "not-found");
}
