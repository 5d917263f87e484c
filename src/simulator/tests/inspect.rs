//! The `/sim` routes: seeded orders, the call log and unknown routes.

use super::*;

#[tokio::test]
async fn a_seeded_order_starts_in_created_not_sent() {
    let router = router();
    let (guid, token) = seed_order(&router, 55).await;
    assert!(token.starts_with("ft_"));
    let answer = sim_get(&router, &format!("/sim/orders/{}", guid.to_uppercase())).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["Guid"], guid.as_str());
    assert_eq!(answer.body["CaseBaseId"], 55);
    assert_eq!(answer.body["MarketingIntegratorId"], 1);
    let statuses = answer.body["OrderStatuses"].as_array().expect("statuses");
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0]["OrderStateType"], "CreatedNotSent");
    assert_eq!(statuses[0]["Status"], "");
}

#[tokio::test]
async fn seeded_orders_get_increasing_ids_and_defaults() {
    let router = router();
    let empty = Request::post("/sim/orders")
        .body(Body::empty())
        .expect("request");
    let first = send(&router, empty).await;
    assert_eq!(first.status, StatusCode::OK);
    let (second, _) = seed_order(&router, 1).await;
    let first = sim_get(
        &router,
        &format!("/sim/orders/{}", first.body["Guid"].as_str().expect("guid")),
    )
    .await;
    let second = sim_get(&router, &format!("/sim/orders/{second}")).await;
    assert_eq!(first.body["CaseBaseId"], 1001);
    assert_eq!(
        second.body["Id"].as_i64(),
        first.body["Id"].as_i64().map(|id| id + 1)
    );
}

#[tokio::test]
async fn unknown_orders_and_bad_requests_are_refused() {
    let router = router();
    let missing = sim_get(&router, "/sim/orders/3f2504e0-4f89-41d3-9a0c-0305e82c3301").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        sim_get(&router, "/sim/orders/nope").await.status,
        StatusCode::NOT_FOUND
    );
    let typo = sim_post(&router, "/sim/orders", json!({ "case_id": 1 })).await;
    assert_eq!(typo.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        sim_get(&router, "/sim/nothing").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        sim_get(&router, "/elsewhere").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        sim_get(&router, "/sim/calls?since=yesterday").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn calls_are_logged_with_credentials_redacted() {
    let router = router();
    let token = access_token(&router).await;
    let path =
        "/flow/API/MarketingIntegrators/Orders/3F2504E0-4F89-41D3-9A0C-0305E82C3301/UpdateState";
    let body = r#"{"Status": "s", "State": "Completed"}"#;
    send(&router, api(Method::POST, path, Some(&token), body)).await;

    let calls = sim_get(&router, "/sim/calls").await;
    assert_eq!(calls.status, StatusCode::OK);
    let text = calls.body.to_string();
    assert!(
        !text.contains(CLIENT_SECRET),
        "the client secret is never logged"
    );
    assert!(!text.contains(&token), "the access token is never logged");
    let calls = calls.body.as_array().expect("array");
    assert_eq!(calls.len(), 2);

    let auth = &calls[0];
    assert_eq!(auth["operation"], "auth_token");
    assert_eq!(auth["status"], 200);
    assert_eq!(auth["method"], "POST");
    assert_eq!(auth["body"]["client_id"], CLIENT_ID);
    assert_eq!(auth["body"]["client_secret"], "***");

    let update = &calls[1];
    assert_eq!(update["operation"], "updatestate");
    assert_eq!(update["path"], path, "the path as received");
    assert_eq!(update["headers"]["authorization"], "Bearer ***");
    assert_eq!(
        update["headers"]["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(
        update["body"],
        json!({ "Status": "s", "State": "Completed" })
    );
    assert!(update["seq"].as_u64() > auth["seq"].as_u64());
    chrono::DateTime::parse_from_rfc3339(update["at"].as_str().expect("at")).expect("RFC 3339");
}

#[tokio::test]
async fn refused_calls_are_logged_with_their_status() {
    let router = router();
    let no_token = api(Method::POST, &updatestate_path("x"), None, "not json");
    send(&router, no_token).await;
    send(&router, api(Method::GET, "/flow/nowhere", None, "")).await;
    let calls = sim_get(&router, "/sim/calls").await.body;
    assert_eq!(
        calls[0]["status"], 404,
        "a malformed order id matches no route"
    );
    assert_eq!(calls[0]["operation"], "updatestate");
    assert_eq!(calls[0]["body"], "not json");
    assert_eq!(calls[1]["status"], 404);
    assert_eq!(calls[1]["operation"], Value::Null);
    access_token(&router).await;
    let nil_guid = "0".repeat(32);
    send(
        &router,
        api(
            Method::POST,
            &updatestate_path(&nil_guid),
            Some("bad"),
            "{}",
        ),
    )
    .await;
    let calls = sim_get(&router, "/sim/calls?since=3").await.body;
    assert_eq!(calls.as_array().map(Vec::len), Some(1));
    assert_eq!(calls[0]["status"], 401);
}

#[tokio::test]
async fn since_selects_by_seq_or_by_time() {
    let router = router();
    access_token(&router).await;
    let all = sim_get(&router, "/sim/calls").await.body;
    let first_seq = all[0]["seq"].as_u64().expect("seq");
    // Real time apart, so no two calls share a microsecond timestamp.
    tokio::time::sleep(Duration::from_millis(2)).await;
    access_token(&router).await;
    tokio::time::sleep(Duration::from_millis(2)).await;
    access_token(&router).await;

    let after = sim_get(&router, &format!("/sim/calls?since={first_seq}"))
        .await
        .body;
    let seqs: Vec<u64> = after
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|c| c["seq"].as_u64())
        .collect();
    assert_eq!(seqs, [first_seq + 1, first_seq + 2]);

    let all = sim_get(&router, "/sim/calls").await.body;
    let second_at = all[1]["at"].as_str().expect("at");
    let from = sim_get(&router, &format!("/sim/calls?since={second_at}"))
        .await
        .body;
    assert_eq!(
        from.as_array().map(Vec::len),
        Some(2),
        "at or after the given time"
    );
    assert_eq!(from[0]["seq"], all[1]["seq"]);
}
