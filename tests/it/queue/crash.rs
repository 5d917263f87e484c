//! Nothing acknowledged is lost on `kill -9` (DESIGN section 8): the binary (the release build
//! when `.ci/run` provides one) is killed with SIGKILL in the middle of a load while Flow refuses every update, restarted on the same
//! database, and once Flow recovers every webhook that was answered 202 reaches it.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::process::Child;

use super::queued_config;
use crate::flow::canonical_body;
use crate::support::fixtures::canonical;
use crate::support::flow::FlowSim;
use crate::support::release_flowgate_command;
use crate::support::sign::sign;
use crate::support::{TIMEOUT, free_port, until_up, within};

fn start(config: &Path) -> Child {
    let mut command = release_flowgate_command();
    command
        .arg("--config")
        .arg(config)
        .arg("serve")
        .stderr(Stdio::null());
    command.spawn().expect("the gateway starts")
}

/// Posts one signed webhook; its status text when the gateway answered 202.
async fn post(public: &str, status: String) -> Option<String> {
    let order = uuid::Uuid::new_v4().to_string();
    let body = canonical_body(&order, json!({"state": "InProcess", "status": status}));
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{public}/webhooks/queued"))
        .header("content-type", "application/json");
    for (name, value) in sign(&canonical(), body.as_bytes()) {
        request = request.header(name, value);
    }
    let request = request
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .expect("a request");
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let answer = tokio::time::timeout(Duration::from_secs(5), client.request(request)).await;
    match answer {
        Ok(Ok(response)) if response.status() == 202 => Some(status),
        _ => None,
    }
}

#[tokio::test]
async fn every_acknowledged_webhook_reaches_flow_after_a_sigkill_and_restart() {
    let sim = FlowSim::start().await;
    sim.fault(json!({"op": "updatestate", "status": 503})).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (public, admin) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let config = format!(
        "[server]\nlisten = \"{public}\"\nadmin_listen = \"{admin}\"\n[log]\nlevel = \"warn\"\n{}\n{}",
        sim.tenant("sim", Some(14)),
        queued_config()
    );
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, config).expect("write the config");

    let mut gateway = start(&config_path);
    until_up(&format!("http://{admin}/readyz")).await;
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let senders: Vec<_> = (0..4)
        .map(|sender| {
            let (public, acknowledged) = (public.clone(), acknowledged.clone());
            tokio::spawn(async move {
                for n in 0..100 {
                    if let Some(status) = post(&public, format!("sender {sender} update {n}")).await
                    {
                        acknowledged.lock().expect("lock").insert(status);
                    }
                }
            })
        })
        .collect();
    // Kill mid-load, once some webhooks are acknowledged and others still arriving.
    within(TIMEOUT, "the first acknowledgements", async {
        while acknowledged.lock().expect("lock").len() < 60 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    gateway.start_kill().expect("SIGKILL");
    gateway.wait().await.expect("the gateway is gone");
    for sender in senders {
        sender.await.expect("the sender finishes");
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(acknowledged.len() >= 60, "{}", acknowledged.len());

    let gateway = start(&config_path);
    until_up(&format!("http://{admin}/readyz")).await;
    sim.clear_faults().await;
    let delivered = within(
        Duration::from_secs(60),
        "every acknowledged webhook reaching Flow",
        async {
            loop {
                let calls = sim.calls_of("updatestate").await;
                let delivered: BTreeSet<String> = calls
                    .iter()
                    .filter(|c| c["status"] == 200)
                    .filter_map(|c| c["body"]["Status"].as_str().map(str::to_owned))
                    .collect();
                if acknowledged.is_subset(&delivered) {
                    return delivered;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        },
    )
    .await;
    assert!(acknowledged.is_subset(&delivered));
    drop(gateway);
}
