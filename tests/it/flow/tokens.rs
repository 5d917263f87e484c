//! The tenant's access token (one authtoken call for many webhooks, refreshed after a 401) and
//! FlowTokens (DESIGN section 7): valid, cached, invalid, mismatched, missing when required.

use futures_util::future::join_all;
use serde_json::json;

use super::post_canonical;
use crate::support::assert_problem;
use crate::support::fixtures::{self, CANONICAL_SECRET};

/// A canonical vendor that must prove every unbound order with a FlowToken.
fn required_vendor() -> String {
    format!(
        "[vendors.tokened]\nverify = {{ scheme = \"standard-webhooks\", secrets = [\"{CANONICAL_SECRET}\"] }}\ntenant = \"sim\"\nflow_token = \"required\"\ndelivery = \"sync\"\n"
    )
}

#[tokio::test]
async fn one_access_token_serves_many_concurrent_webhooks() {
    let gw = fixtures::gateway("", "").await;
    let sends = (0..20).map(|_| {
        let order = uuid::Uuid::new_v4().to_string();
        let gw = &gw;
        async move { post_canonical(gw, "canonical", &order, json!({"state": "InProcess"})).await }
    });
    for reply in join_all(sends).await {
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    assert_eq!(gw.sim().calls_of("auth_token").await.len(), 1);
    assert_eq!(gw.sim().calls_of("updatestate").await.len(), 20);
}

#[tokio::test]
async fn an_access_token_flow_no_longer_accepts_is_refreshed_once() {
    let gw = fixtures::gateway("", "").await;
    let order = uuid::Uuid::new_v4().to_string();
    let first = post_canonical(&gw, "canonical", &order, json!({"state": "InProcess"})).await;
    assert_eq!(first.status, 200, "{first:?}");
    gw.sim().expire_tokens().await;

    let second = post_canonical(&gw, "canonical", &order, json!({"state": "Completed"})).await;
    assert_eq!(second.status, 200, "{second:?}");
    assert_eq!(gw.sim().calls_of("auth_token").await.len(), 2);
    let statuses: Vec<u64> = gw
        .sim()
        .calls_of("updatestate")
        .await
        .iter()
        .map(|c| c["status"].as_u64().expect("a status"))
        .collect();
    assert_eq!(statuses, [200, 401, 200], "refused once, then retried");
}

#[tokio::test]
async fn a_valid_flow_token_is_verified_once_and_cached() {
    let gw = fixtures::gateway("", &required_vendor()).await;
    let (order, token) = gw.sim().create_order(10351).await;
    let reply = post_canonical(
        &gw,
        "tokened",
        &order,
        json!({"flowToken": token, "state": "InProcess"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let verifications = gw.sim().calls_of("verify_token").await;
    assert_eq!(verifications.len(), 1);
    assert_eq!(verifications[0]["body"], json!({"Token": token}));

    // The same token for another order: answered from the cache, and refused as a mismatch.
    let other = uuid::Uuid::new_v4().to_string();
    let reply = post_canonical(
        &gw,
        "tokened",
        &other,
        json!({"flowToken": token, "state": "InProcess"}),
    )
    .await;
    assert_problem(&reply, 403, "flow-token-mismatch");
    assert_eq!(gw.sim().calls_of("verify_token").await.len(), 1, "cached");
    assert!(gw.sim().order(&other).await.is_none(), "nothing delivered");
}

#[tokio::test]
async fn an_invalid_flow_token_is_401_and_remembered_briefly() {
    let gw = fixtures::gateway("", &required_vendor()).await;
    let order = uuid::Uuid::new_v4().to_string();
    for _ in 0..3 {
        let reply = post_canonical(
            &gw,
            "tokened",
            &order,
            json!({"flowToken": "forged-token", "state": "Completed"}),
        )
        .await;
        assert_problem(&reply, 401, "flow-token-invalid");
    }
    assert_eq!(gw.sim().calls_of("verify_token").await.len(), 1);
    assert_eq!(
        gw.sim().calls_of("auth_token").await.len(),
        1,
        "a forged token does not make the gateway renew its access token"
    );
    assert!(gw.sim().calls_of("updatestate").await.is_empty());
}

#[tokio::test]
async fn a_required_token_may_be_missing_only_for_a_bound_order() {
    let gw = fixtures::gateway("", &required_vendor()).await;
    let (order, token) = gw.sim().create_order(1).await;
    let reply = post_canonical(&gw, "tokened", &order, json!({"state": "InProcess"})).await;
    assert_problem(&reply, 401, "flow-token-missing");

    let with_token = json!({"flowToken": token, "state": "InProcess"});
    assert_eq!(
        post_canonical(&gw, "tokened", &order, with_token)
            .await
            .status,
        200
    );
    // Days later the vendor reports without the token: the binding vouches for the order.
    let reply = post_canonical(&gw, "tokened", &order, json!({"state": "Completed"})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(gw.sim().calls_of("verify_token").await.len(), 1);
}

#[tokio::test]
async fn a_flow_that_cannot_verify_tokens_is_503_not_the_vendors_fault() {
    let gw = fixtures::gateway("", &required_vendor()).await;
    let (order, token) = gw.sim().create_order(1).await;
    gw.sim()
        .fault(json!({"op": "verify_token", "status": 503, "retry_after": 7}))
        .await;
    let body = json!({"flowToken": token, "state": "InProcess"});
    let reply = post_canonical(&gw, "tokened", &order, body.clone()).await;
    assert_problem(&reply, 503, "unavailable");
    assert_eq!(reply.retry_after(), 7);

    // Not cached as invalid: once Flow answers, the same token verifies.
    gw.sim().clear_faults().await;
    assert_eq!(
        post_canonical(&gw, "tokened", &order, body).await.status,
        200
    );
}
