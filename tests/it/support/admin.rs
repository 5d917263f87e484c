//! The admin API as the tests use it: the bearer token the fixtures configure, and waiting for a
//! delivery to reach a state.

use serde_json::Value;

use super::client::exchange;
use super::{Gateway, TIMEOUT};

pub const ADMIN_TOKEN: &str = "it-admin-token";

/// `[admin]` with the tests' token.
pub const ADMIN_TABLE: &str = "[admin]\ntoken = \"it-admin-token\"\n";

/// `method` on the admin listener with the token; the reply's status and JSON body (null when
/// empty).
pub async fn admin(gw: &Gateway, method: &str, path: &str) -> (u16, Value) {
    admin_at(&gw.admin.to_string(), method, path).await
}

/// [`admin`] on the admin listener at `address`, for a gateway running as a process of its own.
pub async fn admin_at(address: &str, method: &str, path: &str) -> (u16, Value) {
    let request = http::Request::builder()
        .method(method)
        .uri(format!("http://{address}{path}"))
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("a request");
    let reply = exchange(request).await;
    let body = if reply.body.is_empty() {
        Value::Null
    } else {
        reply.json()
    };
    (reply.status.as_u16(), body)
}

/// The delivery `id` as the admin API shows it.
pub async fn delivery(gw: &Gateway, id: &str) -> Value {
    delivery_at(&gw.admin.to_string(), id).await
}

async fn delivery_at(address: &str, id: &str) -> Value {
    let (status, body) = admin_at(address, "GET", &format!("/admin/deliveries/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Waits until delivery `id` is in `state`; the delivery then.
pub async fn until_state(gw: &Gateway, id: &str, state: &str) -> Value {
    until_state_within(gw, id, state, TIMEOUT).await
}

/// [`until_state`] on the admin listener at `address`.
pub async fn until_state_at(address: &str, id: &str, state: &str) -> Value {
    wait_for_state(address, id, state, TIMEOUT).await
}

/// [`until_state`] for a wait expected to take longer (a paced burst).
pub async fn until_state_within(
    gw: &Gateway,
    id: &str,
    state: &str,
    limit: std::time::Duration,
) -> Value {
    wait_for_state(&gw.admin.to_string(), id, state, limit).await
}

async fn wait_for_state(address: &str, id: &str, state: &str, limit: std::time::Duration) -> Value {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let record = delivery_at(address, id).await;
        if record["state"] == state {
            return record;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "delivery {id} never reached {state}: {record:#}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// `POST path` on the admin listener with the token and `body` as JSON; the reply's status
/// and JSON body.
pub async fn admin_post(gw: &Gateway, path: &str, body: &Value) -> (u16, Value) {
    let request = http::Request::builder()
        .method("POST")
        .uri(gw.admin_url(path))
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
        )))
        .expect("a request");
    let reply = exchange(request).await;
    (reply.status.as_u16(), reply.json())
}
