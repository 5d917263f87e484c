//! The client address and a vendor's `allow_ips` (DESIGN section 15): the peer, or behind a
//! trusted proxy the right-most untrusted `X-Forwarded-For` entry; other addresses are refused
//! 403 `ip-not-allowed` before the signature is checked.

use std::net::Ipv6Addr;
use std::time::Duration;

use serde_json::json;

use crate::support::client::get;
use crate::support::fixtures::{self, CANONICAL_SECRET, ORDER_ID, canonical, canonical_body};
use crate::support::raw::RawConnection;
use crate::support::{Gateway, assert_problem, sign};

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

/// A signed HTTP/1.1 webhook to `ranged`, as raw bytes after `preamble`.
fn raw_webhook(gw: &Gateway, preamble: &[u8]) -> Vec<u8> {
    let body = update();
    let mut head = format!(
        "POST /webhooks/ranged HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        gw.public,
        body.len()
    );
    for (name, value) in sign::sign(&canonical(), body.as_bytes()) {
        head.push_str(&format!("{name}: {}\r\n", value.to_str().expect("ascii")));
    }
    [preamble, head.as_bytes(), b"\r\n", body.as_bytes()].concat()
}

#[tokio::test]
async fn behind_proxy_protocol_the_header_names_the_client() {
    let gw = gateway(
        "[]\nproxy_protocol = true",
        r#"["203.0.113.0/24", "2001:db8::/32"]"#,
    )
    .await;
    let v1 = b"PROXY TCP4 203.0.113.9 127.0.0.1 55555 8080\r\n".to_vec();
    let v2 = ppp::v2::Builder::with_addresses(
        ppp::v2::Version::Two | ppp::v2::Command::Proxy,
        ppp::v2::Protocol::Stream,
        ppp::v2::IPv6::new(
            "2001:db8::7".parse::<Ipv6Addr>().expect("v6"),
            Ipv6Addr::LOCALHOST,
            55555,
            8080,
        ),
    )
    .build()
    .expect("a v2 header");
    for (version, header) in [("v1", v1), ("v2", v2)] {
        let mut connection = RawConnection::open(gw.public).await;
        connection
            .write(&raw_webhook(&gw, &header))
            .await
            .expect("send");
        let reply = connection.reply().await;
        assert_eq!(reply.status, 200, "{version}: {reply:?}");
    }
    // The balancer's own address (the real peer) is not an allowed one.
    let mut connection = RawConnection::open(gw.public).await;
    let outside = b"PROXY TCP4 198.51.100.1 127.0.0.1 55555 8080\r\n";
    connection
        .write(&raw_webhook(&gw, outside))
        .await
        .expect("send");
    assert_problem(&connection.reply().await, 403, "ip-not-allowed");
    // A connection without the header is closed unanswered.
    let mut bare = RawConnection::open(gw.public).await;
    bare.write(&raw_webhook(&gw, b"")).await.expect("send");
    bare.assert_closed_within(Duration::from_secs(5)).await;
    assert_eq!(gw.sim().calls_of("updatestate").await.len(), 2);
}
