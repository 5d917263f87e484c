//! The Flow client against a recording upstream: exact requests, the token cache, 401 handling,
//! the bucket, deadlines and unreachable hosts.

mod answers;
mod calls;
mod tokens;
mod upstream;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{FlowClient, TenantFlow};
use crate::config::{
    Config, ConfigErrors, RateLimitConfig, TenantAuthConfig, TenantAuthKind, TenantConfig,
};
use crate::metrics::Metrics;

const SECRET: &str = "s&c=t +secret";

fn auth(kind: TenantAuthKind) -> TenantAuthConfig {
    TenantAuthConfig {
        kind,
        client_id: None,
        client_secret: None,
        client_secret_env: None,
        client_secret_file: None,
        token: None,
        token_env: None,
        token_file: None,
    }
}

/// A client-credentials tenant at `base`.
fn client_tenant(base: &str, client_id: &str, rate_limit: RateLimitConfig) -> TenantConfig {
    let mut auth = auth(TenantAuthKind::ClientCredentials);
    auth.client_id = Some(client_id.to_owned());
    auth.client_secret = Some(SECRET.to_owned());
    TenantConfig {
        base_url: base.to_owned(),
        tenant_id: None,
        auth,
        rate_limit,
    }
}

fn bearer_tenant(base: &str, token: &str) -> TenantConfig {
    let mut auth = auth(TenantAuthKind::Bearer);
    auth.token = Some(token.to_owned());
    TenantConfig {
        base_url: base.to_owned(),
        tenant_id: None,
        auth,
        rate_limit: RateLimitConfig::flow_default(),
    }
}

/// A bucket that never makes a test wait.
fn unlimited() -> RateLimitConfig {
    RateLimitConfig {
        per_second: 1e6,
        burst: 10_000,
    }
}

fn config(tenants: Vec<(&str, TenantConfig)>) -> Config {
    let mut config = Config::default();
    for (name, tenant) in tenants {
        config.tenants.insert(name.to_owned(), tenant);
    }
    config
}

/// Every tenant of `config`, counted in metrics of their own.
fn tenants(config: &Config) -> Result<BTreeMap<String, Arc<TenantFlow>>, ConfigErrors> {
    super::tenants(config, &Metrics::from_config(config), &BTreeMap::new())
}

/// The one tenant of a config holding only `tenant`, named `demo`.
fn flow_of(tenant: TenantConfig) -> Arc<TenantFlow> {
    let mut flows = tenants(&config(vec![("demo", tenant)])).expect("tenants");
    flows.remove("demo").expect("demo")
}

fn client() -> FlowClient {
    FlowClient::new(Duration::from_secs(2))
}

fn in_secs(seconds: u64) -> Instant {
    Instant::now() + Duration::from_secs(seconds)
}
