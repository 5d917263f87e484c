//! `flowgate map`: what the gateway would do with a payload, for vendors and operators debugging
//! a mapping. FILE goes through the gateway's own stage code, from the body cap and parsing to
//! tenant routing and the FlowToken policy; what needs the store or Flow is assumed, and the
//! report says so. Nothing is sent and no secret is read.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::dry_run::{DryRun, OrderHistory, Walk, canonical_envelope};
use crate::config::Config;
use crate::map::Mapped;
use crate::problem::Problem;

/// The exit code when the gateway would refuse FILE; 0 when it would send it.
pub const REFUSED: u8 = 1;
/// The exit code when `map` could not run (no such vendor, FILE unreadable, config unusable).
pub const COULD_NOT_RUN: u8 = 2;

/// What `map` cannot know without the store, a signed request or Flow: assumed, and printed.
const ASSUMED: [&str; 4] = [
    "the request is signed, declared JSON and within the vendor's rate limit (not checked)",
    "the event id is new: map has no store, so no earlier webhook was looked up",
    "no binding known: map has no store, so no binding of the order (from /launch or a verified FlowToken) was looked up",
    "nothing was sent to the order before, so a status without a state takes only the map's state default",
];

/// Prints the report on FILE; `Ok` with exit 0 when the gateway would send it, `REFUSED` with
/// the problem it would answer otherwise. An `Err` means the command could not run.
pub fn map(config: &Config, vendor: &str, file: &Path) -> anyhow::Result<ExitCode> {
    let Some(settings) = config.vendors.get(vendor) else {
        bail!("no vendor `{vendor}` in {}", config.source.file.display());
    };
    let dry_run = DryRun::new(config, vendor, settings, &canonical_envelope()?)?;
    let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut walk = Walk::default();
    // Map has no store: nothing is known of the order (the assumptions say so).
    let refusal = dry_run
        .walk(&body, &OrderHistory::default(), &mut walk)
        .err();
    super::print(&pretty(&report(&walk, refusal.as_ref())));
    Ok(match refusal {
        None => ExitCode::SUCCESS,
        Some(_) => ExitCode::from(REFUSED),
    })
}

/// The printed report: how far FILE got, what each stage made of it, and what was assumed.
fn report(walk: &Walk, refusal: Option<&Problem>) -> Value {
    let mut report = json!({ "assumed": ASSUMED });
    if let Some(mapped) = &walk.mapped {
        report["order_update"] = order_update(mapped);
    }
    if let Some(tenant) = &walk.tenant {
        report["tenant"] = json!(tenant);
    }
    if let Some(flow_token) = &walk.flow_token {
        report["flow_token"] = flow_token.clone();
    }
    match refusal {
        Some(problem) => report["problem"] = json!(problem.document(None)),
        None => report["flow_calls"] = json!(walk.calls),
    }
    report
}

fn order_update(mapped: &Mapped) -> Value {
    let update = &mapped.update;
    let metadata = update.metadata.as_ref().map(|lines| {
        lines
            .iter()
            .map(|(key, value)| json!({"key": key, "value": value}))
            .collect::<Vec<_>>()
    });
    json!({
        "event_id": mapped.event_id,
        "order_id": mapped.order_id,
        "flow_url": mapped.flow_url,
        "tenant_id": mapped.tenant_id,
        "flow_token": mapped.flow_token.as_ref().map(|_| "(present)"),
        "state": update.state,
        "status": update.status,
        "title": update.title,
        "action_text": update.action_text,
        "metadata": metadata,
        "truncated": mapped.truncated,
    })
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}
