//! Accepted bodies (DESIGN section 17): an accepted webhook's body is kept exactly as received
//! and shown with its delivery by `GET /admin/deliveries/{id}`, for `store.body_retention`;
//! `"0s"` keeps none, and a reload changes it for the webhooks that follow.

use serde_json::Value;

use crate::support::Gateway;
use crate::support::admin::{ADMIN_TABLE, admin};
use crate::support::fixtures::{self, ORDER_ID, photo};

/// A `photo` event `id` as a vendor might format it: spacing, line breaks and key order of its
/// own, and text beyond ASCII that the schema lets through.
fn event(id: &str) -> String {
    format!(
        "{{\n  \"data\": {{\"orderId\": \"{ORDER_ID}\", \"note\": \"caf\u{e9} \u{2713}\"}},\n  \
         \"type\":\"order.delivered\",   \"id\": \"{id}\"\n}}\n"
    )
}

/// Sends `body` as the `photo` vendor, accepted; the delivery as the admin API shows it.
async fn shown(gw: &Gateway, body: &str) -> Value {
    let reply = gw
        .webhook("photo", body.to_owned())
        .signed(&photo())
        .send()
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let id = reply.json()["id"].as_str().expect("an id").to_owned();
    let (status, delivery) = admin(gw, "GET", &format!("/admin/deliveries/{id}")).await;
    assert_eq!(status, 200, "{delivery}");
    assert_eq!(delivery["id"], id.as_str());
    delivery
}

#[tokio::test]
async fn an_accepted_webhook_is_shown_with_its_exact_body() {
    let gw = fixtures::gateway("", ADMIN_TABLE).await;
    let body = event("ph-1");
    let delivery = shown(&gw, &body).await;
    assert_eq!(delivery["state"], "delivered");
    assert_eq!(delivery["body"], body.as_str());
    assert_eq!(delivery["body_encoding"], "utf-8");
    let (status, page) = admin(&gw, "GET", "/admin/deliveries").await;
    assert_eq!(status, 200, "{page}");
    let listed = &page["deliveries"][0];
    assert_eq!(listed["id"], delivery["id"]);
    assert!(
        listed.get("body").is_none(),
        "a listing carries no body: {listed}"
    );
}

#[tokio::test]
async fn no_body_is_kept_at_zero_retention_until_a_reload_keeps_them() {
    let keep_none = format!("{ADMIN_TABLE}\n[store]\nbody_retention = \"0s\"\n");
    let gw = fixtures::gateway("", &keep_none).await;
    let delivery = shown(&gw, &event("ph-1")).await;
    assert_eq!(delivery["state"], "delivered");
    assert_eq!(delivery["body"], Value::Null);
    assert_eq!(delivery["body_encoding"], Value::Null);

    let keep_a_day = fixtures::config("", gw.sim(), ADMIN_TABLE);
    std::fs::write(gw.config_path(), keep_a_day).expect("rewrite the config");
    let (status, reloaded) = admin(&gw, "POST", "/admin/reload").await;
    assert_eq!(status, 200, "{reloaded}");
    let body = event("ph-2");
    let delivery = shown(&gw, &body).await;
    assert_eq!(delivery["body"], body.as_str());
}
