//! The public listener's routes (contract section 2): one `POST /webhooks/{name}` path per
//! configured vendor, with its payload schema and the headers its `verify` scheme reads, its
//! `/launch/{name}` when it has a `launch_url`, and `/ping`. Built from the configuration alone:
//! no secret is resolved, so none can reach the document.

use serde_json::{Map, Value, json};

use super::problem_answers;
use crate::config::{
    Algorithm, Config, DeliveryMode, Encoding, FlowTokenPolicy, Preset, Scheme, VendorConfig,
    VerifyConfig,
};
use crate::problem::Code;
use crate::verify::signature::{
    FLOW_SIGNATURE, GITHUB_SIGNATURE, STRIPE_SIGNATURE, WEBHOOK_ID, WEBHOOK_SIGNATURE,
    WEBHOOK_TIMESTAMP,
};

/// The security scheme names of bearer and basic vendors.
pub const VENDOR_BEARER: &str = "vendorBearer";
pub const VENDOR_BASIC: &str = "vendorBasic";

/// `/webhooks/{name}` (and `/launch/{name}`) of one vendor; `schema` its payload's schema.
pub fn vendor_paths(
    config: &Config,
    name: &str,
    vendor: &VendorConfig,
    schema: Value,
) -> Map<String, Value> {
    let mut paths = Map::new();
    paths.insert(
        format!("/webhooks/{name}"),
        json!({"post": webhook(config, name, vendor, schema)}),
    );
    if vendor.launch_url.is_some() {
        paths.insert(
            format!("/launch/{name}"),
            json!({"get": launch(name, vendor)}),
        );
    }
    paths
}

fn webhook(config: &Config, name: &str, vendor: &VendorConfig, schema: Value) -> Value {
    let sync = vendor.delivery.unwrap_or(config.delivery.mode) == DeliveryMode::Sync;
    let (parameters, security) = authentication(&vendor.verify);
    let mut responses = problem_answers(&webhook_codes(vendor, sync));
    let answer =
        json!({"application/json": {"schema": super::schemas::reference("WebhookAnswer")}});
    let accepted = if sync {
        "Delivered to Flow (sync): state `delivered`, with Flow's answer as `order`; or a duplicate"
    } else {
        "A duplicate event id: the original delivery, `duplicate: true`"
    };
    responses.insert(
        "200".to_owned(),
        json!({"description": accepted, "headers": super::request_id(), "content": answer}),
    );
    if !sync {
        responses.insert(
            "202".to_owned(),
            json!({"description": "Committed durably as a queued delivery (state `pending`)",
                "headers": super::request_id(), "content": answer}),
        );
    }
    let mut operation = json!({
        "tags": ["webhooks"],
        "operationId": format!("webhook.{name}"),
        "summary": format!("A webhook of vendor `{name}`"),
        "description": format!(
            "Authenticated by scheme `{}` on the raw body bytes, then parsed, checked against the \
             schema below, mapped onto an order update and routed to a tenant.",
            vendor.verify.scheme_name()
        ),
        "parameters": parameters,
        "requestBody": {"required": true, "content": {"application/json": {"schema": schema}}},
        "responses": responses,
    });
    if let Some(security) = security {
        operation["security"] = security;
    }
    operation
}

/// The codes a vendor's webhook can be answered with, in the contract's order of checks.
fn webhook_codes(vendor: &VendorConfig, sync: bool) -> Vec<Code> {
    let mut codes = vec![Code::UnknownVendor];
    if vendor.allow_ips.is_some() {
        codes.push(Code::IpNotAllowed);
    }
    codes.extend([
        Code::UnsupportedMediaType,
        Code::PayloadTooLarge,
        Code::RequestTimeout,
        Code::SignatureInvalid,
        Code::RateLimited,
        Code::InvalidJson,
        Code::DuplicateConflict,
        Code::SchemaViolation,
        Code::MappingFailed,
        Code::TenantNotAllowed,
        Code::TenantUnresolved,
        Code::OrderNotAllowed,
    ]);
    if vendor.flow_token != FlowTokenPolicy::Off {
        codes.extend([
            Code::FlowTokenMissing,
            Code::FlowTokenInvalid,
            Code::FlowTokenMismatch,
        ]);
    }
    codes.extend([Code::Overloaded, Code::Unavailable, Code::Internal]);
    if sync {
        codes.extend([Code::FlowRejected, Code::FlowTimeout]);
    }
    codes
}

/// The header parameters a scheme reads, and the security requirement of bearer and basic.
fn authentication(verify: &VerifyConfig) -> (Vec<Value>, Option<Value>) {
    match (verify.scheme, verify.preset) {
        (Scheme::StandardWebhooks, _) => (standard_webhooks(), None),
        (Scheme::Hmac, Some(Preset::Github)) => (
            vec![header(
                GITHUB_SIGNATURE,
                "`sha256=` and the lowercase hex HMAC-SHA256 of the raw body",
                Some("^sha256=[0-9a-fA-F]{64}$"),
            )],
            None,
        ),
        (Scheme::Hmac, Some(Preset::Stripe)) => (
            vec![header(
                STRIPE_SIGNATURE,
                "`t=<unix seconds>,v1=<hex>`: the HMAC-SHA256 of `{t}.{raw body}`, the timestamp \
                 within 5 minutes of the gateway's clock",
                None,
            )],
            None,
        ),
        (Scheme::Hmac, Some(Preset::Flow)) => (
            vec![header(
                FLOW_SIGNATURE,
                "The lowercase hex HMAC-SHA256 of the raw body",
                Some("^[0-9a-f]{64}$"),
            )],
            None,
        ),
        (Scheme::Hmac, None) => (custom_hmac(verify), None),
        (Scheme::Bearer, _) => (Vec::new(), Some(json!([{VENDOR_BEARER: []}]))),
        (Scheme::Basic, _) => (Vec::new(), Some(json!([{VENDOR_BASIC: []}]))),
    }
}

fn standard_webhooks() -> Vec<Value> {
    vec![
        header(
            WEBHOOK_ID,
            "The event id, unique per event (also accepted as `svix-id`); deduplication key",
            None,
        ),
        header(
            WEBHOOK_TIMESTAMP,
            "Unix seconds when signed (also `svix-timestamp`); within the tolerance of the gateway's clock",
            Some("^[0-9]+$"),
        ),
        header(
            WEBHOOK_SIGNATURE,
            "Space-separated `v1,<base64>` (also `svix-signature`): the HMAC-SHA256 of \
             `{id}.{timestamp}.{raw body}`, keyed with the base64-decoded secret after `whsec_`",
            None,
        ),
    ]
}

/// `scheme = "hmac"` with its own `header`, and `timestamp_header` when set.
fn custom_hmac(verify: &VerifyConfig) -> Vec<Value> {
    let algorithm = match verify.algorithm.unwrap_or(Algorithm::Sha256) {
        Algorithm::Sha256 => "HMAC-SHA256",
        Algorithm::Sha512 => "HMAC-SHA512",
    };
    let encoding = match verify.encoding.unwrap_or(Encoding::Hex) {
        Encoding::Hex => "hex",
        Encoding::Base64 => "base64",
    };
    let signed = verify.signed.as_deref().unwrap_or("{body}");
    let prefix = verify
        .prefix
        .as_deref()
        .map(|p| format!("`{p}` and "))
        .unwrap_or_default();
    let description =
        format!("{prefix}the {encoding} {algorithm} of `{signed}` (`{{body}}` the raw body)");
    let mut headers = vec![header(
        verify.header.as_deref().unwrap_or_default(),
        &description,
        None,
    )];
    if let Some(timestamp) = &verify.timestamp_header {
        headers.push(header(
            timestamp,
            "Unix seconds when signed, within the tolerance of the gateway's clock",
            Some("^[0-9]+$"),
        ));
    }
    headers
}

/// A required header parameter.
fn header(name: &str, description: &str, pattern: Option<&str>) -> Value {
    let mut schema = json!({"type": "string"});
    if let Some(pattern) = pattern {
        schema["pattern"] = pattern.into();
    }
    json!({"name": name, "in": "header", "required": true, "description": description, "schema": schema})
}

/// `GET /launch/{name}`: Core's order button; answers are redirects and short HTML pages.
fn launch(name: &str, vendor: &VendorConfig) -> Value {
    let params = &vendor.launch_params;
    let query = |name: &str, required: bool, description: &str| {
        json!({"name": name, "in": "query", "required": required,
            "description": description, "schema": {"type": "string"}})
    };
    let page = |description: &str| {
        json!({"description": description,
            "content": {"text/html": {"schema": {"type": "string"}}}})
    };
    json!({
        "tags": ["launch"],
        "operationId": format!("launch.{name}"),
        "summary": format!("Core's order button for vendor `{name}`"),
        "parameters": [
            query(&params.order_id, true, "The order's GUID"),
            query(&params.flow_url, false, "The customer's Flow base URL"),
            query(&params.tenant_id, false, "The customer's tenant id"),
            query(&params.token, true, "The FlowToken Core issued for the order"),
            query(&params.case_id, false, "The case id"),
        ],
        "responses": {
            "302": {"description": "The order is bound; on to the vendor's launch_url",
                "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}}},
            "400": page("The link is incomplete, or names no tenant"),
            "401": page("The FlowToken was not accepted"),
            "403": page("The tenant is not served, or the token is for another order"),
            "404": page("Not a known vendor"),
            "503": page("Flow could not be asked; try again"),
        },
    })
}

/// `GET`/`HEAD /ping`: Core's PingUrl.
pub fn ping() -> Value {
    let operation = |id: &str| {
        json!({
            "tags": ["health"],
            "operationId": id,
            "summary": "200 while ready, 503 while starting or draining",
            "responses": {"200": {"description": "Ready"}, "503": {"description": "Starting or draining"}},
        })
    };
    json!({"get": operation("ping"), "head": operation("pingHead")})
}
