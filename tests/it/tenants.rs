//! Tenants, orders and the overview (DESIGN sections 9, 10 and 18): `GET /admin/tenants` with
//! each tenant's deliveries, `flowgate tenants` switching them, `flowgate orders show`, and
//! `GET /admin/overview` after accepted and refused webhooks.

use std::process::Output;

use serde_json::{Value, json};

use crate::support::admin::{admin, until_state};
use crate::support::fixtures::{self, BEARER_TOKEN, ORDER_ID, photo, photo_event};
use crate::support::queued::{accepted, post, queued_config};
use crate::support::{Gateway, TIMEOUT, assert_problem, flowgate_command};

/// The fixtures' vendors and the queued vendor, all on tenant `sim`.
async fn gateway() -> Gateway {
    fixtures::gateway("", &queued_config()).await
}

/// `flowgate VERB ARGS…` against `gw`'s admin listener.
async fn flowgate(gw: &Gateway, verb: &str, args: &[&str]) -> Output {
    let mut command = flowgate_command();
    command
        .arg("--config")
        .arg(gw.config_path())
        .arg(verb)
        .args(args)
        .args(["--admin-url", &gw.admin_url("")]);
    command.output().await.expect("flowgate runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Waits until `GET path` answers what `done` looks for; that answer.
async fn until_admin(gw: &Gateway, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let (status, body) = admin(gw, "GET", path).await;
        assert_eq!(status, 200, "{body}");
        if done(&body) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{path}: {body:#}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn tenants_are_listed_with_their_deliveries_and_switched_from_the_cli() {
    let gw = gateway().await;
    let paused = flowgate(&gw, "tenants", &["pause", "sim", "--json"]).await;
    assert!(paused.status.success(), "{paused:?}");
    let answer: Value = serde_json::from_slice(&paused.stdout).expect("JSON");
    assert_eq!(answer, json!({"tenant": "sim", "paused": true}));
    let mut ids = Vec::new();
    for step in 0..3 {
        let order = uuid::Uuid::new_v4().to_string();
        let body = json!({"state": "InProcess", "status": format!("step {step}")});
        ids.push(accepted(&post(&gw, &order, body).await));
    }
    let (status, _) = admin(&gw, "POST", &format!("/admin/deliveries/{}/cancel", ids[0])).await;
    assert_eq!(status, 200);

    let listed = flowgate(&gw, "tenants", &["list"]).await;
    assert!(listed.status.success(), "{listed:?}");
    assert_eq!(
        stdout(&listed),
        "TENANT  PAUSED  CIRCUIT  PENDING  RETRYING  DEAD\nsim     yes     closed   2        0         1\n"
    );
    let listed = flowgate(&gw, "tenants", &["list", "--json"]).await;
    let answer: Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    let sim = json!({"tenant": "sim", "paused": true, "circuit": "closed", "pending": 2, "retrying": 0, "dead": 1});
    assert_eq!(answer, json!({"tenants": [sim]}));

    let resumed = flowgate(&gw, "tenants", &["resume", "sim"]).await;
    assert!(resumed.status.success(), "{resumed:?}");
    assert_eq!(stdout(&resumed), "sim: resumed\n");
    for id in &ids[1..] {
        until_state(&gw, id, "delivered").await;
    }
    let (_, answer) = admin(&gw, "GET", "/admin/tenants").await;
    let sim = json!({"tenant": "sim", "paused": false, "circuit": "closed", "pending": 0, "retrying": 0, "dead": 1});
    assert_eq!(answer, json!({"tenants": [sim]}));
    let closed = flowgate(&gw, "tenants", &["close-circuit", "sim"]).await;
    assert!(closed.status.success(), "{closed:?}");
    assert_eq!(stdout(&closed), "sim: circuit closed\n");

    let unknown = flowgate(&gw, "tenants", &["pause", "nobody"]).await;
    assert!(!unknown.status.success(), "{unknown:?}");
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("error: 404 not-found: No tenant nobody."),
        "{stderr}"
    );
}

#[tokio::test]
async fn orders_show_prints_a_known_order_and_fails_for_an_unknown_one() {
    let gw = gateway().await;
    let reply = gw
        .webhook("photo", photo_event())
        .signed(&photo())
        .send()
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let shown = flowgate(&gw, "orders", &["show", ORDER_ID]).await;
    assert!(shown.status.success(), "{shown:?}");
    let text = stdout(&shown);
    assert!(
        text.starts_with(&format!("order        {ORDER_ID}\n")),
        "{text}"
    );
    assert!(text.contains("\nstate        Completed\n"), "{text}");
    assert!(text.contains("delivered  photo   sim"), "{text}");
    let shown = flowgate(&gw, "orders", &["show", ORDER_ID, "--json"]).await;
    let answer: Value = serde_json::from_slice(&shown.stdout).expect("JSON");
    assert_eq!(answer["order_id"], ORDER_ID);
    assert_eq!(answer["deliveries"][0]["state"], "delivered");

    let unknown = uuid::Uuid::new_v4().to_string();
    let missing = flowgate(&gw, "orders", &["show", &unknown]).await;
    assert!(!missing.status.success(), "{missing:?}");
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("error: 404 not-found: No order"),
        "{stderr}"
    );
    let missing = flowgate(&gw, "orders", &["show", &unknown, "--json"]).await;
    assert!(!missing.status.success());
    let problem: Value = serde_json::from_slice(&missing.stdout).expect("JSON");
    assert_eq!(problem["code"], "not-found");
}

#[tokio::test]
async fn the_overview_counts_each_vendors_last_hour_and_the_queue() {
    let gw = gateway().await;
    let reply = gw
        .webhook("photo", photo_event())
        .signed(&photo())
        .send()
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let refused = r#"{"id":"ph-2","type":"order.shipped","data":{"orderId":"x"}}"#;
    let reply = gw.webhook("photo", refused).signed(&photo()).send().await;
    assert_problem(&reply, 422, "schema-violation");
    let reply = gw
        .webhook("bearer", fixtures::canonical_update())
        .header("authorization", &format!("Bearer not-{BEARER_TOKEN}"))
        .send()
        .await;
    assert_problem(&reply, 401, "signature-invalid");
    let (status, _) = admin(&gw, "POST", "/admin/tenants/sim/pause").await;
    assert_eq!(status, 200);
    for _ in 0..2 {
        let order = uuid::Uuid::new_v4().to_string();
        accepted(&post(&gw, &order, json!({"state": "InProcess"})).await);
    }

    let overview = until_admin(&gw, "/admin/overview", |o| o["queue"]["pending"] == 2).await;
    assert_eq!(
        overview["queue"],
        json!({"pending": 2, "in_flight": 0, "retrying": 0, "dead": 0})
    );
    assert!(
        overview["oldest_age_seconds"]["pending"].as_u64() < Some(10),
        "{overview}"
    );
    assert_eq!(overview["oldest_age_seconds"]["retrying"], 0);
    assert_eq!(
        overview["tenants"],
        json!([{"tenant": "sim", "paused": true, "circuit": "closed"}])
    );
    let counts = |vendor: &str, accepted: u64, rejected: u64| json!({"vendor": vendor, "accepted_1h": accepted, "rejected_1h": rejected});
    assert_eq!(
        overview["vendors"],
        json!([
            counts("basic", 0, 0),
            counts("bearer", 0, 1),
            counts("canonical", 0, 0),
            counts("photo", 1, 1),
            counts("queued", 2, 0),
        ])
    );
    assert_eq!(overview["version"], env!("CARGO_PKG_VERSION"));
    let metrics = crate::support::client::get(&gw.admin_url("/metrics")).await;
    let metrics = String::from_utf8_lossy(&metrics.body).into_owned();
    let hash = overview["config_hash"].as_str().expect("a hash");
    let series = format!("flowgate_config_info{{hash=\"{hash}\"}} 1");
    assert!(
        metrics.lines().any(|l| l == series),
        "{series} in\n{metrics}"
    );
    let started_at = overview["started_at"].as_str().expect("a time");
    let started_at = chrono::DateTime::parse_from_rfc3339(started_at).expect("RFC 3339");
    let since = chrono::Utc::now().signed_duration_since(started_at);
    assert!((0..60).contains(&since.num_seconds()), "{overview}");
}

#[tokio::test]
async fn a_reload_keeps_the_last_hour_and_the_pauses_and_shows_the_new_configuration() {
    let gw = gateway().await;
    accepted(
        &post(
            &gw,
            &uuid::Uuid::new_v4().to_string(),
            json!({"state": "InProcess"}),
        )
        .await,
    );
    let (status, _) = admin(&gw, "POST", "/admin/tenants/sim/pause").await;
    assert_eq!(status, 200);
    let (_, before) = admin(&gw, "GET", "/admin/overview").await;
    let late = format!(
        "{}\n[vendors.late]\nverify = {{ scheme = \"bearer\", tokens = [\"{BEARER_TOKEN}\"] }}\ntenant = \"sim\"\n",
        queued_config()
    );
    let toml = fixtures::config("", gw.sim(), &late);
    std::fs::write(gw.config_path(), toml).expect("rewrite the config");
    let (status, reloaded) = admin(&gw, "POST", "/admin/reload").await;
    assert_eq!(status, 200, "{reloaded}");

    let (_, after) = admin(&gw, "GET", "/admin/overview").await;
    assert_eq!(after["config_hash"], reloaded["config_hash"]);
    assert_ne!(after["config_hash"], before["config_hash"]);
    assert_eq!(after["started_at"], before["started_at"]);
    let vendors = after["vendors"].as_array().expect("vendors");
    let named = |name: &str| vendors.iter().find(|v| v["vendor"] == name).cloned();
    let queued = json!({"vendor": "queued", "accepted_1h": 1, "rejected_1h": 0});
    assert_eq!(named("queued"), Some(queued), "{after}");
    let late = json!({"vendor": "late", "accepted_1h": 0, "rejected_1h": 0});
    assert_eq!(named("late"), Some(late), "{after}");
    assert_eq!(
        after["tenants"],
        json!([{"tenant": "sim", "paused": true, "circuit": "closed"}])
    );
}
