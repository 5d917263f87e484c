//! Reload of the binary users run: SIGHUP and `flowgate reload` swap the configuration in the
//! same process, which keeps serving on the same listeners.

use std::process::Stdio;

use serde_json::json;

use super::config;
use crate::support::admin::admin_at;
use crate::support::client::{get, send};
use crate::support::fixtures::{CANONICAL_SECRET, ORDER_ID, OTHER_SECRET, canonical_body};
use crate::support::flow::FlowSim;
use crate::support::tls::{self, Issued, TestCa, TlsClient};
use crate::support::{free_port, release_flowgate_command, sign, until_up};

/// The listeners of a gateway run as a process.
fn listeners() -> (String, String) {
    (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    )
}

/// `flowgate serve` on `file`, once its admin listener at `admin` is ready; its pid.
async fn serve(file: &std::path::Path, admin: &str) -> (tokio::process::Child, u32) {
    let gateway = release_flowgate_command()
        .arg("--config")
        .arg(file)
        .arg("serve")
        .stderr(Stdio::null())
        .spawn()
        .expect("the gateway starts");
    let pid = gateway.id().expect("a pid");
    until_up(&format!("http://{admin}/readyz")).await;
    (gateway, pid)
}

/// `flowgate reload` with the configuration `file`.
async fn reload_cli(file: &std::path::Path) -> std::process::Output {
    release_flowgate_command()
        .arg("--config")
        .arg(file)
        .arg("reload")
        .output()
        .await
        .expect("flowgate reload runs")
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
    let (mut gateway, pid) = serve(&file, &admin).await;
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
    let output = reload_cli(&file).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("reloaded: config "), "{stdout}");
    assert!(stdout.contains("changed: vendors.rotating"), "{stdout}");
    assert_eq!(post(&public, CANONICAL_SECRET).await, 202);

    // A file the gateway cannot build: exit 1, every error printed, the old configuration
    // serves on.
    let broken = config(&sim, &[OTHER_SECRET], "schema = \"schemas/missing.json\"\n");
    std::fs::write(&file, format!("{server}{broken}")).expect("write");
    let output = reload_cli(&file).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("422 config-invalid"), "{stderr}");
    assert!(stderr.contains("vendors.rotating.schema: "), "{stderr}");
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

/// The SHA-256 of the certificate a fresh handshake with `address` is shown.
async fn served_fingerprint(client: &TlsClient, address: std::net::SocketAddr) -> [u8; 32] {
    use sha2::Digest;
    let stream = client.connect(address).await.expect("a handshake");
    let certificates = stream
        .get_ref()
        .1
        .peer_certificates()
        .expect("a certificate");
    sha2::Sha256::digest(certificates[0].as_ref()).into()
}

/// A signed update of the `rotating` vendor as an HTTPS request.
fn tls_webhook(address: std::net::SocketAddr) -> http::Request<http_body_util::Full<bytes::Bytes>> {
    let body = canonical_body(ORDER_ID, json!({"state": "InProcess"}));
    let headers = sign::sign(&sign::standard_webhooks(CANONICAL_SECRET), body.as_bytes());
    tls::post(address, "/webhooks/rotating", headers, body)
}

#[tokio::test]
async fn sighup_serves_a_renewed_certificate_without_dropping_a_connection() {
    let sim = FlowSim::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = TestCa::new("flowgate reload CA");
    let write_certificate = |issued: &Issued| {
        std::fs::create_dir_all(dir.path().join("tls")).expect("mkdir");
        for (name, contents) in tls::server_files(issued) {
            std::fs::write(dir.path().join(name), contents).expect("write");
        }
    };
    write_certificate(&ca.server());
    let (public, admin) = listeners();
    let server = tls::server_table(
        &format!("[server]\nlisten = \"{public}\"\nadmin_listen = \"{admin}\""),
        "",
    );
    let file = dir.path().join("config.toml");
    let toml = format!("{server}\n{}", config(&sim, &[CANONICAL_SECRET], ""));
    std::fs::write(&file, toml).expect("write the config");
    let (mut gateway, pid) = serve(&file, &admin).await;
    let address: std::net::SocketAddr = public.parse().expect("an address");
    let client = TlsClient::offering(&ca, &["h2"]);
    let before = served_fingerprint(&client, address).await;

    // An HTTP/2 connection opened on the old certificate, kept across the reload.
    let stream = client.connect(address).await.expect("a handshake");
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut kept, connection) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
            .await
            .expect("HTTP/2");
    tokio::spawn(connection);
    let answer = kept
        .send_request(tls_webhook(address))
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 202);

    // New connections, one after the other, through the reload.
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let posting = {
        let client = TlsClient::offering(&ca, &["h2", "http/1.1"]);
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            while !*stopped.borrow_and_update() {
                let (_, reply) = client
                    .send(address, tls_webhook(address))
                    .await
                    .unwrap_or_else(|e| panic!("a webhook during the reload failed: {e}"));
                statuses.push(reply.status.as_u16());
            }
            statuses
        })
    };
    write_certificate(&ca.server());
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = tokio::time::Instant::now() + crate::support::TIMEOUT;
    let after = loop {
        let served = served_fingerprint(&client, address).await;
        if served != before {
            break served;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the renewed certificate is never served"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_ne!(after, before);
    let _ = stop.send(true);
    let statuses = posting.await.expect("the poster");
    assert!(!statuses.is_empty());
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    // The connection from before the reload still serves.
    let answer = kept
        .send_request(tls_webhook(address))
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 202);
    assert_eq!(gateway.id(), Some(pid));

    // Files that do not load keep the certificate served.
    std::fs::write(dir.path().join(tls::KEY_FILE), "not a key").expect("write");
    let (status, problem) = admin_at(&admin, "POST", "/admin/reload").await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        problem["errors"][0]["key"], "server.tls.key_file",
        "{problem}"
    );
    assert_eq!(served_fingerprint(&client, address).await, after);
    let _ = gateway.start_kill();
}
