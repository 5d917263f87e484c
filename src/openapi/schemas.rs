//! The document's `components.schemas`: what the handlers serialize from typed structs comes
//! from those types (`utoipa::ToSchema`), so renaming a field changes the document; what a
//! handler builds by hand (`json!`) is described here, beside them.

use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa::openapi::{RefOr, Schema};

use crate::admin::reload::Reloaded;
use crate::admin::{OrderView, Overview, TenantView};
use crate::problem::{Code, KeyError};
use crate::queue::{DeliveryRecord, DeliveryState, Page};
use crate::replay::{ReplayAnswer, ReplayRequest};
use crate::validate::{DriftPointer, Violation};

/// A `$ref` to the component schema `name`.
pub fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// Every schema the document names, typed and hand-described.
pub fn components() -> Map<String, Value> {
    let mut typed = Vec::new();
    add::<DeliveryRecord>(&mut typed);
    add::<DeliveryState>(&mut typed);
    add::<Page>(&mut typed);
    add::<OrderView>(&mut typed);
    add::<Overview>(&mut typed);
    add::<TenantView>(&mut typed);
    add::<Reloaded>(&mut typed);
    add::<ReplayRequest>(&mut typed);
    add::<ReplayAnswer>(&mut typed);
    add::<DriftPointer>(&mut typed);
    add::<Violation>(&mut typed);
    add::<KeyError>(&mut typed);
    let mut schemas: Map<String, Value> = typed
        .into_iter()
        .filter_map(|(name, schema)| Some((name, serde_json::to_value(schema).ok()?)))
        .collect();
    schemas.extend(described());
    schemas
}

/// `T`'s schema and those it refers to.
fn add<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
}

/// The bodies handlers build with `json!`, and the problem document.
fn described() -> Map<String, Value> {
    let string = json!({"type": "string"});
    let nullable = |schema: Value| json!({"oneOf": [schema, {"type": "null"}]});
    let mut schemas = Map::new();
    let mut add = |name: &str, schema: Value| schemas.insert(name.to_owned(), schema);
    add("Problem", problem(Code::ALL));
    add(
        "DeliveryDetail",
        json!({"allOf": [reference("DeliveryRecord"), {
            "type": "object",
            "properties": {
                "body": nullable(json!({"type": "string",
                    "description": "The webhook's body while store.body_retention keeps it"})),
                "body_encoding": nullable(json!({"type": "string", "enum": ["utf-8", "base64"]})),
            },
            "required": ["body", "body_encoding"],
        }]}),
    );
    add(
        "Redriven",
        object(&[
            ("redriven", json!({"type": "integer", "minimum": 0})),
            ("superseded", json!({"type": "integer", "minimum": 0})),
        ]),
    );
    add(
        "TenantPaused",
        object(&[
            ("tenant", string.clone()),
            ("paused", json!({"type": "boolean"})),
        ]),
    );
    add(
        "TenantCircuit",
        object(&[
            ("tenant", string.clone()),
            ("circuit", json!({"type": "string", "enum": ["closed"]})),
        ]),
    );
    add(
        "Health",
        object(&[("status", json!({"type": "string", "enum": ["ok"]}))]),
    );
    add(
        "Readiness",
        json!({"type": "object", "required": ["ready"], "properties": {
            "ready": {"type": "boolean"},
            "checks": {"type": "object", "additionalProperties": {"type": "string"},
                "description": "Each failing check by name, with its cause"},
        }}),
    );
    add("WebhookAnswer", webhook_answer());
    add(
        "TenantList",
        object(&[(
            "tenants",
            json!({"type": "array", "items": reference("TenantView")}),
        )]),
    );
    schemas.extend(kept_bodies());
    schemas
}

/// What `/admin/rejections` and `/admin/vendors/{vendor}/drift` answer.
fn kept_bodies() -> Map<String, Value> {
    let string = json!({"type": "string"});
    let mut schemas = Map::new();
    let mut add = |name: &str, schema: Value| schemas.insert(name.to_owned(), schema);
    add("Rejection", rejection(false));
    add("RejectionDetail", rejection(true));
    add(
        "RejectionPage",
        object(&[
            (
                "rejections",
                json!({"type": "array", "items": reference("Rejection")}),
            ),
            ("next_cursor", json!({"type": ["string", "null"]})),
        ]),
    );
    add(
        "Drift",
        object(&[
            ("vendor", string.clone()),
            (
                "pointers",
                json!({"type": "array", "items": reference("DriftPointer")}),
            ),
        ]),
    );
    schemas
}

/// An object whose every listed property is required.
pub fn object(properties: &[(&str, Value)]) -> Value {
    let required: Vec<&str> = properties.iter().map(|(name, _)| *name).collect();
    let properties: Map<String, Value> = properties
        .iter()
        .map(|(name, schema)| ((*name).to_owned(), schema.clone()))
        .collect();
    json!({"type": "object", "required": required, "properties": properties})
}

/// The RFC 9457 document of every problem answer, `codes` its possible codes.
pub fn problem(codes: &[Code]) -> Value {
    let codes: Vec<&str> = codes.iter().map(|code| code.as_str()).collect();
    let types: Vec<String> = codes
        .iter()
        .map(|code| format!("urn:flowgate:problem:{code}"))
        .collect();
    json!({
        "type": "object",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string", "enum": types},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "code": {"type": "string", "enum": codes},
            "request_id": {"type": "string"},
            "errors": {
                "description": "schema-violation: every rule broken; \
                    config-invalid: every key that does not load",
                "type": "array",
                "items": {"oneOf": [reference("Violation"), reference("KeyError")]},
            },
            "flow_status": {"type": "integer", "description": "flow-rejected: Flow's status"},
            "flow_body": {"type": "string", "description": "flow-rejected: Flow's body, first 4 KiB"},
        },
    })
}

/// A kept rejection as listed, or (`with_body`) as shown.
fn rejection(with_body: bool) -> Value {
    let nullable = |kind: &str| json!({"type": [kind, "null"]});
    let mut properties = vec![
        ("id", json!({"type": "string", "format": "uuid"})),
        ("vendor", json!({"type": "string"})),
        (
            "received_at",
            json!({"type": "string", "format": "date-time"}),
        ),
        ("status", json!({"type": "integer"})),
        ("code", json!({"type": "string"})),
        ("detail", json!({"type": "string"})),
        (
            "errors",
            json!({"description": "As the problem answer listed them, or null"}),
        ),
        ("event_id", nullable("string")),
        ("request_id", nullable("string")),
        ("content_type", nullable("string")),
        (
            "delivery_id",
            json!({"type": ["string", "null"], "format": "uuid",
                "description": "The delivery a replay made of it"}),
        ),
    ];
    if with_body {
        properties.push(("body", json!({"type": "string"})));
        properties.push((
            "body_encoding",
            json!({"type": "string", "enum": ["utf-8", "base64"]}),
        ));
    }
    object(&properties)
}

/// `POST /webhooks/{vendor}`'s answer when it is not a problem.
fn webhook_answer() -> Value {
    let states: Vec<&str> = DeliveryState::ALL.iter().map(|s| s.as_str()).collect();
    json!({
        "type": "object",
        "required": ["id", "state", "duplicate"],
        "properties": {
            "id": {"type": "string", "format": "uuid", "description": "The delivery's id"},
            "state": {"type": "string", "enum": states},
            "duplicate": {"type": "boolean"},
            "order": {"description": "sync delivery: Flow's last response body, verbatim"},
        },
    })
}
