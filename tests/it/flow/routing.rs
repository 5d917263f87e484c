//! Routing between tenants (DESIGN section 6): by flowUrl, by tenantId, by the order's binding,
//! by the vendor's fallback; and the SSRF guard: a URL from a payload is never dialled.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use tokio::net::TcpListener;

use super::post_canonical;
use crate::support::fixtures::{CANONICAL_SECRET, CONFIG_FILES};
use crate::support::flow::FlowSim;
use crate::support::{Gateway, assert_problem};

/// Two customers, `a` (tenant id 14, the vendors' fallback) and `b` (15), each its own Flow.
struct TwoTenants {
    gw: Gateway,
    a: FlowSim,
    b: FlowSim,
}

async fn two_tenants() -> TwoTenants {
    let (a, b) = (FlowSim::start().await, FlowSim::start().await);
    let vendor = |name: &str, fallback: &str| {
        format!(
            "[vendors.{name}]\nverify = {{ scheme = \"standard-webhooks\", secrets = [\"{CANONICAL_SECRET}\"] }}\n{fallback}\ndelivery = \"sync\"\n"
        )
    };
    let config = format!(
        "{}\n{}\n{}\n{}\n{}",
        a.tenant("a", Some(14)),
        b.tenant("b", Some(15)),
        vendor("canonical", "tenant = \"a\""),
        vendor("second", "tenant = \"a\""),
        vendor("homeless", ""),
    );
    let gw = Gateway::start_with_files(&config, CONFIG_FILES).await;
    TwoTenants { gw, a, b }
}

async fn updates(sim: &FlowSim) -> usize {
    sim.calls_of("updatestate").await.len()
}

#[tokio::test]
async fn a_flow_url_routes_to_its_tenant_whatever_its_case_and_slash() {
    let t = two_tenants().await;
    let order = uuid::Uuid::new_v4().to_string();
    let flow_url = format!("{}/", t.b.base_url().replace("/flow", "/FLOW"));
    let reply = post_canonical(
        &t.gw,
        "canonical",
        &order,
        json!({"flowUrl": flow_url, "state": "InProcess"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(t.b.order(&order).await.is_some(), "delivered to b");
    assert_eq!(updates(&t.a).await, 0, "nothing reached a");
}

#[tokio::test]
async fn a_tenant_id_routes_when_unique_and_must_match_a_flow_url() {
    let t = two_tenants().await;
    let order = uuid::Uuid::new_v4().to_string();
    let reply = post_canonical(
        &t.gw,
        "canonical",
        &order,
        json!({"tenantId": "15", "state": "InProcess"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(t.b.order(&order).await.is_some());

    let mismatch = json!({"flowUrl": t.a.base_url(), "tenantId": 15, "state": "InProcess"});
    let reply = post_canonical(
        &t.gw,
        "canonical",
        &uuid::Uuid::new_v4().to_string(),
        mismatch,
    )
    .await;
    assert_problem(&reply, 403, "tenant-not-allowed");
    assert_eq!(updates(&t.a).await, 0);
}

#[tokio::test]
async fn an_unknown_flow_url_is_refused_and_never_dialled() {
    let t = two_tenants().await;
    let trap = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let trap_address = trap.local_addr().expect("address");
    let dialled = Arc::new(AtomicUsize::new(0));
    let count = dialled.clone();
    tokio::spawn(async move {
        while trap.accept().await.is_ok() {
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    for url in [
        format!("http://{trap_address}/flow"),
        format!("{}.evil", t.a.base_url()),
        format!("http://user@{}/flow", t.a.address),
    ] {
        let body = json!({"flowUrl": url, "state": "Completed"});
        let reply =
            post_canonical(&t.gw, "canonical", &uuid::Uuid::new_v4().to_string(), body).await;
        assert_problem(&reply, 403, "tenant-not-allowed");
    }
    assert_eq!(
        dialled.load(Ordering::SeqCst),
        0,
        "the payload's URL was dialled"
    );
    assert_eq!(updates(&t.a).await + updates(&t.b).await, 0);
}

#[tokio::test]
async fn a_verified_token_binds_the_order_for_later_webhooks() {
    let t = two_tenants().await;
    let (order, token) = t.b.create_order(4711).await;
    let first = json!({"flowUrl": t.b.base_url(), "flowToken": token, "state": "InProcess"});
    let reply = post_canonical(&t.gw, "canonical", &order, first).await;
    assert_eq!(reply.status, 200, "{reply:?}");

    // No routing data: the binding wins over the vendor's fallback (a).
    let later = json!({"status": "Photos uploaded", "state": "Completed"});
    let reply = post_canonical(&t.gw, "canonical", &order, later).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(updates(&t.b).await, 2);
    assert_eq!(updates(&t.a).await, 0);

    // The first binding wins: another tenant, or another vendor, is refused.
    let elsewhere = json!({"flowUrl": t.a.base_url(), "state": "Completed"});
    let reply = post_canonical(&t.gw, "canonical", &order, elsewhere).await;
    assert_problem(&reply, 403, "tenant-not-allowed");
    let reply = post_canonical(&t.gw, "second", &order, json!({"state": "Completed"})).await;
    assert_problem(&reply, 403, "order-not-allowed");
    assert_eq!(updates(&t.a).await, 0);
}

#[tokio::test]
async fn without_routing_data_binding_or_fallback_the_tenant_is_unresolved() {
    let t = two_tenants().await;
    let order = uuid::Uuid::new_v4().to_string();
    let reply = post_canonical(&t.gw, "homeless", &order, json!({"state": "Completed"})).await;
    assert_problem(&reply, 422, "tenant-unresolved");
    // The fallback routes the same update for a vendor that has one.
    let reply = post_canonical(&t.gw, "canonical", &order, json!({"state": "Completed"})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(t.a.order(&order).await.is_some());
}
