//! `flowgate map`: what the gateway would do with a payload, for vendors and operators debugging
//! a mapping. FILE goes through the gateway's own stage code, from the body cap and parsing to
//! tenant routing and the FlowToken policy; what needs the store or Flow is assumed, and the
//! report says so. Nothing is sent and no secret is read.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::config::{Config, FlowTokenPolicy, VendorConfig};
use crate::deliver::DeliveryError;
use crate::deliver::plan::{self, NoState};
use crate::ingress::{vendor_mapper, vendor_schemas};
use crate::map::{Mapped, Mapper};
use crate::order::LastSent;
use crate::problem::Problem;
use crate::route::{Claim, RoutingTable, VendorRouting};
use crate::validate::{self, BodyError, VendorSchemas};
use crate::verify::policy::token_to_verify;

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
    let dry_run = DryRun::new(config, vendor, settings)?;
    let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut walk = Walk::default();
    let refusal = dry_run.walk(&body, &mut walk).err();
    super::print(&pretty(&walk.report(refusal.as_ref())));
    Ok(match refusal {
        None => ExitCode::SUCCESS,
        Some(_) => ExitCode::from(REFUSED),
    })
}

/// One vendor's stages as the gateway builds them from the configuration, minus every secret.
struct DryRun<'a> {
    config: &'a Config,
    vendor: &'a str,
    settings: &'a VendorConfig,
    schemas: VendorSchemas,
    mapper: Mapper,
    routes: RoutingTable,
}

/// How far FILE got, and what each stage made of it.
#[derive(Default)]
struct Walk {
    mapped: Option<Mapped>,
    tenant: Option<String>,
    flow_token: Option<Value>,
    calls: Vec<Value>,
}

impl<'a> DryRun<'a> {
    fn new(
        config: &'a Config,
        vendor: &'a str,
        settings: &'a VendorConfig,
    ) -> anyhow::Result<Self> {
        let canonical = validate::compile_canonical()
            .map(std::sync::Arc::new)
            .map_err(anyhow::Error::msg)?;
        let schemas =
            vendor_schemas(config, vendor, settings, Some(&canonical)).map_err(|errors| {
                let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
                anyhow::anyhow!("{}", lines.join("\n"))
            })?;
        Ok(Self {
            config,
            vendor,
            settings,
            schemas,
            mapper: vendor_mapper(settings, config.limits.max_field_chars),
            routes: RoutingTable::from_config(config),
        })
    }

    /// The contract's stages in the gateway's order (DESIGN section 2); the first that fails
    /// is the answer.
    fn walk(&self, body: &[u8], walk: &mut Walk) -> Result<(), Problem> {
        let max_body = self.config.server.max_body_bytes;
        if u64::try_from(body.len()).unwrap_or(u64::MAX) > max_body {
            return Err(BodyError::TooLarge(max_body).into());
        }
        let document = validate::parse_json(body, self.config.limits.max_json_depth)?;
        self.schemas.check(&document)?;
        let mapped = walk.mapped.insert(self.mapper.map(&document)?);
        mapped.check_update()?;
        let claim = Claim {
            vendor: self.vendor,
            flow_url: mapped.flow_url.as_deref(),
            tenant_id: mapped.tenant_id,
        };
        let routing = VendorRouting::of(self.settings);
        let tenant = walk
            .tenant
            .insert(self.routes.resolve(claim, routing, None)?);
        let policy = self.settings.flow_token;
        let token = mapped.flow_token.as_deref();
        walk.flow_token = Some(token_report(policy, token.is_some(), tenant));
        // Not verified against Flow: a token the policy wants checked passes here as it is.
        token_to_verify(policy, token, false)?;
        walk.calls = self.calls(mapped)?;
        Ok(())
    }

    /// The Flow calls of the update for an order nothing was sent to yet.
    fn calls(&self, mapped: &Mapped) -> Result<Vec<Value>, Problem> {
        let (update, order) = (&mapped.update, mapped.order_id);
        let never_sent = LastSent::default();
        let path = format!("/api/marketingintegrators/orders/{order}");
        let mut calls = Vec::new();
        if let Some(body) = plan::patch(update, &never_sent) {
            calls
                .push(json!({"operation": "patch", "method": "PATCH", "path": path, "body": body}));
        }
        // What the gateway answers 422 `mapping-failed` when no state is known for the order.
        let state = plan::update_state(update, &never_sent, self.mapper.state_default())
            .map_err(|NoState| DeliveryError::NoState(NoState))?;
        if let Some(body) = state {
            let path = format!("{path}/updatestate");
            calls.push(
                json!({"operation": "updatestate", "method": "POST", "path": path, "body": body}),
            );
        }
        Ok(calls)
    }
}

/// What the FlowToken policy made of the payload, and what only Flow or the store can say.
fn token_report(policy: FlowTokenPolicy, present: bool, tenant: &str) -> Value {
    let result = match (policy, present) {
        (FlowTokenPolicy::Off, _) => "ignored: the policy is off".to_owned(),
        (FlowTokenPolicy::Optional, false) => "none sent, none needed".to_owned(),
        (FlowTokenPolicy::Required, false) => "none sent: the gateway refuses the webhook unless \
            the order is already bound by a verified FlowToken, and map did not look up the binding"
            .to_owned(),
        (_, true) => format!(
            "present, not verified against Flow: the gateway asks tenant `{tenant}`'s Flow \
             (VerifyToken), which may still refuse it (401 flow-token-invalid, 403 \
             flow-token-mismatch)"
        ),
    };
    json!({"policy": policy.as_str(), "result": result})
}

impl Walk {
    /// The printed report: how far FILE got, what each stage made of it, and what was assumed.
    fn report(&self, refusal: Option<&Problem>) -> Value {
        let mut report = json!({ "assumed": ASSUMED });
        if let Some(mapped) = &self.mapped {
            report["order_update"] = order_update(mapped);
        }
        if let Some(tenant) = &self.tenant {
            report["tenant"] = json!(tenant);
        }
        if let Some(flow_token) = &self.flow_token {
            report["flow_token"] = flow_token.clone();
        }
        match refusal {
            Some(problem) => report["problem"] = json!(problem.document(None)),
            None => report["flow_calls"] = json!(self.calls),
        }
        report
    }
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
