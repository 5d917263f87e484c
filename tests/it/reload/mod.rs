//! Reload (DESIGN section 16): the configuration is rebuilt beside the running one and swapped in
//! at once, through `POST /admin/reload`, `flowgate reload` and SIGHUP. Webhooks keep being
//! answered throughout; a file that does not load changes nothing.

mod process;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::support::admin::{ADMIN_TABLE, admin};
use crate::support::client::get;
use crate::support::fixtures::{CANONICAL_SECRET, ORDER_ID, OTHER_SECRET, canonical_body};
use crate::support::flow::FlowSim;
use crate::support::{Gateway, TIMEOUT, sign, within};

/// A gateway whose vendor `rotating` (queued, standard-webhooks) has `secrets`; `extra` is
/// appended.
fn config(sim: &FlowSim, secrets: &[&str], extra: &str) -> String {
    let tenant = sim.tenant("sim", None);
    let secrets: Vec<String> = secrets.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        "{ADMIN_TABLE}\n{tenant}\n[vendors.rotating]\nverify = {{ scheme = \"standard-webhooks\", secrets = [{}] }}\ntenant = \"sim\"\n{extra}\n",
        secrets.join(", ")
    )
}

async fn gateway(secrets: &[&str]) -> Gateway {
    let sim = FlowSim::start().await;
    Gateway::start(&config(&sim, secrets, ""))
        .await
        .with_sim(sim)
}

/// Rewrites the gateway's configuration file and asks it to reload.
async fn reload_with(gw: &Gateway, toml: &str) -> (u16, Value) {
    std::fs::write(gw.config_path(), toml).expect("rewrite the config");
    admin(gw, "POST", "/admin/reload").await
}

/// One vendor posting signed updates back to back on one kept-alive connection pool, signing
/// with whatever secret `secret` holds at the time, until `stop`: every status it got.
fn poster(
    public: SocketAddr,
    secret: Arc<Mutex<String>>,
    stop: watch::Receiver<bool>,
) -> JoinHandle<Vec<u16>> {
    tokio::spawn(async move {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let mut statuses = Vec::new();
        while !*stop.borrow() {
            let body = canonical_body(ORDER_ID, json!({"state": "InProcess"}));
            let key = secret.lock().expect("the secret").clone();
            let mut request = Request::post(format!("http://{public}/webhooks/rotating"))
                .header("content-type", "application/json");
            for (name, value) in sign::sign(&sign::standard_webhooks(&key), body.as_bytes()) {
                request = request.header(name, value);
            }
            let request = request
                .body(Full::new(Bytes::from(body)))
                .expect("a request");
            let response = within(TIMEOUT, "a webhook", client.request(request))
                .await
                .unwrap_or_else(|e| panic!("a webhook during reloads failed: {e}"));
            let status = response.status().as_u16();
            let _ = response.into_body().collect().await;
            statuses.push(status);
        }
        statuses
    })
}

/// The status of an update of the `rotating` vendor signed with `secret`.
async fn signed_status(gw: &Gateway, secret: &str) -> u16 {
    let body = canonical_body(ORDER_ID, json!({"state": "InProcess"}));
    let spec = sign::standard_webhooks(secret);
    let reply = gw.webhook("rotating", body).signed(&spec).send().await;
    reply.status.as_u16()
}

async fn metrics(gw: &Gateway) -> String {
    let reply = get(&gw.admin_url("/metrics")).await;
    String::from_utf8_lossy(&reply.body).into_owned()
}

fn series<'a>(metrics: &'a str, prefix: &str) -> Vec<&'a str> {
    metrics.lines().filter(|l| l.starts_with(prefix)).collect()
}

#[tokio::test]
async fn a_secret_is_rotated_without_one_refused_webhook() {
    let gw = gateway(&[CANONICAL_SECRET]).await;
    let sim_tenant = gw.sim().tenant("sim", None);
    let secret = Arc::new(Mutex::new(CANONICAL_SECRET.to_owned()));
    let (stop, stopped) = watch::channel(false);
    let posting = poster(gw.public, secret.clone(), stopped);
    let step = |secrets: &[&str]| {
        let sim = &sim_tenant;
        let secrets: Vec<String> = secrets.iter().map(|s| format!("\"{s}\"")).collect();
        format!(
            "{ADMIN_TABLE}\n{sim}\n[vendors.rotating]\nverify = {{ scheme = \"standard-webhooks\", secrets = [{}] }}\ntenant = \"sim\"\n",
            secrets.join(", ")
        )
    };
    // Add the new secret beside the old one.
    let (status, answer) = reload_with(&gw, &step(&[CANONICAL_SECRET, OTHER_SECRET])).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["changed"], json!(["vendors.rotating"]));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // The vendor switches; then the old secret goes.
    *secret.lock().expect("the secret") = OTHER_SECRET.to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (status, answer) = reload_with(&gw, &step(&[OTHER_SECRET])).await;
    assert_eq!(status, 200, "{answer}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let _ = stop.send(true);
    let statuses = posting.await.expect("the poster");
    assert!(statuses.len() > 10, "only {} webhooks sent", statuses.len());
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    // The old secret no longer works.
    assert_eq!(signed_status(&gw, CANONICAL_SECRET).await, 401);
    let counted = metrics(&gw).await;
    let mut reloads = series(&counted, "flowgate_config_reloads_total");
    reloads.sort_unstable();
    assert_eq!(
        reloads,
        [
            r#"flowgate_config_reloads_total{result="error"} 0"#,
            r#"flowgate_config_reloads_total{result="ok"} 2"#,
        ]
    );
}

#[tokio::test]
async fn a_file_that_does_not_load_changes_nothing() {
    let gw = gateway(&[CANONICAL_SECRET]).await;
    let hash_before = series(&metrics(&gw).await, "flowgate_config_info").join("\n");
    assert!(hash_before.contains("hash=\""), "{hash_before}");
    let broken = config(
        gw.sim(),
        &[OTHER_SECRET],
        "schema = \"schemas/missing.json\"\n[vendors.second]\nverify = { scheme = \"bearer\", tokens_env = \"FLOWGATE_IT_UNSET_VARIABLE\" }\ntenant = \"sim\"\n",
    );
    let (status, problem) = reload_with(&gw, &broken).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["code"], "config-invalid");
    let keys: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["key"].as_str())
        .collect();
    assert!(
        keys.contains(&"vendors.second.verify.tokens_env"),
        "{problem}"
    );
    assert!(keys.contains(&"vendors.rotating.schema"), "{problem}");
    // The old secret still works, the one in the broken file does not.
    assert_eq!(signed_status(&gw, CANONICAL_SECRET).await, 202);
    assert_eq!(signed_status(&gw, OTHER_SECRET).await, 401);
    let counted = metrics(&gw).await;
    assert_eq!(
        series(&counted, "flowgate_config_info").join("\n"),
        hash_before
    );
    assert!(
        counted
            .lines()
            .any(|l| l == r#"flowgate_config_reloads_total{result="error"} 1"#),
        "{counted}"
    );
}

#[tokio::test]
async fn four_clients_posting_through_reloads_are_all_answered_202() {
    let gw = gateway(&[CANONICAL_SECRET]).await;
    let secret = Arc::new(Mutex::new(CANONICAL_SECRET.to_owned()));
    let (stop, stopped) = watch::channel(false);
    let posting: Vec<_> = (0..4)
        .map(|_| poster(gw.public, secret.clone(), stopped.clone()))
        .collect();
    for round in 1..=5 {
        // Each reload changes the limits the requests in flight were admitted under.
        let extra = format!(
            "[server]\nmax_in_flight = {}\nmax_body_bytes = {}\n",
            100 + round,
            65536 + round
        );
        let (status, answer) =
            reload_with(&gw, &config(gw.sim(), &[CANONICAL_SECRET], &extra)).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer["changed"],
            json!(["server.max_body_bytes", "server.max_in_flight"]),
            "round {round}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = stop.send(true);
    let mut answered = 0;
    for poster in posting {
        let statuses = poster.await.expect("a poster");
        assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
        answered += statuses.len();
    }
    assert!(answered > 20, "only {answered} webhooks answered");
}

/// Waits until `sim` has received `count` updatestate calls.
async fn delivered(sim: &FlowSim, count: usize) {
    within(TIMEOUT, "the deliveries", async {
        while sim.calls_of("updatestate").await.len() < count {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn unchanged_tenants_keep_their_token_and_start_only_keys_wait_for_a_restart() {
    let gw = gateway(&[CANONICAL_SECRET]).await;
    let body = || canonical_body(ORDER_ID, json!({"state": "InProcess"}));
    let signed = sign::standard_webhooks(CANONICAL_SECRET);
    let reply = gw.webhook("rotating", body()).signed(&signed).send().await;
    assert_eq!(reply.status, 202, "{reply:?}");
    delivered(gw.sim(), 1).await;
    let tokens_before = gw.sim().calls_of("auth_token").await.len();
    // Another vendor, another tenant (another Flow) and a new listen address: the address
    // waits for a restart, the rest runs at once.
    let other = FlowSim::start().await;
    let other_tenant = other.tenant("other", None);
    let extra = format!(
        "[server]\nlisten = \"127.0.0.1:1\"\n\n{other_tenant}\n[vendors.late]\nverify = {{ scheme = \"standard-webhooks\", secrets = [\"{OTHER_SECRET}\"] }}\ntenant = \"other\"\n"
    );
    let (status, answer) = reload_with(&gw, &config(gw.sim(), &[CANONICAL_SECRET], &extra)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["changed"], json!(["tenants.other", "vendors.late"]));
    assert_eq!(answer["restart_required"], json!(["server.listen"]));
    let hash = answer["config_hash"].as_str().expect("a hash");
    let counted = metrics(&gw).await;
    assert_eq!(
        series(&counted, "flowgate_config_info"),
        [format!("flowgate_config_info{{hash=\"{hash}\"}} 1")]
    );
    // Still on the old address; the new vendor is served, to its new tenant.
    let late = sign::standard_webhooks(OTHER_SECRET);
    let reply = gw.webhook("late", body()).signed(&late).send().await;
    assert_eq!(reply.status, 202, "{reply:?}");
    let reply = gw.webhook("rotating", body()).signed(&signed).send().await;
    assert_eq!(reply.status, 202, "{reply:?}");
    delivered(gw.sim(), 2).await;
    delivered(&other, 1).await;
    // `sim` kept its access token.
    assert_eq!(gw.sim().calls_of("auth_token").await.len(), tokens_before);
}
