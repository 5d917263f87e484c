//! The admin listener's routes (contract section 9): the open health, metrics and document
//! routes, and every `/admin` route `admin::router` serves, with its parameters, body, answers and
//! problem answers. The tests compare this list with the router's.

use serde_json::{Map, Value, json};

use super::schemas::reference;
use super::{problem_answers, request_id};
use crate::problem::Code;

/// Every admin route, by path.
pub fn paths() -> Map<String, Value> {
    let mut paths = open_routes();
    paths.extend(delivery_routes());
    paths.extend(tenant_routes());
    paths.extend(other_routes());
    paths
}

/// `/admin/overview` and `/admin/tenants…`.
fn tenant_routes() -> Map<String, Value> {
    let mut paths = Map::new();
    let mut add = |path: &str, item: Value| paths.insert(path.to_owned(), item);
    add(
        "/admin/overview",
        json!({"get": operation(
            "overview",
            "The gateway at a glance: queue, oldest ages, tenants, vendors' last hour",
            answer("200", "The overview", "Overview"),
            &[Code::Unavailable],
        )}),
    );
    add(
        "/admin/tenants",
        json!({"get": operation("listTenants", "Every tenant: pause, circuit, open and dead deliveries",
            answer("200", "The tenants", "TenantList"), &[Code::Unavailable])}),
    );
    for (action, summary) in [
        ("pause", "Pause a tenant's deliveries"),
        ("resume", "Resume a tenant's deliveries"),
    ] {
        add(
            &format!("/admin/tenants/{{tenant}}/{action}"),
            json!({"parameters": [path_text("tenant", "A configured tenant")],
                "post": operation(&format!("{action}Tenant"), summary,
                    answer("200", "Whether the tenant is paused now", "TenantPaused"), &[Code::NotFound])}),
        );
    }
    add(
        "/admin/tenants/{tenant}/circuit/close",
        json!({"parameters": [path_text("tenant", "A configured tenant")],
            "post": operation("closeCircuit", "Close a tenant's circuit by hand",
                answer("200", "The circuit, closed", "TenantCircuit"), &[Code::NotFound])}),
    );
    paths
}

/// `/admin/deliveries…`.
fn delivery_routes() -> Map<String, Value> {
    let mut paths = Map::new();
    let mut add = |path: &str, item: Value| paths.insert(path.to_owned(), item);
    add("/admin/deliveries", json!({"get": list_deliveries()}));
    add("/admin/deliveries/redrive", json!({"post": redrive()}));
    add(
        "/admin/deliveries/{id}",
        json!({
            "parameters": [path_uuid("id", "The delivery's id")],
            "get": operation("showDelivery", "A delivery, with its webhook's body while kept",
                answer("200", "The delivery", "DeliveryDetail"), &[Code::NotFound, Code::Unavailable]),
            "delete": operation("deleteDelivery", "Delete a delivered or dead delivery",
                no_content(), &[Code::NotFound, Code::NotFinished, Code::Unavailable]),
        }),
    );
    add(
        "/admin/deliveries/{id}/retry",
        json!({"parameters": [path_uuid("id", "The delivery's id")], "post": retry()}),
    );
    add(
        "/admin/deliveries/{id}/cancel",
        json!({"parameters": [path_uuid("id", "The delivery's id")],
            "post": operation("cancelDelivery", "Cancel a delivery: now dead with error `cancelled`",
                answer("200", "The delivery, now dead", "DeliveryRecord"),
                &[Code::NotFound, Code::Unavailable])}),
    );
    paths
}

/// Orders, rejections, drift, reload and replay.
fn other_routes() -> Map<String, Value> {
    let mut paths = Map::new();
    let mut add = |path: &str, item: Value| paths.insert(path.to_owned(), item);
    add(
        "/admin/orders/{order_id}",
        json!({"parameters": [path_uuid("order_id", "The order's GUID")],
            "get": operation("showOrder", "An order's binding, last values sent and deliveries",
                answer("200", "The order", "OrderView"), &[Code::NotFound, Code::Unavailable])}),
    );
    add("/admin/rejections", json!({"get": list_rejections()}));
    add(
        "/admin/rejections/{id}",
        json!({
            "parameters": [path_uuid("id", "The rejection's id")],
            "get": operation("showRejection", "A kept rejection, with its body as received",
                answer("200", "The rejection", "RejectionDetail"), &[Code::NotFound, Code::Unavailable]),
            "delete": operation("deleteRejection", "Delete a kept rejection",
                no_content(), &[Code::NotFound, Code::Unavailable]),
        }),
    );
    add(
        "/admin/vendors/{vendor}/drift",
        json!({"parameters": [path_text("vendor", "A configured vendor")],
            "get": operation("vendorDrift",
                "The undeclared pointers of a vendor's payloads, most recent first",
                answer("200", "The vendor's drift", "Drift"), &[Code::NotFound])}),
    );
    add(
        "/admin/reload",
        json!({"post": operation("reload", "Load the configuration again and swap it in",
            answer("200", "The new configuration runs", "Reloaded"), &[Code::ConfigInvalid])}),
    );
    add("/admin/replay", json!({"post": replay()}));
    paths
}

/// `/healthz`, `/readyz`, `/metrics` and `/openapi.json`: no token.
fn open_routes() -> Map<String, Value> {
    let open = |id: &str, summary: &str, responses: Value| {
        json!({"get": {"tags": ["health"], "operationId": id, "summary": summary,
            "security": [], "responses": responses}})
    };
    let json_body = |description: &str, schema: &str| {
        json!({"description": description, "headers": request_id(),
            "content": {"application/json": {"schema": reference(schema)}}})
    };
    let mut paths = Map::new();
    paths.insert(
        "/healthz".to_owned(),
        open(
            "healthz",
            "The process is up",
            json!({"200": json_body("Up", "Health")}),
        ),
    );
    paths.insert(
        "/readyz".to_owned(),
        open(
            "readyz",
            "Ready: started, not draining, the store accepting",
            json!({
                "200": json_body("Ready", "Readiness"),
                "503": json_body("Not ready; `checks` names each failing check", "Readiness"),
            }),
        ),
    );
    paths.insert(
        "/metrics".to_owned(),
        open(
            "metrics",
            "Prometheus text exposition",
            json!({"200": {"description": "The metrics",
            "headers": request_id(), "content": {"text/plain": {"schema": {"type": "string"}}}}}),
        ),
    );
    paths.insert(
        "/openapi.json".to_owned(),
        open(
            "openapi",
            "This document, for the running configuration",
            json!({"200": {
            "description": "The OpenAPI 3.1 document", "headers": request_id(),
            "content": {"application/json": {"schema": {"type": "object"}}}}}),
        ),
    );
    paths
}

/// An `/admin` operation: bearer token, `success` answers, and `codes` besides 401 and 403.
fn operation(id: &str, summary: &str, success: Map<String, Value>, codes: &[Code]) -> Value {
    let mut all = vec![Code::Unauthorized, Code::Forbidden];
    all.extend_from_slice(codes);
    let mut responses = success;
    responses.extend(problem_answers(&all));
    json!({"tags": ["admin"], "operationId": id, "summary": summary,
        "security": [{"adminBearer": []}], "responses": responses})
}

fn answer(status: &str, description: &str, schema: &str) -> Map<String, Value> {
    let mut answers = Map::new();
    answers.insert(
        status.to_owned(),
        json!({"description": description, "headers": request_id(),
            "content": {"application/json": {"schema": reference(schema)}}}),
    );
    answers
}

fn no_content() -> Map<String, Value> {
    let mut answers = Map::new();
    answers.insert(
        "204".to_owned(),
        json!({"description": "Deleted", "headers": request_id()}),
    );
    answers
}

fn path_uuid(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description,
        "schema": {"type": "string", "format": "uuid"}})
}

fn path_text(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description,
        "schema": {"type": "string"}})
}

/// An optional query parameter; an empty value (`?since=`) means not given, as the handlers
/// read it, so the schema admits it.
fn query(name: &str, description: &str, schema: Value) -> Value {
    let schema = json!({"anyOf": [schema, {"type": "string", "maxLength": 0}]});
    let description = format!("{description} (empty: not given)");
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

fn since() -> Value {
    query(
        "since",
        "RFC 3339: at or after",
        json!({"type": "string", "format": "date-time"}),
    )
}

fn limit() -> Value {
    query(
        "limit",
        "Page size, default 50",
        json!({"type": "integer", "minimum": 1, "maximum": 500}),
    )
}

fn cursor() -> Value {
    query(
        "cursor",
        "The previous page's next_cursor",
        json!({"type": "string"}),
    )
}

fn text(name: &str, description: &str) -> Value {
    query(name, description, json!({"type": "string"}))
}

fn list_deliveries() -> Value {
    let mut list = operation(
        "listDeliveries",
        "Deliveries, newest first",
        answer("200", "A page of deliveries", "DeliveryPage"),
        &[Code::InvalidQuery, Code::Unavailable],
    );
    list["parameters"] = json!([
        query("state", "Only this state", reference("DeliveryState")),
        text("vendor", "Only this vendor's"),
        text("tenant", "Only this tenant's"),
        query(
            "order_id",
            "Only this order's",
            json!({"type": "string", "format": "uuid"})
        ),
        since(),
        limit(),
        cursor(),
    ]);
    list
}

fn redrive() -> Value {
    let mut redrive = operation(
        "redrive",
        "Retry every matching dead delivery not superseded",
        answer(
            "200",
            "How many were redriven and how many skipped as superseded",
            "Redriven",
        ),
        &[Code::InvalidQuery, Code::Unavailable],
    );
    redrive["parameters"] = json!([
        text("vendor", "Only this vendor's"),
        text("tenant", "Only this tenant's"),
        since()
    ]);
    redrive
}

fn retry() -> Value {
    let mut retry = operation(
        "retryDelivery",
        "Queue a dead delivery again",
        answer("202", "The delivery, queued again", "DeliveryRecord"),
        &[
            Code::InvalidQuery,
            Code::NotFound,
            Code::NotDead,
            Code::Superseded,
            Code::Unavailable,
        ],
    );
    retry["parameters"] = json!([query(
        "force",
        "Retry even when the order has a newer delivered update",
        json!({"type": "string", "enum": ["true", "false"]})
    )]);
    retry
}

fn list_rejections() -> Value {
    let mut list = operation(
        "listRejections",
        "Kept rejections, newest first, without their bodies",
        answer("200", "A page of rejections", "RejectionPage"),
        &[Code::InvalidQuery, Code::Unavailable],
    );
    list["parameters"] = json!([
        text("vendor", "Only this vendor's"),
        text("code", "Only those refused with this problem code"),
        since(),
        limit(),
        cursor(),
    ]);
    list
}

fn replay() -> Value {
    let mut replay = operation(
        "replay",
        "Run kept webhooks through the running configuration (a dry run unless dry_run is false)",
        answer("200", "What each became", "ReplayAnswer"),
        &[Code::InvalidQuery, Code::Unavailable],
    );
    replay["requestBody"] = json!({"required": true,
        "description": "`since` must be before `until`, `code` selects rejections only (source \
            `rejections`), `ids` lists at most 1000; otherwise 400 invalid-query",
        "content": {"application/json": {"schema": reference("ReplayRequest")}}});
    replay
}
