//! The OpenAPI document (DESIGN section 18): `GET /openapi.json` is open, lists every route the
//! admin router serves and nothing it does not, gives every configured vendor its path, schema
//! and authentication headers, follows a reload, and never holds a secret; `flowgate openapi
//! --vendor V` prints only what V needs, without reading a secret.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::admin::{ADMIN_TABLE, ADMIN_TOKEN, admin};
use crate::support::client::{exchange, get};
use crate::support::fixtures::{
    self, BASIC_PASSWORD, BEARER_TOKEN, CANONICAL_SECRET, GITHUB_SECRET, PHOTO_SCHEMA,
};
use crate::support::{Gateway, TIMEOUT, flowgate_command, within};

const METHODS: [&str; 5] = ["get", "post", "delete", "put", "patch"];

async fn document(gw: &Gateway) -> Value {
    let reply = get(&gw.admin_url("/openapi.json")).await;
    assert_eq!(reply.status, 200, "open, without a token");
    reply.json()
}

/// The admin router's routes as `src/admin/mod.rs` declares them: path and methods.
fn served_routes() -> BTreeSet<(String, String)> {
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/admin/mod.rs"))
        .expect("read src/admin/mod.rs");
    let (nested, open) = source
        .split_once("fn health_routes")
        .expect("the open routes have their own function");
    let mut routes = BTreeSet::new();
    for (text, prefix) in [(nested, "/admin"), (open, "")] {
        for chunk in text.split(".route(").skip(1) {
            let chunk = chunk.split(".fallback(").next().unwrap_or(chunk);
            let path = chunk.split('"').nth(1).expect("a quoted path");
            for method in METHODS {
                let called = chunk.match_indices(&format!("{method}(")).any(|(at, _)| {
                    at == 0
                        || !chunk.as_bytes()[at - 1].is_ascii_alphanumeric()
                            && chunk.as_bytes()[at - 1] != b':'
                });
                if called {
                    routes.insert((format!("{prefix}{path}"), method.to_owned()));
                }
            }
        }
    }
    routes
}

/// The admin listener's operations in `document`: those without a public `servers` entry.
fn documented_routes(document: &Value) -> BTreeSet<(String, String)> {
    let paths = document["paths"].as_object().expect("paths");
    paths
        .iter()
        .filter(|(path, _)| {
            !path.starts_with("/webhooks/") && !path.starts_with("/launch/") && *path != "/ping"
        })
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(move |method| (path.clone(), (*method).to_owned()))
        })
        .collect()
}

/// `method` on the admin listener with the token: the status and the JSON body (null when it
/// is not JSON: `/metrics`).
async fn call(gw: &Gateway, method: &str, path: &str) -> (u16, Value) {
    let request = http::Request::builder()
        .method(method)
        .uri(gw.admin_url(path))
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("a request");
    let reply = exchange(request).await;
    let body = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    (reply.status.as_u16(), body)
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes_the_admin_router_serves() {
    let gw = fixtures::gateway("", ADMIN_TABLE).await;
    let document = document(&gw).await;
    assert_eq!(document["openapi"], "3.1.0");
    let documented = documented_routes(&document);
    assert_eq!(
        documented,
        served_routes(),
        "documented (left) and served (right) differ"
    );
    for (path, method) in &documented {
        let concrete = path
            .replace("{id}", "0194f1a2-0000-7000-8000-000000000000")
            .replace("{order_id}", "0194f1a2-0000-7000-8000-000000000000")
            .replace("{tenant}", "sim")
            .replace("{vendor}", "photo");
        let (status, body) = call(&gw, &method.to_uppercase(), &concrete).await;
        assert_ne!(status, 405, "{method} {path}: {body}");
        assert_ne!(
            body["detail"], "No such route.",
            "{method} {path} is not served"
        );
        let answers = &document["paths"][path][method]["responses"];
        assert!(
            answers.get(status.to_string()).is_some(),
            "{method} {path}: {status} is not documented: {body}"
        );
    }
}

#[tokio::test]
async fn every_vendor_has_its_path_schema_and_headers_and_no_secret_is_shown() {
    let gw = fixtures::gateway("", ADMIN_TABLE).await;
    let document = document(&gw).await;
    let paths = &document["paths"];
    let header_names = |vendor: &str| -> Vec<String> {
        let parameters = paths[format!("/webhooks/{vendor}")]["post"]["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        parameters
            .iter()
            .filter(|p| p["in"] == "header")
            .map(|p| p["name"].as_str().unwrap_or("").to_lowercase())
            .collect()
    };
    assert_eq!(
        header_names("canonical"),
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
    );
    assert_eq!(header_names("photo"), ["x-hub-signature-256"]);
    assert_eq!(
        paths["/webhooks/bearer"]["post"]["security"][0]["vendorBearer"],
        serde_json::json!([])
    );
    assert_eq!(
        paths["/webhooks/basic"]["post"]["security"][0]["vendorBasic"],
        serde_json::json!([])
    );
    let body_schema = |vendor: &str| {
        paths[format!("/webhooks/{vendor}")]["post"]["requestBody"]["content"]["application/json"]["schema"].clone()
    };
    assert_eq!(
        body_schema("canonical")["$ref"],
        "#/components/schemas/OrderUpdateEnvelope"
    );
    assert_eq!(
        body_schema("photo")["$ref"],
        "#/components/schemas/Payload.photo"
    );
    let photo: Value = serde_json::from_str(PHOTO_SCHEMA).expect("the fixture schema");
    assert_eq!(
        document["components"]["schemas"]["Payload.photo"], photo,
        "the vendor's own file"
    );
    let answers = &paths["/webhooks/canonical"]["post"]["responses"];
    let codes_422 = &answers["422"]["content"]["application/problem+json"]["schema"]["allOf"][1]["properties"]
        ["code"]["enum"];
    assert_eq!(
        *codes_422,
        serde_json::json!(["schema-violation", "mapping-failed", "tenant-unresolved"])
    );
    assert!(answers.get("200").is_some() && answers.get("401").is_some());
    let text = document.to_string();
    for secret in [
        CANONICAL_SECRET,
        GITHUB_SECRET,
        BEARER_TOKEN,
        BASIC_PASSWORD,
        ADMIN_TOKEN,
    ] {
        assert!(!text.contains(secret), "the document shows a secret");
    }
}

#[tokio::test]
async fn a_reload_changes_the_document() {
    let gw = fixtures::gateway("", ADMIN_TABLE).await;
    assert!(
        document(&gw).await["paths"]
            .get("/webhooks/later")
            .is_none()
    );
    let mut toml = std::fs::read_to_string(gw.config_path()).expect("read the config");
    toml.push_str("\n[vendors.later]\nverify = { scheme = \"bearer\", tokens = [\"later-token\"] }\ntenant = \"sim\"\n");
    std::fs::write(gw.config_path(), toml).expect("rewrite the config");
    let (status, body) = admin(&gw, "POST", "/admin/reload").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        document(&gw).await["paths"]
            .get("/webhooks/later")
            .is_some()
    );
}

/// `flowgate openapi [--vendor V]` on the fixtures' vendors, every secret named by an unset
/// variable: its exit status and stdout.
async fn openapi_command(args: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = crate::support::flow::FlowSim::start().await;
    let config = fixtures::config("", &sim, ADMIN_TABLE)
        .replace(
            &format!("secrets = [\"{CANONICAL_SECRET}\"]"),
            "secrets_env = \"FLOWGATE_IT_OPENAPI_UNSET\"",
        )
        .replace(
            &format!("secrets = [\"{GITHUB_SECRET}\"]"),
            "secrets_env = \"FLOWGATE_IT_OPENAPI_UNSET\"",
        );
    std::fs::create_dir_all(dir.path().join("schemas")).expect("mkdir");
    std::fs::write(dir.path().join(fixtures::PHOTO_SCHEMA_PATH), PHOTO_SCHEMA)
        .expect("write the schema");
    std::fs::write(dir.path().join("config.toml"), config).expect("write the config");
    let mut command = flowgate_command();
    command
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .arg("openapi")
        .args(args);
    let output = within(TIMEOUT, "flowgate openapi", command.output())
        .await
        .expect("the binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn flowgate_openapi_for_one_vendor_holds_its_route_schema_and_headers_only() {
    let (ok, stdout) = openapi_command(&["--vendor", "photo"]).await;
    assert!(ok, "{stdout}");
    let document: Value = serde_json::from_str(&stdout).expect("JSON");
    let paths: Vec<&String> = document["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .collect();
    assert_eq!(paths, ["/webhooks/photo"]);
    let operation = &document["paths"]["/webhooks/photo"]["post"];
    assert_eq!(operation["parameters"][0]["name"], "x-hub-signature-256");
    let photo: Value = serde_json::from_str(PHOTO_SCHEMA).expect("the fixture schema");
    assert_eq!(document["components"]["schemas"]["Payload.photo"], photo);
    for other in [
        "canonical",
        "bearer",
        "basic",
        "/admin",
        "adminBearer",
        "OrderUpdateEnvelope",
    ] {
        assert!(!stdout.contains(other), "{other} is not photo's");
    }
    let (ok, stdout) = openapi_command(&[]).await;
    assert!(ok);
    let whole: Value = serde_json::from_str(&stdout).expect("JSON");
    for vendor in ["canonical", "photo", "bearer", "basic"] {
        assert!(
            whole["paths"].get(format!("/webhooks/{vendor}")).is_some(),
            "{vendor}"
        );
    }
    let (ok, _) = openapi_command(&["--vendor", "nobody"]).await;
    assert!(!ok, "an unknown vendor is an error");
}
