//! The queued vendor the queue's tests post as: its config with fast retries, its signed
//! canonical updates, and what the gateway and Flow made of them.

use serde_json::Value;

use super::admin::ADMIN_TABLE;
use super::client::exchange;
use super::fixtures::{CANONICAL_SECRET, canonical, canonical_body};
use super::sign::sign;
use super::{Gateway, Reply};

/// A queued canonical vendor `queued` on the fixtures' tenant, fast retries for tests, and the
/// admin token.
pub fn queued_config() -> String {
    format!(
        "{ADMIN_TABLE}\n[delivery]\nretry_schedule = [\"100ms\", \"200ms\", \"300ms\", \"400ms\", \"500ms\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\"]\njitter = 0.0\ncircuit = {{ failures = 1000, open_for = \"1s\" }}\n\n[vendors.queued]\nverify = {{ scheme = \"standard-webhooks\", secrets = [\"{CANONICAL_SECRET}\"] }}\ntenant = \"sim\"\n"
    )
}

/// Posts `members` for `order` as the queued vendor.
pub async fn post(gw: &Gateway, order: &str, members: Value) -> Reply {
    gw.webhook("queued", canonical_body(order, members))
        .signed(&canonical())
        .send()
        .await
}

/// [`post`] to the public listener at `address`, for a gateway running as a process of its own.
pub async fn post_to(address: &str, order: &str, members: Value) -> Reply {
    let body = canonical_body(order, members);
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{address}/webhooks/queued"))
        .header("content-type", "application/json");
    for (name, value) in sign(&canonical(), body.as_bytes()) {
        request = request.header(name, value);
    }
    let request = request.body(http_body_util::Full::new(bytes::Bytes::from(body)));
    exchange(request.expect("a request")).await
}

/// Checks the 202 of a committed webhook; its delivery id.
pub fn accepted(reply: &Reply) -> String {
    assert_eq!(reply.status, 202, "{reply:?}");
    let body = reply.json();
    assert_eq!(body["state"], "pending", "{body}");
    assert_eq!(body["duplicate"], false, "{body}");
    body["id"].as_str().expect("an id").to_owned()
}

/// The `(Status)` texts Flow accepted for `order`, in the order it accepted them.
pub fn statuses(order: &Value) -> Vec<String> {
    order["OrderStatuses"]
        .as_array()
        .expect("OrderStatuses")
        .iter()
        .map(|s| s["Status"].as_str().unwrap_or_default().to_owned())
        .collect()
}
