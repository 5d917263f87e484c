//! What Flow receives for canonical and mapped vendors: paths, headers and PascalCase bodies,
//! PATCH merged over what was last sent, and a status without a state.

use serde_json::json;

use super::{body_of, history, post_canonical, post_photo};
use crate::support::fixtures::{self, ORDER_ID};
use crate::support::{Reply, assert_problem};

/// A photographer's event with everything an order shows.
const PHOTO_FULL_SCHEMA: (&str, &str) = (
    "schemas/photo-full.schema.json",
    r#"{
  "type": "object",
  "required": ["id", "type", "data"],
  "properties": {
    "id": { "type": "string" },
    "type": { "enum": ["order.accepted", "order.delivered"] },
    "data": {
      "type": "object",
      "required": ["orderId"],
      "properties": {
        "orderId": { "type": "string" },
        "message": { "type": "string" },
        "product": { "type": "string" },
        "photographer": { "type": "string" },
        "shootDate": { "type": "string" }
      }
    }
  }
}"#,
);

/// The photo vendor with a full map: title, action text and metadata as well as state.
const PHOTO_MAP: &str = r#"
[vendors.photo-full]
schema = "schemas/photo-full.schema.json"
verify = { scheme = "hmac", preset = "github", secrets = ["photo-it-secret"] }
tenant = "sim"
delivery = "sync"

[vendors.photo-full.map]
event_id = "/id"
order_id = "/data/orderId"
state = { from = "/type", values = { "order.accepted" = "InProcess", "order.delivered" = "Completed" } }
status = "/data/message"
title = "/data/product"
action_text = { value = "Open in Photo" }
metadata = { "Photographer" = "/data/photographer", "Shoot date" = "/data/shootDate" }
"#;

fn assert_delivered(reply: &Reply) -> serde_json::Value {
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = reply.json();
    assert_eq!(body["state"], "delivered", "{body}");
    assert_eq!(body["duplicate"], false, "{body}");
    body
}

#[tokio::test]
async fn a_canonical_update_becomes_one_updatestate_with_flows_headers() {
    let gw = fixtures::gateway("", "").await;
    let reply = post_canonical(
        &gw,
        "canonical",
        &ORDER_ID.to_uppercase(),
        json!({"id": "evt-a", "state": "InProcess", "status": "Photographer booked"}),
    )
    .await;
    let body = assert_delivered(&reply);
    assert_eq!(
        body["order"]["Guid"], ORDER_ID,
        "Flow's order model: {body}"
    );

    let calls = gw.sim().calls_of("updatestate").await;
    assert_eq!(calls.len(), 1, "{calls:#?}");
    let call = &calls[0];
    assert_eq!(call["method"], "POST");
    assert_eq!(
        call["path"],
        format!("/flow/api/marketingintegrators/orders/{ORDER_ID}/updatestate")
    );
    assert_eq!(
        *body_of(call),
        json!({"Status": "Photographer booked", "State": "InProcess"})
    );
    let headers = &call["headers"];
    assert_eq!(headers["content-type"], "application/json; charset=utf-8");
    assert_eq!(headers["authorization"], "Bearer ***");
    let key = headers["idempotency-key"]
        .as_str()
        .expect("Idempotency-Key");
    uuid::Uuid::parse_str(key).expect("the idempotency key is a UUID");
    let trace = headers["traceparent"].as_str().expect("traceparent");
    assert!(trace.starts_with("00-") && trace.len() == 55, "{trace}");
    assert!(gw.sim().calls_of("patch").await.is_empty());

    let order = gw
        .sim()
        .order(ORDER_ID)
        .await
        .expect("Flow knows the order");
    assert_eq!(
        history(&order),
        [("InProcess".to_owned(), "Photographer booked".to_owned())]
    );
}

#[tokio::test]
async fn a_vendors_traceparent_is_passed_on() {
    let gw = fixtures::gateway("", "").await;
    let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let body = super::canonical_body(ORDER_ID, json!({"state": "Completed"}));
    let reply = gw
        .webhook("canonical", body)
        .signed(&fixtures::canonical())
        .header("traceparent", trace)
        .send()
        .await;
    assert_delivered(&reply);
    let calls = gw.sim().calls_of("updatestate").await;
    assert_eq!(calls[0]["headers"]["traceparent"], trace);
    // A state alone is reported with its name as the status.
    assert_eq!(
        *body_of(&calls[0]),
        json!({"Status": "Completed", "State": "Completed"})
    );
}

#[tokio::test]
async fn a_mapped_event_patches_then_updates_state_and_later_patches_merge() {
    let gw = fixtures::gateway_with_files("", PHOTO_MAP, &[PHOTO_FULL_SCHEMA]).await;
    let first = json!({"id": "ph-1", "type": "order.accepted", "data": {
        "orderId": ORDER_ID, "message": "Booked", "product": "Photo package L",
        "photographer": "Kari Nordmann", "shootDate": "2026-12-01"}});
    let reply = gw
        .webhook("photo-full", first.to_string())
        .signed(&fixtures::photo())
        .send()
        .await;
    assert_delivered(&reply);

    let calls = gw.sim().calls().await;
    let operations: Vec<&str> = calls
        .iter()
        .filter_map(|c| c["operation"].as_str())
        .filter(|op| *op != "auth_token")
        .collect();
    assert_eq!(operations, ["patch", "updatestate"], "patch goes first");
    let patch = calls
        .iter()
        .find(|c| c["operation"] == "patch")
        .expect("a patch");
    assert_eq!(patch["method"], "PATCH");
    assert_eq!(
        patch["path"],
        format!("/flow/api/marketingintegrators/orders/{ORDER_ID}")
    );
    assert_eq!(
        *body_of(patch),
        json!({"Title": "Photo package L", "ActionText": "Open in Photo", "Metadata": [
            {"Key": "Photographer", "Value": "Kari Nordmann"},
            {"Key": "Shoot date", "Value": "2026-12-01"}]})
    );

    // The second event names only a new shoot date: Title and the other line are kept.
    let second = json!({"id": "ph-2", "type": "order.delivered", "data": {
        "orderId": ORDER_ID, "shootDate": "2026-12-02"}});
    let reply = gw
        .webhook("photo-full", second.to_string())
        .signed(&fixtures::photo())
        .send()
        .await;
    assert_delivered(&reply);
    let patches = gw.sim().calls_of("patch").await;
    assert_eq!(patches.len(), 2);
    assert_eq!(
        *body_of(&patches[1]),
        json!({"Title": "Photo package L", "ActionText": "Open in Photo", "Metadata": [
            {"Key": "Photographer", "Value": "Kari Nordmann"},
            {"Key": "Shoot date", "Value": "2026-12-02"}]})
    );
    let order = gw.sim().order(ORDER_ID).await.expect("the order");
    assert_eq!(order["Title"], "Photo package L");
    assert_eq!(
        history(&order),
        [
            ("InProcess".to_owned(), "Booked".to_owned()),
            ("Completed".to_owned(), "Completed".to_owned())
        ]
    );
}

#[tokio::test]
async fn a_status_without_a_state_resends_the_last_state_or_is_422() {
    let gw = fixtures::gateway("", "").await;
    let status_only = json!({"status": "Shoot moved to Friday"});
    let reply = post_canonical(&gw, "canonical", ORDER_ID, status_only.clone()).await;
    let problem = assert_problem(&reply, 422, "mapping-failed");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("state"),
        "{problem}"
    );
    assert!(
        gw.sim().calls_of("updatestate").await.is_empty(),
        "nothing is sent when the state is unknown"
    );

    assert_delivered(
        &post_canonical(&gw, "canonical", ORDER_ID, json!({"state": "InProcess"})).await,
    );
    assert_delivered(&post_canonical(&gw, "canonical", ORDER_ID, status_only).await);
    let calls = gw.sim().calls_of("updatestate").await;
    assert_eq!(
        *body_of(&calls[1]),
        json!({"Status": "Shoot moved to Friday", "State": "InProcess"})
    );
}

#[tokio::test]
async fn a_mapped_value_outside_the_table_is_422_naming_the_field() {
    let extra = r#"
[vendors.strict]
schema = "schemas/photo.schema.json"
verify = { scheme = "hmac", preset = "github", secrets = ["photo-it-secret"] }
tenant = "sim"
delivery = "sync"

[vendors.strict.map]
order_id = "/data/orderId"
state = { from = "/type", values = { "order.accepted" = "InProcess" } }
"#;
    let gw = fixtures::gateway("", extra).await;
    let event = json!({"id": "x", "type": "order.delivered", "data": {"orderId": ORDER_ID}});
    let reply = gw
        .webhook("strict", event.to_string())
        .signed(&fixtures::photo())
        .send()
        .await;
    let problem = assert_problem(&reply, 422, "mapping-failed");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("state"),
        "{problem}"
    );
    assert!(gw.sim().calls_of("updatestate").await.is_empty());
    // The fixtures' photo vendor maps the same event.
    assert_delivered(&post_photo(&gw, event).await);
}
