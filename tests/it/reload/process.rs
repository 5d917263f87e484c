//! Reload of the binary users run: SIGHUP and `flowgate reload` swap the configuration in the
//! same process, which keeps serving on the same listeners.

use std::process::Stdio;

use serde_json::json;

use super::config;
use crate::support::admin::admin_at;
use crate::support::client::{get, send};
use crate::support::fixtures::{CANONICAL_SECRET, ORDER_ID, OTHER_SECRET, canonical_body};
use crate::support::flow::FlowSim;
use crate::support::{free_port, release_flowgate_command, sign, until_up};

/// The listeners of a gateway run as a process.
fn listeners() -> (String, String) {
    (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    )
}

async fn post(public: &str, secret: &str) -> u16 {
    let body = canonical_body(ORDER_ID, json!({"state": "InProcess"}));
    let mut request = http::Request::post(format!("http://{public}/webhooks/rotating"))
        .header("content-type", "application/json");
    for (name, value) in sign::sign(&sign::standard_webhooks(secret), body.as_bytes()) {
        request = request.header(name, value);
    }
    let request = request
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .expect("a request");
    send(request).await.status.as_u16()
}

#[tokio::test]
async fn sighup_and_flowgate_reload_swap_the_configuration_in_the_same_process() {
    let sim = FlowSim::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (public, admin) = listeners();
    let server = format!("[server]\nlisten = \"{public}\"\nadmin_listen = \"{admin}\"\n");
    let file = dir.path().join("config.toml");
    let write = |secret: &str| {
        let toml = format!("{server}{}", config(&sim, &[secret], ""));
        std::fs::write(&file, toml).expect("write the config");
    };
    write(CANONICAL_SECRET);
    let mut gateway = release_flowgate_command()
        .arg("--config")
        .arg(&file)
        .arg("serve")
        .stderr(Stdio::null())
        .spawn()
        .expect("the gateway starts");
    let pid = gateway.id().expect("a pid");
    until_up(&format!("http://{admin}/readyz")).await;
    assert_eq!(post(&public, CANONICAL_SECRET).await, 202);

    write(OTHER_SECRET);
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = tokio::time::Instant::now() + crate::support::TIMEOUT;
    while post(&public, OTHER_SECRET).await != 202 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "SIGHUP never took the new secret"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(post(&public, CANONICAL_SECRET).await, 401);
    assert!(
        gateway.try_wait().expect("wait").is_none(),
        "SIGHUP ended the process"
    );
    assert_eq!(gateway.id(), Some(pid));

    // `flowgate reload` asks the same process, and says what changed.
    write(CANONICAL_SECRET);
    let output = release_flowgate_command()
        .arg("--config")
        .arg(&file)
        .arg("reload")
        .output()
        .await
        .expect("flowgate reload runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("reloaded: config "), "{stdout}");
    assert!(stdout.contains("changed: vendors.rotating"), "{stdout}");
    assert_eq!(post(&public, CANONICAL_SECRET).await, 202);

    // A file that does not load: exit 1, every error printed, the old configuration serves.
    std::fs::write(&file, format!("{server}[server.nope]\n")).expect("write");
    let output = release_flowgate_command()
        .arg("--config")
        .arg(&file)
        .arg("reload")
        .output()
        .await
        .expect("flowgate reload runs");
    assert!(!output.status.success());
    assert_eq!(post(&public, CANONICAL_SECRET).await, 202);

    let (status, _) = admin_at(&admin, "GET", "/admin/deliveries?limit=1").await;
    assert_eq!(status, 200);
    let metrics = get(&format!("http://{admin}/metrics")).await;
    let metrics = String::from_utf8_lossy(&metrics.body);
    assert!(
        metrics
            .lines()
            .any(|l| l == r#"flowgate_config_reloads_total{result="ok"} 2"#),
        "{metrics}"
    );
    let _ = gateway.start_kill();
}
