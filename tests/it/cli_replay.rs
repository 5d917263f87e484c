//! `flowgate replay --candidate FILE` (DESIGN section 17): webhooks the running gateway accepted
//! are walked through a configuration that is not running, and the comparison printed per vendor
//! shows the Flow call bodies the candidate changes and the webhooks its schema would refuse.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::admin::ADMIN_TABLE;
use crate::support::fixtures::{self, GITHUB_SECRET, ORDER_ID, photo};
use crate::support::flow::FlowSim;
use crate::support::{Gateway, TIMEOUT, flowgate_command, within};

const STUDIO_SCHEMA_PATH: &str = "schemas/studio.schema.json";
const STUDIO_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["id", "type", "data"],
  "properties": {
    "id": { "type": "string", "minLength": 1 },
    "type": { "enum": ["order.accepted", "order.delivered"] },
    "data": {
      "type": "object",
      "required": ["orderId"],
      "properties": {
        "orderId": { "type": "string", "format": "uuid" },
        "photographer": { "type": "string" }
      }
    }
  }
}"#;
/// A candidate schema that only takes deliveries.
const STRICT_SCHEMA_PATH: &str = "schemas/studio-strict.schema.json";
/// A candidate schema that takes shipments too.
const LOOSE_SCHEMA_PATH: &str = "schemas/studio-loose.schema.json";
const TYPES: &str = r#"["order.accepted", "order.delivered"]"#;

const OTHER_ORDER: &str = "3b7e2a10-5c4d-4e8f-9a1b-2c3d4e5f6a7b";

/// A mapped vendor `studio` checked against `schema`, whose updates carry `title`.
fn studio(schema: &str, title: &str) -> String {
    studio_with_state(schema, title, "")
}

/// [`studio`], the state table's entries followed by `more` (`, default = "…"`).
fn studio_with_state(schema: &str, title: &str, more: &str) -> String {
    format!(
        r#"{ADMIN_TABLE}
[vendors.studio]
schema = "{schema}"
verify = {{ scheme = "hmac", preset = "github", secrets = ["{GITHUB_SECRET}"] }}
tenant = "sim"
delivery = "sync"

[vendors.studio.map]
event_id = "/id"
order_id = "/data/orderId"
state = {{ from = "/type", values = {{ "order.accepted" = "InProcess", "order.delivered" = "Completed" }}{more} }}
title = {{ value = "{title}" }}
metadata = {{ "Photographer" = "/data/photographer" }}
"#
    )
}

fn event(id: &str, kind: &str, order: &str) -> String {
    json!({"id": id, "type": kind, "data": {"orderId": order, "photographer": "Ann Berg"}})
        .to_string()
}

/// A gateway running `studio` titled "Photo shoot", with the candidate `candidate` written
/// next to its configuration as `candidate.toml` (its schemas resolve from there too).
async fn gateway_with_candidate(candidate: &str) -> Gateway {
    let sim = FlowSim::start().await;
    let running = fixtures::config("", &sim, &studio(STUDIO_SCHEMA_PATH, "Photo shoot"));
    let candidate = fixtures::config("", &sim, candidate);
    let strict = STUDIO_SCHEMA.replace(TYPES, r#"["order.delivered"]"#);
    let loose = STUDIO_SCHEMA.replace(
        TYPES,
        r#"["order.accepted", "order.delivered", "order.shipped"]"#,
    );
    let files = [
        (fixtures::PHOTO_SCHEMA_PATH, fixtures::PHOTO_SCHEMA),
        (STUDIO_SCHEMA_PATH, STUDIO_SCHEMA),
        (STRICT_SCHEMA_PATH, strict.as_str()),
        (LOOSE_SCHEMA_PATH, loose.as_str()),
    ];
    let gw = Gateway::start_with_files(&running, &files)
        .await
        .with_sim(sim);
    gw.write_file("candidate.toml", &candidate);
    // Two accepted, and one the running schema refuses (kept as a rejection).
    for (id, kind, order, status) in [
        ("st-1", "order.delivered", ORDER_ID, 202),
        ("st-2", "order.accepted", OTHER_ORDER, 202),
        ("st-3", "order.shipped", OTHER_ORDER, 422),
    ] {
        let reply = gw
            .webhook("studio", event(id, kind, order))
            .signed(&photo())
            .send()
            .await;
        let expected = if status == 202 {
            reply.status.is_success()
        } else {
            reply.status == status
        };
        assert!(expected, "{id}: {reply:?}");
    }
    gw
}

/// `flowgate replay --source accepted --candidate candidate.toml [more]`: exit code, stdout
/// and stderr.
async fn replay_candidate(gw: &Gateway, more: &[&str]) -> (Option<i32>, String) {
    replay_source(gw, "accepted", more).await
}

/// `flowgate replay --source SOURCE --candidate candidate.toml [more]`.
async fn replay_source(gw: &Gateway, source: &str, more: &[&str]) -> (Option<i32>, String) {
    let dir = gw.config_path().parent().unwrap_or(Path::new("."));
    let candidate = dir.join("candidate.toml");
    let candidate = candidate.to_string_lossy();
    let args = ["--source", source, "--candidate", &candidate];
    let (code, stdout, stderr) = replay(gw, &[&args[..], more].concat()).await;
    (code, format!("{stdout}{stderr}"))
}

/// `flowgate replay ARGS` against `gw`'s admin listener: exit code, stdout, stderr.
async fn replay(gw: &Gateway, args: &[&str]) -> (Option<i32>, String, String) {
    let mut command = flowgate_command();
    command
        .arg("--config")
        .arg(gw.config_path())
        .arg("replay")
        .args(args)
        .args(["--admin-url", &gw.admin_url("")]);
    let output = within(TIMEOUT, "flowgate replay", command.output())
        .await
        .expect("the binary runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn replay_prints_a_row_per_webhook_and_exits_1_when_the_api_refuses() {
    let gw = gateway_with_candidate(&studio(STUDIO_SCHEMA_PATH, "Photo shoot")).await;
    let (code, stdout, stderr) = replay(&gw, &["--vendor", "studio"]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("ID "), "{stdout}");
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        row[1..],
        [
            "studio",
            "st-3",
            "rejected",
            "schema-violation",
            "rejected",
            "schema-violation",
            "no"
        ],
        "{stdout}"
    );
    assert_eq!(
        lines[2],
        "now accepted: 0, still rejected: 1, changed: 0, unchanged: 1"
    );
    assert!(
        lines[3].starts_with("dry run: nothing was queued"),
        "{stdout}"
    );

    let (code, stdout, _) = replay(&gw, &["--source", "accepted", "--json"]).await;
    assert_eq!(code, Some(0), "{stdout}");
    let answer: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(
        answer["results"].as_array().map(Vec::len),
        Some(2),
        "{answer:#}"
    );
    assert_eq!(answer["summary"]["now_accepted"], 2);
    assert_eq!(answer["next"], Value::Null);

    let args = ["--source", "accepted", "--code", "schema-violation"];
    let (code, stdout, stderr) = replay(&gw, &args).await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stderr.starts_with("error: 400 invalid-query: "), "{stderr}");
}

#[tokio::test]
async fn a_candidate_mapping_shows_the_call_bodies_it_changes() {
    let gw = gateway_with_candidate(&studio(STUDIO_SCHEMA_PATH, "Photo session")).await;
    let (code, text) = replay_candidate(&gw, &[]).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("(not running)"), "{text}");
    assert!(
        text.contains("vendor studio: 2 replayed; passing: 2 running, 2 candidate; now passing: 0, now refused: 0, calls changed: 2"),
        "{text}"
    );
    assert!(text.contains("--- running patch\n"), "{text}");
    assert!(text.contains("+++ candidate patch\n"), "{text}");
    assert!(text.contains("-  \"Title\": \"Photo shoot\"\n"), "{text}");
    assert!(text.contains("+  \"Title\": \"Photo session\"\n"), "{text}");
    assert!(
        !text.contains("updatestate"),
        "the state is the same: {text}"
    );

    let (code, json) = replay_candidate(&gw, &["--json"]).await;
    assert_eq!(code, Some(0), "{json}");
    let report: Value = serde_json::from_str(&json).expect("JSON");
    let studio = &report["vendors"][0];
    assert_eq!(studio["vendor"], "studio");
    let changed = studio["changed"].as_array().expect("a list");
    assert_eq!(changed.len(), 2, "{report:#}");
    let patch = |side: &str| changed[0][side][0].clone();
    assert_eq!(patch("running")["body"]["Title"], "Photo shoot");
    assert_eq!(patch("candidate")["body"]["Title"], "Photo session");
}

#[tokio::test]
async fn a_candidate_schema_that_refuses_a_webhook_lists_it_as_now_refused() {
    let gw = gateway_with_candidate(&studio(STRICT_SCHEMA_PATH, "Photo shoot")).await;
    let (code, text) = replay_candidate(&gw, &[]).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("vendor studio: 2 replayed; passing: 2 running, 1 candidate; now passing: 0, now refused: 1, calls changed: 0"),
        "{text}"
    );
    let refused = text
        .split("  now refused:\n")
        .nth(1)
        .expect("a now refused section");
    let mut lines = refused.lines();
    assert!(
        lines.next().is_some_and(|l| l.contains("event st-2")),
        "{text}"
    );
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("      schema-violation: ")),
        "{text}"
    );
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("        /type: ")),
        "{text}"
    );

    let (_, json) = replay_candidate(&gw, &["--json"]).await;
    let report: Value = serde_json::from_str(&json).expect("JSON");
    let refused = &report["vendors"][0]["now_refused"];
    assert_eq!(refused[0]["event_id"], "st-2", "{report:#}");
    assert_eq!(refused[0]["code"], "schema-violation");
    assert_eq!(refused[0]["errors"][0]["pointer"], "/type");
}

#[tokio::test]
async fn a_candidate_that_takes_a_refused_webhook_lists_it_as_now_passing() {
    let candidate = studio_with_state(
        LOOSE_SCHEMA_PATH,
        "Photo shoot",
        r#", default = "InProcess""#,
    );
    let gw = gateway_with_candidate(&candidate).await;
    let (code, text) = replay_source(&gw, "rejections", &[]).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("vendor studio: 1 replayed; passing: 0 running, 1 candidate; now passing: 1, now refused: 0, calls changed: 0"),
        "{text}"
    );
    let passing = text
        .split("  now passing:\n")
        .nth(1)
        .expect("a now passing section");
    assert!(
        passing
            .lines()
            .next()
            .is_some_and(|l| l.contains("event st-3")),
        "{text}"
    );
}
