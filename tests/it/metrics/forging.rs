//! No request can write a line of its own into the text log (contract section 2): whatever a
//! caller puts in the path, a header or the body, every line on stderr is one the gateway wrote,
//! starting with its timestamp, and a vendor name no configuration could hold is repeated neither
//! in the answer nor in the log.

use chrono::DateTime;
use serde_json::json;

use super::logs::Logged;
use crate::support::fixtures::BEARER_TOKEN;
use crate::support::flow::FlowSim;

/// A whole line as the gateway writes it, as a forger would send it after a line break.
const FORGED: &str = "2026-12-07T04:50:00.000000Z  INFO flowgate::ingress::outcome: webhook answered vendor=\"demo\" outcome=\"accepted\"";

/// A short forged line, for values the gateway quotes only in part.
const SHORT_FORGED: &str = "\n2026-12-07T04:50:00Z  INFO forged";

/// Percent-encodes every byte but unreserved ones.
fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether the gateway wrote `line`: it starts with an RFC 3339 timestamp and a level, and holds
/// no control character or line separator.
fn written_by_the_gateway(line: &str) -> bool {
    let Some((at, rest)) = line.split_once(' ') else {
        return false;
    };
    DateTime::parse_from_rfc3339(at).is_ok()
        && ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
            .contains(&rest.trim_start().split(' ').next().unwrap_or(""))
        && !line.contains(['\0', '\r', '\u{1b}', '\u{85}', '\u{2028}', '\u{2029}'])
}

/// Sends a forging value in every request field that reaches a log line: the vendor name of both
/// routes, two headers, and body values the mapping quotes. Returns how many vendor names were
/// sent (as `forge-1`…), once the last request's outcome is logged.
async fn send_forgeries(gw: &Logged) -> usize {
    let long_name = "v".repeat(60_000);
    let not_names = [
        format!("x\n{FORGED}"),
        "x\0y".to_owned(),
        "x\u{2028}y\u{1b}[31m".to_owned(),
        "x\" outcome=\"accepted".to_owned(),
        long_name.clone(),
    ];
    let mut sent = 0;
    let mut id = || {
        sent += 1;
        format!("forge-{sent}")
    };

    // The path: a vendor name outside [A-Za-z0-9_.-]{1,64} is unknown and never repeated.
    for name in &not_names {
        let request_id = id();
        let headers = [
            ("content-type", "application/json"),
            ("x-request-id", request_id.as_str()),
        ];
        let reply = gw
            .request(
                "POST",
                &format!("/webhooks/{}", encoded(name)),
                &headers,
                "{}",
            )
            .await;
        assert_eq!(reply.status, 404, "{reply:?}");
        let body = String::from_utf8_lossy(&reply.body);
        let echoed = name.chars().take(40).collect::<String>();
        assert!(
            !body.contains(&echoed) && !body.contains("2026-12-07"),
            "{body}"
        );
        assert!(body.len() < 1_000, "{} bytes", body.len());
        let headers = [("x-request-id", request_id.as_str())];
        let reply = gw
            .request(
                "GET",
                &format!("/launch/{}?orderId=1", encoded(name)),
                &headers,
                "",
            )
            .await;
        assert_eq!(reply.status, 404, "{reply:?}");
    }

    // Headers: the content type is quoted in the 415's detail; the request id is replaced.
    let request_id = id();
    let forged_type = "text/plain\" outcome=\"accepted\" vendor=\"demo";
    let headers = [
        ("content-type", forged_type),
        ("x-request-id", request_id.as_str()),
    ];
    let reply = gw
        .request("POST", "/webhooks/partner", &headers, "{}")
        .await;
    assert_eq!(reply.status, 415, "{reply:?}");
    let forged_id = "id\" outcome=\"accepted";
    let headers = [
        ("content-type", "application/json"),
        ("x-request-id", forged_id),
    ];
    let reply = gw.request("POST", "/webhooks/nobody", &headers, "{}").await;
    assert_ne!(reply.request_id(), forged_id);

    // The body: values the mapping quotes in its 422's detail.
    let bearer = format!("Bearer {BEARER_TOKEN}");
    let order = uuid::Uuid::new_v4().to_string();
    let bodies = [
        json!({"order": order, "state": SHORT_FORGED}),
        json!({"order": format!("x\0\u{2028}{SHORT_FORGED}"), "state": "InProcess"}),
        json!({"order": order, "state": "a\" outcome=\"accepted\" b=\"\u{1b}[2K\r"}),
    ];
    for body in bodies {
        let request_id = id();
        let headers = [
            ("content-type", "application/json"),
            ("authorization", bearer.as_str()),
            ("x-request-id", request_id.as_str()),
        ];
        let reply = gw
            .request("POST", "/webhooks/mapped", &headers, &body.to_string())
            .await;
        assert_eq!(reply.status, 422, "{reply:?}");
    }

    let last = format!("forge-{sent}");
    gw.until_line("the last outcome", |line| {
        line.contains(&last) && line.contains("webhook answered")
    })
    .await;
    not_names.len()
}

#[tokio::test]
async fn no_request_field_can_forge_a_text_line() {
    let sim = FlowSim::start().await;
    let access_token = sim.access_token().await;
    let gw = Logged::start(&sim, &access_token, "text").await;
    let names = send_forgeries(&gw).await;
    let lines = gw.lines();
    let forged: Vec<&String> = lines
        .iter()
        .filter(|l| !written_by_the_gateway(l))
        .collect();
    assert!(
        forged.is_empty(),
        "lines the gateway did not write: {forged:#?}"
    );
    for line in &lines {
        assert!(
            !line.contains(" outcome=\"accepted\"") && !line.contains(" vendor=\"demo\""),
            "a forged field: {line}"
        );
        assert!(
            line.len() < 8_192,
            "a line of {} bytes: {}…",
            line.len(),
            &line[..200]
        );
        assert!(
            !line.contains(&"v".repeat(300)),
            "the long name is repeated: {}…",
            &line[..200]
        );
    }
    for n in 1..=names {
        let tag = format!("request_id=\"forge-{n}\"");
        let answered = lines
            .iter()
            .find(|l| l.contains(&tag) && l.contains("webhook answered"))
            .unwrap_or_else(|| panic!("no outcome line for forge-{n}:\n{}", lines.join("\n")));
        assert!(answered.contains("vendor=\"unknown\""), "{answered}");
    }
    let refused: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("launch refused"))
        .collect();
    assert_eq!(refused.len(), names, "{refused:#?}");
    assert!(
        refused.iter().all(|l| l.contains("vendor=\"unknown\"")),
        "{refused:#?}"
    );
}

/// JSON lines keep what a request sent inside their strings: every line parses, no raw line or
/// paragraph separator, and the vendor no configuration could hold is `unknown`.
#[tokio::test]
async fn no_request_field_can_break_a_json_line() {
    let sim = FlowSim::start().await;
    let access_token = sim.access_token().await;
    let gw = Logged::start(&sim, &access_token, "json").await;
    let names = send_forgeries(&gw).await;
    let lines = gw.lines();
    for line in &lines {
        let parsed: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"));
        assert!(parsed["timestamp"].is_string(), "{line}");
        assert!(
            !line.contains(['\0', '\r', '\u{1b}', '\u{85}', '\u{2028}', '\u{2029}']),
            "{line}"
        );
        assert!(line.len() < 8_192, "a line of {} bytes", line.len());
    }
    let parsed: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    for n in 1..=names {
        let id = format!("forge-{n}");
        let answered = parsed
            .iter()
            .find(|l| l["request_id"] == id.as_str() && l["message"] == "webhook answered")
            .unwrap_or_else(|| panic!("no outcome line for {id}"));
        assert_eq!(answered["vendor"], "unknown", "{answered}");
    }
    // The quoted value reads back as it was sent.
    let mapped = parsed
        .iter()
        .find(|l| l["code"] == "mapping-failed")
        .expect("a mapping failure");
    let detail = mapped["detail"].as_str().expect("a detail");
    assert!(detail.contains(SHORT_FORGED), "{detail}");
}
