//! Injected faults through `/sim/faults`.

use super::*;

const GUID: &str = "9a1c3e55-0b7d-4c2e-8f10-5d6e7f809a1b";

async fn add_fault(router: &Router, fault: Value) {
    let answer = sim_post(router, "/sim/faults", fault).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.body);
}

async fn history_len(router: &Router) -> usize {
    let order = sim_get(router, &format!("/sim/orders/{GUID}")).await;
    order.body["OrderStatuses"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn fail_next_applies_to_that_many_matching_calls_without_touching_state() {
    let router = router();
    let token = access_token(&router).await;
    add_fault(
        &router,
        json!({ "op": "updatestate", "fail_next": 2, "status": 503 }),
    )
    .await;
    let state = json!({ "State": "InProcess" });
    let statuses = [
        update_state(&router, &token, GUID, state.clone())
            .await
            .status,
        update_state(&router, &token, GUID, state.clone())
            .await
            .status,
        update_state(&router, &token, GUID, state).await.status,
    ];
    assert_eq!(
        statuses,
        [
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::OK
        ]
    );
    assert_eq!(
        history_len(&router).await,
        1,
        "failed calls changed nothing"
    );
    let calls = sim_get(&router, "/sim/calls").await.body;
    assert_eq!(calls[1]["status"], 503, "fault answers are logged too");
}

#[tokio::test]
async fn a_fault_answers_its_status_retry_after_and_body_before_authentication() {
    let router = router();
    let body = json!({ "message": "maintenance" });
    add_fault(
        &router,
        json!({ "op": "patch", "status": 503, "retry_after": 2, "body": body }),
    )
    .await;
    let request = api(Method::PATCH, &order_path(GUID), None, "{}");
    let answer = send(&router, request).await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "not 401: the fault comes first"
    );
    assert_eq!(answer.header("retry-after"), Some("2"));
    assert_eq!(answer.body, body);
    let token = access_token(&router).await;
    assert_eq!(
        update_state(&router, &token, GUID, json!({ "State": 2 }))
            .await
            .status,
        StatusCode::OK,
        "other operations are unaffected"
    );
}

#[tokio::test(start_paused = true)]
async fn a_latency_only_fault_delays_then_lets_the_call_through() {
    let router = router();
    let token = access_token(&router).await;
    add_fault(&router, json!({ "op": "updatestate", "latency_ms": 1500 })).await;
    let start = tokio::time::Instant::now();
    let answer = update_state(&router, &token, GUID, json!({ "State": "Completed" })).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        start.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(history_len(&router).await, 1);
}

#[tokio::test]
async fn star_matches_every_operation_until_cleared() {
    let router = router();
    let token = access_token(&router).await;
    add_fault(&router, json!({ "op": "*", "status": 500 })).await;
    let auth = send(&router, form_request(&token_form(CLIENT_ID, CLIENT_SECRET))).await;
    assert_eq!(auth.status, StatusCode::INTERNAL_SERVER_ERROR);
    let state = json!({ "State": "Error" });
    for _ in 0..3 {
        let answer = update_state(&router, &token, GUID, state.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "no fail_next: until cleared"
        );
    }
    let verify = api(
        Method::POST,
        "/flow/api/marketingintegrators/verifytoken",
        Some(&token),
        "{}",
    );
    assert_eq!(
        send(&router, verify).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );

    let clear = Request::delete("/sim/faults")
        .body(Body::empty())
        .expect("request");
    assert_eq!(send(&router, clear).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        update_state(&router, &token, GUID, state).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_first_added_matching_fault_applies() {
    let router = router();
    let token = access_token(&router).await;
    add_fault(
        &router,
        json!({ "op": "updatestate", "fail_next": 1, "status": 502 }),
    )
    .await;
    add_fault(&router, json!({ "op": "*", "fail_next": 1, "status": 504 })).await;
    let state = json!({ "State": 3 });
    assert_eq!(
        update_state(&router, &token, GUID, state.clone())
            .await
            .status,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(
        update_state(&router, &token, GUID, state.clone())
            .await
            .status,
        StatusCode::GATEWAY_TIMEOUT
    );
    assert_eq!(
        update_state(&router, &token, GUID, state).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bad_fault_json_is_400() {
    let router = router();
    for fault in [
        json!({ "op": "delete" }),
        json!({ "fail_next": 1 }),
        json!({ "op": "patch", "status": 1000 }),
        json!({ "op": "patch", "latency": 5 }),
    ] {
        let answer = sim_post(&router, "/sim/faults", fault.clone()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{fault}");
    }
    let not_json = api(Method::POST, "/sim/faults", None, "op=patch");
    assert_eq!(
        send(&router, not_json).await.status,
        StatusCode::BAD_REQUEST
    );
    let token = access_token(&router).await;
    let answer = update_state(&router, &token, GUID, json!({ "State": 2 })).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "no refused fault was installed"
    );
}
