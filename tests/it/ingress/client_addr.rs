//! The client address and a vendor's `allow_ips` (DESIGN section 15): the peer, or behind a
//! trusted proxy the right-most untrusted `X-Forwarded-For` entry; other addresses are refused
//! 403 `ip-not-allowed` before the signature is checked.

use serde_json::json;

use crate::support::client::get;
use crate::support::fixtures::{self, CANONICAL_SECRET, ORDER_ID, canonical, canonical_body};
use crate::support::{Gateway, assert_problem};

/// A sync vendor that sends from `allow_ips`, behind `trusted_proxies`.
async fn gateway(trusted_proxies: &str, allow_ips: &str) -> Gateway {
    let vendor = format!(
        "[vendors.ranged]\nverify = {{ scheme = \"standard-webhooks\", secrets = [\"{CANONICAL_SECRET}\"] }}\ntenant = \"sim\"\ndelivery = \"sync\"\nallow_ips = {allow_ips}\n"
    );
    fixtures::gateway(&format!("trusted_proxies = {trusted_proxies}"), &vendor).await
}

fn update() -> String {
    canonical_body(ORDER_ID, json!({"state": "InProcess"}))
}

#[tokio::test]
async fn an_address_outside_the_vendors_ranges_is_refused_before_its_signature() {
    let gw = gateway("[]", r#"["10.0.0.0/8", "2001:db8::/32"]"#).await;
    // Unsigned: an allowed address would get 401; this one is refused first.
    let reply = gw.webhook("ranged", update()).send().await;
    let problem = assert_problem(&reply, 403, "ip-not-allowed");
    assert!(
        !problem["detail"].to_string().contains("127.0.0.1"),
        "{problem}"
    );
    let metrics = get(&format!("http://{}/metrics", gw.admin)).await;
    let metrics = String::from_utf8_lossy(&metrics.body);
    let series = r#"flowgate_webhooks_received_total{vendor="ranged",outcome="ip_not_allowed"} 1"#;
    assert!(
        metrics.lines().any(|l| l == series),
        "{series} in:\n{metrics}"
    );
    // Without a trusted proxy, what the client says it forwards changes nothing.
    let forged = gw.webhook("ranged", update()).signed(&canonical());
    let reply = forged.header("x-forwarded-for", "10.1.2.3").send().await;
    assert_problem(&reply, 403, "ip-not-allowed");
    assert!(gw.sim().calls_of("updatestate").await.is_empty());
}

#[tokio::test]
async fn an_address_inside_them_is_served() {
    let gw = gateway("[]", r#"["127.0.0.1"]"#).await;
    let reply = gw
        .webhook("ranged", update())
        .signed(&canonical())
        .send()
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(gw.sim().calls_of("updatestate").await.len(), 1);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_rightmost_untrusted_entry_is_the_client() {
    let gw = gateway(r#"["127.0.0.0/8"]"#, r#"["10.0.0.0/8"]"#).await;
    let post = |forwarded: &'static str| {
        gw.webhook("ranged", update())
            .signed(&canonical())
            .header("x-forwarded-for", forwarded)
    };
    let reply = post("10.1.2.3").send().await;
    assert_eq!(
        reply.status, 200,
        "forwarded from an allowed client: {reply:?}"
    );
    // The client put an allowed address at the left; the proxy appended the real one.
    let reply = post("10.1.2.3, 203.0.113.9").send().await;
    assert_problem(&reply, 403, "ip-not-allowed");
    // Hops that are themselves trusted proxies are skipped.
    let reply = post("10.1.2.3, 127.0.0.2").send().await;
    assert_eq!(reply.status, 200, "through two proxies: {reply:?}");
}
