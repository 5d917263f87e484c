//! `[vendors.X]`: one vendor's section, how it authenticates (`verify.rs`), what it posts, how
//! its payload maps onto an order update, and where its orders go.

use std::path::PathBuf;

use serde::Deserialize;

use super::value::{AddressRange, FieldSource, MetadataMap};
use super::{DeliveryMode, RateLimitConfig, VerifyConfig};

/// One vendor: how it authenticates, what it posts, where its orders go.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorConfig {
    pub schema: Option<PathBuf>,
    /// A candidate schema each webhook the live one accepts is also checked against, only to
    /// be counted and logged (contract section 17).
    pub shadow_schema: Option<PathBuf>,
    pub verify: VerifyConfig,
    pub tenant: Option<String>,
    pub tenants: Option<Vec<String>>,
    #[serde(default)]
    pub flow_token: FlowTokenPolicy,
    pub delivery: Option<DeliveryMode>,
    #[serde(default)]
    pub dedup: Dedup,
    pub rate_limit: Option<RateLimitConfig>,
    /// The client addresses it sends from; none: any (contract section 15).
    pub allow_ips: Option<Vec<AddressRange>>,
    pub launch_url: Option<String>,
    #[serde(default)]
    pub launch_params: LaunchParams,
    pub map: Option<MapConfig>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowTokenPolicy {
    Required,
    #[default]
    Optional,
    Off,
}

impl FlowTokenPolicy {
    /// The policy as the configuration spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowTokenPolicy::Required => "required",
            FlowTokenPolicy::Optional => "optional",
            FlowTokenPolicy::Off => "off",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dedup {
    #[default]
    EventId,
    Off,
}

/// The query parameter names Core's order button uses, per vendor.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LaunchParams {
    pub order_id: String,
    pub flow_url: String,
    pub tenant_id: String,
    pub token: String,
    pub case_id: String,
}

impl Default for LaunchParams {
    fn default() -> Self {
        Self {
            order_id: "orderId".to_owned(),
            flow_url: "flowUrl".to_owned(),
            tenant_id: "tenantId".to_owned(),
            token: "token".to_owned(),
            case_id: "caseId".to_owned(),
        }
    }
}

/// `[vendors.X.map]`: where each canonical field comes from in the vendor's payload.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapConfig {
    pub event_id: Option<FieldSource>,
    pub order_id: Option<FieldSource>,
    pub flow_url: Option<FieldSource>,
    pub tenant_id: Option<FieldSource>,
    pub flow_token: Option<FieldSource>,
    pub state: Option<FieldSource>,
    pub status: Option<FieldSource>,
    pub title: Option<FieldSource>,
    pub action_text: Option<FieldSource>,
    pub metadata: Option<MetadataMap>,
}

impl MapConfig {
    /// Every single-valued field with its key, in the order they are written above.
    pub fn fields(&self) -> [(&'static str, Option<&FieldSource>); 9] {
        [
            ("event_id", self.event_id.as_ref()),
            ("order_id", self.order_id.as_ref()),
            ("flow_url", self.flow_url.as_ref()),
            ("tenant_id", self.tenant_id.as_ref()),
            ("flow_token", self.flow_token.as_ref()),
            ("state", self.state.as_ref()),
            ("status", self.status.as_ref()),
            ("title", self.title.as_ref()),
            ("action_text", self.action_text.as_ref()),
        ]
    }

    /// Every JSON pointer the map reads, with its key under `map.`, e.g. `state.from`.
    pub fn pointers(&self) -> Vec<(String, &str)> {
        let fields = self
            .fields()
            .into_iter()
            .filter_map(|(field, source)| match source? {
                FieldSource::Pointer(pointer) => Some((field.to_owned(), pointer.as_str())),
                FieldSource::Table { from, .. } => Some((format!("{field}.from"), from.as_str())),
                FieldSource::Literal(_) => None,
            });
        let metadata = self.metadata.iter().flat_map(|m| &m.0);
        fields
            .chain(
                metadata
                    .map(|(display, pointer)| (format!("metadata.{display}"), pointer.as_str())),
            )
            .collect()
    }
}
