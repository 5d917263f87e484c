//! The worker loop end to end: order, retries, refusals, pacing, the circuit and shutdown.

use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use super::support::{GRACE, Harness, Knobs, TENANT, state};
use crate::deliver::control::Closed;
use crate::deliver::{Delivery, SyncError};
use crate::order::OrderUpdate;
use crate::queue::DeliveryContent;
use crate::queue::DeliveryState::{Dead, Delivered, InFlight};

const WITHIN: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_of_one_order_reach_flow_in_order() {
    let harness = Harness::start(Knobs::default()).await;
    let (first, second) = (harness.order().await, harness.order().await);
    let mut ids = Vec::new();
    for (n, state_name) in ["InProcess", "InProcess", "Completed"].iter().enumerate() {
        ids.push(
            harness
                .enqueue(first, state(state_name, &format!("step {n}")))
                .await,
        );
    }
    let other = harness.enqueue(second, state("Completed", "other")).await;
    for id in ids.iter().chain([&other]) {
        harness.wait_for(*id, Delivered, WITHIN).await;
    }
    let sent: Vec<String> = harness
        .calls_of("updatestate")
        .await
        .iter()
        .filter(|call| {
            call["path"]
                .as_str()
                .is_some_and(|p| p.contains(&first.to_string()))
        })
        .map(|call| {
            call["body"]["Status"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(sent, ["step 0", "step 1", "step 2"]);
    let order = harness.flow_order(first).await;
    let statuses = order["OrderStatuses"].as_array().expect("statuses");
    assert_eq!(
        statuses.last().expect("a status")["OrderStateType"],
        "Completed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_is_retried_and_only_the_failed_operation_is_resent() {
    let harness = Harness::start(Knobs::default()).await;
    let order = harness.order().await;
    let fault = json!({"op": "updatestate", "fail_next": 1, "status": 503});
    harness.fault(fault).await;
    let update = OrderUpdate {
        title: Some("Photos".to_owned()),
        ..state("InProcess", "Shooting")
    };
    let id = harness.enqueue(order, update).await;
    let record = harness.wait_for(id, Delivered, WITHIN).await;
    assert_eq!(
        harness.calls_of("patch").await.len(),
        1,
        "the patch went once"
    );
    assert_eq!(harness.calls_of("updatestate").await.len(), 2);
    let seen: Vec<(&str, Option<u16>)> = record
        .attempts
        .iter()
        .map(|a| (a.operation.as_str(), a.status))
        .collect();
    assert_eq!(
        seen,
        [
            ("patch", Some(200)),
            ("updatestate", Some(503)),
            ("updatestate", Some(200))
        ]
    );
    assert_eq!(
        record.attempts[1].error.as_deref(),
        Some("Flow answered 503")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_is_dead_at_once_with_flows_answer() {
    let harness = Harness::start(Knobs::default()).await;
    let order = harness.order().await;
    let body = json!({"Message": "State is not allowed"});
    harness
        .fault(json!({"op": "updatestate", "status": 400, "body": body}))
        .await;
    let id = harness.enqueue(order, state("Completed", "Done")).await;
    let record = harness.wait_for(id, Dead, WITHIN).await;
    assert_eq!(record.flow_status, Some(400));
    let flow_body = record.flow_body.as_deref().unwrap_or_default();
    assert!(flow_body.contains("State is not allowed"), "{flow_body}");
    assert_eq!(record.attempts.len(), 1);
    assert_eq!(harness.calls_of("updatestate").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_429_is_waited_out_without_spending_attempts() {
    // One retry in the schedule: had either 429 spent an attempt, the 503 would be fatal.
    let knobs = Knobs {
        schedule: vec![Duration::from_millis(100)],
        ..Knobs::default()
    };
    let harness = Harness::start(knobs).await;
    let order = harness.order().await;
    let throttled = json!({"op": "updatestate", "fail_next": 2, "status": 429, "retry_after": 1});
    harness.fault(throttled).await;
    let id = harness.enqueue(order, state("InProcess", "Busy")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    harness
        .fault(json!({"op": "updatestate", "fail_next": 1, "status": 503}))
        .await;
    let record = harness.wait_for(id, Delivered, WITHIN).await;
    let statuses: Vec<Option<u16>> = record.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(429), Some(429), Some(503), Some(200)]);
    let waited = record.attempts[1].at - record.attempts[0].at;
    assert!(
        waited >= chrono::TimeDelta::seconds(1),
        "Retry-After honoured: {waited}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_circuit_opens_after_n_failures_and_holds_calls_back() {
    let open_for = Duration::from_millis(1500);
    let knobs = Knobs {
        schedule: vec![Duration::from_millis(50); 10],
        circuit: (2, open_for),
        ..Knobs::default()
    };
    let harness = Harness::start(knobs).await;
    let order = harness.order().await;
    harness
        .fault(json!({"op": "updatestate", "status": 503}))
        .await;
    let id = harness.enqueue(order, state("InProcess", "Down")).await;
    let circuit = harness.control.circuit(TENANT).expect("a circuit");
    let opened = wait_until(|| async { circuit.is_open(Instant::now()) }).await;
    assert_eq!(
        harness.calls_of("updatestate").await.len(),
        2,
        "open after two failures"
    );
    tokio::time::sleep(open_for / 2).await;
    assert_eq!(
        harness.calls_of("updatestate").await.len(),
        2,
        "no call while open"
    );
    harness.clear_faults().await;
    let record = harness.wait_for(id, Delivered, WITHIN).await;
    assert!(opened.elapsed() >= open_for / 2);
    assert!(!circuit.is_open(Instant::now()), "the probe closed it");
    assert_eq!(harness.calls_of("updatestate").await.len(), 3);
    let statuses: Vec<Option<u16>> = record.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(503), Some(503), Some(200)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_returns_within_grace_leaving_the_attempt_in_flight() {
    let mut harness = Harness::start(Knobs::default()).await;
    let order = harness.order().await;
    harness
        .fault(json!({"op": "updatestate", "latency_ms": 5000}))
        .await;
    let id = harness.enqueue(order, state("InProcess", "Slow")).await;
    harness.wait_for(id, InFlight, WITHIN).await;
    let took = harness.stop().await;
    assert!(
        took >= GRACE,
        "running attempts get the grace period: {took:?}"
    );
    assert!(
        took < GRACE + Duration::from_secs(2),
        "then they are cut: {took:?}"
    );
    let record = harness.record(id).await;
    assert_eq!(
        record.state, InFlight,
        "made due again after restart or lease expiry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_delivery_is_refused_while_the_tenant_is_paused() {
    let harness = Harness::idle(&Knobs::default()).await;
    let order = harness.order().await;
    let delivery = Delivery {
        content: DeliveryContent {
            id: uuid::Uuid::now_v7(),
            vendor: "photo".to_owned(),
            tenant: TENANT.to_owned(),
            order_id: order,
            event_id: "e1".to_owned(),
            update: state("InProcess", "Sync"),
            state_default: None,
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
            created_at: chrono::Utc::now(),
        },
        flow: harness.tenants.flow(TENANT).expect("the tenant").clone(),
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    harness.control.set_paused(TENANT, true);
    let refused = harness
        .deliverer
        .run_sync(&delivery, &harness.control, deadline)
        .await;
    assert!(
        matches!(refused.result, Err(SyncError::Closed(Closed::Paused))),
        "{refused:?}"
    );
    assert!(refused.attempts.is_empty());
    harness.control.set_paused(TENANT, false);
    let sent = harness
        .deliverer
        .run_sync(&delivery, &harness.control, deadline)
        .await;
    assert!(sent.result.is_ok(), "{sent:?}");
    assert_eq!(sent.attempts.len(), 1);
    assert_eq!(harness.calls_of("updatestate").await.len(), 1);
}

/// Polls `check` until it holds (failing the test after [`WITHIN`]); when it first held.
async fn wait_until<F, Fut>(check: F) -> Instant
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + WITHIN;
    while !check().await {
        assert!(Instant::now() < deadline, "the condition never held");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Instant::now()
}
