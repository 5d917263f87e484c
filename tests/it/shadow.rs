//! Shadow schemas and drift (DESIGN section 17): a webhook its live schema accepts is also
//! checked against the vendor's shadow schema, counted when it fails, and answered exactly as
//! without it; the properties its schema does not declare are counted and listed per vendor.

use serde_json::Value;

use crate::support::admin::{ADMIN_TABLE, admin};
use crate::support::client::get;
use crate::support::fixtures::{self, GITHUB_SECRET, ORDER_ID, PHOTO_SCHEMA_PATH, photo};
use crate::support::{Gateway, assert_problem};

/// A stricter next version of the photo schema: `data.product` becomes required.
const SHADOW_PATH: &str = "schemas/photo.v2.schema.json";
const SHADOW_SCHEMA: &str = r#"{
  "type": "object",
  "required": ["id", "type", "data"],
  "properties": {
    "data": { "type": "object", "required": ["orderId", "product"] }
  }
}"#;

/// `shadowed`: the `photo` vendor again, with a shadow schema.
fn shadowed() -> String {
    format!(
        r#"{ADMIN_TABLE}

[vendors.shadowed]
schema = "{PHOTO_SCHEMA_PATH}"
shadow_schema = "{SHADOW_PATH}"
verify = {{ scheme = "hmac", preset = "github", secrets = ["{GITHUB_SECRET}"] }}
tenant = "sim"
delivery = "sync"

[vendors.shadowed.map]
event_id = "/id"
order_id = "/data/orderId"
state = {{ from = "/type", values = {{ "order.accepted" = "InProcess", "order.delivered" = "Completed" }} }}
"#
    )
}

async fn gateway() -> Gateway {
    fixtures::gateway_with_files("", &shadowed(), &[(SHADOW_PATH, SHADOW_SCHEMA)]).await
}

async fn metrics(gw: &Gateway) -> String {
    String::from_utf8_lossy(&get(&gw.admin_url("/metrics")).await.body).into_owned()
}

fn has_series(metrics: &str, series: &str) -> bool {
    metrics.lines().any(|line| line == series)
}

/// The answer's status and body, with what differs between any two deliveries (the delivery's
/// id, the order as Flow returned it after this update) reduced to its presence.
fn answer(status: u16, body: &[u8]) -> (u16, Value) {
    let mut body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if let Some(body) = body.as_object_mut() {
        for varying in ["id", "order"] {
            if let Some(value) = body.get_mut(varying) {
                *value = Value::Bool(true);
            }
        }
    }
    (status, body)
}

#[tokio::test]
async fn a_webhook_failing_only_its_shadow_schema_is_answered_as_without_it_and_counted() {
    let gw = gateway().await;
    let before = metrics(&gw).await;
    for vendor in ["photo", "shadowed"] {
        let series = format!(r#"flowgate_shadow_violations_total{{vendor="{vendor}"}} 0"#);
        assert!(has_series(&before, &series), "{series} from start-up");
    }
    let event = |id: &str| {
        format!(r#"{{"id":"{id}","type":"order.delivered","data":{{"orderId":"{ORDER_ID}"}}}}"#)
    };
    let plain = gw
        .webhook("photo", event("ph-1"))
        .signed(&photo())
        .send()
        .await;
    let shadow = gw
        .webhook("shadowed", event("ph-1"))
        .signed(&photo())
        .send()
        .await;
    assert_eq!(
        plain.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&plain.body)
    );
    assert_eq!(
        answer(shadow.status.as_u16(), &shadow.body),
        answer(plain.status.as_u16(), &plain.body),
        "the shadow schema never changes the answer"
    );
    let counted = metrics(&gw).await;
    let violated = r#"flowgate_shadow_violations_total{vendor="shadowed"} 1"#;
    assert!(has_series(&counted, violated), "{violated} in\n{counted}");
    let untouched = r#"flowgate_shadow_violations_total{vendor="photo"} 0"#;
    assert!(has_series(&counted, untouched), "{untouched} in\n{counted}");

    // A webhook the live schema refuses is refused as before, and not compared with the shadow.
    let refused = r#"{"id":"ph-3","type":"order.shipped","data":{}}"#;
    let reply = gw
        .webhook("shadowed", refused)
        .signed(&photo())
        .send()
        .await;
    assert_problem(&reply, 422, "schema-violation");
    assert!(has_series(&metrics(&gw).await, violated));
}

#[tokio::test]
async fn drift_lists_undeclared_pointers_with_their_counts() {
    let gw = gateway().await;
    let (status, empty) = admin(&gw, "GET", "/admin/vendors/photo/drift").await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(
        empty,
        serde_json::json!({"vendor": "photo", "pointers": []})
    );
    for (id, extra) in [
        (
            "ph-1",
            r#","colour":"red","items":[{"sku":"a"},{"sku":"b"}]"#,
        ),
        ("ph-2", r#","colour":"blue""#),
    ] {
        let body = format!(
            r#"{{"id":"{id}","type":"order.delivered","source":"app","data":{{"orderId":"{ORDER_ID}"{extra}}}}}"#
        );
        let reply = gw.webhook("photo", body).signed(&photo()).send().await;
        assert_eq!(
            reply.status,
            200,
            "{:?}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    let (status, drift) = admin(&gw, "GET", "/admin/vendors/photo/drift").await;
    assert_eq!(status, 200, "{drift}");
    assert_eq!(drift["vendor"], "photo");
    let pointers = drift["pointers"].as_array().expect("a list");
    let counts: Vec<(&str, u64)> = pointers
        .iter()
        .map(|p| {
            (
                p["pointer"].as_str().unwrap_or(""),
                p["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    // `/data/items` is undeclared as a whole; nothing below it is listed apart.
    assert_eq!(counts.len(), 3, "{drift}");
    for expected in [("/data/colour", 2), ("/source", 2), ("/data/items", 1)] {
        assert!(counts.contains(&expected), "{expected:?} in {drift}");
    }
    assert_eq!(
        counts[2],
        ("/data/items", 1),
        "the least recent last: {drift}"
    );
    for pointer in pointers {
        let seen = pointer["last_seen"].as_str().expect("a time");
        assert!(chrono::DateTime::parse_from_rfc3339(seen).is_ok(), "{seen}");
    }
    let counted = metrics(&gw).await;
    let series = r#"flowgate_payload_unknown_fields_total{vendor="photo"} 2"#;
    assert!(has_series(&counted, series), "{series} in\n{counted}");
}

#[tokio::test]
async fn array_items_are_listed_with_a_star() {
    let schema = r#"{"type": "object", "properties": {"orderId": {}, "state": {},
        "lines": {"type": "array", "items": {"type": "object", "properties": {"sku": {}}}}}}"#;
    let extra = format!(
        r#"{ADMIN_TABLE}

[vendors.lines]
schema = "schemas/lines.schema.json"
verify = {{ scheme = "hmac", preset = "github", secrets = ["{GITHUB_SECRET}"] }}
tenant = "sim"
delivery = "sync"

[vendors.lines.map]
order_id = "/orderId"
state = "/state"
"#
    );
    let files = [("schemas/lines.schema.json", schema)];
    let gw = fixtures::gateway_with_files("", &extra, &files).await;
    let body = format!(
        r#"{{"orderId":"{ORDER_ID}","state":"Completed","lines":[{{"sku":"a","colour":"red"}},{{"sku":"b","colour":"blue"}}]}}"#
    );
    let reply = gw.webhook("lines", body).signed(&photo()).send().await;
    assert_eq!(
        reply.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&reply.body)
    );
    let (_, drift) = admin(&gw, "GET", "/admin/vendors/lines/drift").await;
    assert_eq!(
        drift["pointers"][0]["pointer"], "/lines/*/colour",
        "{drift}"
    );
    assert_eq!(
        drift["pointers"][0]["count"], 1,
        "once per webhook: {drift}"
    );
}

#[tokio::test]
async fn an_unknown_vendor_has_no_drift() {
    let gw = gateway().await;
    let (status, problem) = admin(&gw, "GET", "/admin/vendors/nobody/drift").await;
    assert_eq!(status, 404, "{problem}");
    assert_eq!(problem["code"], "not-found");
}

/// The schema of `lines`: a declared object and an array whose items declare their properties.
const LINES_SCHEMA_PATH: &str = "schemas/lines.schema.json";
const LINES_SCHEMA: &str = r#"{"type": "object", "properties": {"orderId": {}, "state": {},
    "customer": {"type": "object", "properties": {"name": {}}},
    "lines": {"type": "array", "items": {"type": "object", "properties": {"sku": {}}}}}}"#;

/// The fixtures' vendors, `lines` when `with_lines`, and `[limits]` with `max_field_chars`.
fn lines_config(gw_sim: &crate::support::flow::FlowSim, with_lines: bool, chars: u32) -> String {
    let lines = format!(
        r#"
[vendors.lines]
schema = "{LINES_SCHEMA_PATH}"
verify = {{ scheme = "hmac", preset = "github", secrets = ["{GITHUB_SECRET}"] }}
tenant = "sim"
delivery = "sync"

[vendors.lines.map]
order_id = "/orderId"
state = "/state"
"#
    );
    let lines = if with_lines { lines.as_str() } else { "" };
    let extra = format!("{ADMIN_TABLE}\n[limits]\nmax_field_chars = {chars}\n{lines}");
    fixtures::config("", gw_sim, &extra)
}

/// Rewrites the gateway's configuration file and asks it to reload; the answer must be 200.
async fn reload_with(gw: &Gateway, toml: &str) -> Value {
    std::fs::write(gw.config_path(), toml).expect("rewrite the config");
    let (status, answer) = admin(gw, "POST", "/admin/reload").await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// The `lines` vendor's drift as (pointer, count), the most recent first.
async fn lines_drift(gw: &Gateway) -> (u16, Vec<(String, u64)>) {
    let (status, drift) = admin(gw, "GET", "/admin/vendors/lines/drift").await;
    let pointers = drift["pointers"].as_array().cloned().unwrap_or_default();
    let counts = pointers
        .iter()
        .map(|p| {
            let pointer = p["pointer"].as_str().unwrap_or("").to_owned();
            (pointer, p["count"].as_u64().unwrap_or(0))
        })
        .collect();
    (status, counts)
}

#[tokio::test]
async fn drift_survives_a_reload_and_goes_with_its_vendor() {
    let sim = crate::support::flow::FlowSim::start().await;
    let files = [PHOTO_SCHEMA_PATH, LINES_SCHEMA_PATH];
    let schemas = [fixtures::PHOTO_SCHEMA, LINES_SCHEMA];
    let files: Vec<(&str, &str)> = files.into_iter().zip(schemas).collect();
    let gw = Gateway::start_with_files(&lines_config(&sim, true, 255), &files)
        .await
        .with_sim(sim);
    // Each body differs (the customer's name), so none is answered as a duplicate.
    let post = async |n: u32| {
        let body = format!(
            r#"{{"orderId":"{ORDER_ID}","state":"Completed","customer":{{"name":"Ann {n}","phone":"1"}},"lines":[{{"sku":"a","colour":"red"}},{{"sku":"b","colour":"blue"}}]}}"#
        );
        let reply = gw.webhook("lines", body).signed(&photo()).send().await;
        let text = String::from_utf8_lossy(&reply.body).into_owned();
        assert_eq!(reply.status, 200, "{text}");
    };
    post(1).await;
    post(2).await;
    let expected = |count: u64| {
        let mut pointers = vec![
            ("/customer/phone".to_owned(), count),
            ("/lines/*/colour".to_owned(), count),
        ];
        pointers.sort();
        pointers
    };
    let sorted = |(status, mut pointers): (u16, Vec<(String, u64)>)| {
        pointers.sort();
        (status, pointers)
    };
    assert_eq!(sorted(lines_drift(&gw).await), (200, expected(2)));

    // A changed key elsewhere rebuilds the configuration; the vendor's drift is carried over
    // and keeps counting.
    let answer = reload_with(&gw, &lines_config(gw.sim(), true, 200)).await;
    assert_eq!(
        answer["changed"],
        serde_json::json!(["limits.max_field_chars"])
    );
    assert_eq!(sorted(lines_drift(&gw).await), (200, expected(2)));
    post(3).await;
    assert_eq!(sorted(lines_drift(&gw).await), (200, expected(3)));

    // A reload without the vendor forgets its drift; brought back, it starts from nothing.
    reload_with(&gw, &lines_config(gw.sim(), false, 200)).await;
    let (status, problem) = admin(&gw, "GET", "/admin/vendors/lines/drift").await;
    assert_eq!(status, 404, "{problem}");
    assert_eq!(problem["code"], "not-found");
    reload_with(&gw, &lines_config(gw.sim(), true, 200)).await;
    assert_eq!(lines_drift(&gw).await, (200, vec![]));
}
