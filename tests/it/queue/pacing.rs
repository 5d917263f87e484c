//! Pacing (DESIGN section 6): a burst to one tenant is spread so Flow's own bucket is never
//! emptied: no 429 from Flow, however many webhooks arrive at once.

use futures_util::future::join_all;
use serde_json::json;

use super::{accepted, post, queued_config};
use std::time::Duration;

use crate::support::Gateway;
use crate::support::admin::until_state_within;
use crate::support::fixtures;
use crate::support::flow::FlowSim;

#[tokio::test]
async fn a_burst_of_several_hundred_reaches_flow_without_a_single_429() {
    // The tenant keeps the default budget (36/s, burst 80) under Flow's (40/s, burst 120).
    let sim = FlowSim::start().await;
    let tenant = sim
        .tenant("sim", Some(fixtures::SIM_TENANT_ID))
        .replace("rate_limit = { per_second = 1000, burst = 1000 }\n", "");
    let config = format!("{tenant}\n{}", queued_config());
    let gw = Gateway::start(&config).await.with_sim(sim);
    let sends = (0..300).map(|_| {
        let gw = &gw;
        async move {
            let order = uuid::Uuid::new_v4().to_string();
            accepted(&post(gw, &order, json!({"state": "InProcess"})).await)
        }
    });
    let ids = join_all(sends).await;
    // (300 - 80) / 36 ≈ 6 s at the budget; the bound is generous for a shared machine.
    for id in &ids {
        until_state_within(&gw, id, "delivered", Duration::from_secs(60)).await;
    }
    let calls = gw.sim().calls().await;
    let throttled = calls.iter().filter(|c| c["status"] == 429).count();
    assert_eq!(throttled, 0, "Flow answered 429");
    assert_eq!(gw.sim().calls_of("updatestate").await.len(), 300);
}
