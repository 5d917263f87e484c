//! What goes on the wire, and the calls that end without an answer.

use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;

use super::upstream::{self, Reply, Upstream};
use super::*;
use crate::flow::model::{MetadataEntry, PatchRequest, UpdateStateRequest};
use crate::flow::{FlowError, FlowRequest, MAX_BODY_BYTES, Operation};

const ORDER: &str = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";

fn order() -> Uuid {
    Uuid::parse_str(ORDER).expect("a GUID")
}

#[tokio::test]
async fn updatestate_is_sent_exactly_with_the_bearer_and_the_callers_headers() {
    let flow = Upstream::start(upstream::flow(1200, upstream::ok)).await;
    let tenant = flow_of(client_tenant(&flow.base, "demo-client", unlimited()));
    let body = UpdateStateRequest {
        status: "Photos taken".to_owned(),
        state: "InProcess".to_owned(),
    };
    let key = Uuid::new_v4();
    let request = FlowRequest::update_state(order(), &body)
        .with_traceparent(Some(
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
        ))
        .with_idempotency_key(key);
    assert_eq!(request.operation(), Operation::UpdateState);

    let answer = tenant
        .call(&client(), &request, in_secs(5))
        .await
        .expect("an answer");
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body,
        Bytes::from_static(br#"{"Id":7,"Title":"Photos"}"#)
    );

    let calls = flow.api_calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.method, "POST");
    assert_eq!(
        call.path,
        "/flow/api/marketingintegrators/orders/3f2504e0-4f89-11d3-9a0c-0305e82c3301/updatestate"
    );
    assert_eq!(
        call.body_text(),
        r#"{"Status":"Photos taken","State":"InProcess"}"#
    );
    assert_eq!(
        call.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(call.header("accept"), Some("application/json"));
    let length = call.body.len().to_string();
    assert_eq!(call.header("content-length"), Some(length.as_str()));
    assert_eq!(call.header("authorization"), Some("Bearer token-1"));
    let agent = concat!("flowgate/", env!("CARGO_PKG_VERSION"));
    assert_eq!(call.header("user-agent"), Some(agent));
    assert_eq!(
        call.header("traceparent"),
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    );
    assert_eq!(
        call.header("idempotency-key"),
        Some(key.to_string().as_str())
    );
}

#[tokio::test]
async fn patch_sends_all_three_fields_with_nulls() {
    let flow = Upstream::start(upstream::flow(1200, upstream::ok)).await;
    let tenant = flow_of(client_tenant(&flow.base, "demo-client", unlimited()));
    let body = PatchRequest {
        title: None,
        action_text: Some("Open in Example Photo".to_owned()),
        metadata: vec![MetadataEntry {
            key: "Photographer".to_owned(),
            value: "Kari".to_owned(),
        }],
    };
    let request = FlowRequest::patch(order(), &body);
    assert_eq!(request.operation(), Operation::Patch);
    tenant
        .call(&client(), &request, in_secs(5))
        .await
        .expect("an answer");

    let call = &flow.api_calls()[0];
    assert_eq!(call.method, "PATCH");
    assert_eq!(
        call.path,
        "/flow/api/marketingintegrators/orders/3f2504e0-4f89-11d3-9a0c-0305e82c3301"
    );
    assert_eq!(
        call.body_text(),
        r#"{"Title":null,"ActionText":"Open in Example Photo","Metadata":[{"Key":"Photographer","Value":"Kari"}]}"#
    );
    assert_eq!(call.header("idempotency-key"), None);
    assert_eq!(call.header("traceparent"), None);
}

#[tokio::test]
async fn verify_token_posts_the_token() {
    let flow = Upstream::start(upstream::flow(1200, upstream::ok)).await;
    let tenant = flow_of(client_tenant(&flow.base, "demo-client", unlimited()));
    let request = FlowRequest::verify_token("flow-token-abc");
    assert_eq!(request.operation(), Operation::VerifyToken);
    assert!(!format!("{request:?}").contains("flow-token-abc"));
    tenant
        .call(&client(), &request, in_secs(5))
        .await
        .expect("an answer");

    let call = &flow.api_calls()[0];
    assert_eq!(call.method, "POST");
    assert_eq!(call.path, "/flow/api/MarketingIntegrators/VerifyToken");
    assert_eq!(call.body_text(), r#"{"Token":"flow-token-abc"}"#);
    assert_eq!(call.header("authorization"), Some("Bearer token-1"));
}

#[tokio::test]
async fn authtoken_is_a_form_post_without_authorization() {
    let flow = Upstream::start(upstream::flow(1200, upstream::ok)).await;
    let tenant = flow_of(client_tenant(&flow.base, "demo-client", unlimited()));
    let request = FlowRequest::verify_token("t");
    tenant
        .call(&client(), &request, in_secs(5))
        .await
        .expect("an answer");

    let auth = &flow.calls()[0];
    assert_eq!(auth.method, "POST");
    assert_eq!(auth.path, "/flow/authtoken");
    assert_eq!(
        auth.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(auth.header("authorization"), None);
    assert_eq!(
        auth.body_text(),
        "grant_type=client_credentials&client_id=demo-client&client_secret=s%26c%3Dt+%2Bsecret"
    );
}

#[tokio::test]
async fn a_base_url_with_a_trailing_slash_gives_the_same_paths() {
    let flow = Upstream::start(upstream::flow(1200, upstream::ok)).await;
    let with_slash = format!("{}/", flow.base);
    let tenant = flow_of(client_tenant(&with_slash, "demo-client", unlimited()));
    assert_eq!(tenant.base_url(), with_slash);
    assert_eq!(tenant.name(), "demo");
    let request = FlowRequest::verify_token("t");
    tenant
        .call(&client(), &request, in_secs(5))
        .await
        .expect("an answer");

    let paths: Vec<String> = flow.calls().into_iter().map(|c| c.path).collect();
    assert_eq!(
        paths,
        [
            "/flow/authtoken",
            "/flow/api/MarketingIntegrators/VerifyToken"
        ]
    );
}

#[tokio::test]
async fn a_bearer_tenant_sends_its_configured_token_and_never_asks_for_one() {
    let flow = Upstream::start(|_: &upstream::Recorded| Reply::json(401, "{}")).await;
    let tenant = flow_of(bearer_tenant(&flow.base, "configured-token"));
    let request = FlowRequest::update_state(order(), &state_body());
    let answer = tenant
        .call(&client(), &request, in_secs(5))
        .await
        .expect("an answer");

    assert_eq!(
        answer.status, 401,
        "a 401 is the answer: nothing to refresh"
    );
    let calls = flow.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].header("authorization"),
        Some("Bearer configured-token")
    );
}

#[tokio::test]
async fn an_empty_bucket_refuses_at_once_with_the_wait_needed() {
    let flow = Upstream::start(upstream::flow(1200, upstream::ok)).await;
    let slow = RateLimitConfig {
        per_second: 0.5,
        burst: 2,
    };
    let tenant = flow_of(client_tenant(&flow.base, "demo-client", slow));
    let request = FlowRequest::update_state(order(), &state_body());
    // authtoken and the first call take the burst.
    tenant
        .call(&client(), &request, in_secs(5))
        .await
        .expect("an answer");

    let started = Instant::now();
    let deadline = started + Duration::from_millis(500);
    match tenant.call(&client(), &request, deadline).await {
        Err(FlowError::Throttled(wait)) => {
            assert!(wait > Duration::from_millis(500) && wait <= Duration::from_secs(2));
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_millis(200), "no waiting");
    assert_eq!(flow.calls().len(), 2, "the refused call reached nobody");
}

#[tokio::test]
async fn tenants_with_one_client_id_share_one_bucket() {
    let flow = Upstream::start(upstream::flow(1200, upstream::ok)).await;
    let slow = RateLimitConfig {
        per_second: 0.5,
        burst: 2,
    };
    let both = config(vec![
        ("a", client_tenant(&flow.base, "shared", slow)),
        ("b", client_tenant(&flow.base, "shared", slow)),
        ("c", client_tenant(&flow.base, "other", slow)),
    ]);
    let flows = tenants(&both).expect("tenants");
    let request = FlowRequest::update_state(order(), &state_body());
    flows["a"]
        .call(&client(), &request, in_secs(5))
        .await
        .expect("an answer");

    // Shorter than the 2 s b's bucket needs to refill, long enough for c's token and call on a
    // busy machine.
    let soon = Instant::now() + Duration::from_millis(1500);
    let b = flows["b"].call(&client(), &request, soon).await;
    assert!(matches!(b, Err(FlowError::Throttled(_))), "{b:?}");
    flows["c"]
        .call(&client(), &request, soon)
        .await
        .expect("its own bucket");
}

#[tokio::test]
async fn an_upstream_that_never_answers_times_out_at_the_deadline() {
    let base = upstream::silent().await;
    let tenant = flow_of(bearer_tenant(&base, "configured-token"));
    let request = FlowRequest::update_state(order(), &state_body());
    let started = Instant::now();
    let answer = tenant
        .call(&client(), &request, started + Duration::from_millis(300))
        .await;
    assert!(matches!(answer, Err(FlowError::Timeout)), "{answer:?}");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(290) && elapsed < Duration::from_secs(2));
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error_without_secrets() {
    let base = upstream::refused().await;
    let tenant = flow_of(client_tenant(&base, "demo-client", unlimited()));
    let request = FlowRequest::update_state(order(), &state_body());
    match tenant.call(&client(), &request, in_secs(5)).await {
        Err(FlowError::Connect(message)) => {
            assert!(!message.contains("secret"), "{message}");
            assert!(message.to_lowercase().contains("connect"), "{message}");
        }
        other => panic!("expected Connect, got {other:?}"),
    }
}

#[tokio::test]
async fn a_huge_answer_is_cut_at_one_mebibyte() {
    let huge = |_: &upstream::Recorded| Reply {
        status: 500,
        headers: Vec::new(),
        body: Bytes::from(vec![b'x'; 3 * MAX_BODY_BYTES]),
        delay: Duration::ZERO,
    };
    let flow = Upstream::start(huge).await;
    let tenant = flow_of(bearer_tenant(&flow.base, "configured-token"));
    let request = FlowRequest::update_state(order(), &state_body());
    let answer = tenant
        .call(&client(), &request, in_secs(5))
        .await
        .expect("an answer");
    assert_eq!(answer.status, 500);
    assert_eq!(answer.body.len(), MAX_BODY_BYTES);
}

#[test]
fn tenants_name_every_key_they_cannot_use() {
    let mut no_secret = client_tenant("http://127.0.0.1:1/flow", "id", unlimited());
    no_secret.auth.client_secret = None;
    no_secret.auth.client_secret_env = Some("FLOWGATE_TEST_UNSET_SECRET_VARIABLE".to_owned());
    let mut no_client_id = client_tenant("http://127.0.0.1:1/flow", "id", unlimited());
    no_client_id.auth.client_id = None;
    let bad_url = client_tenant("ftp://flow.example/flow", "id", unlimited());
    let bad_rate = client_tenant(
        "https://flow.example/flow",
        "other",
        RateLimitConfig {
            per_second: 0.0,
            burst: 1,
        },
    );
    let all = config(vec![
        ("nosecret", no_secret),
        ("noclient", no_client_id),
        ("badurl", bad_url),
        ("badrate", bad_rate),
    ]);
    let Err(errors) = tenants(&all) else {
        panic!("every tenant is broken");
    };
    let mut keys: Vec<&str> = errors.0.iter().map(|e| e.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "tenants.badrate.rate_limit",
            "tenants.badurl.base_url",
            "tenants.noclient.auth.client_id",
            "tenants.nosecret.auth.client_secret_env",
        ]
    );
}

fn state_body() -> UpdateStateRequest {
    UpdateStateRequest {
        status: "Done".to_owned(),
        state: "Completed".to_owned(),
    }
}
