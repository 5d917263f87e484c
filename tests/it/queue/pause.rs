//! A paused tenant: its webhooks are still accepted and wait, without spending attempts, while
//! other tenants' deliveries go on; resumed, they arrive in order per order.

use serde_json::json;

use super::{accepted, post, queued_config, statuses};
use crate::flow::canonical_body;
use crate::support::Gateway;
use crate::support::admin::{admin, delivery, until_state};
use crate::support::fixtures::{self, CANONICAL_SECRET, SIM_TENANT_ID, canonical};
use crate::support::flow::FlowSim;

/// The queued vendor on tenant `sim`, and vendor `beside` on tenant `other`, whose Flow is
/// returned (to keep it running).
async fn two_tenants() -> (Gateway, FlowSim) {
    let (sim, other) = (FlowSim::start().await, FlowSim::start().await);
    let extra = format!(
        "{}\n{}\n[vendors.beside]\nverify = {{ scheme = \"standard-webhooks\", secrets = [\"{CANONICAL_SECRET}\"] }}\ntenant = \"other\"\n",
        queued_config(),
        other.tenant("other", Some(SIM_TENANT_ID)),
    );
    let config = fixtures::config("", &sim, &extra);
    let gw = Gateway::start_with_files(&config, fixtures::CONFIG_FILES).await;
    (gw.with_sim(sim), other)
}

#[tokio::test]
async fn a_paused_tenants_webhooks_wait_and_arrive_in_order_once_resumed() {
    let (gw, _other) = two_tenants().await;
    let (status, body) = admin(&gw, "POST", "/admin/tenants/sim/pause").await;
    assert_eq!(
        (status, body),
        (200, json!({"tenant": "sim", "paused": true}))
    );
    let orders: Vec<String> = (0..2).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let mut ids = Vec::new();
    for step in 0..3 {
        for order in &orders {
            let body = json!({"state": "InProcess", "status": format!("step {step}")});
            ids.push(accepted(&post(&gw, order, body).await));
        }
    }
    // Committed after all of them and delivered: claims ran and left the paused ones alone.
    let beside_order = uuid::Uuid::new_v4().to_string();
    let beside = gw
        .webhook(
            "beside",
            canonical_body(&beside_order, json!({"state": "Completed"})),
        )
        .signed(&canonical())
        .send()
        .await;
    until_state(&gw, &accepted(&beside), "delivered").await;
    for id in &ids {
        let record = delivery(&gw, id).await;
        assert_eq!(record["state"], "pending", "{record:#}");
        assert_eq!(record["attempts"], json!([]), "{record:#}");
    }
    for order in &orders {
        assert!(
            gw.sim().order(order).await.is_none(),
            "nothing reached Flow"
        );
    }

    let (status, body) = admin(&gw, "POST", "/admin/tenants/sim/resume").await;
    assert_eq!(
        (status, body),
        (200, json!({"tenant": "sim", "paused": false}))
    );
    for id in &ids {
        until_state(&gw, id, "delivered").await;
    }
    for order in &orders {
        let flow_order = gw.sim().order(order).await.expect("the order");
        assert_eq!(statuses(&flow_order), ["step 0", "step 1", "step 2"]);
    }
}
