//! Rejections (DESIGN section 17): an authenticated webhook that is refused is kept with its exact
//! body, listed and shown through the admin API and `flowgate rejections`, and deleted; what
//! proves nothing about its sender is never kept.

use serde_json::Value;

use crate::support::admin::{ADMIN_TABLE, admin};
use crate::support::client::get;
use crate::support::fixtures::{self, CANONICAL_SECRET, ORDER_ID, photo};
use crate::support::{Gateway, TIMEOUT, assert_problem, eventually, flowgate_command, within};

/// A `photo` event whose `type` the schema does not allow.
fn unknown_type() -> String {
    format!(r#"{{"id":"ph-9","type":"order.shipped","data":{{"orderId":"{ORDER_ID}"}}}}"#)
}

async fn gateway(server: &str) -> Gateway {
    fixtures::gateway(server, ADMIN_TABLE).await
}

/// A gateway whose config appends `extra` (a `[store]` table) to the admin table.
async fn gateway_with(extra: &str) -> Gateway {
    let sim = crate::support::flow::FlowSim::start().await;
    let config = fixtures::config("", &sim, extra);
    Gateway::start_with_files(&config, fixtures::CONFIG_FILES)
        .await
        .with_sim(sim)
}

async fn kept(gw: &Gateway) -> Vec<Value> {
    let (status, page) = admin(gw, "GET", "/admin/rejections").await;
    assert_eq!(status, 200, "{page}");
    page["rejections"].as_array().expect("a list").clone()
}

async fn metrics(gw: &Gateway) -> String {
    String::from_utf8_lossy(&get(&gw.admin_url("/metrics")).await.body).into_owned()
}

#[tokio::test]
async fn a_refused_webhook_is_kept_with_its_exact_body() {
    let gw = gateway("").await;
    let body = unknown_type();
    let reply = gw
        .webhook("photo", body.clone())
        .signed(&photo())
        .send()
        .await;
    let problem = assert_problem(&reply, 422, "schema-violation");
    let listed = kept(&gw).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let rejection = &listed[0];
    assert_eq!(rejection["vendor"], "photo");
    assert_eq!(rejection["code"], "schema-violation");
    assert_eq!(rejection["status"], 422);
    assert_eq!(rejection["event_id"], "ph-9", "the payload's mapped id");
    assert_eq!(rejection["request_id"], reply.request_id());
    assert_eq!(rejection["errors"], problem["errors"]);
    assert!(rejection.get("body").is_none(), "a listing carries no body");
    let id = rejection["id"].as_str().expect("an id");
    let (status, shown) = admin(&gw, "GET", &format!("/admin/rejections/{id}")).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["body"], body);
    assert_eq!(shown["body_encoding"], "utf-8");
    assert_eq!(shown["content_type"], "application/json");
    let counted = metrics(&gw).await;
    let series = r#"flowgate_rejections_stored_total{vendor="photo",code="schema-violation"} 1"#;
    assert!(
        counted.lines().any(|l| l == series),
        "{series} in\n{counted}"
    );

    let (status, _) = admin(&gw, "DELETE", &format!("/admin/rejections/{id}")).await;
    assert_eq!(status, 204);
    let (status, _) = admin(&gw, "GET", &format!("/admin/rejections/{id}")).await;
    assert_eq!(status, 404);
    assert!(kept(&gw).await.is_empty());
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_kept_as_base64() {
    let gw = gateway("").await;
    let body: &[u8] = b"{\"id\": \"\xff\xfe\"}";
    let reply = gw.webhook("photo", body).signed(&photo()).send().await;
    assert_problem(&reply, 400, "invalid-json");
    let listed = kept(&gw).await;
    let id = listed[0]["id"].as_str().expect("an id");
    let (_, shown) = admin(&gw, "GET", &format!("/admin/rejections/{id}")).await;
    assert_eq!(shown["body_encoding"], "base64");
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(shown["body"].as_str().expect("a body"))
        .expect("base64");
    assert_eq!(decoded, body);
}

#[tokio::test]
async fn what_proves_nothing_about_its_sender_is_never_kept() {
    let limited = format!(
        "{ADMIN_TABLE}\n[vendors.limited]\nverify = {{ scheme = \"standard-webhooks\", secrets = [\"{CANONICAL_SECRET}\"] }}\ntenant = \"sim\"\nrate_limit = {{ per_second = 0.001, burst = 1 }}\n"
    );
    let gw = fixtures::gateway("max_body_bytes = 512", &limited).await;
    // Over its rate (429): the first spends the burst (and is refused for its body, so kept).
    for expected in [422, 429] {
        let reply = gw
            .webhook("limited", "{}")
            .signed(&fixtures::canonical())
            .send()
            .await;
        assert_eq!(reply.status, expected, "{reply:?}");
    }
    let codes: Vec<Value> = kept(&gw).await.iter().map(|r| r["code"].clone()).collect();
    assert_eq!(codes, ["schema-violation"]);
    let (_, first) = admin(&gw, "GET", "/admin/rejections").await;
    let id = first["rejections"][0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    admin(&gw, "DELETE", &format!("/admin/rejections/{id}")).await;
    // Unsigned (401), too large (413), not JSON (415), no such vendor (404).
    let reply = gw.webhook("photo", unknown_type()).send().await;
    assert_problem(&reply, 401, "signature-invalid");
    let large = format!(r#"{{"pad":"{}"}}"#, "x".repeat(600));
    let reply = gw.webhook("photo", large).signed(&photo()).send().await;
    assert_problem(&reply, 413, "payload-too-large");
    let reply = gw
        .webhook("photo", unknown_type())
        .signed(&photo())
        .header("content-type", "text/plain")
        .send()
        .await;
    assert_problem(&reply, 415, "unsupported-media-type");
    let reply = gw.webhook("nobody", unknown_type()).send().await;
    assert_problem(&reply, 404, "unknown-vendor");
    assert!(kept(&gw).await.is_empty());
}

#[tokio::test]
async fn a_zero_rejection_retention_keeps_no_refusal_but_still_answers_it() {
    let gw = gateway_with(&format!(
        "{ADMIN_TABLE}\n[store]\nrejection_retention = \"0s\"\n"
    ))
    .await;
    let reply = gw
        .webhook("photo", unknown_type())
        .signed(&photo())
        .send()
        .await;
    let problem = assert_problem(&reply, 422, "schema-violation");
    assert!(
        problem["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{problem}"
    );
    assert!(kept(&gw).await.is_empty());
    let counted = metrics(&gw).await;
    let stored: Vec<&str> = counted
        .lines()
        .filter(|l| l.starts_with("flowgate_rejections_stored_total{"))
        .collect();
    assert!(!stored.is_empty(), "the series are there\n{counted}");
    assert!(stored.iter().all(|l| l.ends_with(" 0")), "{stored:?}");
}

#[tokio::test]
async fn a_reload_to_a_zero_rejection_retention_stops_keeping_and_purges_the_kept() {
    let gw = gateway_with(ADMIN_TABLE).await;
    let refused = async |id: &str| {
        let body = format!(r#"{{"id":"{id}","type":"order.shipped","data":{{}}}}"#);
        let reply = gw.webhook("photo", body).signed(&photo()).send().await;
        assert_problem(&reply, 422, "schema-violation");
    };
    refused("ph-1").await;
    assert_eq!(kept(&gw).await.len(), 1);
    let zero = format!("{ADMIN_TABLE}\n[store]\nrejection_retention = \"0s\"\n");
    let config = fixtures::config("", gw.sim(), &zero);
    std::fs::write(gw.config_path(), config).expect("rewrite the config");
    let (status, answer) = admin(&gw, "POST", "/admin/reload").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["changed"],
        serde_json::json!(["store.rejection_retention"])
    );
    refused("ph-2").await;
    within(TIMEOUT, "the kept rejection purged", async {
        while !kept(&gw).await.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    let series = r#"flowgate_rejections_stored_total{vendor="photo",code="schema-violation"} 1"#;
    let counted = metrics(&gw).await;
    assert!(
        counted.lines().any(|l| l == series),
        "{series} in\n{counted}"
    );
}

#[tokio::test]
async fn beyond_max_rejections_the_oldest_are_dropped_and_counted() {
    let gw = gateway_with(&format!("{ADMIN_TABLE}\n[store]\nmax_rejections = 2\n")).await;
    for n in 0..4 {
        let body = format!(
            r#"{{"id":"ph-{n}","type":"order.shipped","data":{{"orderId":"{ORDER_ID}"}}}}"#
        );
        let reply = gw.webhook("photo", body).signed(&photo()).send().await;
        assert_problem(&reply, 422, "schema-violation");
    }
    eventually(
        "the oldest rejections dropped",
        async || get(&gw.admin_url("/metrics")).await,
        |reply| {
            String::from_utf8_lossy(&reply.body)
                .lines()
                .any(|l| l == "flowgate_rejections_dropped_total 2")
        },
    )
    .await;
    let ids: Vec<Value> = kept(&gw)
        .await
        .iter()
        .map(|r| r["event_id"].clone())
        .collect();
    assert_eq!(ids, ["ph-3", "ph-2"]);
}

#[tokio::test]
async fn flowgate_rejections_lists_and_shows_them() {
    let gw = gateway("").await;
    let reply = gw
        .webhook("photo", unknown_type())
        .signed(&photo())
        .send()
        .await;
    assert_problem(&reply, 422, "schema-violation");
    let admin_url = gw.admin_url("");
    let run = |args: Vec<String>| {
        let mut command = flowgate_command();
        command
            .arg("--config")
            .arg(gw.config_path())
            .arg("rejections")
            .args(args)
            .args(["--admin-url", &admin_url]);
        command
    };
    let output = run(vec!["list".into()]).output().await.expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.starts_with("ID"), "{stdout}");
    assert!(stdout.contains("schema-violation"), "{stdout}");
    let id = stdout
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .expect("an id");
    let output = run(vec!["show".into(), id.to_owned()])
        .output()
        .await
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains(&unknown_type()), "{stdout}");
    assert!(stdout.contains("  /type: "), "{stdout}");
}
