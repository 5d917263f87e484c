//! What one configuration builds before anything runs on it: the vendors with their secrets and
//! schemas, the tenants with their credentials, the FlowToken cache and the workers' settings.
//! Start-up and every reload build it the same way, so a reload checks what `check-config` does.

use std::sync::Arc;

use crate::config::{Config, ConfigErrors};
use crate::deliver::worker::WorkerSettings;
use crate::flow::FlowClient;
use crate::ingress::Vendors;
use crate::metrics::Metrics;
use crate::route::Tenants;
use crate::verify::flow_token::FlowTokens;

pub(super) struct Built {
    pub config: Arc<Config>,
    pub vendors: Arc<Vendors>,
    pub tenants: Arc<Tenants>,
    pub tokens: Arc<FlowTokens>,
    pub workers: WorkerSettings,
    /// The resolved admin token; unset, /admin/* answers 403: the one optional secret.
    pub admin_token: Option<String>,
}

impl Built {
    /// Builds everything `config` needs, reporting every error at once. With `running` (a
    /// reload), vendors keep their rate limiters, tenants built from the same settings keep their
    /// access tokens and buckets, and verified FlowTokens stay cached unless their lifetimes
    /// changed.
    pub fn new(
        config: Config,
        metrics: &Metrics,
        client: &FlowClient,
        running: Option<&Built>,
    ) -> Result<Built, ConfigErrors> {
        let mut errors = Vec::new();
        let vendors = Vendors::build(&config, metrics, running.map(|r| &*r.vendors));
        let tenants = match running {
            Some(running) => Tenants::rebuild(&config, metrics, &running.tenants),
            None => Tenants::build(&config, metrics),
        };
        let workers = WorkerSettings::from_config(&config).map_err(|e| {
            let key = "delivery.retry_schedule";
            ConfigErrors(vec![config.source.error(key, e.to_string())])
        });
        let (vendors, tenants, workers) = match (vendors, tenants, workers) {
            (Ok(vendors), Ok(tenants), Ok(workers)) => (vendors, tenants, workers),
            (vendors, tenants, workers) => {
                for failed in [vendors.err(), tenants.err(), workers.err()] {
                    errors.extend(failed.into_iter().flat_map(|e| e.0));
                }
                return Err(ConfigErrors(errors));
            }
        };
        let flow = &config.flow;
        let tokens = running
            .filter(|r| {
                let was = &r.config.flow;
                was.token_cache_ttl == flow.token_cache_ttl
                    && was.negative_cache_ttl == flow.negative_cache_ttl
            })
            .map_or_else(
                || {
                    let cache = (flow.token_cache_ttl, flow.negative_cache_ttl);
                    Arc::new(FlowTokens::new(client.clone(), cache.0, cache.1))
                },
                |r| r.tokens.clone(),
            );
        let admin_token = config
            .admin_token()
            .and_then(|token| token.resolve(&config.source))
            .ok()
            .and_then(|tokens| tokens.into_iter().next());
        Ok(Built {
            config: Arc::new(config),
            vendors: Arc::new(vendors),
            tenants: Arc::new(tenants),
            tokens,
            workers,
            admin_token,
        })
    }
}
