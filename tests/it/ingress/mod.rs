//! The public and admin listeners as vendors and orchestrators see them: each answer of the
//! inbound edge, the precedence between errors, request ids and health (DESIGN sections 2, 4, 9).

mod accepted;
mod body_limits;
mod client_addr;
mod errors;
mod health;
mod http2;
mod precedence;
mod request_id;
mod tls;

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::fixtures::{self, CANONICAL_SECRET};
use crate::support::raw::RawConnection;
use crate::support::{Gateway, Reply};

async fn gateway() -> Gateway {
    fixtures::gateway("", "").await
}

/// A standard-webhooks vendor named `name` with `rate_limit`, for tests of the limit.
fn limited_vendor(name: &str, rate_limit: &str) -> String {
    format!(
        "[vendors.{name}]\nverify = {{ scheme = \"standard-webhooks\", secrets = [\"{CANONICAL_SECRET}\"] }}\ntenant = \"sim\"\ndelivery = \"sync\"\nrate_limit = {rate_limit}\n"
    )
}

/// A connection that sends `first` and then nothing is closed once `server.request_timeout`
/// (1 s here) has passed, and not before.
async fn assert_cut_after_request_timeout(first: impl FnOnce(&Gateway) -> Vec<u8>) {
    let gw = fixtures::gateway(r#"request_timeout = "1s""#, "").await;
    assert_cut_after_one_second(&gw, &first(&gw)).await;
}

/// On `gw`, whose `server.request_timeout` is 1 s: a connection that sends `first` and then
/// nothing is closed after about that long, and not before.
async fn assert_cut_after_one_second(gw: &Gateway, first: &[u8]) {
    let started = Instant::now();
    let mut slow = RawConnection::open(gw.public).await;
    if !first.is_empty() {
        slow.write(first).await.expect("send the first bytes");
    }
    slow.assert_closed_within(Duration::from_secs(5)).await;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed too early"
    );
}

/// Accepted and, the vendors being served in sync until the queue exists, delivered.
fn assert_accepted(reply: &Reply) {
    let text = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, 200, "{text}");
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    let id = body["id"].as_str().expect("`id` is a string");
    uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("`id` {id:?} is not a UUID: {e}"));
    assert_eq!(body["state"], "delivered", "{body}");
    assert_eq!(body["duplicate"], false, "{body}");
    assert!(body["order"].is_object(), "Flow's order model: {body}");
}

fn pointers(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .expect("`errors` is a list")
        .iter()
        .map(|error| error["pointer"].as_str().expect("a string pointer"))
        .collect()
}

const SMALL_BODIES: &str = "max_body_bytes = 512";
