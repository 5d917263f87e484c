//! The configured vendors as the pipeline uses them: verifier, compiled schemas and rate limiter,
//! built at start-up and again on each reload, where a vendor keeps its rate limiter.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use jsonschema::Validator;
use sha2::{Digest, Sha256};

use crate::config::{
    self, AddressRange, Config, ConfigError, ConfigErrors, Dedup, DeliveryMode, FlowTokenPolicy,
    LaunchParams, RateLimitConfig,
};
use crate::map::Mapper;
use crate::metrics::{Metrics, VendorMetrics};
use crate::route::VendorRouting;
use crate::validate::{self, DeclaredFields, VendorSchemas};
use crate::verify::signature::Verifier;
use crate::verify::{UnknownVendor, is_vendor_name};

/// One vendor, ready to take webhooks.
pub struct Vendor {
    pub name: String,
    pub verifier: Verifier,
    pub schemas: VendorSchemas,
    pub rate_limit: Option<VendorLimit>,
    /// The client addresses it sends from; none: any.
    pub allow_ips: Option<Vec<AddressRange>>,
    pub mapper: Mapper,
    pub flow_token: FlowTokenPolicy,
    pub mode: DeliveryMode,
    pub dedup: Dedup,
    /// The fallback tenant and the allow-list.
    pub tenant: Option<String>,
    pub tenants: Option<Vec<String>>,
    pub launch: Option<Launch>,
    /// This vendor's series: signature failures, cut fields, deliveries.
    pub metrics: VendorMetrics,
    /// A digest of its resolved secrets and its schemas' bytes (never shown): how a reload
    /// tells a rotated secret or an edited schema from no change.
    pub fingerprint: [u8; 32],
}

/// A vendor's token bucket and the setting it was made with; a reload that leaves the setting
/// alone keeps the bucket, and with it what the vendor has spent.
pub struct VendorLimit {
    pub setting: RateLimitConfig,
    pub limiter: Arc<DefaultDirectRateLimiter>,
}

/// Where `/launch/{vendor}` sends the broker, and the query names Core's button uses.
pub struct Launch {
    pub url: String,
    pub params: LaunchParams,
}

impl Vendor {
    pub fn routing(&self) -> VendorRouting<'_> {
        VendorRouting {
            fallback: self.tenant.as_deref(),
            allowed: self.tenants.as_deref(),
        }
    }
}

pub struct Vendors {
    by_name: HashMap<String, Arc<Vendor>>,
}

impl Vendors {
    /// Resolves every vendor's secrets and compiles every schema; reports all failures. A
    /// vendor of `previous` (the running vendors, on reload) keeps its rate limiter.
    pub fn build(
        config: &Config,
        metrics: &Metrics,
        previous: Option<&Vendors>,
    ) -> Result<Self, ConfigErrors> {
        let mut errors = Vec::new();
        let canonical = validate::compile_canonical()
            .map(Arc::new)
            .map_err(|e| errors.push(config.source.error("vendors", e)))
            .ok();
        let mut by_name = HashMap::new();
        for (name, vendor) in &config.vendors {
            let counted = metrics.register_vendor(name);
            match build_vendor(config, name, vendor, canonical.as_ref(), counted) {
                Ok(mut built) => {
                    let running = previous.and_then(|p| p.get(name));
                    if let (Some(new), Some(old)) = (&mut built.rate_limit, running)
                        && let Some(kept) = &old.rate_limit
                        && kept.setting == new.setting
                    {
                        new.limiter = kept.limiter.clone();
                    }
                    by_name.insert(name.clone(), Arc::new(built));
                }
                Err(mut found) => errors.append(&mut found),
            }
        }
        ConfigErrors(errors).into_result()?;
        Ok(Self { by_name })
    }

    pub fn get(&self, name: &str) -> Option<Arc<Vendor>> {
        self.by_name.get(name).cloned()
    }

    /// The vendor a webhook's path names: 404 `unknown-vendor` for a name no vendor could have
    /// (not repeated: it is the caller's) or none has.
    pub fn lookup(&self, name: &str) -> Result<Arc<Vendor>, UnknownVendor> {
        if !is_vendor_name(name) {
            return Err(UnknownVendor::Malformed);
        }
        self.get(name)
            .ok_or_else(|| UnknownVendor::Named(name.to_owned()))
    }

    /// The vendors that differ from those of `previous`: added, removed, or built from other
    /// secrets or schema bytes (what their settings say is compared by the caller).
    pub fn rebuilt_since(&self, previous: &Vendors) -> Vec<String> {
        let names: std::collections::BTreeSet<&String> =
            self.by_name.keys().chain(previous.by_name.keys()).collect();
        names
            .into_iter()
            .filter(|name| {
                let (new, old) = (self.by_name.get(*name), previous.by_name.get(*name));
                new.map(|v| v.fingerprint) != old.map(|v| v.fingerprint)
            })
            .cloned()
            .collect()
    }
}

fn build_vendor(
    config: &Config,
    name: &str,
    vendor: &config::VendorConfig,
    canonical: Option<&Arc<Validator>>,
    metrics: VendorMetrics,
) -> Result<Vendor, Vec<ConfigError>> {
    let key = format!("vendors.{name}");
    let verifier = Verifier::from_config(&vendor.verify, &config.source, &format!("{key}.verify"));
    match (
        verifier.map_err(|e| vec![e]),
        vendor_schemas(config, name, vendor, canonical),
    ) {
        (Ok(verifier), Ok(schemas)) => Ok(Vendor {
            name: name.to_owned(),
            verifier,
            schemas,
            rate_limit: vendor.rate_limit.map(|setting| VendorLimit {
                setting,
                limiter: Arc::new(limiter(&setting)),
            }),
            allow_ips: vendor.allow_ips.clone(),
            mapper: vendor_mapper(vendor, config.limits.max_field_chars),
            flow_token: vendor.flow_token,
            mode: vendor.delivery.unwrap_or(config.delivery.mode),
            dedup: vendor.dedup,
            tenant: vendor.tenant.clone(),
            tenants: vendor.tenants.clone(),
            launch: vendor.launch_url.clone().map(|url| Launch {
                url,
                params: vendor.launch_params.clone(),
            }),
            metrics,
            fingerprint: fingerprint(config, name, vendor),
        }),
        (verifier, schemas) => Err([verifier.err(), schemas.err()]
            .into_iter()
            .flatten()
            .flatten()
            .collect()),
    }
}

/// A digest of what `vendor` was built from beyond its settings: its secrets as resolved now
/// and the bytes of its schema and shadow schema files.
fn fingerprint(config: &Config, name: &str, vendor: &config::VendorConfig) -> [u8; 32] {
    let source = &config.source;
    let mut digest = Sha256::new();
    let key = format!("vendors.{name}.verify");
    let secrets = vendor
        .verify
        .secret(source, &key)
        .and_then(|s| s.resolve(source));
    for secret in secrets.unwrap_or_default() {
        digest.update(secret.len().to_le_bytes());
        digest.update(secret.as_bytes());
    }
    let files = [
        ("schema", &vendor.schema),
        ("shadow_schema", &vendor.shadow_schema),
    ];
    for (key, path) in files {
        // The length first, so bytes moved from one file to the other still change the digest.
        let bytes = path
            .as_ref()
            .map(|path| source.resolve(&format!("vendors.{name}.{key}"), path))
            .and_then(|path| std::fs::read(path).ok());
        let bytes = bytes.unwrap_or_default();
        digest.update(bytes.len().to_le_bytes());
        digest.update(&bytes);
    }
    digest.finalize().into()
}

/// The schemas a vendor's payloads are checked against: its own `schema` (every map pointer
/// must be reachable in it), then for a canonical vendor (no map) the `canonical` envelope; its
/// `shadow_schema`; and what the first of them declares, for drift. Needs no secret, so
/// `flowgate map` validates with exactly this.
pub fn vendor_schemas(
    config: &Config,
    name: &str,
    vendor: &config::VendorConfig,
    canonical: Option<&Arc<Validator>>,
) -> Result<VendorSchemas, Vec<ConfigError>> {
    let own_schema = vendor
        .schema
        .as_ref()
        .map(|path| own_schema(config, name, vendor, path));
    let shadow = vendor.shadow_schema.as_ref().map(|path| {
        let key = format!("vendors.{name}.shadow_schema");
        validate::compile_file(&config.source.resolve(&key, path))
            .map(|(_, validator)| Arc::new(validator))
            .map_err(|e| vec![config.source.error(&key, e)])
    });
    let (own_schema, shadow) = match (own_schema.transpose(), shadow.transpose()) {
        (Ok(own), Ok(shadow)) => (own, shadow),
        (own, shadow) => {
            let errors = [own.err(), shadow.err()].into_iter().flatten().flatten();
            return Err(errors.collect());
        }
    };
    let envelope = vendor.map.is_none().then(|| canonical.cloned()).flatten();
    let declared = match (&own_schema, &envelope) {
        (Some((declared, _)), _) => Some(declared.clone()),
        (None, Some(_)) => Some(validate::canonical_declared()),
        (None, None) => None,
    };
    Ok(
        VendorSchemas::new(own_schema.map(|(_, validator)| validator), envelope)
            .with_shadow(shadow)
            .with_declared(declared),
    )
}

/// A vendor's own schema, compiled, with what it declares; every map pointer must be reachable.
fn own_schema(
    config: &Config,
    name: &str,
    vendor: &config::VendorConfig,
    path: &std::path::Path,
) -> Result<(Arc<DeclaredFields>, Arc<Validator>), Vec<ConfigError>> {
    let source = &config.source;
    let key = format!("vendors.{name}");
    let schema_key = format!("{key}.schema");
    let (document, validator) = validate::compile_file(&source.resolve(&schema_key, path))
        .map_err(|e| vec![source.error(&schema_key, e)])?;
    let unreachable: Vec<ConfigError> = vendor
        .map
        .iter()
        .flat_map(|map| map.pointers())
        .filter(|(_, pointer)| !validate::reachable(&document, pointer))
        .map(|(field, pointer)| {
            let message = format!(
                "`{pointer}` cannot be in a payload that {} accepts",
                path.display()
            );
            source.error(format!("{key}.map.{field}"), message)
        })
        .collect();
    if unreachable.is_empty() {
        let declared = DeclaredFields::from_schema(&document);
        Ok((Arc::new(declared), Arc::new(validator)))
    } else {
        Err(unreachable)
    }
}

/// The mapper of a vendor: its `map`, or the canonical envelope's.
pub fn vendor_mapper(vendor: &config::VendorConfig, max_field_chars: usize) -> Mapper {
    match &vendor.map {
        Some(map) => Mapper::from_map(map, max_field_chars),
        None => Mapper::canonical(max_field_chars),
    }
}

/// A token bucket of `burst` refilled at `per_second` (checked at load to be positive).
fn limiter(limit: &RateLimitConfig) -> DefaultDirectRateLimiter {
    let period = Duration::from_secs_f64(1.0 / limit.per_second).max(Duration::from_nanos(1));
    let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
    let quota =
        Quota::with_period(period).map_or(Quota::per_second(burst), |q| q.allow_burst(burst));
    RateLimiter::direct(quota)
}
