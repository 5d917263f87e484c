//! The access-token cache: single flight, shared failures, renewal before expiry, 401 handling.

use std::time::Duration;

use futures_util::future::join_all;
use uuid::Uuid;

use super::upstream::{self, Recorded, Reply, Upstream};
use super::*;
use crate::flow::model::UpdateStateRequest;
use crate::flow::{FlowError, FlowRequest};

fn update_state() -> FlowRequest {
    let body = UpdateStateRequest {
        status: "Done".to_owned(),
        state: "Completed".to_owned(),
    };
    FlowRequest::update_state(Uuid::new_v4(), &body)
}

fn bearer(call: &Recorded) -> &str {
    call.header("authorization").unwrap_or_default()
}

/// Answers 401 to requests under `token-1`, 200 to the others.
fn rejects_first_token(request: &Recorded) -> Reply {
    match bearer(request) {
        "Bearer token-1" => Reply::json(401, ""),
        _ => upstream::ok(request),
    }
}

#[tokio::test]
async fn many_concurrent_calls_cause_one_authtoken_request() {
    let issue = upstream::flow(1200, upstream::ok);
    let slow_auth = move |request: &Recorded| issue(request).after(Duration::from_millis(200));
    let flow = Upstream::start(slow_auth).await;
    let tenant = flow_of(client_tenant(&flow.base, "demo-client", unlimited()));
    let client = client();
    let request = update_state();
    let calls = (0..50).map(|_| tenant.call(&client, &request, in_secs(5)));
    for answer in join_all(calls).await {
        assert_eq!(answer.expect("an answer").status, 200);
    }
    // One fetch only: every call carries the first token the upstream issued.
    assert_eq!(flow.auth_calls(), 1);
    let api = flow.api_calls();
    assert_eq!(api.len(), 50);
    assert!(api.iter().all(|c| bearer(c) == "Bearer token-1"));
}

#[tokio::test]
async fn a_failed_fetch_fails_the_waiting_calls_and_a_later_call_tries_again() {
    let refusing = |request: &Recorded| match request.is_auth() {
        true => Reply::json(400, r#"{"error":"invalid_client"}"#).after(Duration::from_millis(200)),
        false => upstream::ok(request),
    };
    let flow = Upstream::start(refusing).await;
    let tenant = flow_of(client_tenant(&flow.base, "demo-client", unlimited()));
    let client = client();
    let request = update_state();
    let calls = (0..10).map(|_| tenant.call(&client, &request, in_secs(5)));
    for answer in join_all(calls).await {
        match answer {
            Err(FlowError::AuthRejected { status, body }) => {
                assert_eq!(status, 400);
                assert_eq!(&body[..], br#"{"error":"invalid_client"}"#);
            }
            other => panic!("expected AuthRejected, got {other:?}"),
        }
    }
    assert_eq!(flow.auth_calls(), 1, "the waiting calls shared the failure");
    assert!(flow.api_calls().is_empty());

    let again = tenant.call(&client, &request, in_secs(5)).await;
    assert!(matches!(again, Err(FlowError::AuthRejected { .. })));
    assert_eq!(flow.auth_calls(), 2, "a call after the failure asks again");
}

#[tokio::test]
async fn a_token_is_reused_while_fresh_and_renewed_before_it_expires() {
    // 31 s of life minus the 30 s margin: fresh for one second.
    let short = Upstream::start(upstream::flow(31, upstream::ok)).await;
    let long = Upstream::start(upstream::flow(3600, upstream::ok)).await;
    let flows = tenants(&config(vec![
        ("short", client_tenant(&short.base, "a", unlimited())),
        ("long", client_tenant(&long.base, "b", unlimited())),
    ]))
    .expect("tenants");
    let (client, request) = (client(), update_state());
    for _ in 0..2 {
        flows["short"]
            .call(&client, &request, in_secs(5))
            .await
            .expect("an answer");
        flows["long"]
            .call(&client, &request, in_secs(5))
            .await
            .expect("an answer");
    }
    assert_eq!(short.auth_calls(), 1, "fresh within its first second");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    flows["short"]
        .call(&client, &request, in_secs(5))
        .await
        .expect("an answer");
    flows["long"]
        .call(&client, &request, in_secs(5))
        .await
        .expect("an answer");

    assert_eq!(short.auth_calls(), 2);
    assert_eq!(
        bearer(&short.api_calls()[2]),
        "Bearer token-2",
        "renewed before use"
    );
    assert_eq!(long.auth_calls(), 1);
    assert!(
        long.api_calls()
            .iter()
            .all(|c| bearer(c) == "Bearer token-1")
    );
}

#[tokio::test]
async fn an_answer_without_an_access_token_is_unusable() {
    let empty = |request: &Recorded| match request.is_auth() {
        true => Reply::json(200, r#"{"token_type":"bearer","expires_in":1200}"#),
        false => upstream::ok(request),
    };
    let flow = Upstream::start(empty).await;
    let tenant = flow_of(client_tenant(&flow.base, "demo-client", unlimited()));
    let answer = tenant.call(&client(), &update_state(), in_secs(5)).await;
    assert!(
        matches!(answer, Err(FlowError::AuthUnusable(_))),
        "{answer:?}"
    );
    assert!(flow.api_calls().is_empty());
}

#[tokio::test]
async fn a_401_on_updatestate_refreshes_the_token_once_and_retries_once() {
    let flow = Upstream::start(upstream::flow(1200, rejects_first_token)).await;
    let tenant = flow_of(client_tenant(&flow.base, "demo-client", unlimited()));
    let answer = tenant.call(&client(), &update_state(), in_secs(5)).await;
    assert_eq!(answer.expect("an answer").status, 200);
    assert_eq!(flow.auth_calls(), 2);
    let bearers: Vec<String> = flow
        .api_calls()
        .iter()
        .map(|c| bearer(c).to_owned())
        .collect();
    assert_eq!(bearers, ["Bearer token-1", "Bearer token-2"]);
}

#[tokio::test]
async fn a_second_401_is_the_answer() {
    let flow = Upstream::start(upstream::flow(1200, |_: &Recorded| Reply::json(401, ""))).await;
    let tenant = flow_of(client_tenant(&flow.base, "demo-client", unlimited()));
    let answer = tenant.call(&client(), &update_state(), in_secs(5)).await;
    assert_eq!(answer.expect("an answer").status, 401);
    assert_eq!(flow.auth_calls(), 2);
    assert_eq!(flow.api_calls().len(), 2, "one retry, no more");
}

#[tokio::test]
async fn concurrent_401s_under_one_token_cause_one_refresh() {
    let flow = Upstream::start(upstream::flow(1200, rejects_first_token)).await;
    let tenant = flow_of(client_tenant(&flow.base, "demo-client", unlimited()));
    let (client, request) = (client(), update_state());
    let calls = (0..10).map(|_| tenant.call(&client, &request, in_secs(5)));
    for answer in join_all(calls).await {
        assert_eq!(answer.expect("an answer").status, 200);
    }
    assert_eq!(flow.auth_calls(), 2);
}

#[tokio::test]
async fn verify_token_401_under_a_fresh_token_is_the_flow_tokens_fault() {
    let flow = Upstream::start(upstream::flow(1200, |_: &Recorded| Reply::json(401, ""))).await;
    let tenant = flow_of(client_tenant(&flow.base, "demo-client", unlimited()));
    let request = FlowRequest::verify_token("forged");
    let answer = tenant.call(&client(), &request, in_secs(5)).await;
    assert_eq!(answer.expect("an answer").status, 401);
    assert_eq!(
        flow.auth_calls(),
        1,
        "a forged FlowToken does not make us ask for tokens"
    );
    assert_eq!(flow.api_calls().len(), 1);
}

#[tokio::test]
async fn verify_token_401_under_an_old_token_refreshes_and_retries() {
    let flow = Upstream::start(upstream::flow(1200, rejects_first_token)).await;
    let tenant = flow_of(client_tenant(&flow.base, "demo-client", unlimited()));
    let tenant = Arc::into_inner(tenant).expect("the only handle");
    // Every token counts as old: the rule's other branch, without waiting a minute.
    let tenant = tenant.with_verify_refresh_age(Duration::ZERO);
    let request = FlowRequest::verify_token("genuine");
    let answer = tenant.call(&client(), &request, in_secs(5)).await;
    assert_eq!(answer.expect("an answer").status, 200);
    assert_eq!(flow.auth_calls(), 2);
    assert_eq!(flow.api_calls().len(), 2);
}
