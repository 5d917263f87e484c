//! Several replicas of the real binary on one PostgreSQL schema (DESIGN section 8): three replicas sharing the load while Flow refuses some calls deliver everything,
//! each order in line, and together stay within the tenant's rate; a replica killed with SIGKILL
//! in the middle of an attempt leaves the delivery to another once its lease runs out.

use std::time::Duration;

use chrono::{DateTime, Utc};
use libtest_mimic::Trial;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{Replica, Schema, start_replica};
use crate::support::flow::FlowSim;
use crate::support::queued::{accepted, statuses};

pub fn trials() -> Vec<Trial> {
    trials! {
        postgres(4): three_replicas_deliver_every_order_in_line_within_the_tenants_rate;
        postgres(2): a_replica_killed_mid_attempt_leaves_its_delivery_to_another_after_the_lease;
    }
}

/// The tenant's budget in these tests: small, so three unpaced replicas would go well over it.
const PER_SECOND: f64 = 20.0;
const BURST: f64 = 10.0;
/// Grants happen in the database, calls are timed at Flow: what the way between may bunch up.
const SLACK_CALLS: f64 = 2.0;

/// The simulator's tenant with the tests' small `rate_limit`.
fn paced_tenant(sim: &FlowSim) -> String {
    let tenant = sim.tenant("sim", Some(14));
    let paced = tenant.replace(
        "rate_limit = { per_second = 1000, burst = 1000 }",
        &format!("rate_limit = {{ per_second = {PER_SECOND}, burst = {BURST} }}"),
    );
    assert_ne!(paced, tenant, "the tenant table names its rate_limit");
    paced
}

/// When Flow received each call (authtoken included: every call spends the bucket), sorted.
async fn call_times(sim: &FlowSim) -> Vec<DateTime<Utc>> {
    let mut times: Vec<DateTime<Utc>> = sim
        .calls()
        .await
        .iter()
        .map(|call| {
            let at = call["at"].as_str().expect("at");
            DateTime::parse_from_rfc3339(at)
                .expect("an RFC 3339 time")
                .to_utc()
        })
        .collect();
    times.sort();
    times
}

/// Fails when some window between two calls holds more than burst + rate × window.
fn assert_within_budget(times: &[DateTime<Utc>]) {
    for (i, first) in times.iter().enumerate() {
        for (j, last) in times.iter().enumerate().skip(i) {
            let window = (*last - *first).as_seconds_f64();
            let calls = (j - i + 1) as f64;
            let allowed = BURST + PER_SECOND * window + SLACK_CALLS;
            assert!(
                calls <= allowed,
                "{calls} calls reached Flow within {window:.3}s; the budget allows {allowed:.1}"
            );
        }
    }
}

async fn three_replicas_deliver_every_order_in_line_within_the_tenants_rate() {
    let schema = Schema::new();
    let sim = FlowSim::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (tenant, store) = (paced_tenant(&sim), schema.store_table(None));
    let mut replicas: Vec<Replica> = Vec::new();
    for name in ["one", "two", "three"] {
        replicas.push(start_replica(dir.path(), name, &tenant, &store).await);
    }
    sim.fault(json!({"op": "updatestate", "status": 503, "fail_next": 12}))
        .await;
    let orders: Vec<String> = (0..12).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let mut ids = Vec::new();
    // Each order's updates arrive at the three replicas in turn.
    for step in 0..4 {
        for (n, order) in orders.iter().enumerate() {
            let body = json!({"state": "InProcess", "status": format!("step {step}")});
            let replica = &replicas[(n + step) % replicas.len()];
            ids.push(accepted(&replica.post(order, body).await));
        }
    }
    for (n, id) in ids.iter().enumerate() {
        replicas[n % replicas.len()]
            .until_state(id, "delivered")
            .await;
    }
    for order in &orders {
        let flow_order = sim.order(order).await.expect("the order");
        assert_eq!(
            statuses(&flow_order),
            ["step 0", "step 1", "step 2", "step 3"]
        );
    }
    let times = call_times(&sim).await;
    let refused = sim.calls_of("updatestate").await;
    let refused = refused.iter().filter(|call| call["status"] == 503).count();
    assert_eq!(refused, 12, "Flow refused as told");
    // 48 updates, 12 refusals and the replicas' access tokens: more than one burst.
    assert!(times.len() >= 60, "{} calls", times.len());
    assert_within_budget(&times);
}

async fn a_replica_killed_mid_attempt_leaves_its_delivery_to_another_after_the_lease() {
    let schema = Schema::new();
    let sim = FlowSim::start().await;
    // The first update hangs at Flow long enough to kill the replica sending it.
    sim.fault(json!({"op": "updatestate", "latency_ms": 8000, "fail_next": 1}))
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let lease = Duration::from_secs(2);
    let store = format!("{}lease = \"2s\"\n", schema.store_table(None));
    let tenant = sim.tenant("sim", Some(14));
    let mut first = start_replica(dir.path(), "first", &tenant, &store).await;
    let order = uuid::Uuid::new_v4().to_string();
    let body = json!({"state": "InProcess", "status": "Photos taken"});
    let id = accepted(&first.post(&order, body).await);
    first.until_state(&id, "in_flight").await;
    // Started while the first holds the claim, so it takes the claim over by its lease alone.
    let second = start_replica(dir.path(), "second", &tenant, &store).await;
    first.kill();
    let killed = Instant::now();
    let record = second.until_state(&id, "delivered").await;
    assert!(
        killed.elapsed() >= lease / 2,
        "taken over only once the lease ran out ({:?} after the kill)",
        killed.elapsed()
    );
    assert_eq!(schema.state(&id).await.as_deref(), Some("delivered"));
    let flow_order = sim.order(&order).await.expect("delivered to Flow");
    assert_eq!(
        statuses(&flow_order).last().map(String::as_str),
        Some("Photos taken")
    );
    // Whoever sent it, every attempt carried the one Idempotency-Key.
    let keys: Vec<Value> = sim
        .calls_of("updatestate")
        .await
        .iter()
        .map(|call| call["headers"]["idempotency-key"].clone())
        .collect();
    assert!(!keys.is_empty() && keys.iter().all(|key| *key == keys[0] && key.is_string()));
    assert_eq!(record["state"], "delivered", "{record:#}");
}
