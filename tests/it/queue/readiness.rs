//! The store accepting or not (DESIGN sections 8, 9 and 11): a database deleted under the
//! running gateway, or a disk below `store.min_free_disk`, turns `/readyz` 503 naming the cause
//! and `flowgate_store_ready` 0, and queued webhooks are refused rather than answered 202.

use serde_json::{Value, json};

use super::{accepted, post, queued_config, queued_gateway};
use crate::support::client::get;
use crate::support::fixtures::{self, CONFIG_FILES};
use crate::support::flow::FlowSim;
use crate::support::{Gateway, assert_problem, eventually};

/// `flowgate_store_ready` as the gateway exports it now.
async fn store_ready(gw: &Gateway) -> String {
    let text = get(&gw.admin_url("/metrics")).await.body;
    let text = String::from_utf8_lossy(&text).into_owned();
    text.lines()
        .find_map(|line| line.strip_prefix("flowgate_store_ready "))
        .unwrap_or_else(|| panic!("no flowgate_store_ready in {text}"))
        .to_owned()
}

/// The store's cause in a 503 `/readyz` body.
fn store_check(body: &Value) -> String {
    assert_eq!(body["ready"], false, "{body}");
    body["checks"]["store"]
        .as_str()
        .unwrap_or_else(|| panic!("no store check in {body}"))
        .to_owned()
}

#[tokio::test]
async fn a_deleted_database_turns_readiness_503_and_queued_webhooks_503_unavailable() {
    let gw = queued_gateway().await;
    assert_eq!(store_ready(&gw).await, "1");
    // Flow refuses: the deliveries stay open in the database while it is deleted.
    gw.sim()
        .fault(json!({"op": "updatestate", "status": 503}))
        .await;
    for _ in 0..5 {
        let order = uuid::Uuid::new_v4().to_string();
        accepted(&post(&gw, &order, json!({"state": "InProcess"})).await);
    }
    let data = gw.config_path().with_file_name("data");
    for entry in std::fs::read_dir(&data).expect("the data directory") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with("flowgate.db") {
            std::fs::remove_file(&path).expect("remove");
        }
    }

    let readyz = async || get(&gw.admin_url("/readyz")).await;
    let gone = |r: &crate::support::Reply| {
        r.status == 503 && store_check(&r.json()).starts_with("file gone: ")
    };
    eventually("readiness turning 503: file gone", readyz, gone).await;
    assert_eq!(store_ready(&gw).await, "0");
    let order = uuid::Uuid::new_v4().to_string();
    let refused = post(&gw, &order, json!({"state": "Completed"})).await;
    assert_problem(&refused, 503, "unavailable");
    // A refusal the store cannot keep now is answered all the same.
    let invalid = post(&gw, &order, json!({"state": "Shipped"})).await;
    assert_problem(&invalid, 422, "schema-violation");
}

#[tokio::test]
async fn below_min_free_disk_readiness_is_503_and_queued_webhooks_503_overloaded() {
    let sim = FlowSim::start().await;
    // No disk here has a thousand tebibytes free.
    let extra = format!(
        "{}\n[store]\nmin_free_disk = \"1000TiB\"\n",
        queued_config()
    );
    let config = fixtures::config("", &sim, &extra);
    let gw = Gateway::start_unready(&config, CONFIG_FILES)
        .await
        .with_sim(sim);
    // The disk is read before the gateway starts serving: no wait.
    let unready = get(&gw.admin_url("/readyz")).await;
    assert_eq!(unready.status, 503);
    let body = unready.json();
    let cause = store_check(&body);
    assert!(
        cause.starts_with("low disk: ") && cause.ends_with(" GiB free"),
        "{cause}"
    );
    assert_eq!(
        body["checks"].as_object().map(serde_json::Map::len),
        Some(1),
        "{body}"
    );
    assert_eq!(store_ready(&gw).await, "0");
    let order = uuid::Uuid::new_v4().to_string();
    let refused = post(&gw, &order, json!({"state": "Completed"})).await;
    assert_problem(&refused, 503, "overloaded");
}
