//! The binary's own log with `--log-format json`: one JSON object per line, its fields at the top
//! level, one line per webhook outcome and one per Flow call, each with the fields an operator
//! follows a webhook by (a request's trace context among them), and never a vendor secret, a
//! FlowToken, Flow's access token or a whole body.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::flow::canonical_body;
use crate::support::client::{Reply, send};
use crate::support::fixtures::{BEARER_TOKEN, CANONICAL_SECRET, canonical};
use crate::support::flow::FlowSim;
use crate::support::sign::{Headers, bearer, sign};
use crate::support::{TIMEOUT, flowgate_command, free_port, until_up};

/// The canonical vendors' key, as `CANONICAL_SECRET` encodes it.
const CANONICAL_KEY: &str = "flowgate-it-canonical-key";
const WRONG_BEARER: &str = "wrong-partner-token-7f3a";
/// The W3C trace context one webhook is sent with, and its parts.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";

/// The gateway as a child process, its stderr collected line by line.
pub(super) struct Logged {
    lines: Arc<Mutex<Vec<String>>>,
    public: String,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl Logged {
    /// Against `sim`, with `--log-format` `format`.
    pub(super) async fn start(sim: &FlowSim, access_token: &str, format: &str) -> Logged {
        let (public, admin) = (
            format!("127.0.0.1:{}", free_port()),
            format!("127.0.0.1:{}", free_port()),
        );
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config(&public, &admin, sim, access_token))
            .expect("write the config");
        std::fs::write(dir.path().join("mapped.schema.json"), MAPPED_SCHEMA)
            .expect("write the schema");
        let mut command = flowgate_command();
        command
            .arg("--config")
            .arg(&path)
            .args(["--log-format", format, "serve"])
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the gateway starts");
        let stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let collected = lines.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                collected.lock().expect("the log").push(line);
            }
        });
        until_up(&format!("http://{admin}/readyz")).await;
        Logged {
            lines,
            public,
            _child: child,
            _dir: dir,
        }
    }

    /// `POST /webhooks/{vendor}` with `body`, `headers` and the request id `id`.
    pub(super) async fn post(&self, vendor: &str, body: &str, headers: Headers, id: &str) -> Reply {
        let mut request = http::Request::post(format!("http://{}/webhooks/{vendor}", self.public))
            .header("content-type", "application/json")
            .header("x-request-id", id);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let body = Full::new(Bytes::from(body.to_owned()));
        send(request.body(body).expect("a request")).await
    }

    /// `method` `target` (a path and query, sent as it is) with `headers` and `body`.
    pub(super) async fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{target}", self.public));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = Full::new(Bytes::from(body.to_owned()));
        send(request.body(body).expect("a request")).await
    }

    pub(super) fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("the log").clone()
    }

    /// Waits until some JSON line satisfies `found`.
    async fn until_logged(&self, what: &str, found: impl Fn(&Value) -> bool) {
        self.until_line(what, |line| found(&parse(line))).await;
    }

    /// Waits until some line satisfies `found`, and returns it.
    pub(super) async fn until_line(&self, what: &str, found: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let lines = self.lines();
            if let Some(line) = lines.iter().find(|l| found(l)) {
                return line.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never logged: {what}\n{}",
                lines.join("\n")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"))
}

fn message(line: &Value) -> &str {
    line["message"].as_str().unwrap_or_default()
}

/// The `mapped` vendor's payload: strings the map reads, unchecked, so the mapping judges them.
const MAPPED_SCHEMA: &str = r#"{"type": "object", "properties": {
    "order": {"type": "string"}, "state": {"type": "string"}, "status": {"type": "string"}}}"#;

fn config(public: &str, admin: &str, sim: &FlowSim, access_token: &str) -> String {
    format!(
        r#"
[server]
listen = "{public}"
admin_listen = "{admin}"

[log]
level = "info"

[store]
url = "sqlite://queue.db"

[tenants.sim]
base_url = "{base}"
auth = {{ kind = "bearer", token = "{access_token}" }}
rate_limit = {{ per_second = 1000, burst = 1000 }}

[vendors.canonical]
verify = {{ scheme = "standard-webhooks", secrets = ["{CANONICAL_SECRET}"] }}
tenant = "sim"
delivery = "sync"

[vendors.queued]
verify = {{ scheme = "standard-webhooks", secrets = ["{CANONICAL_SECRET}"] }}
tenant = "sim"

[vendors.partner]
verify = {{ scheme = "bearer", tokens = ["{BEARER_TOKEN}"] }}
tenant = "sim"
delivery = "sync"

[vendors.mapped]
verify = {{ scheme = "bearer", tokens = ["{BEARER_TOKEN}"] }}
tenant = "sim"
delivery = "sync"
schema = "mapped.schema.json"
map = {{ order_id = "/order", state = "/state", status = "/status" }}
"#,
        base = sim.base_url()
    )
}

#[tokio::test]
async fn one_json_line_per_outcome_and_flow_call_and_never_a_secret() {
    let sim = FlowSim::start().await;
    let access_token = sim.access_token().await;
    let (order, flow_token) = sim.create_order(21).await;
    let gw = Logged::start(&sim, &access_token, "json").await;

    let with_token = canonical_body(
        &order,
        json!({"state": "InProcess", "status": "Shoot booked", "flowToken": flow_token}),
    );
    let signed = sign(&canonical(), with_token.as_bytes());
    let queued_order = uuid::Uuid::new_v4().to_string();
    let queued = canonical_body(&queued_order, json!({"state": "Completed"}));
    let partner_order = uuid::Uuid::new_v4().to_string();
    let partner = canonical_body(&partner_order, json!({"state": "InProcess"}));
    let mut traced = signed.clone();
    traced.push((
        http::HeaderName::from_static("traceparent"),
        http::HeaderValue::from_static(TRACEPARENT),
    ));
    let sent = [
        ("canonical", with_token.clone(), traced, 200),
        ("canonical", with_token.clone(), signed, 200),
        (
            "queued",
            queued.clone(),
            sign(&canonical(), queued.as_bytes()),
            202,
        ),
        (
            "partner",
            partner.clone(),
            sign(&bearer(BEARER_TOKEN), partner.as_bytes()),
            200,
        ),
        (
            "partner",
            partner.clone(),
            sign(&bearer(WRONG_BEARER), partner.as_bytes()),
            401,
        ),
        ("nobody", queued.clone(), Vec::new(), 404),
        (
            "canonical",
            "{\"broken\": ".to_owned(),
            sign(&canonical(), b"{\"broken\": "),
            400,
        ),
    ];
    let mut replies = Vec::new();
    for (n, (vendor, body, headers, status)) in sent.into_iter().enumerate() {
        let id = format!("log-{n}");
        let reply = gw.post(vendor, &body, headers, &id).await;
        assert_eq!(reply.status, status, "{id}: {reply:?}");
        replies.push(reply);
    }
    let queued_id = replies[2].json()["id"]
        .as_str()
        .expect("a delivery id")
        .to_owned();
    gw.until_logged("the queued delivery's Flow call", |line| {
        message(line) == "flow call" && line["delivery_id"] == queued_id.as_str()
    })
    .await;
    // Lines reach stderr through the log thread, in order, soon after the answer.
    gw.until_logged("the last webhook's outcome", |line| {
        message(line) == "webhook answered" && line["request_id"] == "log-6"
    })
    .await;
    let lines = gw.lines();

    for secret in [
        CANONICAL_SECRET,
        CANONICAL_KEY,
        BEARER_TOKEN,
        WRONG_BEARER,
        &flow_token,
        &access_token,
        &with_token,
        &queued,
        &partner,
    ] {
        let leaked: Vec<&String> = lines.iter().filter(|l| l.contains(secret)).collect();
        assert!(leaked.is_empty(), "{secret:?} is in the log: {leaked:#?}");
    }
    let parsed: Vec<Value> = lines.iter().map(|l| parse(l)).collect();
    let started = parsed
        .iter()
        .find(|l| message(l) == "flowgate starting")
        .expect("a start-up line");
    assert_eq!(started["version"], env!("CARGO_PKG_VERSION"), "{started}");
    assert_eq!(started["listen"], gw.public.as_str(), "{started}");
    for line in &parsed {
        assert!(
            line["timestamp"].is_string() && line["level"].is_string(),
            "{line}"
        );
        assert!(
            !message(line).is_empty(),
            "a sentence ends every line: {line}"
        );
    }

    // One outcome line per webhook, found by its request id.
    let mut answered: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for line in parsed.iter().filter(|l| message(l) == "webhook answered") {
        let id = line["request_id"].as_str().unwrap_or_default();
        answered.entry(id.to_owned()).or_default().push(line);
    }
    assert_eq!(answered.len(), 7, "{answered:#?}");
    let outcome = |n: usize| {
        let lines = &answered[&format!("log-{n}")];
        assert_eq!(lines.len(), 1, "log-{n}: {lines:#?}");
        let line = lines[0];
        for field in ["vendor", "outcome", "status", "duration_ms"] {
            assert!(!line[field].is_null(), "log-{n} has no {field}: {line}");
        }
        line
    };
    let expected = [
        ("canonical", "delivered", 200),
        ("canonical", "duplicate", 200),
        ("queued", "accepted", 202),
        ("partner", "delivered", 200),
        ("partner", "unauthenticated", 401),
        ("unknown", "unknown_vendor", 404),
        ("canonical", "invalid_json", 400),
    ];
    for (n, (vendor, result, status)) in expected.into_iter().enumerate() {
        let line = outcome(n);
        assert_eq!(line["vendor"], vendor, "log-{n}: {line}");
        assert_eq!(line["outcome"], result, "log-{n}: {line}");
        assert_eq!(line["status"], status, "log-{n}: {line}");
    }
    for n in [0, 2, 3] {
        let (line, reply) = (outcome(n), replies[n].json());
        assert_eq!(line["tenant"], "sim", "log-{n}: {line}");
        assert_eq!(line["delivery_id"], reply["id"], "log-{n}: {line}");
        assert!(line["order_id"].is_string(), "log-{n}: {line}");
    }
    assert_eq!(outcome(0)["order_id"], order.as_str());
    assert_eq!(outcome(3)["order_id"], partner_order.as_str());
    assert_eq!(outcome(2)["order_id"], queued_order.as_str());
    assert_eq!(outcome(1)["delivery_id"], outcome(0)["delivery_id"]);
    assert_eq!(outcome(4)["code"], "signature-invalid");
    let problems = parsed
        .iter()
        .filter(|l| message(l) == "answered with a problem");
    assert_eq!(problems.count(), 0, "the outcome line is the only one");

    // One line per Flow call of a delivery.
    for n in [0, 2, 3] {
        let id = replies[n].json()["id"].clone();
        let calls: Vec<&Value> = parsed
            .iter()
            .filter(|l| message(l) == "flow call" && l["delivery_id"] == id)
            .collect();
        assert_eq!(calls.len(), 1, "log-{n}: {calls:#?}");
        let call = calls[0];
        assert_eq!(call["tenant"], "sim", "{call}");
        assert_eq!(call["operation"], "updatestate", "{call}");
        assert_eq!(call["status"], 200, "{call}");
        assert_eq!(call["outcome"], "success", "{call}");
        assert!(
            call["order_id"].is_string() && call["duration_ms"].is_u64(),
            "{call}"
        );
    }

    // Every line of a request carries its W3C trace context: the caller's when it sent one (the
    // sync Flow call of log-0 is logged inside its request), else a new trace.
    let log_0 = replies[0].json()["id"].clone();
    let call = parsed
        .iter()
        .find(|l| message(l) == "flow call" && l["delivery_id"] == log_0)
        .expect("log-0's Flow call");
    for line in [outcome(0), call] {
        assert_eq!(line["trace_id"], TRACE_ID, "{line}");
        assert_eq!(line["span_id"], PARENT_SPAN_ID, "{line}");
    }
    let hex = |value: &Value, len: usize| {
        value
            .as_str()
            .is_some_and(|s| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let of_requests = parsed.iter().filter(|l| {
        l["request_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("log-"))
    });
    for line in of_requests {
        assert!(
            hex(&line["trace_id"], 32) && hex(&line["span_id"], 16),
            "{line}"
        );
        assert!(
            line.get("fields").is_none() && line.get("span").is_none(),
            "{line}"
        );
    }
    assert_ne!(outcome(2)["trace_id"], TRACE_ID);
    // A queued delivery's lines carry the trace its webhook arrived with.
    let queued_call = parsed
        .iter()
        .find(|l| message(l) == "flow call" && l["delivery_id"] == queued_id.as_str())
        .expect("the queued Flow call");
    assert_eq!(
        queued_call["trace_id"],
        outcome(2)["trace_id"],
        "{queued_call}"
    );
    assert_eq!(
        queued_call["span_id"],
        outcome(2)["span_id"],
        "{queued_call}"
    );
}

/// Text lines written to a pipe or a file carry no terminal colour codes: a log collector would
/// store them as they are.
#[tokio::test]
async fn text_lines_on_a_pipe_carry_no_colour_codes() {
    let sim = FlowSim::start().await;
    let access_token = sim.access_token().await;
    let gw = Logged::start(&sim, &access_token, "text").await;
    let body = canonical_body(
        &uuid::Uuid::new_v4().to_string(),
        json!({"state": "InProcess"}),
    );
    let headers = sign(&bearer(WRONG_BEARER), body.as_bytes());
    let reply = gw.post("partner", &body, headers, "text-1").await;
    assert_eq!(reply.status, 401, "{reply:?}");

    let answered = gw
        .until_line("the outcome", |line| line.contains("text-1"))
        .await;
    assert!(
        answered.contains("webhook answered") && answered.contains("unauthenticated"),
        "{answered}"
    );
    // As the README says: the sentence first, then the fields, values quoted.
    let sentence = answered.find(": webhook answered ").expect("the sentence");
    let field = answered
        .find(" outcome=\"unauthenticated\"")
        .expect("the outcome field");
    assert!(sentence < field, "{answered}");
    let coloured: Vec<String> = gw
        .lines()
        .into_iter()
        .filter(|l| l.contains('\u{1b}'))
        .collect();
    assert!(
        coloured.is_empty(),
        "colour codes in the log: {coloured:#?}"
    );
}
