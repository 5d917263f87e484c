//! The four Flow operations: tokens, updatestate, PATCH and VerifyToken.

use super::*;

const GUID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";

#[tokio::test]
async fn authtoken_with_the_right_credentials_issues_a_bearer_token() {
    let router = router();
    let answer = send(&router, form_request(&token_form(CLIENT_ID, CLIENT_SECRET))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["token_type"], "bearer");
    assert_eq!(answer.body["expires_in"], 1200);
    assert!(
        answer.body["access_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 32)
    );
}

#[tokio::test]
async fn authtoken_refuses_a_wrong_secret_or_id_as_invalid_client() {
    let router = router();
    for form in [
        token_form(CLIENT_ID, "wrong"),
        token_form("someone", CLIENT_SECRET),
    ] {
        let answer = send(&router, form_request(&form)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.body, json!({ "error": "invalid_client" }));
    }
}

#[tokio::test]
async fn authtoken_refuses_other_grant_types() {
    let router = router();
    let form = format!("grant_type=password&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}");
    let answer = send(&router, form_request(&form)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body, json!({ "error": "unsupported_grant_type" }));
}

#[tokio::test]
async fn api_calls_without_a_valid_token_are_401() {
    let router = router();
    let body = r#"{"State": "InProcess"}"#;
    for token in [None, Some("not-a-token")] {
        let request = api(Method::POST, &updatestate_path(GUID), token, body);
        let answer = send(&router, request).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert!(
            answer
                .header("www-authenticate")
                .is_some_and(|v| v.starts_with("Bearer"))
        );
    }
    let order = sim_get(&router, &format!("/sim/orders/{GUID}")).await;
    assert_eq!(
        order.status,
        StatusCode::NOT_FOUND,
        "a 401 call creates nothing"
    );
}

#[tokio::test(start_paused = true)]
async fn access_tokens_expire_after_their_ttl() {
    let router = router_with_ttl(Duration::from_secs(60));
    let token = access_token(&router).await;
    let state = json!({ "State": "InProcess" });
    tokio::time::advance(Duration::from_secs(59)).await;
    assert_eq!(
        update_state(&router, &token, GUID, state.clone())
            .await
            .status,
        StatusCode::OK
    );
    tokio::time::advance(Duration::from_secs(2)).await;
    let answer = update_state(&router, &token, GUID, state).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sim_tokens_expire_invalidates_every_token_issued_so_far() {
    let router = router();
    let first = access_token(&router).await;
    let second = access_token(&router).await;
    let expire = sim_post(&router, "/sim/tokens/expire", Value::Null).await;
    assert_eq!(expire.status, StatusCode::NO_CONTENT);
    let state = json!({ "State": "InProcess" });
    for token in [&first, &second] {
        let answer = update_state(&router, token, GUID, state.clone()).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let fresh = access_token(&router).await;
    assert_eq!(
        update_state(&router, &fresh, GUID, state).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn updatestate_accepts_a_name_in_any_case_and_creates_the_order() {
    let router = router();
    let token = access_token(&router).await;
    let upper = GUID.to_uppercase();
    let answer = update_state(
        &router,
        &token,
        &upper,
        json!({ "Status": "Photos ordered", "State": "inprocess" }),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.body["Guid"], GUID,
        "Guid is lowercase and hyphenated"
    );
    assert_eq!(answer.body["CaseBaseId"], 0);
    assert_eq!(answer.body["Metadata"], Value::Null);
    let statuses = answer.body["OrderStatuses"].as_array().expect("statuses");
    assert_eq!(
        statuses.len(),
        1,
        "an order created by first use starts with no statuses"
    );
    assert_eq!(statuses[0]["OrderStateType"], "InProcess");
    assert_eq!(statuses[0]["Status"], "Photos ordered");
}

#[tokio::test]
async fn updatestate_accepts_an_ordinal_and_appends_to_the_history() {
    let router = router();
    let token = access_token(&router).await;
    update_state(&router, &token, GUID, json!({ "State": "InProcess" })).await;
    let answer = update_state(&router, &token, GUID, json!({ "Status": "", "State": 5 })).await;
    assert_eq!(answer.status, StatusCode::OK);
    let statuses = answer.body["OrderStatuses"].as_array().expect("statuses");
    let states: Vec<&Value> = statuses.iter().map(|s| &s["OrderStateType"]).collect();
    assert_eq!(states, [&json!("InProcess"), &json!("Completed")]);
    assert!(statuses[1]["Id"].as_i64() > statuses[0]["Id"].as_i64());
}

#[tokio::test]
async fn paths_and_body_keys_are_case_insensitive() {
    let router = router();
    let token = access_token(&router).await;
    let path = format!("/flow/API/MarketingIntegrators/Orders/{GUID}/UpdateState");
    let body = r#"{"status": "x", "state": "MISSINGINFO"}"#;
    let answer = send(&router, api(Method::POST, &path, Some(&token), body)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body["OrderStatuses"][0]["OrderStateType"],
        "MissingInfo"
    );
    assert_eq!(answer.body["OrderStatuses"][0]["Status"], "x");
}

#[tokio::test]
async fn updatestate_without_a_known_state_is_an_aspnet_400() {
    let router = router();
    let token = access_token(&router).await;
    let path = updatestate_path(GUID);
    for body in [
        r#"{"State": "Done"}"#,
        r#"{"State": 9}"#,
        r#"{"Status": "x"}"#,
        "State=1",
    ] {
        let answer = send(&router, api(Method::POST, &path, Some(&token), body)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.body["status"], 400);
        assert!(answer.body["title"].is_string());
        assert!(
            answer.body["errors"]
                .as_object()
                .is_some_and(|e| !e.is_empty())
        );
    }
    let order = sim_get(&router, &format!("/sim/orders/{GUID}")).await;
    assert_eq!(order.status, StatusCode::NOT_FOUND, "a 400 creates nothing");
}

#[tokio::test]
async fn a_malformed_order_id_is_404() {
    let router = router();
    let token = access_token(&router).await;
    let answer = update_state(&router, &token, "not-a-guid", json!({ "State": 2 })).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let request = api(Method::PATCH, &order_path("1234"), Some(&token), "{}");
    assert_eq!(send(&router, request).await.status, StatusCode::NOT_FOUND);
}

async fn patch(router: &Router, token: &str, body: Value) -> Answer {
    let request = api(
        Method::PATCH,
        &order_path(GUID),
        Some(token),
        &body.to_string(),
    );
    send(router, request).await
}

#[tokio::test]
async fn patch_replaces_all_three_fields_and_returns_metadata_as_a_string() {
    let router = router();
    let token = access_token(&router).await;
    let full = json!({
        "Title": "Photo package",
        "ActionText": "Book the photographer",
        "Metadata": [{ "Key": "package", "Value": "premium" }],
    });
    let answer = patch(&router, &token, full).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["Title"], "Photo package");
    let metadata = answer.body["Metadata"]
        .as_str()
        .expect("Metadata is a string");
    let parsed: Value = serde_json::from_str(metadata).expect("Metadata is JSON text");
    assert_eq!(parsed, json!([{ "Key": "package", "Value": "premium" }]));
    assert_eq!(answer.body["OrderStatuses"], json!([]));

    let answer = patch(&router, &token, json!({ "title": "Only a title" })).await;
    assert_eq!(answer.body["Title"], "Only a title");
    assert_eq!(
        answer.body["ActionText"],
        Value::Null,
        "absent fields are cleared"
    );
    assert_eq!(answer.body["Metadata"], Value::Null);
}

#[tokio::test]
async fn patch_refuses_metadata_that_is_not_a_key_value_list() {
    let router = router();
    let token = access_token(&router).await;
    for metadata in [json!({ "Key": "a" }), json!(["a"]), json!([{ "Key": 1 }])] {
        let answer = patch(&router, &token, json!({ "Metadata": metadata })).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{metadata}");
    }
}

#[tokio::test]
async fn order_dates_vary_in_shape_like_dotnet() {
    let router = router();
    let token = access_token(&router).await;
    let answer = update_state(&router, &token, GUID, json!({ "State": "Error" })).await;
    let created = answer.body["CreatedDate"].as_str().expect("CreatedDate");
    let modified = answer.body["ModifiedDate"].as_str().expect("ModifiedDate");
    // 2026-11-28T13:00:39.1234567+01:00 and 2026-11-28T12:00:39.123Z
    assert_eq!(created.len(), 33, "{created}");
    assert!(created.ends_with("+01:00"), "{created}");
    assert_eq!(modified.len(), 24, "{modified}");
    assert!(modified.ends_with('Z'), "{modified}");
    for date in [created, modified] {
        chrono::DateTime::parse_from_rfc3339(date).expect("still RFC 3339");
    }
}

#[tokio::test]
async fn verify_token_names_the_seeded_order() {
    let router = router();
    let token = access_token(&router).await;
    let (guid, flow_token) = seed_order(&router, 4711).await;
    let path = "/flow/api/MarketingIntegrators/VerifyToken";
    let body = json!({ "Token": flow_token }).to_string();
    let answer = send(&router, api(Method::POST, path, Some(&token), &body)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["Data"]["order"]["OrderId"], guid.as_str());
    assert_eq!(answer.body["CaseId"], 4711);
    assert_eq!(answer.body["UserId"], 7);
    assert_eq!(answer.body["BrokerCompanyName"], "Demo Eiendom AS");
}

#[tokio::test]
async fn verify_token_answers_an_unknown_flow_token_with_401() {
    let router = router();
    let token = access_token(&router).await;
    let path = "/flow/api/marketingintegrators/verifytoken";
    let answer = send(
        &router,
        api(Method::POST, path, Some(&token), r#"{"Token": "ft_nope"}"#),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}
