//! One tenant's Flow: base URL, credentials with a cached access token, and the bucket every
//! call to it spends. A 401 is answered by one token refresh and one retry (section 6), except
//! for verify_token under a young token, where it means the FlowToken is invalid (section 7).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, StatusCode};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::auth::{Credentials, IssuedToken, TokenCache};
use super::limit::{Bucket, SharedBuckets};
use super::{FlowClient, FlowError, FlowRequest, FlowResponse, Operation};
use crate::config::check::check_base_url;
use crate::config::{Config, ConfigError, ConfigErrors, TenantAuthKind, TenantConfig};
use crate::metrics::{Metrics, StatusClass, TenantMetrics, ThrottleCause};

/// A verify_token 401 under an access token younger than this is the FlowToken's fault.
const VERIFY_REFRESH_AGE: Duration = Duration::from_secs(60);

/// One tenant's Flow: base URL, credentials with a cached access token, and the bucket every
/// call to it spends.
pub struct TenantFlow {
    name: String,
    base_url: String,
    tokens: TokenCache,
    bucket: Arc<Bucket>,
    verify_refresh_age: Duration,
    metrics: TenantMetrics,
    /// A digest of everything it was built from (base URL, credentials as resolved, rate):
    /// a reload keeps a tenant whose digest is unchanged, with its token and bucket.
    fingerprint: [u8; 32],
}

impl TenantFlow {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// As configured.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Paces this tenant with `buckets`, shared with the other processes of the fleet, instead
    /// of a bucket of this process's own (tenants of one client id still share one bucket).
    pub fn share_bucket(&self, buckets: Arc<dyn SharedBuckets>) {
        self.bucket.share(buckets);
    }

    /// Sends one call; `deadline` bounds everything (bucket wait, access token, the request, a
    /// 401 retry).
    pub async fn call(
        &self,
        client: &FlowClient,
        request: &FlowRequest,
        deadline: Instant,
    ) -> Result<FlowResponse, FlowError> {
        let token = self.token(client, None, deadline).await?;
        let response = self
            .send(client, request, Some(&token.header), deadline)
            .await?;
        if response.status != StatusCode::UNAUTHORIZED || !self.refresh_on_401(request, &token) {
            return Ok(response);
        }
        let token = self.token(client, Some(&token), deadline).await?;
        self.send(client, request, Some(&token.header), deadline)
            .await
    }

    fn refresh_on_401(&self, request: &FlowRequest, token: &IssuedToken) -> bool {
        self.tokens.refreshes()
            && (request.operation() != Operation::VerifyToken
                || token.obtained.elapsed() >= self.verify_refresh_age)
    }

    async fn token(
        &self,
        client: &FlowClient,
        stale: Option<&Arc<IssuedToken>>,
        deadline: Instant,
    ) -> Result<Arc<IssuedToken>, FlowError> {
        let fetch = async |request: &FlowRequest| self.send(client, request, None, deadline).await;
        self.tokens.obtain(stale, deadline, fetch).await
    }

    /// One HTTP exchange: spends a cell of the bucket, then asks Flow; counted, and logged as
    /// one line.
    async fn send(
        &self,
        client: &FlowClient,
        request: &FlowRequest,
        bearer: Option<&HeaderValue>,
        deadline: Instant,
    ) -> Result<FlowResponse, FlowError> {
        let spent = self.bucket.spend(deadline).await;
        let waited = match &spent {
            Ok(wait) => !wait.is_zero(),
            Err(error) => matches!(error, FlowError::Throttled(_)),
        };
        if waited {
            self.metrics.throttled(ThrottleCause::Bucket);
        }
        spent?;
        let http = request.to_http(&self.base_url, bearer)?;
        let started = Instant::now();
        let result = client.exchange(http, deadline).await;
        let elapsed = started.elapsed();
        self.count(request.operation(), &result, elapsed);
        let (tenant, operation) = (self.name.as_str(), request.operation().as_str());
        let elapsed_ms = elapsed.as_millis();
        match &result {
            Ok(answer) => {
                let status = answer.status.as_u16();
                tracing::debug!(tenant, operation, status, elapsed_ms, "Flow answered");
            }
            Err(error) => {
                tracing::debug!(tenant, operation, %error, elapsed_ms, "Flow call failed");
            }
        }
        result
    }
}

impl TenantFlow {
    /// This tenant's series: Flow requests, throttling, FlowToken verifications, circuit.
    pub fn metrics(&self) -> &TenantMetrics {
        &self.metrics
    }

    fn count(
        &self,
        operation: Operation,
        result: &Result<FlowResponse, FlowError>,
        took: Duration,
    ) {
        let class = match result {
            Ok(response) => StatusClass::of(response.status),
            Err(FlowError::Timeout) => StatusClass::Timeout,
            Err(_) => StatusClass::Error,
        };
        self.metrics.flow_request(operation, class, took);
        if result
            .as_ref()
            .is_ok_and(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        {
            self.metrics.throttled(ThrottleCause::Flow429);
        }
    }
}

impl std::fmt::Debug for TenantFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantFlow")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// Every configured tenant's Flow, by tenant name; tenants with the same client_id share one
/// bucket (Flow counts per client id), the first tenant's `rate_limit` setting it. A tenant of
/// `running` (on reload) built from the same settings and secret is kept as it is, with its
/// access token and bucket.
pub fn tenants(
    config: &Config,
    metrics: &Metrics,
    running: &BTreeMap<String, Arc<TenantFlow>>,
) -> Result<BTreeMap<String, Arc<TenantFlow>>, ConfigErrors> {
    let mut buckets: HashMap<String, Arc<Bucket>> = HashMap::new();
    let mut flows = BTreeMap::new();
    let mut errors = Vec::new();
    for (name, tenant) in &config.tenants {
        if let Some(kept) = running.get(name).filter(|old| {
            old.fingerprint == fingerprint(config, name, tenant)
                && buckets
                    .get(old.bucket.key())
                    .is_none_or(|bucket| Arc::ptr_eq(bucket, &old.bucket))
        }) {
            buckets.insert(kept.bucket.key().to_owned(), kept.bucket.clone());
            flows.insert(name.clone(), kept.clone());
            continue;
        }
        let counted = metrics.register_tenant(name);
        match tenant_flow(config, name, tenant, (&mut buckets, running), counted) {
            Ok(flow) => {
                flows.insert(name.clone(), Arc::new(flow));
            }
            Err(found) => errors.extend(found),
        }
    }
    ConfigErrors(errors).into_result()?;
    Ok(flows)
}

/// The buckets made so far, and the running tenants, whose buckets a reload keeps.
type BucketSources<'a> = (
    &'a mut HashMap<String, Arc<Bucket>>,
    &'a BTreeMap<String, Arc<TenantFlow>>,
);

fn tenant_flow(
    config: &Config,
    name: &str,
    tenant: &TenantConfig,
    (buckets, running): BucketSources<'_>,
    metrics: TenantMetrics,
) -> Result<TenantFlow, Vec<ConfigError>> {
    let source = &config.source;
    let key = |field: &str| format!("tenants.{name}.{field}");
    let base_url = check_base_url(source, &key("base_url"), &tenant.base_url);
    let credentials = credentials(config, name, tenant);
    let bucket_key = match (&tenant.auth.kind, &tenant.auth.client_id) {
        (TenantAuthKind::ClientCredentials, Some(client_id)) => format!("client:{client_id}"),
        _ => format!("tenant:{name}"),
    };
    let kept = running
        .values()
        .map(|flow| &flow.bucket)
        .find(|bucket| bucket.key() == bucket_key && bucket.rate() == tenant.rate_limit);
    let bucket = match buckets.get(&bucket_key).or(kept) {
        Some(bucket) => Ok(bucket.clone()),
        None => Bucket::new(&bucket_key, tenant.rate_limit)
            .map(Arc::new)
            .map_err(|e| source.error(key("rate_limit"), e.to_string())),
    };
    match (base_url, credentials, bucket) {
        (Ok(()), Ok(credentials), Ok(bucket)) => {
            buckets.insert(bucket_key, bucket.clone());
            Ok(TenantFlow {
                name: name.to_owned(),
                base_url: tenant.base_url.clone(),
                tokens: TokenCache::new(credentials),
                bucket,
                verify_refresh_age: VERIFY_REFRESH_AGE,
                metrics,
                fingerprint: fingerprint(config, name, tenant),
            })
        }
        (base_url, credentials, bucket) => Err([base_url.err(), credentials.err(), bucket.err()]
            .into_iter()
            .flatten()
            .collect()),
    }
}

/// A digest of what `tenant` is built from: its base URL, credentials with the secret as
/// resolved now, and rate.
fn fingerprint(config: &Config, name: &str, tenant: &TenantConfig) -> [u8; 32] {
    let source = &config.source;
    let key = format!("tenants.{name}.auth");
    let secret = tenant
        .auth
        .secret(source, &key)
        .and_then(|s| s.resolve(source));
    let mut digest = Sha256::new();
    let mut part = |bytes: &[u8]| {
        digest.update(bytes.len().to_le_bytes());
        digest.update(bytes);
    };
    part(tenant.base_url.as_bytes());
    part(format!("{:?}", tenant.auth.kind).as_bytes());
    part(
        tenant
            .auth
            .client_id
            .as_deref()
            .unwrap_or_default()
            .as_bytes(),
    );
    for secret in secret.unwrap_or_default() {
        part(secret.as_bytes());
    }
    part(&tenant.rate_limit.per_second.to_le_bytes());
    part(&tenant.rate_limit.burst.to_le_bytes());
    digest.finalize().into()
}

/// The credentials with their secret resolved (the first, when a file or variable holds several).
fn credentials(
    config: &Config,
    name: &str,
    tenant: &TenantConfig,
) -> Result<Credentials, ConfigError> {
    let source = &config.source;
    let key = format!("tenants.{name}.auth");
    let secret_ref = tenant.auth.secret(source, &key)?;
    let secret = secret_ref
        .resolve(source)?
        .into_iter()
        .next()
        .unwrap_or_default();
    match tenant.auth.kind {
        TenantAuthKind::ClientCredentials => {
            let client_id = tenant.auth.client_id.clone().ok_or_else(|| {
                source.error(
                    format!("{key}.client_id"),
                    "client_credentials needs a client_id",
                )
            })?;
            Ok(Credentials::ClientCredentials {
                client_id,
                client_secret: secret,
            })
        }
        TenantAuthKind::Bearer => IssuedToken::bearer(&secret, Instant::now())
            .map(|token| Credentials::Bearer(Arc::new(token)))
            .ok_or_else(|| {
                source.error(
                    secret_ref.key,
                    "the token holds characters a header cannot carry",
                )
            }),
    }
}

#[cfg(test)]
impl TenantFlow {
    /// Lets a test treat every access token as old enough for a verify_token refresh.
    pub(super) fn with_verify_refresh_age(mut self, age: Duration) -> Self {
        self.verify_refresh_age = age;
        self
    }
}
