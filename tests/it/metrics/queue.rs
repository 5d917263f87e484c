//! The queue gauges count the store: right after traffic, and from the first scrape of a
//! gateway restarted on the same database.

use std::time::Duration;

use serde_json::json;

use super::Scrape;
use crate::queue::{accepted, post, queued_config};
use crate::support::Gateway;
use crate::support::admin::until_state;
use crate::support::fixtures::{self, CONFIG_FILES};
use crate::support::flow::FlowSim;

#[tokio::test]
async fn queue_gauges_describe_the_store_also_after_a_restart() {
    let sim = FlowSim::start().await;
    let store = tempfile::tempdir().expect("a directory for the store");
    let url = format!("sqlite://{}", store.path().join("queue.db").display());
    // One attempt an hour, and a circuit that opens at the first failure.
    let extra = queued_config()
        .replace("retry_schedule = [", "retry_schedule = [\"1h\", ")
        .replace("failures = 1000", "failures = 1");
    let config = fixtures::config("", &sim, &format!("[store]\nurl = \"{url}\"\n{extra}"));

    let gw = Gateway::start_with_files(&config, CONFIG_FILES).await;
    let empty = Scrape::of(&gw).await;
    for state in ["pending", "in_flight", "retrying", "dead"] {
        assert_eq!(empty.depth(state), 0.0, "{state}");
    }
    assert_eq!(empty.value("flowgate_ready", &[]), 1.0);
    sim.fault(json!({"op": "updatestate", "status": 400, "fail_next": 1}))
        .await;
    let dead = accepted(
        &post(
            &gw,
            &uuid::Uuid::new_v4().to_string(),
            json!({"state": "Completed"}),
        )
        .await,
    );
    until_state(&gw, &dead, "dead").await;
    sim.fault(json!({"op": "updatestate", "status": 503})).await;
    let order = uuid::Uuid::new_v4().to_string();
    let first = accepted(&post(&gw, &order, json!({"state": "InProcess"})).await);
    until_state(&gw, &first, "retrying").await;
    // Behind the first of its order: pending until that one is done.
    accepted(&post(&gw, &order, json!({"state": "Completed"})).await);

    let expected = [
        ("pending", 1.0),
        ("in_flight", 0.0),
        ("retrying", 1.0),
        ("dead", 1.0),
    ];
    let scrape = Scrape::of(&gw).await;
    for (state, count) in expected {
        assert_eq!(scrape.depth(state), count, "{state} before the restart");
    }
    let circuit = |s: &Scrape| s.value("flowgate_circuit_open", &[("tenant", "sim")]);
    assert_eq!(circuit(&scrape), 1.0, "the 503 opened the circuit");
    let age = |s: &Scrape, state| s.value("flowgate_queue_oldest_age_seconds", &[("state", state)]);
    assert!(age(&scrape, "retrying") >= 0.0);

    let mut gw = gw;
    gw.begin_shutdown();
    gw.stopped(Duration::from_secs(15))
        .await
        .expect("a clean stop");
    let restarted = Gateway::start_with_files(&config, CONFIG_FILES)
        .await
        .with_sim(sim);
    let scrape = Scrape::of(&restarted).await;
    for (state, count) in expected {
        assert_eq!(scrape.depth(state), count, "{state} after the restart");
    }
    assert_eq!(
        circuit(&scrape),
        0.0,
        "a new process starts with a closed circuit"
    );
    assert!(
        age(&scrape, "pending") > 0.0,
        "the pending one waits since before the restart"
    );
    assert_eq!(
        scrape.received("queued", "accepted"),
        0.0,
        "counters start at 0 again"
    );
}
