//! The README's quick start, run as a newcomer would: the repository's own `config.toml`,
//! schemas and examples, the release-shaped binary serving the gateway with its in-process Flow
//! simulator, `flowgate send` of each example, and the order read back from the simulator.
//! Also `flowgate simulate` (the simulator alone) and `flowgate map`.

use std::process::Stdio;

use serde_json::Value;

use crate::support::client::request;
use crate::support::demo::{Demo, terminate};
use crate::support::{free_port, until_up};

#[tokio::test]
async fn the_readme_quick_start_changes_an_order_in_the_simulated_flow() {
    let demo = Demo::new();
    let gateway = demo
        .command(&["serve"])
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    until_up(&format!("http://{}/readyz", demo.admin)).await;

    let file = demo.example("demo-update.json");
    let url = format!("http://{}", demo.public);
    let (ok, out) = demo
        .run(&[
            "send",
            "--vendor",
            "demo",
            "--url",
            &url,
            &file.to_string_lossy(),
        ])
        .await;
    assert!(
        ok && out.contains("202 Accepted") && out.contains("pending"),
        "{out}"
    );
    let order = demo.sim_order("9f0c8f0e-3c1b-4d59-a7b5-2b0b6c1d2e3f").await;
    assert_eq!(order["Title"], "Property photos, 20 images");
    assert_eq!(order["OrderStatuses"][0]["OrderStateType"], "InProcess");

    let file = demo.example("example-photo-delivered.json");
    let (ok, out) = demo
        .run(&[
            "send",
            "--vendor",
            "example-photo",
            "--url",
            &url,
            &file.to_string_lossy(),
        ])
        .await;
    assert!(ok && out.contains("202 Accepted"), "{out}");
    let order = demo.sim_order("2d6f1c3a-8b4e-4f0a-9c7d-5e1b2a3c4d5e").await;
    assert_eq!(order["ActionText"], "Open in Example Photo");
    assert_eq!(order["OrderStatuses"][0]["OrderStateType"], "Completed");

    assert!(terminate(gateway).await.success());
}

#[tokio::test]
async fn map_prints_the_update_and_the_calls_without_sending() {
    let demo = Demo::new();
    let file = demo.example("example-photo-delivered.json");
    let (ok, out) = demo
        .run(&["map", "--vendor", "example-photo", &file.to_string_lossy()])
        .await;
    assert!(ok, "{out}");
    let report: Value = serde_json::from_str(&out).expect("the report is JSON");
    assert_eq!(report["order_update"]["state"], "Completed");
    assert_eq!(report["order_update"]["tenant_id"], 14);
    assert_eq!(report["tenant"], "demo");
    let operations: Vec<&str> = report["flow_calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| c["operation"].as_str().expect("an operation"))
        .collect();
    assert_eq!(operations, ["patch", "updatestate"]);
    assert_eq!(report["flow_calls"][1]["body"]["State"], "Completed");

    let broken = demo.dir.path().join("broken.json");
    std::fs::write(&broken, r#"{"id": "x", "type": "order.lost", "data": {}}"#).expect("write");
    let (ok, out) = demo
        .run(&[
            "map",
            "--vendor",
            "example-photo",
            &broken.to_string_lossy(),
        ])
        .await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("schema-violation") && out.contains("/type"),
        "{out}"
    );
}

#[tokio::test]
async fn simulate_serves_flow_alone_until_sigterm() {
    let demo = Demo::new();
    let listen = format!("127.0.0.1:{}", free_port());
    let simulator = demo
        .command(&["simulate", "--listen", &listen])
        .stderr(Stdio::null())
        .spawn()
        .expect("simulate starts");
    until_up(&format!("http://{listen}/sim/calls")).await;
    let reply = request("POST", &format!("http://{listen}/flow/authtoken"), None).await;
    assert_eq!(reply.status, 400, "no credentials: {reply:?}");
    assert!(terminate(simulator).await.success());
}
