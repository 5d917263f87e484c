//! `flowgate map`: what a payload would become, for vendors and operators debugging a mapping.
//! Validates FILE against the vendor's schemas, maps it, and prints the OrderUpdate and the Flow
//! calls it causes for an order flowgate has sent nothing to yet. Nothing is sent. Exit 0 only
//! when the gateway would send it.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::config::Config;
use crate::deliver::plan;
use crate::map::Mapper;
use crate::order::LastSent;
use crate::validate::{self, VendorSchemas};

pub fn map(config: &Config, vendor: &str, file: &Path) -> anyhow::Result<ExitCode> {
    let Some(settings) = config.vendors.get(vendor) else {
        bail!("no vendor `{vendor}` in {}", config.source.file.display());
    };
    let text = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let document: Value =
        serde_json::from_slice(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    let key = format!("vendors.{vendor}.schema");
    let own = match &settings.schema {
        Some(path) => {
            let path = config.source.resolve(&key, path);
            let (_, validator) = validate::compile_file(&path).map_err(anyhow::Error::msg)?;
            Some(validator.into())
        }
        None => None,
    };
    let envelope = match &settings.map {
        Some(_) => None,
        None => Some(
            validate::compile_canonical()
                .map_err(anyhow::Error::msg)?
                .into(),
        ),
    };
    let violations = VendorSchemas::new(own, envelope).violations(&document);
    if !violations.is_empty() {
        super::print(&pretty(&json!({"schema-violation": violations})));
        return Ok(ExitCode::FAILURE);
    }
    let max_chars = config.limits.max_field_chars;
    let mapper = match &settings.map {
        Some(map) => Mapper::from_map(map, max_chars),
        None => Mapper::canonical(max_chars),
    };
    let mapped = match mapper.map(&document) {
        Ok(mapped) => mapped,
        Err(error) => {
            super::print(&pretty(&json!({"mapping-failed": error.to_string()})));
            return Ok(ExitCode::FAILURE);
        }
    };
    let update = &mapped.update;
    let order = mapped.order_id;
    let never_sent = LastSent::default();
    let mut calls = Vec::new();
    let mut sendable = true;
    if let Some(body) = plan::patch(update, &never_sent) {
        calls.push(json!({"operation": "patch", "method": "PATCH", "path": format!("/api/marketingintegrators/orders/{order}"), "body": body}));
    }
    match plan::update_state(update, &never_sent, mapper.state_default()) {
        Ok(Some(body)) => calls.push(json!({"operation": "updatestate", "method": "POST", "path": format!("/api/marketingintegrators/orders/{order}/updatestate"), "body": body})),
        Ok(None) => {}
        Err(error) => {
            // What the gateway would answer 422 `mapping-failed`.
            sendable = false;
            calls.push(json!({"operation": "updatestate", "error": error.to_string()}));
        }
    }
    let report = json!({
        "order_update": {
            "event_id": mapped.event_id,
            "order_id": order,
            "flow_url": mapped.flow_url,
            "tenant_id": mapped.tenant_id,
            "flow_token": mapped.flow_token.as_ref().map(|_| "(present)"),
            "state": update.state,
            "status": update.status,
            "title": update.title,
            "action_text": update.action_text,
            "metadata": update.metadata.as_ref().map(|lines| lines.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>()),
            "truncated": mapped.truncated,
        },
        "flow_calls": calls,
    });
    super::print(&pretty(&report));
    Ok(if sendable {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}
