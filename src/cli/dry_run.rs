//! One vendor's stages as the gateway builds them from a configuration, minus every secret, and
//! the walk of one body through them: the body cap, parsing, the schemas, the mapping, tenant
//! routing, the FlowToken policy and the Flow calls. `flowgate map` walks a file with it for an
//! order nothing is known of; `flowgate replay --candidate` walks stored bodies with what the
//! running gateway knows of each order.

use std::sync::Arc;

use jsonschema::Validator;
use serde_json::{Value, json};

use crate::config::{Config, FlowTokenPolicy, VendorConfig};
use crate::deliver::DeliveryError;
use crate::deliver::plan::{self, NoState};
use crate::ingress::{vendor_mapper, vendor_schemas};
use crate::map::{Mapped, Mapper};
use crate::order::{Binding, LastSent};
use crate::problem::Problem;
use crate::route::{Claim, RoutingTable, VendorRouting};
use crate::validate::{self, BodyError, VendorSchemas};
use crate::verify::policy::token_to_verify;

/// What is known of the order a body updates: the binding that routes it and the values Flow
/// last accepted, which PATCH bodies are merged over. `Default` is an order nothing is known of.
#[derive(Clone, Debug, Default)]
pub(super) struct OrderHistory {
    pub binding: Option<Binding>,
    pub last_sent: LastSent,
}

/// One vendor's stages, built from the configuration as the gateway builds them.
pub(super) struct DryRun<'a> {
    config: &'a Config,
    vendor: &'a str,
    settings: &'a VendorConfig,
    schemas: VendorSchemas,
    mapper: Mapper,
    routes: RoutingTable,
}

/// How far a body got, and what each stage made of it.
#[derive(Default)]
pub(super) struct Walk {
    pub mapped: Option<Mapped>,
    pub tenant: Option<String>,
    pub flow_token: Option<Value>,
    pub calls: Vec<Value>,
}

/// The canonical envelope, compiled once for every vendor of a configuration that needs it.
pub(super) fn canonical_envelope() -> anyhow::Result<Arc<Validator>> {
    validate::compile_canonical()
        .map(Arc::new)
        .map_err(anyhow::Error::msg)
}

impl<'a> DryRun<'a> {
    /// The stages of `vendor`, whose settings are `settings`; an error names every key of the
    /// configuration that does not build (a schema that does not compile, a map pointer that
    /// the schema cannot reach).
    pub fn new(
        config: &'a Config,
        vendor: &'a str,
        settings: &'a VendorConfig,
        canonical: &Arc<Validator>,
    ) -> anyhow::Result<Self> {
        let schemas =
            vendor_schemas(config, vendor, settings, Some(canonical)).map_err(|errors| {
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
    pub fn walk(&self, body: &[u8], order: &OrderHistory, walk: &mut Walk) -> Result<(), Problem> {
        self.admit(body, walk)?;
        self.route(order, walk)
    }

    /// The stages that need nothing of the order, up to the mapped update (`walk.mapped`,
    /// which names the order).
    pub fn admit(&self, body: &[u8], walk: &mut Walk) -> Result<(), Problem> {
        let max_body = self.config.server.max_body_bytes;
        if u64::try_from(body.len()).unwrap_or(u64::MAX) > max_body {
            return Err(BodyError::TooLarge(max_body).into());
        }
        let document = validate::parse_json(body, self.config.limits.max_json_depth)?;
        self.schemas.check(&document)?;
        let mapped = walk.mapped.insert(self.mapper.map(&document)?);
        mapped.check_update()?;
        Ok(())
    }

    /// The stages after [`DryRun::admit`]: routing, the FlowToken policy and the Flow calls,
    /// with what is known of the order.
    pub fn route(&self, order: &OrderHistory, walk: &mut Walk) -> Result<(), Problem> {
        let Some(mapped) = walk.mapped.as_ref() else {
            return Err(Problem::internal());
        };
        let claim = Claim {
            vendor: self.vendor,
            flow_url: mapped.flow_url.as_deref(),
            tenant_id: mapped.tenant_id,
        };
        let routing = VendorRouting::of(self.settings);
        let binding = order.binding.as_ref();
        let tenant = walk
            .tenant
            .insert(self.routes.resolve(claim, routing, binding)?);
        let policy = self.settings.flow_token;
        let token = mapped.flow_token.as_deref();
        let bound = binding.is_some();
        walk.flow_token = Some(token_report(policy, token.is_some(), bound, tenant));
        // Not verified against Flow: a token the policy wants checked passes here as it is.
        token_to_verify(policy, token, bound)?;
        walk.calls = self.calls(mapped, &order.last_sent)?;
        Ok(())
    }

    /// The Flow calls of the update, merged over what Flow last accepted for the order.
    fn calls(&self, mapped: &Mapped, last: &LastSent) -> Result<Vec<Value>, Problem> {
        let (update, order) = (&mapped.update, mapped.order_id);
        let path = format!("/api/marketingintegrators/orders/{order}");
        let mut calls = Vec::new();
        if let Some(body) = plan::patch(update, last) {
            calls
                .push(json!({"operation": "patch", "method": "PATCH", "path": path, "body": body}));
        }
        // What the gateway answers 422 `mapping-failed` when no state is known for the order.
        let state = plan::update_state(update, last, self.mapper.state_default())
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
fn token_report(policy: FlowTokenPolicy, present: bool, bound: bool, tenant: &str) -> Value {
    let result = match (policy, present) {
        (FlowTokenPolicy::Off, _) => "ignored: the policy is off".to_owned(),
        (FlowTokenPolicy::Optional, false) => "none sent, none needed".to_owned(),
        (FlowTokenPolicy::Required, false) if bound => {
            "none sent, none needed: the order is bound by a verified FlowToken".to_owned()
        }
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
