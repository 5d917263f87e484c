//! The OpenAPI 3.1 document (contract section 18), generated from the configuration and from the
//! types the handlers serialize, so it cannot drift from either: `public.rs` describes the
//! vendors' routes, `admin.rs` the admin listener's, `schemas.rs` the bodies. Served on
//! `GET /openapi.json` and printed by `flowgate openapi [--vendor V]`; it never holds a secret.

mod admin;
mod public;
mod schemas;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::config::{Config, VendorConfig};
use crate::problem::Code;
use crate::validate::CANONICAL_SCHEMA;

/// The component name of the canonical envelope's schema.
const CANONICAL: &str = "OrderUpdateEnvelope";

/// Why the document cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum OpenApiError {
    #[error("no vendor `{0}` is configured")]
    UnknownVendor(String),
    #[error("vendors.{vendor}.schema: {message}")]
    Schema { vendor: String, message: String },
}

/// The whole gateway's document: every vendor's routes, `/ping`, and the admin listener's.
pub fn document(config: &Config) -> Result<Value, OpenApiError> {
    let mut paths = Map::new();
    let public = server(config, false);
    let mut payloads = Map::new();
    for (name, vendor) in &config.vendors {
        let schema = payload_schema(config, name, vendor, &mut payloads)?;
        for (path, mut item) in public::vendor_paths(config, name, vendor, schema) {
            item["servers"] = json!([public]);
            paths.insert(path, item);
        }
    }
    let mut ping = public::ping();
    ping["servers"] = json!([public]);
    paths.insert("/ping".to_owned(), ping);
    paths.extend(admin::paths());
    let mut schemas = schemas::components();
    schemas.extend(payloads);
    let security = json!({
        "adminBearer": {"type": "http", "scheme": "bearer",
            "description": "The admin token (admin.token_env)"},
        public::VENDOR_BEARER: {"type": "http", "scheme": "bearer",
            "description": "A vendor's token (verify.scheme = \"bearer\")"},
        public::VENDOR_BASIC: {"type": "http", "scheme": "basic",
            "description": "A vendor's username and password (verify.scheme = \"basic\")"},
    });
    Ok(wrap(
        "flowgate",
        "The gateway's public routes, one per configured vendor, and its admin listener.",
        vec![server(config, true)],
        paths,
        schemas,
        security,
    ))
}

/// What one vendor needs to integrate: its webhook route (and launch route), its schema, the
/// headers it must send and every answer it can get; nothing of other vendors or the admin API.
pub fn vendor_document(config: &Config, name: &str) -> Result<Value, OpenApiError> {
    let vendor = config
        .vendors
        .get(name)
        .ok_or_else(|| OpenApiError::UnknownVendor(name.to_owned()))?;
    let mut payloads = Map::new();
    let schema = payload_schema(config, name, vendor, &mut payloads)?;
    let paths = public::vendor_paths(config, name, vendor, schema);
    let mut schemas = schemas::components();
    let needed = ["Problem", "Violation", "KeyError", "WebhookAnswer"];
    schemas.retain(|key, _| needed.contains(&key.as_str()));
    schemas.extend(payloads);
    let security = match vendor.verify.scheme {
        crate::config::Scheme::Bearer => {
            json!({public::VENDOR_BEARER: {"type": "http", "scheme": "bearer"}})
        }
        crate::config::Scheme::Basic => {
            json!({public::VENDOR_BASIC: {"type": "http", "scheme": "basic"}})
        }
        _ => json!({}),
    };
    Ok(wrap(
        &format!("flowgate: webhooks of {name}"),
        &format!(
            "How vendor `{name}` posts its webhooks to the gateway, and every answer it gets."
        ),
        vec![server(config, false)],
        paths,
        schemas,
        security,
    ))
}

fn wrap(
    title: &str,
    description: &str,
    servers: Vec<Value>,
    paths: Map<String, Value>,
    schemas: Map<String, Value>,
    security: Value,
) -> Value {
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": title, "description": description, "version": env!("CARGO_PKG_VERSION")},
        "servers": servers,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": security,
            "headers": {
                "RequestId": {"description": "The caller's x-request-id when acceptable, else a fresh one",
                    "schema": {"type": "string"}},
                "RetryAfter": {"description": "Seconds to wait before trying again",
                    "schema": {"type": "integer", "minimum": 1}},
            },
        },
    })
}

/// The public (or admin) listener as configured.
fn server(config: &Config, admin: bool) -> Value {
    let server = &config.server;
    if admin {
        return json!({"url": format!("http://{}", server.admin_listen), "description": "The admin listener"});
    }
    let scheme = if server.tls.is_some() {
        "https"
    } else {
        "http"
    };
    json!({
        "url": format!("{scheme}://{}", server.listen),
        "description": "The public listener as configured; behind a proxy, the address vendors are given",
    })
}

/// The request body's schema of a vendor: its own schema file, then, for a vendor without a
/// map, the canonical envelope too (both apply, as in `ingress::vendor_schemas`). Each is added
/// to `payloads` as a component.
fn payload_schema(
    config: &Config,
    name: &str,
    vendor: &VendorConfig,
    payloads: &mut Map<String, Value>,
) -> Result<Value, OpenApiError> {
    let mut parts = Vec::new();
    if let Some(path) = &vendor.schema {
        let key = format!("vendors.{name}.schema");
        let failed = |message: String| OpenApiError::Schema {
            vendor: name.to_owned(),
            message,
        };
        let file = config.source.resolve(&key, path);
        let text = std::fs::read_to_string(&file)
            .map_err(|e| failed(format!("cannot read {}: {e}", file.display())))?;
        let schema: Value = serde_json::from_str(&text)
            .map_err(|e| failed(format!("{} is not JSON: {e}", file.display())))?;
        let component = format!("Payload.{name}");
        payloads.insert(component.clone(), schema);
        parts.push(schemas::reference(&component));
    }
    if vendor.map.is_none() {
        let canonical = serde_json::from_str(CANONICAL_SCHEMA).unwrap_or(Value::Bool(true));
        payloads.insert(CANONICAL.to_owned(), canonical);
        parts.push(schemas::reference(CANONICAL));
    }
    Ok(match parts.len() {
        1 => parts.remove(0),
        _ => json!({"allOf": parts}),
    })
}

/// The problem answers of `codes`, one response per status, each listing its codes.
pub(crate) fn problem_answers(codes: &[Code]) -> Map<String, Value> {
    let mut by_status: BTreeMap<u16, Vec<Code>> = BTreeMap::new();
    for code in codes {
        by_status
            .entry(code.status().as_u16())
            .or_default()
            .push(*code);
    }
    by_status
        .into_iter()
        .map(|(status, codes)| {
            let names: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
            let mut headers = request_id();
            if codes
                .iter()
                .any(|c| matches!(c, Code::RateLimited | Code::Overloaded | Code::Unavailable))
            {
                headers["Retry-After"] = json!({"$ref": "#/components/headers/RetryAfter"});
            }
            let schema = json!({"allOf": [
                schemas::reference("Problem"),
                {"properties": {"code": {"enum": names}}},
            ]});
            let answer = json!({
                "description": names.join(", "),
                "headers": headers,
                "content": {"application/problem+json": {"schema": schema}},
            });
            (status.to_string(), answer)
        })
        .collect()
}

/// The `x-request-id` every answer carries.
pub(crate) fn request_id() -> Value {
    json!({"x-request-id": {"$ref": "#/components/headers/RequestId"}})
}
