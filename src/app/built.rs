//! What one configuration builds before anything runs on it: the vendors with their secrets and
//! schemas, the tenants with their credentials, the FlowToken cache, the workers' settings and
//! the public listener's certificate.
//! Start-up and every reload build it the same way, so a reload checks what `check-config` does.

use std::sync::Arc;

use crate::config::{Config, ConfigErrors};
use crate::deliver::worker::WorkerSettings;
use crate::flow::FlowClient;
use crate::ingress::Vendors;
use crate::metrics::Metrics;
use crate::route::Tenants;
use crate::tls::{self, LoadedTls};
use crate::verify::flow_token::FlowTokens;

pub(super) struct Built {
    pub config: Arc<Config>,
    pub vendors: Arc<Vendors>,
    pub tenants: Arc<Tenants>,
    pub tokens: Arc<FlowTokens>,
    pub workers: WorkerSettings,
    /// The resolved admin token; unset, /admin/* answers 403: the one optional secret.
    pub admin_token: Option<String>,
    /// The public listener's certificate and settings; `None` without `[server.tls]`.
    pub tls: Option<LoadedTls>,
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
        let vendors = Vendors::build(&config, metrics, running.map(|r| &*r.vendors));
        let tenants = match running {
            Some(running) => Tenants::rebuild(&config, metrics, &running.tenants),
            None => Tenants::build(&config, metrics),
        };
        let workers = WorkerSettings::from_config(&config).map_err(|e| {
            let key = "delivery.retry_schedule";
            ConfigErrors(vec![config.source.error(key, e.to_string())])
        });
        let tls = tls::load(&config).map_err(ConfigErrors);
        let (vendors, tenants, workers, tls) = match (vendors, tenants, workers, tls) {
            (Ok(vendors), Ok(tenants), Ok(workers), Ok(tls)) => (vendors, tenants, workers, tls),
            (vendors, tenants, workers, tls) => {
                let failed = [vendors.err(), tenants.err(), workers.err(), tls.err()];
                let errors = failed.into_iter().flatten().flat_map(|e| e.0).collect();
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
            tls,
        })
    }
}
