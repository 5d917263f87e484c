//! The vendors, secrets and payloads the tests share: one vendor per authentication scheme,
//! with inline secrets so no test depends on the environment of whoever runs it.

use flowgate::verify::signature::VerifierSpec;
use serde_json::{Value, json};

use super::flow::FlowSim;
use super::sign;

/// The tenant id of the fixtures' tenant `sim`.
pub const SIM_TENANT_ID: i64 = 14;

/// `whsec_` + base64("flowgate-it-canonical-key").
pub const CANONICAL_SECRET: &str = "whsec_Zmxvd2dhdGUtaXQtY2Fub25pY2FsLWtleQ==";
/// `whsec_` + base64("some-other-key-entirely"): a well-formed secret the gateway does not hold.
pub const OTHER_SECRET: &str = "whsec_c29tZS1vdGhlci1rZXktZW50aXJlbHk=";
pub const GITHUB_SECRET: &str = "photo-it-secret";
pub const BEARER_TOKEN: &str = "partner-it-token";
pub const BASIC_USER: &str = "partner";
pub const BASIC_PASSWORD: &str = "partner-it-password";

pub const ORDER_ID: &str = "9f0c8f0e-3c1b-4d59-a7b5-2b0b6c1d2e3f";

/// The mapped vendor's own schema, written next to the config as `schemas/photo.schema.json`.
pub const PHOTO_SCHEMA_PATH: &str = "schemas/photo.schema.json";
pub const PHOTO_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["id", "type", "data"],
  "properties": {
    "id": { "type": "string", "minLength": 1 },
    "type": { "enum": ["order.accepted", "order.delivered"] },
    "data": {
      "type": "object",
      "required": ["orderId"],
      "properties": { "orderId": { "type": "string", "format": "uuid" } }
    }
  }
}"#;

/// A config with one vendor per scheme: `canonical` (standard-webhooks), `photo` (hmac github,
/// mapped, own schema), `bearer`, `basic`, all delivering in sync to the tenant `sim` (the Flow
/// `sim`).
/// `server` is the body of the `[server]` table, `extra` is appended (more vendors, `[limits]`).
pub fn config(server: &str, sim: &FlowSim, extra: &str) -> String {
    let tenant = sim.tenant("sim", Some(SIM_TENANT_ID));
    format!(
        r#"
[server]
{server}

{tenant}

[vendors.canonical]
verify = {{ scheme = "standard-webhooks", secrets = ["{CANONICAL_SECRET}"] }}
tenant = "sim"
delivery = "sync"

[vendors.photo]
schema = "{PHOTO_SCHEMA_PATH}"
verify = {{ scheme = "hmac", preset = "github", secrets = ["{GITHUB_SECRET}"] }}
tenant = "sim"
delivery = "sync"

[vendors.photo.map]
event_id = "/id"
order_id = "/data/orderId"
state = {{ from = "/type", values = {{ "order.accepted" = "InProcess", "order.delivered" = "Completed" }} }}

[vendors.bearer]
verify = {{ scheme = "bearer", tokens = ["{BEARER_TOKEN}"] }}
tenant = "sim"
delivery = "sync"

[vendors.basic]
verify = {{ scheme = "basic", username = "{BASIC_USER}", password = "{BASIC_PASSWORD}" }}
tenant = "sim"
delivery = "sync"

{extra}
"#
    )
}

/// The files [`config`] refers to.
pub const CONFIG_FILES: &[(&str, &str)] = &[(PHOTO_SCHEMA_PATH, PHOTO_SCHEMA)];

pub fn canonical() -> VerifierSpec {
    sign::standard_webhooks(CANONICAL_SECRET)
}

pub fn photo() -> VerifierSpec {
    sign::github(GITHUB_SECRET)
}

/// A canonical update the envelope accepts.
pub fn canonical_update() -> String {
    format!(
        r#"{{"id":"evt-1","orderId":"{ORDER_ID}","state":"Completed","status":"Photos delivered"}}"#
    )
}

/// A valid canonical update of exactly `length` bytes (the status is padded).
pub fn canonical_update_of_length(length: usize) -> String {
    let empty = format!(r#"{{"orderId":"{ORDER_ID}","state":"InProcess","status":""}}"#);
    let padding = length
        .checked_sub(empty.len())
        .expect("long enough for the envelope");
    format!(
        r#"{{"orderId":"{ORDER_ID}","state":"InProcess","status":"{}"}}"#,
        "x".repeat(padding)
    )
}

/// An event in the `photo` vendor's own shape.
pub fn photo_event() -> String {
    format!(r#"{{"id":"ph-1","type":"order.delivered","data":{{"orderId":"{ORDER_ID}"}}}}"#)
}

/// A gateway serving [`config`], with its simulated Flow.
pub async fn gateway(server: &str, extra: &str) -> super::Gateway {
    gateway_with_files(server, extra, &[]).await
}

/// Like [`gateway`], with more files (schemas of vendors in `extra`) next to the config.
pub async fn gateway_with_files(
    server: &str,
    extra: &str,
    files: &[(&str, &str)],
) -> super::Gateway {
    let sim = FlowSim::start().await;
    let config = config(server, &sim, extra);
    let files: Vec<(&str, &str)> = CONFIG_FILES.iter().chain(files).copied().collect();
    super::Gateway::start_with_files(&config, &files)
        .await
        .with_sim(sim)
}

/// A canonical update of `order` with the given members.
pub fn canonical_body(order: &str, members: Value) -> String {
    let mut body = json!({"orderId": order});
    if let (Some(body), Some(members)) = (body.as_object_mut(), members.as_object()) {
        body.extend(members.clone());
    }
    body.to_string()
}
