//! Flow down, refusing, or rate-limiting: every accepted webhook still arrives, in order per
//! order; a refusal is a dead letter that the admin API shows and redrives.

use serde_json::json;

use super::{accepted, post, queued_gateway, statuses};
use crate::flow::canonical_body;
use crate::support::admin::{admin, until_state};
use crate::support::fixtures::canonical;

#[tokio::test]
async fn a_queued_webhook_is_202_after_the_commit_then_delivered() {
    let gw = queued_gateway().await;
    let order = uuid::Uuid::new_v4().to_string();
    let body = json!({"state": "Completed", "status": "Done", "title": "Photos"});
    let id = accepted(&post(&gw, &order, body).await);
    let record = until_state(&gw, &id, "delivered").await;
    assert_eq!(record["mode"], "queued");
    assert_eq!(record["operations"], json!(["patch", "updatestate"]));
    let calls: Vec<(&str, u64)> = record["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| {
            (
                a["operation"].as_str().unwrap_or_default(),
                a["status"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [("patch", 200), ("updatestate", 200)],
        "every call is recorded"
    );
    let flow_order = gw.sim().order(&order).await.expect("delivered to Flow");
    assert_eq!(statuses(&flow_order), ["Done"]);
    assert_eq!(flow_order["Title"], "Photos");
}

#[tokio::test]
async fn a_vendors_traceparent_travels_with_the_delivery_to_every_attempt() {
    let gw = queued_gateway().await;
    gw.sim()
        .fault(json!({"op": "updatestate", "status": 503, "fail_next": 1}))
        .await;
    let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let order = uuid::Uuid::new_v4().to_string();
    let reply = gw
        .webhook(
            "queued",
            canonical_body(&order, json!({"state": "Completed"})),
        )
        .signed(&canonical())
        .header("traceparent", trace)
        .send()
        .await;
    let id = accepted(&reply);
    until_state(&gw, &id, "delivered").await;
    let calls = gw.sim().calls_of("updatestate").await;
    let sent: Vec<(u64, &str)> = calls
        .iter()
        .map(|c| {
            let status = c["status"].as_u64().unwrap_or_default();
            (
                status,
                c["headers"]["traceparent"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(sent, [(503, trace), (200, trace)], "{calls:#?}");
}

#[tokio::test]
async fn while_flow_is_down_webhooks_wait_and_arrive_in_order_per_order() {
    let gw = queued_gateway().await;
    gw.sim()
        .fault(json!({"op": "updatestate", "status": 503}))
        .await;
    let orders: Vec<String> = (0..3).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let mut ids = Vec::new();
    for step in 0..4 {
        for order in &orders {
            let body = json!({"state": "InProcess", "status": format!("step {step}")});
            ids.push(accepted(&post(&gw, order, body).await));
        }
    }
    // Flow refuses for a while: the first of each order is retried, the rest wait their turn.
    let first = until_state(&gw, &ids[0], "retrying").await;
    assert_eq!(first["attempts"][0]["status"], 503);
    let (_, later) = admin(&gw, "GET", &format!("/admin/deliveries/{}", ids[3])).await;
    assert_eq!(
        later["state"], "pending",
        "the second of an order waits: {later:#}"
    );
    gw.sim().clear_faults().await;

    for id in &ids {
        until_state(&gw, id, "delivered").await;
    }
    for order in &orders {
        let flow_order = gw.sim().order(order).await.expect("the order");
        assert_eq!(
            statuses(&flow_order),
            ["step 0", "step 1", "step 2", "step 3"]
        );
    }
}

#[tokio::test]
async fn a_refusal_is_dead_at_once_and_redriven_after_the_fault_is_cleared() {
    let gw = queued_gateway().await;
    let flow_body = json!({"title": "One or more validation errors occurred."});
    gw.sim()
        .fault(json!({"op": "updatestate", "status": 400, "body": flow_body}))
        .await;
    let order = uuid::Uuid::new_v4().to_string();
    let dead_id = accepted(&post(&gw, &order, json!({"state": "Completed"})).await);
    let dead = until_state(&gw, &dead_id, "dead").await;
    assert_eq!(dead["flow_status"], 400);
    assert!(
        dead["flow_body"]
            .as_str()
            .unwrap_or_default()
            .contains("validation errors")
    );
    assert_eq!(
        dead["attempts"].as_array().map(Vec::len),
        Some(1),
        "no retry"
    );

    // A dead delivery leaves the order's line: the next update of the order is not held up.
    gw.sim().clear_faults().await;
    let next = accepted(
        &post(
            &gw,
            &order,
            json!({"status": "Still working", "state": "InProcess"}),
        )
        .await,
    );
    until_state(&gw, &next, "delivered").await;

    let (status, listed) = admin(&gw, "GET", "/admin/deliveries?state=dead").await;
    assert_eq!(status, 200);
    assert_eq!(listed["deliveries"][0]["id"], dead_id.as_str());
    // The later update was delivered, so retrying the older one needs force.
    let (status, _) = admin(&gw, "POST", &format!("/admin/deliveries/{dead_id}/retry")).await;
    assert_eq!(status, 409);
    let (status, _) = admin(
        &gw,
        "POST",
        &format!("/admin/deliveries/{dead_id}/retry?force=true"),
    )
    .await;
    assert_eq!(status, 202);
    until_state(&gw, &dead_id, "delivered").await;
}

#[tokio::test]
async fn redrive_retries_every_dead_delivery_of_a_vendor() {
    let gw = queued_gateway().await;
    gw.sim()
        .fault(json!({"op": "updatestate", "status": 404}))
        .await;
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for _ in 0..3 {
            let order = uuid::Uuid::new_v4().to_string();
            ids.push(accepted(
                &post(&gw, &order, json!({"state": "Completed"})).await,
            ));
        }
        ids
    };
    for id in &ids {
        until_state(&gw, id, "dead").await;
    }
    gw.sim().clear_faults().await;
    let (status, body) = admin(&gw, "POST", "/admin/deliveries/redrive?vendor=queued").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"redriven": 3, "superseded": 0}));
    for id in &ids {
        until_state(&gw, id, "delivered").await;
    }
}

#[tokio::test]
async fn flows_429_is_waited_out_without_spending_an_attempt() {
    let gw = queued_gateway().await;
    gw.sim()
        .fault(json!({"op": "updatestate", "fail_next": 1, "status": 429, "retry_after": 1}))
        .await;
    let started = std::time::Instant::now();
    let order = uuid::Uuid::new_v4().to_string();
    let id = accepted(&post(&gw, &order, json!({"state": "Completed"})).await);
    let record = until_state(&gw, &id, "delivered").await;
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "Flow's Retry-After was not honoured"
    );
    let statuses: Vec<u64> = record["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["status"].as_u64().unwrap_or_default())
        .collect();
    assert_eq!(statuses, [429, 200]);
}

#[tokio::test]
async fn beyond_max_pending_new_webhooks_are_503_overloaded_and_none_is_lost() {
    let extra = format!("{}\n[store]\nmax_pending = 3\n", super::queued_config());
    let gw = crate::support::fixtures::gateway("", &extra).await;
    gw.sim()
        .fault(json!({"op": "updatestate", "status": 503}))
        .await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let order = uuid::Uuid::new_v4().to_string();
        ids.push(accepted(
            &post(&gw, &order, json!({"state": "Completed"})).await,
        ));
    }
    // The backlog is counted every second: within a few, the next webhook is refused.
    let order = uuid::Uuid::new_v4().to_string();
    let refused = crate::support::eventually(
        "the queue counting as full",
        async || post(&gw, &order, json!({"state": "Completed"})).await,
        |reply| reply.status == 503,
    )
    .await;
    crate::support::assert_problem(&refused, 503, "overloaded");
    gw.sim().clear_faults().await;
    for id in &ids {
        until_state(&gw, id, "delivered").await;
    }
}

#[tokio::test]
async fn a_status_alone_is_accepted_only_when_a_state_is_sent_or_queued_for_the_order() {
    let gw = queued_gateway().await;
    gw.sim()
        .fault(json!({"op": "updatestate", "status": 503}))
        .await;
    let order = uuid::Uuid::new_v4().to_string();
    let reply = post(&gw, &order, json!({"status": "Shoot moved"})).await;
    crate::support::assert_problem(&reply, 422, "mapping-failed");

    // A state still waiting for Flow is enough: the status follows it.
    let first = accepted(
        &post(
            &gw,
            &order,
            json!({"state": "InProcess", "status": "Booked"}),
        )
        .await,
    );
    let second = accepted(&post(&gw, &order, json!({"status": "Shoot moved"})).await);
    gw.sim().clear_faults().await;
    until_state(&gw, &first, "delivered").await;
    until_state(&gw, &second, "delivered").await;
    let calls = gw.sim().calls_of("updatestate").await;
    let last = calls.last().expect("calls");
    assert_eq!(
        last["body"],
        json!({"Status": "Shoot moved", "State": "InProcess"})
    );
}

#[tokio::test]
async fn when_the_store_fails_a_webhook_is_503_never_a_2xx_and_recovers_by_itself() {
    let gw = queued_gateway().await;
    let database = gw.config_path().with_file_name("data").join("flowgate.db");
    let db = rusqlite::Connection::open(&database).expect("the gateway's database");
    // Break the store under the running gateway, as a failing disk would.
    db.execute_batch("ALTER TABLE deliveries RENAME TO deliveries_away")
        .expect("rename");
    let order = uuid::Uuid::new_v4().to_string();
    let reply = post(&gw, &order, json!({"state": "Completed"})).await;
    let problem = crate::support::assert_problem(&reply, 503, "unavailable");
    assert!(reply.retry_after() >= 1, "{problem}");

    db.execute_batch("ALTER TABLE deliveries_away RENAME TO deliveries")
        .expect("rename back");
    let id = accepted(&post(&gw, &order, json!({"state": "Completed"})).await);
    until_state(&gw, &id, "delivered").await;
}
