//! Sync delivery's answers (DESIGN section 8): Flow's 4xx is 502 with Flow's words, Flow's 429
//! passes on with its Retry-After, 5xx is 503, and a Flow slower than the deadline is 504.

use serde_json::json;

use super::post_canonical;
use crate::support::assert_problem;
use crate::support::fixtures::{self, ORDER_ID};

#[tokio::test]
async fn a_refusal_is_502_with_flows_status_and_body() {
    let gw = fixtures::gateway("", "").await;
    let flow_body = json!({"title": "One or more validation errors occurred.", "status": 400});
    gw.sim()
        .fault(json!({"op": "updatestate", "fail_next": 1, "status": 400, "body": flow_body}))
        .await;
    let reply = post_canonical(&gw, "canonical", ORDER_ID, json!({"state": "Completed"})).await;
    let problem = assert_problem(&reply, 502, "flow-rejected");
    assert_eq!(problem["flow_status"], 400);
    let echoed: serde_json::Value =
        serde_json::from_str(problem["flow_body"].as_str().expect("flow_body")).expect("JSON");
    assert_eq!(echoed, flow_body);
}

#[tokio::test]
async fn flows_rate_limit_is_passed_on_and_its_outages_are_503() {
    let gw = fixtures::gateway("", "").await;
    gw.sim()
        .fault(json!({"op": "updatestate", "fail_next": 1, "status": 429, "retry_after": 9}))
        .await;
    let reply = post_canonical(&gw, "canonical", ORDER_ID, json!({"state": "Completed"})).await;
    assert_problem(&reply, 429, "rate-limited");
    assert_eq!(reply.retry_after(), 9);

    gw.sim()
        .fault(json!({"op": "updatestate", "fail_next": 1, "status": 503}))
        .await;
    let reply = post_canonical(&gw, "canonical", ORDER_ID, json!({"state": "Completed"})).await;
    assert_problem(&reply, 503, "unavailable");
    assert!(reply.retry_after() >= 1);

    let reply = post_canonical(&gw, "canonical", ORDER_ID, json!({"state": "Completed"})).await;
    assert_eq!(reply.status, 200, "Flow is back: {reply:?}");
}

#[tokio::test]
async fn a_flow_slower_than_the_deadline_is_504() {
    let gw = fixtures::gateway("request_timeout = \"1s\"", "").await;
    gw.sim()
        .fault(json!({"op": "updatestate", "fail_next": 1, "latency_ms": 3000}))
        .await;
    let reply = post_canonical(&gw, "canonical", ORDER_ID, json!({"state": "Completed"})).await;
    assert_problem(&reply, 504, "flow-timeout");
}

#[tokio::test]
async fn a_failed_patch_stops_the_updatestate_after_it() {
    let gw = fixtures::gateway("", "").await;
    gw.sim()
        .fault(json!({"op": "patch", "fail_next": 1, "status": 404}))
        .await;
    let body = json!({"title": "Print run", "state": "InProcess"});
    let reply = post_canonical(&gw, "canonical", ORDER_ID, body).await;
    let problem = assert_problem(&reply, 502, "flow-rejected");
    assert_eq!(problem["flow_status"], 404);
    assert!(gw.sim().calls_of("updatestate").await.is_empty());
}
