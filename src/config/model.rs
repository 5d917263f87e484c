//! The typed configuration: one struct per section of `config.toml`, every key with its default
//! beside it. Deserialising rejects unknown keys; `check.rs` cross-checks what types cannot.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::VendorConfig;
use super::value::{AddressRange, ByteSize, duration, duration_list, optional_path};

/// The whole file. `parse.rs` reads it section by section; this derive names the sections.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub admin: AdminConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub delivery: DeliveryConfig,
    #[serde(default)]
    pub flow: FlowConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub simulator: SimulatorConfig,
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantConfig>,
    #[serde(default)]
    pub vendors: BTreeMap<String, VendorConfig>,
    /// Where the file came from: relative paths in it resolve against its directory.
    #[serde(skip)]
    pub source: super::Source,
    /// The merged settings it was read from: what a reload compares.
    #[serde(skip)]
    pub settings: super::Settings,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub max_body_bytes: u64,
    pub max_buffered_bytes: u64,
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    pub max_in_flight: usize,
    #[serde(with = "duration")]
    pub drain_delay: Duration,
    #[serde(with = "duration")]
    pub shutdown_grace: Duration,
    /// Inline secrets are for demos on this machine: refused while a listener is not loopback.
    pub allow_inline_secrets: bool,
    /// Peers whose `X-Forwarded-For` is believed (contract section 15).
    pub trusted_proxies: Vec<AddressRange>,
    /// Every public connection opens with a PROXY protocol header naming the client.
    pub proxy_protocol: bool,
    /// `[server.tls]`: the public listener serves TLS; absent, plain HTTP.
    pub tls: Option<TlsConfig>,
}

pub const DEFAULT_ALLOW_INLINE_SECRETS: bool = false;

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            max_body_bytes: 256 * 1024,
            max_buffered_bytes: 64 * 1024 * 1024,
            request_timeout: Duration::from_secs(10),
            max_in_flight: 4096,
            drain_delay: Duration::ZERO,
            shutdown_grace: Duration::from_secs(10),
            allow_inline_secrets: DEFAULT_ALLOW_INLINE_SECRETS,
            trusted_proxies: Vec::new(),
            proxy_protocol: false,
            tls: None,
        }
    }
}

/// `[server.tls]` (contract section 15): the public listener's certificate and key, read at
/// start and on reload, and optionally the CA its clients' certificates must be signed by.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM: the server's certificate first, then the intermediates that chain it to a root.
    pub cert_file: PathBuf,
    /// PEM: the certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// PEM: clients must present a certificate signed by one of these; absent or `""`, none is
    /// asked for.
    #[serde(default, deserialize_with = "optional_path::deserialize")]
    pub client_ca_file: Option<PathBuf>,
    #[serde(default)]
    pub min_version: TlsVersion,
}

/// The oldest TLS version the public listener speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum TlsVersion {
    #[default]
    #[serde(rename = "1.2")]
    Tls12,
    #[serde(rename = "1.3")]
    Tls13,
}

impl TlsVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "1.2",
            TlsVersion::Tls13 => "1.3",
        }
    }
}

/// The admin bearer token is the one optional secret: unset, `/admin/*` answers 403. With none
/// of the three forms given, the variable `FLOWGATE_ADMIN_TOKEN` is read.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    pub token: Option<String>,
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
}

pub const DEFAULT_ADMIN_TOKEN_ENV: &str = "FLOWGATE_ADMIN_TOKEN";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub url: String,
    pub schema: String,
    pub sync: SyncMode,
    #[serde(with = "duration")]
    pub dedup_window: Duration,
    #[serde(with = "duration")]
    pub retention: Duration,
    #[serde(with = "duration")]
    pub order_retention: Duration,
    #[serde(with = "duration")]
    pub dead_retention: Duration,
    #[serde(with = "duration")]
    pub lease: Duration,
    pub max_pending: u64,
    pub min_free_disk: ByteSize,
    /// Webhooks that authenticated but were refused are kept this long (contract section 17).
    #[serde(with = "duration")]
    pub rejection_retention: Duration,
    /// At most this many rejections are kept; beyond it the oldest go.
    pub max_rejections: u64,
    /// The raw bodies of accepted webhooks are kept this long, beside their delivery, for
    /// replay (contract section 17); zero keeps none.
    #[serde(with = "duration")]
    pub body_retention: Duration,
}

impl StoreConfig {
    /// Whether `url` names a PostgreSQL database (else it is a SQLite file).
    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres://") || self.url.starts_with("postgresql://")
    }
}

const DAY: u64 = 24 * 3600;

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://data/flowgate.db".to_owned(),
            schema: "public".to_owned(),
            sync: SyncMode::Full,
            dedup_window: Duration::from_secs(DAY),
            retention: Duration::from_secs(7 * DAY),
            order_retention: Duration::from_secs(90 * DAY),
            dead_retention: Duration::ZERO,
            lease: Duration::from_secs(60),
            max_pending: 1_000_000,
            min_free_disk: ByteSize(1 << 30),
            rejection_retention: Duration::from_secs(7 * DAY),
            max_rejections: 100_000,
            body_retention: Duration::from_secs(DAY),
        }
    }
}

/// SQLite durability: `full` survives power loss, `normal` a process crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    Full,
    Normal,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    pub mode: DeliveryMode,
    pub workers: usize,
    #[serde(with = "duration_list")]
    pub retry_schedule: Vec<Duration>,
    pub jitter: f64,
    #[serde(with = "duration")]
    pub max_retry_after: Duration,
    #[serde(with = "duration")]
    pub max_age: Duration,
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    pub circuit: CircuitConfig,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        let schedule = [5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200];
        Self {
            mode: DeliveryMode::Queued,
            workers: 32,
            retry_schedule: schedule.into_iter().map(Duration::from_secs).collect(),
            jitter: 0.2,
            max_retry_after: Duration::from_secs(3600),
            max_age: Duration::from_secs(2 * DAY),
            request_timeout: Duration::from_secs(20),
            circuit: CircuitConfig::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryMode {
    Queued,
    Sync,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CircuitConfig {
    pub failures: u32,
    #[serde(with = "duration")]
    pub open_for: Duration,
}

impl Default for CircuitConfig {
    fn default() -> Self {
        Self {
            failures: 5,
            open_for: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowConfig {
    #[serde(with = "duration")]
    pub token_cache_ttl: Duration,
    #[serde(with = "duration")]
    pub negative_cache_ttl: Duration,
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            token_cache_ttl: Duration::from_secs(600),
            negative_cache_ttl: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub max_json_depth: usize,
    /// Unicode scalar values, the ellipsis included.
    pub max_field_chars: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_json_depth: 32,
            max_field_chars: 255,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".to_owned(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatorConfig {
    pub enabled: bool,
    pub listen: SocketAddr,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    #[serde(with = "duration")]
    pub token_ttl: Duration,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            client_id: "demo-client".to_owned(),
            client_secret: None,
            client_secret_env: None,
            client_secret_file: None,
            token_ttl: Duration::from_secs(1200),
        }
    }
}

/// One customer's Flow: where it lives, how to authenticate, how fast it may be called.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub base_url: String,
    pub tenant_id: Option<i64>,
    pub auth: TenantAuthConfig,
    #[serde(default = "RateLimitConfig::flow_default")]
    pub rate_limit: RateLimitConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantAuthConfig {
    pub kind: TenantAuthKind,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    pub token: Option<String>,
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantAuthKind {
    ClientCredentials,
    Bearer,
}

#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    pub per_second: f64,
    pub burst: u32,
}

impl RateLimitConfig {
    /// Keeps Flow's own bucket (40 calls/s sustained) above the level where it starts delaying.
    pub fn flow_default() -> Self {
        Self {
            per_second: 36.0,
            burst: 80,
        }
    }
}
