//! `flowgate map` runs a payload through the gateway's stages up to routing and the FlowToken
//! policy (DESIGN section 10): it prints the problem the gateway would answer and exits 1 where
//! the gateway would refuse, prints the update, its tenant and the Flow calls and exits 0 where
//! it would send, and exits 2 when it cannot run. It needs no secret: every secret of the
//! configuration below names a variable that is not set.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::{TIMEOUT, flowgate_command, within};

const CONFIG: &str = r#"
[tenants.alpha]
base_url = "https://alpha.example/flow"
tenant_id = 14
auth = { kind = "client_credentials", client_id = "alpha", client_secret_env = "FLOWGATE_IT_MAP_UNSET_ALPHA" }

[tenants.beta]
base_url = "https://beta.example/flow"
tenant_id = 15
auth = { kind = "bearer", token_env = "FLOWGATE_IT_MAP_UNSET_BETA" }

# A canonical vendor with no fallback tenant: the payload must name one.
[vendors.open]
verify = { scheme = "standard-webhooks", secrets_env = "FLOWGATE_IT_MAP_UNSET_OPEN" }

# A canonical vendor that needs a FlowToken and may only reach alpha, its fallback.
[vendors.strict]
verify = { scheme = "bearer", tokens_env = "FLOWGATE_IT_MAP_UNSET_STRICT" }
tenant = "alpha"
tenants = ["alpha"]
flow_token = "required"
"#;

const ORDER: &str = "2d6f1c3a-8b4e-4f0a-9c7d-5e1b2a3c4d5e";

/// The configuration in a directory of its own, where payloads are written too.
struct Setup {
    dir: tempfile::TempDir,
}

/// One run of `map`: its exit code and its report.
#[derive(Debug)]
struct Report {
    code: Option<i32>,
    json: Value,
    stderr: String,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("config.toml"), CONFIG).expect("write the config");
        Setup { dir }
    }

    fn payload(&self, name: &str, payload: &Value) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, payload.to_string()).expect("write the payload");
        path
    }

    async fn map(&self, vendor: &str, file: &Path) -> Report {
        let mut command = flowgate_command();
        command
            .arg("--config")
            .arg(self.dir.path().join("config.toml"))
            .args(["map", "--vendor", vendor])
            .arg(file);
        let output = within(TIMEOUT, "flowgate map", command.output())
            .await
            .expect("the binary runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        Report {
            code: output.status.code(),
            json: serde_json::from_str(&stdout).unwrap_or(Value::String(stdout.into_owned())),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Report {
    /// Asserts that the gateway would refuse the payload with `status` and `code`.
    fn assert_refused(&self, status: u16, code: &str) {
        assert_eq!(self.code, Some(1), "{self:#?}");
        let problem = &self.json["problem"];
        assert_eq!(problem["status"], status, "{self:#?}");
        assert_eq!(problem["code"], code, "{self:#?}");
        assert_eq!(problem["type"], format!("urn:flowgate:problem:{code}"));
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
        assert!(self.json.get("flow_calls").is_none(), "{self:#?}");
    }

    fn assumes(&self, words: &str) -> bool {
        self.json["assumed"].as_array().is_some_and(|lines| {
            lines
                .iter()
                .any(|l| l.as_str().is_some_and(|l| l.contains(words)))
        })
    }
}

#[tokio::test]
async fn map_refuses_a_flow_url_no_tenant_has_and_a_tenant_outside_the_allow_list() {
    let setup = Setup::new();
    let unknown_url = setup.payload(
        "unknown-url.json",
        &json!({"orderId": ORDER, "flowUrl": "https://attacker.example/flow", "state": "Completed"}),
    );
    let report = setup.map("open", &unknown_url).await;
    report.assert_refused(403, "tenant-not-allowed");
    assert_eq!(
        report.json["order_update"]["flow_url"],
        "https://attacker.example/flow"
    );

    let not_allowed = setup.payload(
        "not-allowed.json",
        &json!({"orderId": ORDER, "tenantId": 15, "flowToken": "t", "state": "Completed"}),
    );
    let report = setup.map("strict", &not_allowed).await;
    report.assert_refused(403, "tenant-not-allowed");
    let detail = report.json["problem"]["detail"]
        .as_str()
        .unwrap_or_default();
    assert!(detail.contains("beta"), "names the tenant: {report:#?}");
}

#[tokio::test]
async fn map_refuses_a_payload_that_names_no_tenant_as_unresolved_saying_no_binding_was_known() {
    let setup = Setup::new();
    let file = setup.payload(
        "no-tenant.json",
        &json!({"orderId": ORDER, "state": "InProcess"}),
    );
    let report = setup.map("open", &file).await;
    report.assert_refused(422, "tenant-unresolved");
    assert!(report.assumes("no binding known"), "{report:#?}");
}

#[tokio::test]
async fn map_refuses_a_required_flow_token_that_is_missing_and_passes_one_that_is_present() {
    let setup = Setup::new();
    let missing = setup.payload(
        "no-token.json",
        &json!({"orderId": ORDER, "state": "Completed"}),
    );
    let report = setup.map("strict", &missing).await;
    report.assert_refused(401, "flow-token-missing");
    assert_eq!(report.json["tenant"], "alpha", "{report:#?}");
    let result = report.json["flow_token"]["result"]
        .as_str()
        .unwrap_or_default();
    assert!(
        result.contains("did not look up the binding"),
        "{report:#?}"
    );

    // An empty token is no token.
    let empty = setup.payload(
        "empty-token.json",
        &json!({"orderId": ORDER, "flowToken": "", "state": "Completed"}),
    );
    let report = setup.map("strict", &empty).await;
    assert_eq!(report.code, Some(1), "{report:#?}");

    let present = setup.payload(
        "token.json",
        &json!({"orderId": ORDER, "flowToken": "opaque-token", "state": "Completed"}),
    );
    let report = setup.map("strict", &present).await;
    assert_eq!(report.code, Some(0), "{report:#?}");
    assert_eq!(report.json["flow_token"]["policy"], "required");
    let result = report.json["flow_token"]["result"]
        .as_str()
        .unwrap_or_default();
    assert!(result.contains("not verified against Flow"), "{report:#?}");
    assert!(
        !report.json.to_string().contains("opaque-token"),
        "the token is never printed: {report:#?}"
    );
}

#[tokio::test]
async fn map_refuses_a_schema_violation_with_the_problem_and_every_pointer() {
    let setup = Setup::new();
    let file = setup.payload(
        "invalid.json",
        &json!({"orderId": "not-a-guid", "tenantId": 14, "state": "Shipped"}),
    );
    let report = setup.map("open", &file).await;
    report.assert_refused(422, "schema-violation");
    let pointers: Vec<&str> = report.json["problem"]["errors"]
        .as_array()
        .expect("errors[]")
        .iter()
        .map(|error| error["pointer"].as_str().expect("a pointer"))
        .collect();
    assert!(pointers.contains(&"/orderId"), "{report:#?}");
    assert!(pointers.contains(&"/state"), "{report:#?}");
    assert!(report.json.get("order_update").is_none(), "{report:#?}");
}

#[tokio::test]
async fn map_refuses_what_is_not_json_as_invalid_json() {
    let setup = Setup::new();
    let file = setup.dir.path().join("not-json.json");
    std::fs::write(&file, "{\"orderId\": ").expect("write");
    setup
        .map("open", &file)
        .await
        .assert_refused(400, "invalid-json");
}

#[tokio::test]
async fn map_refuses_a_status_without_a_state_for_an_order_nothing_was_sent_to() {
    let setup = Setup::new();
    let file = setup.payload(
        "status-only.json",
        &json!({"orderId": ORDER, "tenantId": 14, "status": "Shooting on Friday"}),
    );
    let report = setup.map("open", &file).await;
    report.assert_refused(422, "mapping-failed");
    assert_eq!(report.json["tenant"], "alpha", "{report:#?}");
    assert!(
        report.assumes("nothing was sent to the order"),
        "{report:#?}"
    );
}

#[tokio::test]
async fn map_of_a_payload_the_gateway_would_send_prints_its_tenant_and_calls_without_secrets() {
    let setup = Setup::new();
    let file = setup.payload(
        "good.json",
        &json!({"orderId": ORDER.to_uppercase(), "tenantId": "15", "state": "Completed", "title": "Photos"}),
    );
    let report = setup.map("open", &file).await;
    assert_eq!(report.code, Some(0), "{report:#?}");
    assert!(report.json.get("problem").is_none(), "{report:#?}");
    assert_eq!(report.json["tenant"], "beta");
    assert_eq!(report.json["order_update"]["order_id"], ORDER);
    let calls = report.json["flow_calls"].as_array().expect("flow_calls");
    let operations: Vec<&Value> = calls.iter().map(|call| &call["operation"]).collect();
    assert_eq!(operations, [&json!("patch"), &json!("updatestate")]);
    assert_eq!(
        calls[1]["path"],
        format!("/api/marketingintegrators/orders/{ORDER}/updatestate")
    );
    assert_eq!(calls[1]["body"]["State"], "Completed");
    assert_eq!(report.json["flow_token"]["policy"], "optional");
}

#[tokio::test]
async fn map_exits_2_when_it_cannot_run() {
    let setup = Setup::new();
    let file = setup.payload(
        "good.json",
        &json!({"orderId": ORDER, "state": "Completed"}),
    );
    let report = setup.map("nobody", &file).await;
    assert_eq!(report.code, Some(2), "{report:#?}");
    assert!(report.stderr.contains("nobody"), "{report:#?}");

    let missing = setup.dir.path().join("missing.json");
    let report = setup.map("open", &missing).await;
    assert_eq!(report.code, Some(2), "{report:#?}");
    assert!(report.stderr.contains("missing.json"), "{report:#?}");
}
