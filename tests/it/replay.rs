//! Replay (DESIGN section 17): a webhook refused by a schema is kept; once the schema and the map
//! are fixed and reloaded, a dry run says what it would now become and calls nothing, applying
//! delivers it once, and neither applying again nor the vendor's retry delivers it twice. On
//! SQLite, and on PostgreSQL when `FLOWGATE_TEST_POSTGRES_URL` names a server.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::admin::{ADMIN_TABLE, admin, admin_post, until_state};
use crate::support::fixtures::{
    self, CANONICAL_SECRET, ORDER_ID, PHOTO_SCHEMA, PHOTO_SCHEMA_PATH, photo,
};
use crate::support::flow::FlowSim;
use crate::support::{Gateway, assert_problem};

/// A `photo` event of a type neither the schema nor the map knows yet.
fn shipped() -> String {
    format!(r#"{{"id":"ph-7","type":"order.shipped","data":{{"orderId":"{ORDER_ID}"}}}}"#)
}

/// The photo config, with `[store]` from `store` (empty: the embedded default).
fn config(sim: &FlowSim, store: &str) -> String {
    fixtures::config("", sim, &format!("{ADMIN_TABLE}\n{store}"))
}

/// The map taught `order.shipped`.
fn with_shipped_mapped(config: &str) -> String {
    let known = r#""order.delivered" = "Completed""#;
    let fixed = config.replace(known, &format!(r#"{known}, "order.shipped" = "InProcess""#));
    assert_ne!(
        fixed, config,
        "the map's values are where this test expects them"
    );
    fixed
}

/// The schema taught `order.shipped`.
fn schema_with_shipped() -> String {
    let fixed = PHOTO_SCHEMA.replace(
        r#""order.delivered"]"#,
        r#""order.delivered", "order.shipped"]"#,
    );
    assert_ne!(fixed, PHOTO_SCHEMA);
    fixed
}

async fn reload(gw: &Gateway) {
    let (status, answer) = admin(gw, "POST", "/admin/reload").await;
    assert_eq!(status, 200, "{answer}");
}

async fn replay(gw: &Gateway, body: Value) -> Value {
    let (status, answer) = admin_post(gw, "/admin/replay", &body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// The one result of a replay that selects one webhook.
fn only(answer: &Value) -> &Value {
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), 1, "{answer}");
    &results[0]
}

async fn the_fix_replays_what_was_refused_once(store: &str) {
    let sim = FlowSim::start().await;
    let config = config(&sim, store);
    let files = [(PHOTO_SCHEMA_PATH, PHOTO_SCHEMA)];
    let gw = Gateway::start_with_files(&config, &files)
        .await
        .with_sim(sim);
    let body = shipped();
    let refused = gw
        .webhook("photo", body.clone())
        .signed(&photo())
        .send()
        .await;
    assert_problem(&refused, 422, "schema-violation");

    // The schema alone: the map still cannot place the new type.
    gw.write_file(PHOTO_SCHEMA_PATH, &schema_with_shipped());
    reload(&gw).await;
    let answer = replay(&gw, json!({"vendor": "photo"})).await;
    let result = only(&answer);
    assert_eq!(result["before"]["outcome"], "rejected");
    assert_eq!(result["before"]["code"], "schema-violation");
    assert_eq!(result["after"]["outcome"], "rejected", "{result}");
    assert_eq!(result["after"]["code"], "mapping-failed", "{result}");
    assert_eq!(result["changed"], true);
    assert_eq!(result["event_id"], "ph-7");

    // And the map: a dry run says what it would become, and calls nothing.
    gw.write_file("config.toml", &with_shipped_mapped(&config));
    reload(&gw).await;
    let answer = replay(&gw, json!({"dry_run": true})).await;
    let result = only(&answer);
    assert_eq!(result["after"]["outcome"], "accepted", "{result}");
    assert_eq!(result["order_id"], ORDER_ID);
    let calls = &result["after"]["calls"];
    assert_eq!(
        calls,
        &json!([{"operation": "updatestate", "body": {"Status": "InProcess", "State": "InProcess"}}]),
        "{result}"
    );
    assert!(result["after"].get("delivery_id").is_none(), "{result}");
    assert_eq!(
        answer["summary"],
        json!({"now_accepted": 1, "still_rejected": 0, "changed": 1, "unchanged": 0})
    );
    assert_eq!(answer["next"], Value::Null);
    assert!(
        gw.sim().calls_of("updatestate").await.is_empty(),
        "a dry run calls nothing"
    );
    let id = result["id"]
        .as_str()
        .expect("the rejection's id")
        .to_owned();
    let (_, kept) = admin(&gw, "GET", &format!("/admin/rejections/{id}")).await;
    assert_eq!(
        kept["delivery_id"],
        Value::Null,
        "a dry run records nothing"
    );

    // Applied: delivered once, under the original event id.
    let answer = replay(&gw, json!({"dry_run": false, "ids": [id]})).await;
    let result = only(&answer);
    assert_eq!(result["after"]["outcome"], "accepted", "{result}");
    let delivery = result["after"]["delivery_id"]
        .as_str()
        .expect("a delivery")
        .to_owned();
    let (_, kept) = admin(&gw, "GET", &format!("/admin/rejections/{id}")).await;
    assert_eq!(kept["delivery_id"], delivery.as_str());
    let (_, shown) = admin(&gw, "GET", &format!("/admin/deliveries/{delivery}")).await;
    assert_eq!(shown["event_id"], "ph-7");
    assert_eq!(
        shown["mode"], "queued",
        "a replay commits a queued delivery"
    );
    until_state(&gw, &delivery, "delivered").await;

    // Neither applying again nor the vendor's retry of the original delivers it twice.
    let answer = replay(&gw, json!({"dry_run": false})).await;
    let result = only(&answer);
    assert_eq!(result["after"]["outcome"], "duplicate", "{result}");
    assert_eq!(result["after"]["delivery_id"], delivery.as_str());
    assert_eq!(answer["summary"]["now_accepted"], 0);
    let retried = gw.webhook("photo", body).signed(&photo()).send().await;
    assert_eq!(retried.status, 200, "{retried:?}");
    assert_eq!(retried.json()["duplicate"], true);
    assert_eq!(retried.json()["id"], delivery.as_str());
    let updates = gw.sim().calls_of("updatestate").await;
    assert_eq!(updates.len(), 1, "{updates:#?}");
    assert_eq!(
        updates[0]["body"],
        json!({"Status": "InProcess", "State": "InProcess"})
    );
}

#[tokio::test]
async fn a_fixed_schema_and_map_replay_a_refused_webhook_once_on_sqlite() {
    the_fix_replays_what_was_refused_once("").await;
}

#[tokio::test]
async fn a_fixed_schema_and_map_replay_a_refused_webhook_once_on_postgres() {
    let Ok(url) = std::env::var("FLOWGATE_TEST_POSTGRES_URL") else {
        eprintln!("skipped: FLOWGATE_TEST_POSTGRES_URL names no PostgreSQL server");
        return;
    };
    let schema = format!("replay_{}", Uuid::new_v4().simple());
    the_fix_replays_what_was_refused_once(&format!(
        "[store]\nurl = \"{url}\"\nschema = \"{schema}\"\n"
    ))
    .await;
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect to drop the test's schema");
    tokio::spawn(connection);
    let drop = format!("DROP SCHEMA \"{schema}\" CASCADE");
    client.batch_execute(&drop).await.expect("drop the schema");
}

#[tokio::test]
async fn a_replay_request_that_cannot_mean_anything_is_refused_by_name() {
    let gw = fixtures::gateway("", ADMIN_TABLE).await;
    for (body, names) in [
        (json!({"dry_run": "yes"}), "dry_run"),
        (json!({"source": "everything"}), "source"),
        (json!({"vendors": "photo"}), "vendors"),
        (
            json!({"source": "accepted", "code": "schema-violation"}),
            "code",
        ),
        (
            json!({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}),
            "until",
        ),
    ] {
        let (status, problem) = admin_post(&gw, "/admin/replay", &body).await;
        assert_eq!(status, 400, "{body}: {problem}");
        assert_eq!(problem["code"], "invalid-query", "{problem}");
        let detail = problem["detail"].as_str().expect("a detail");
        assert!(detail.contains(names), "{body}: {detail}");
    }
    let answer = replay(&gw, json!({})).await;
    assert_eq!(
        answer["results"],
        json!([]),
        "nothing kept, nothing replayed"
    );
}

#[tokio::test]
async fn accepted_traffic_replays_through_a_changed_map_without_being_delivered_again() {
    let sim = FlowSim::start().await;
    let config = config(&sim, "");
    let files = [(PHOTO_SCHEMA_PATH, PHOTO_SCHEMA)];
    let gw = Gateway::start_with_files(&config, &files)
        .await
        .with_sim(sim);
    let accepted = gw
        .webhook("photo", fixtures::photo_event())
        .signed(&photo())
        .send()
        .await;
    assert_eq!(accepted.status, 200, "{accepted:?}");
    let delivery = accepted.json()["id"].as_str().expect("an id").to_owned();
    let completed = json!([{"operation": "updatestate", "body": {"Status": "Completed", "State": "Completed"}}]);

    let answer = replay(&gw, json!({"source": "accepted"})).await;
    let result = only(&answer);
    assert_eq!(result["id"], delivery.as_str());
    assert_eq!(result["before"]["outcome"], "accepted");
    assert_eq!(result["before"]["calls"], completed);
    assert_eq!(result["after"]["outcome"], "accepted", "{result}");
    assert_eq!(result["after"]["calls"], completed);
    assert_eq!(result["changed"], false);

    let remapped = config.replace(
        r#""order.delivered" = "Completed""#,
        r#""order.delivered" = "InProcess""#,
    );
    assert_ne!(remapped, config);
    gw.write_file("config.toml", &remapped);
    reload(&gw).await;
    let answer = replay(&gw, json!({"source": "accepted", "vendor": "photo"})).await;
    let result = only(&answer);
    assert_eq!(result["changed"], true, "{result}");
    assert_eq!(
        result["after"]["calls"],
        json!([{"operation": "updatestate", "body": {"Status": "InProcess", "State": "InProcess"}}])
    );

    // An accepted webhook has its delivery: applying makes nothing more of it.
    let answer = replay(&gw, json!({"source": "accepted", "dry_run": false})).await;
    let result = only(&answer);
    assert_eq!(result["after"]["outcome"], "duplicate", "{result}");
    assert_eq!(result["after"]["delivery_id"], delivery.as_str());
    assert_eq!(gw.sim().calls_of("updatestate").await.len(), 1);
}

/// A vendor whose payload carries a FlowToken it must prove, with a schema that knows only
/// `done` events at first.
fn tokened(sim: &FlowSim) -> String {
    let tenant = sim.tenant("sim", None);
    format!(
        r#"{ADMIN_TABLE}
{tenant}
[vendors.tokened]
schema = "schemas/tokened.json"
verify = {{ scheme = "standard-webhooks", secrets = ["{CANONICAL_SECRET}"] }}
tenant = "sim"
flow_token = "required"

[vendors.tokened.map]
order_id = "/order"
flow_token = "/token"
state = {{ from = "/type", values = {{ "done" = "Completed", "shipped" = "InProcess" }} }}
"#
    )
}

fn tokened_schema(types: &str) -> String {
    format!(
        r#"{{"type": "object", "required": ["order", "token", "type"],
            "properties": {{"order": {{"type": "string", "format": "uuid"}},
                            "token": {{"type": "string"}}, "type": {{"enum": [{types}]}}}}}}"#
    )
}

#[tokio::test]
async fn a_dry_run_leaves_flow_tokens_unchecked_and_applying_verifies_them() {
    let sim = FlowSim::start().await;
    let schema = tokened_schema(r#""done""#);
    let files = [("schemas/tokened.json", schema.as_str())];
    let gw = Gateway::start_with_files(&tokened(&sim), &files)
        .await
        .with_sim(sim);
    let (order, token) = gw.sim().create_order(10351).await;
    let body = json!({"order": order, "token": token, "type": "shipped"}).to_string();
    let refused = gw
        .webhook("tokened", body)
        .signed(&fixtures::canonical())
        .send()
        .await;
    assert_problem(&refused, 422, "schema-violation");
    gw.write_file(
        "schemas/tokened.json",
        &tokened_schema(r#""done", "shipped""#),
    );
    reload(&gw).await;

    let answer = replay(&gw, json!({"vendor": "tokened"})).await;
    let result = only(&answer);
    assert_eq!(result["after"]["outcome"], "accepted", "{result}");
    assert_eq!(result["after"]["flow_token"], "not_checked");
    assert!(
        gw.sim().calls_of("verify_token").await.is_empty(),
        "a dry run asks Flow nothing"
    );

    let answer = replay(&gw, json!({"vendor": "tokened", "dry_run": false})).await;
    let result = only(&answer);
    assert_eq!(result["after"]["outcome"], "accepted", "{result}");
    assert!(result["after"].get("flow_token").is_none(), "{result}");
    assert_eq!(gw.sim().calls_of("verify_token").await.len(), 1);
    let delivery = result["after"]["delivery_id"].as_str().expect("a delivery");
    until_state(&gw, delivery, "delivered").await;
    let (_, known) = admin(&gw, "GET", &format!("/admin/orders/{order}")).await;
    assert_eq!(
        known["binding"]["vendor"], "tokened",
        "the verified token bound the order"
    );
}
