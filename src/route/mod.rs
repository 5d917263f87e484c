//! Which customer's Flow an order goes to (contract section 6). The SSRF guard lives here and
//! only here: a URL from a payload is only ever compared with configured base URLs, never dialled.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::{Config, ConfigErrors, normalise_base_url};
use crate::flow::{SharedBuckets, TenantFlow};
use crate::metrics::Metrics;
use crate::order::{Binding, OrderBook, StoreError};

/// Why an update's tenant could not be resolved: the routing rules refuse it, or the order's
/// binding could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One configured tenant as routing sees it.
#[derive(Clone, Debug)]
struct Entry {
    name: String,
    tenant_id: Option<i64>,
    /// The base URL normalised, for comparison only.
    base: String,
}

/// Every configured tenant as routing sees it: names, tenant ids and base URLs, no secrets. What
/// `flowgate map` routes with, and what [`Tenants`] routes with, so the two cannot differ.
#[derive(Clone, Debug, Default)]
pub struct RoutingTable {
    entries: Vec<Entry>,
}

/// The tenant registry: every configured tenant, and its Flow.
#[derive(Default)]
pub struct Tenants {
    routes: RoutingTable,
    flows: BTreeMap<String, Arc<TenantFlow>>,
}

/// What a webhook or a launch says about where its order belongs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Claim<'a> {
    pub vendor: &'a str,
    pub flow_url: Option<&'a str>,
    pub tenant_id: Option<i64>,
}

/// The vendor's own routing settings.
#[derive(Clone, Copy, Debug, Default)]
pub struct VendorRouting<'a> {
    pub fallback: Option<&'a str>,
    pub allowed: Option<&'a [String]>,
}

impl<'a> VendorRouting<'a> {
    /// A vendor's `tenant` and `tenants` as configured.
    pub fn of(vendor: &'a crate::config::VendorConfig) -> Self {
        Self {
            fallback: vendor.tenant.as_deref(),
            allowed: vendor.tenants.as_deref(),
        }
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("The flowUrl is not the Flow of any configured tenant.")]
    UnknownFlowUrl,
    #[error("tenantId {given} does not match tenant `{tenant}`.")]
    TenantIdMismatch { tenant: String, given: i64 },
    #[error("Tenant `{0}` is not allowed for this vendor.")]
    NotAllowed(String),
    #[error("The order is bound to another tenant.")]
    BoundElsewhere,
    #[error("The order was bound by another vendor.")]
    OtherVendor,
    #[error(
        "No tenant could be chosen: send flowUrl or tenantId, or configure the vendor's tenant."
    )]
    Unresolved,
}

/// Records `binding` (the first binding of an order wins) and checks that the binding in force
/// is this one's tenant and vendor: another request may have bound the order since this one
/// was routed.
pub async fn bind(
    book: &dyn OrderBook,
    order: uuid::Uuid,
    binding: Binding,
) -> Result<Result<(), RouteError>, StoreError> {
    let in_force = book.bind(order, binding.clone()).await?;
    Ok(if in_force.vendor != binding.vendor {
        Err(RouteError::OtherVendor)
    } else if in_force.tenant != binding.tenant {
        Err(RouteError::BoundElsewhere)
    } else {
        Ok(())
    })
}

impl Tenants {
    /// Every tenant with its Flow; fails on the secrets `flow::tenants` cannot resolve.
    pub fn build(config: &Config, metrics: &Metrics) -> Result<Self, ConfigErrors> {
        Self::rebuild(config, metrics, &Tenants::default())
    }

    /// Every tenant of `config`; one of `running` built from the same settings and secret is
    /// kept, with its access token and bucket.
    pub fn rebuild(
        config: &Config,
        metrics: &Metrics,
        running: &Tenants,
    ) -> Result<Self, ConfigErrors> {
        let flows = crate::flow::tenants(config, metrics, &running.flows)?;
        Ok(Self {
            routes: RoutingTable::from_config(config),
            flows,
        })
    }

    /// The tenants that are not the very ones of `previous`: added, removed or rebuilt.
    pub fn rebuilt_since(&self, previous: &Tenants) -> Vec<String> {
        let names: std::collections::BTreeSet<&String> =
            self.flows.keys().chain(previous.flows.keys()).collect();
        names
            .into_iter()
            .filter(
                |name| match (self.flows.get(*name), previous.flows.get(*name)) {
                    (Some(new), Some(old)) => !Arc::ptr_eq(new, old),
                    _ => true,
                },
            )
            .cloned()
            .collect()
    }

    /// Paces every tenant with `buckets`, shared by the fleet (the PostgreSQL store), instead of
    /// buckets of this process's own.
    pub fn share_buckets(&self, buckets: &Arc<dyn SharedBuckets>) {
        for flow in self.flows.values() {
            flow.share_bucket(buckets.clone());
        }
    }

    pub fn flow(&self, tenant: &str) -> Option<&Arc<TenantFlow>> {
        self.flows.get(tenant)
    }

    /// Chooses the tenant for `claim` (see [`RoutingTable::resolve`]).
    pub fn resolve(
        &self,
        claim: Claim<'_>,
        vendor: VendorRouting<'_>,
        binding: Option<&Binding>,
    ) -> Result<String, RouteError> {
        self.routes.resolve(claim, vendor, binding)
    }
}

impl RoutingTable {
    /// The configured tenants; needs none of their secrets.
    pub fn from_config(config: &Config) -> Self {
        let entries = config
            .tenants
            .iter()
            .map(|(name, tenant)| Entry {
                name: name.clone(),
                tenant_id: tenant.tenant_id,
                base: normalise_base_url(&tenant.base_url).unwrap_or_default(),
            })
            .collect();
        Self { entries }
    }

    /// Chooses the tenant for `claim`, in the contract's order: flowUrl, then tenantId, then the
    /// order's binding, then the vendor's fallback; then checks the choice against everything
    /// else that is known.
    pub fn resolve(
        &self,
        claim: Claim<'_>,
        vendor: VendorRouting<'_>,
        binding: Option<&Binding>,
    ) -> Result<String, RouteError> {
        if let Some(bound) = binding
            && bound.vendor != claim.vendor
        {
            return Err(RouteError::OtherVendor);
        }
        let claimed = self.claimed(claim)?;
        let chosen = claimed
            .or(binding.map(|b| b.tenant.as_str()))
            .or(vendor.fallback)
            .ok_or(RouteError::Unresolved)?;
        let entry = self
            .entries
            .iter()
            .find(|e| e.name == chosen)
            .ok_or(RouteError::Unresolved)?;
        if let (Some(given), Some(own)) = (claim.tenant_id, entry.tenant_id)
            && given != own
        {
            return Err(RouteError::TenantIdMismatch {
                tenant: entry.name.clone(),
                given,
            });
        }
        if vendor
            .allowed
            .is_some_and(|allowed| !allowed.contains(&entry.name))
        {
            return Err(RouteError::NotAllowed(entry.name.clone()));
        }
        if binding.is_some_and(|b| b.tenant != entry.name) {
            return Err(RouteError::BoundElsewhere);
        }
        Ok(entry.name.clone())
    }

    /// The tenant the payload itself names: by flowUrl (which must be configured), else by a
    /// tenantId that exactly one tenant has.
    fn claimed(&self, claim: Claim<'_>) -> Result<Option<&str>, RouteError> {
        if let Some(url) = claim.flow_url {
            let wanted = normalise_base_url(url).ok_or(RouteError::UnknownFlowUrl)?;
            let entry = self
                .entries
                .iter()
                .find(|e| e.base == wanted)
                .ok_or(RouteError::UnknownFlowUrl)?;
            return Ok(Some(&entry.name));
        }
        let Some(id) = claim.tenant_id else {
            return Ok(None);
        };
        let mut with_id = self.entries.iter().filter(|e| e.tenant_id == Some(id));
        Ok(match (with_id.next(), with_id.next()) {
            (Some(only), None) => Some(&only.name),
            _ => None,
        })
    }
}
