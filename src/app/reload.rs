//! Reload (contract section 16): the configuration is loaded and built beside the running one,
//! then swapped in at once. Requests and attempts already running finish on what they started
//! with; the listeners' routes and the workers' configuration are replaced for the next ones.
//! What lives across configurations (the store, the queue's back-pressure, pauses, and the
//! tokens, buckets and circuits of unchanged tenants) is carried over, never rebuilt.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Weak};

use arc_swap::ArcSwap;
use axum::Router;
use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, Notify, watch};
use tokio::task::JoinHandle;

use super::built::Built;
use crate::admin::reload::{Reload, Reloaded};
use crate::admin::{self, AdminState, OpenApiDocument};
use crate::config::{Config, ConfigError, ConfigErrors, Origin, start_only};
use crate::deliver::Deliverer;
use crate::deliver::control::TenantControl;
use crate::deliver::worker::{LiveWorkerConfig, WorkerConfig};
use crate::flow::{FlowClient, SharedBuckets};
use crate::health::Health;
use crate::http::server::Routes;
use crate::ingress::{self, Capacities, Dispatch, FlowPath};
use crate::metrics::{Metrics, ReloadResult};
use crate::queue::Store;
use crate::queue::backlog::Backlog;
use crate::queue::readiness::StoreReadiness;
use crate::replay::Replayer;
use crate::tls::LiveTls;
use crate::validate::Drift;

/// What every configuration runs on, made once at start-up.
pub(super) struct Shared {
    pub store: Arc<dyn Store>,
    pub deliverer: Arc<Deliverer>,
    pub backlog: Arc<Backlog>,
    pub readiness: Arc<StoreReadiness>,
    /// Wakes the workers after a commit.
    pub waker: Arc<Notify>,
    /// The fleet's buckets (PostgreSQL), which every new tenant paces with.
    pub buckets: Option<Arc<dyn SharedBuckets>>,
    pub client: FlowClient,
    pub health: Health,
    pub metrics: Metrics,
    /// The undeclared pointers each vendor's payloads carried, kept across reloads.
    pub drift: Arc<Drift>,
    /// What requests hold while they run, whichever configuration admitted them.
    pub capacities: Capacities,
    /// Requests still running at the end of the drain are cut.
    pub cut: watch::Receiver<bool>,
    /// When the gateway started, for the admin overview.
    pub started_at: DateTime<Utc>,
}

/// The configuration that runs, with the tenants' controls made for it.
pub(super) struct Generation {
    pub built: Built,
    pub control: Arc<TenantControl>,
}

/// A running gateway's configuration and what reads it.
pub(super) struct Running {
    shared: Shared,
    /// The running generation; holding the lock is what serialises reloads.
    generation: Mutex<Generation>,
    pub public: Routes,
    pub admin: Routes,
    workers: LiveWorkerConfig,
    /// Read by the upkeep and the drain.
    config: Arc<ArcSwap<Config>>,
    /// The public listener's certificate, when it serves TLS.
    tls: Option<LiveTls>,
    /// Handed to the admin API, which must not keep the gateway alive.
    reloader: Weak<Running>,
}

impl Running {
    /// Wires `generation` into both listeners' routes and the workers' configuration.
    pub async fn start(
        shared: Shared,
        generation: Generation,
        workers: LiveWorkerConfig,
        config: Arc<ArcSwap<Config>>,
        tls: Option<LiveTls>,
    ) -> Arc<Running> {
        let running = Arc::new_cyclic(|reloader| Running {
            shared,
            public: Routes::new(Router::new()),
            admin: Routes::new(Router::new()),
            workers,
            config,
            tls,
            reloader: reloader.clone(),
            generation: Mutex::new(generation),
        });
        running.install(&*running.generation.lock().await);
        running
    }

    /// Loads the configuration file (and the environment, secret files, schemas) again,
    /// builds it beside the running one and, when every part builds, swaps it in.
    async fn reload(&self) -> Result<Reloaded, ConfigErrors> {
        let mut running = self.generation.lock().await;
        let metrics = &self.shared.metrics;
        let file = running.built.config.source.file.clone();
        let built = Config::load(&file).and_then(|config| {
            Built::new(config, metrics, &self.shared.client, Some(&running.built))
        });
        let built = match built {
            Ok(built) => built,
            Err(errors) => {
                for error in &errors.0 {
                    tracing::error!(%error, "the configuration did not reload");
                }
                tracing::warn!(
                    errors = errors.0.len(),
                    "reload refused: the running configuration is unchanged"
                );
                metrics.reloaded(ReloadResult::Error);
                return Err(errors);
            }
        };
        let Changes {
            changed,
            restart_required,
            rebuilt_tenants,
        } = Changes::between(&running.built, &built);
        if let Some(buckets) = &self.shared.buckets {
            built.tenants.share_buckets(buckets);
        }
        let tenants = built.config.tenants.keys();
        let circuit = &built.config.delivery.circuit;
        let control = running.control.carry(tenants, circuit, &rebuilt_tenants);
        let generation = Generation {
            built,
            control: Arc::new(control),
        };
        self.install(&generation);
        *running = generation;
        let hash = running.built.config.settings.hash();
        metrics.set_config_hash(&hash);
        metrics.reloaded(ReloadResult::Ok);
        tracing::info!(config_hash = %hash, changed = ?changed, "configuration reloaded");
        if !restart_required.is_empty() {
            tracing::warn!(keys = ?restart_required, "these keys only take effect at a restart; they keep their running values");
        }
        Ok(Reloaded {
            reloaded: true,
            config_hash: hash,
            changed,
            restart_required,
        })
    }

    /// Makes `generation` the one new requests, attempts and upkeep read.
    fn install(&self, generation: &Generation) {
        let Generation { built, control } = generation;
        let shared = &self.shared;
        let config = &built.config;
        shared.backlog.set_limit(config.store.max_pending);
        shared.readiness.set_min_free(config.store.min_free_disk.0);
        shared.capacities.resize(config);
        shared.drift.keep_vendors(config.vendors.keys());
        let flow = FlowPath {
            tenants: built.tenants.clone(),
            tokens: built.tokens.clone(),
            drift: shared.drift.clone(),
            dispatch: Dispatch {
                store: shared.store.clone(),
                deliverer: shared.deliverer.clone(),
                control: control.clone(),
                waker: shared.waker.clone(),
                dedup_window: config.store.dedup_window,
                keep_bodies: !config.store.body_retention.is_zero(),
                backlog: shared.backlog.clone(),
                readiness: shared.readiness.clone(),
            },
        };
        let replayer = Replayer {
            vendors: built.vendors.clone(),
            flow: flow.clone(),
            max_json_depth: config.limits.max_json_depth,
        };
        self.public.replace(ingress::router(
            config,
            built.vendors.clone(),
            flow,
            shared.health.clone(),
            shared.metrics.clone(),
            &shared.capacities,
            shared.cut.clone(),
        ));
        self.admin.replace(admin::router(AdminState {
            store: shared.store.clone(),
            control: control.clone(),
            token: built.admin_token.clone(),
            health: shared.health.clone(),
            metrics: shared.metrics.clone(),
            readiness: shared.readiness.clone(),
            drift: shared.drift.clone(),
            reload: Arc::new(Reloads(self.reloader.clone())),
            replayer,
            config: config.clone(),
            started_at: shared.started_at,
            openapi: openapi_document(config.clone()),
        }));
        if let (Some(live), Some(loaded)) = (&self.tls, &built.tls) {
            live.replace(loaded.clone());
        }
        self.workers.store(Arc::new(WorkerConfig {
            tenants: built.tenants.clone(),
            control: control.clone(),
            settings: built.workers.clone(),
        }));
        self.config.store(config.clone());
    }
}

/// What a reload changes, as its answer and the tenants' controls need it.
struct Changes {
    /// Keys (`section.key`) and whole tenants and vendors that now run differently.
    changed: Vec<String>,
    /// Start-only keys that changed: their running values stay.
    restart_required: Vec<String>,
    /// Tenants added, removed, or rebuilt from other settings or secrets.
    rebuilt_tenants: Vec<String>,
}

impl Changes {
    fn between(was: &Built, built: &Built) -> Changes {
        let tls_switched = was.tls.is_some() != built.tls.is_some();
        let (mut restart_required, mut changed): (Vec<String>, Vec<String>) = was
            .config
            .settings
            .changed(&built.config.settings)
            .into_iter()
            .partition(|key| start_only(key) || (tls_switched && key.starts_with("server.tls")));
        if tls_switched {
            // A listener serves TLS or plain HTTP from its start to its end.
            restart_required.retain(|key| !key.starts_with("server.tls"));
            restart_required.push("server.tls".to_owned());
        } else if let (Some(old), Some(new)) = (&was.tls, &built.tls)
            && (old.subject(), old.not_after()) != (new.subject(), new.not_after())
        {
            // The same files, renewed.
            changed.push("server.tls".to_owned());
        }
        let rebuilt_tenants = built.tenants.rebuilt_since(&was.tenants);
        let rebuilt_vendors = built.vendors.rebuilt_since(&was.vendors);
        let named = |section: &str, names: &[String]| -> Vec<String> {
            names.iter().map(|n| format!("{section}.{n}")).collect()
        };
        changed.extend(named("tenants", &rebuilt_tenants));
        changed.extend(named("vendors", &rebuilt_vendors));
        changed.sort();
        changed.dedup();
        Changes {
            changed,
            restart_required,
            rebuilt_tenants,
        }
    }
}

/// The admin API's way to ask for a reload.
struct Reloads(Weak<Running>);

#[async_trait::async_trait]
impl Reload for Reloads {
    async fn reload(&self) -> Result<Reloaded, ConfigErrors> {
        match self.0.upgrade() {
            Some(running) => running.reload().await,
            // Only while the gateway stops: nothing is left to reload.
            None => Err(ConfigErrors(vec![ConfigError {
                key: String::new(),
                origin: Origin::File(PathBuf::new()),
                message: "the gateway is stopping".to_owned(),
            }])),
        }
    }
}

/// Reloads on every `SIGHUP` until the gateway stops. The handler is in place when this
/// returns: a `SIGHUP` sent once the gateway is ready never falls to the default action, which
/// would end the process.
#[cfg(unix)]
pub(super) fn on_hangup(running: Weak<Running>) -> JoinHandle<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let hangups = signal(SignalKind::hangup());
    tokio::spawn(async move {
        let Ok(mut hangups) = hangups else {
            tracing::warn!("cannot listen for SIGHUP: reload through the admin API");
            return;
        };
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the configuration");
            let Some(running) = running.upgrade() else {
                return;
            };
            // Success and failure are logged and counted by the reload itself.
            let _ = running.reload().await;
        }
    })
}

#[cfg(not(unix))]
pub(super) fn on_hangup(_running: Weak<Running>) -> JoinHandle<()> {
    tokio::spawn(async {})
}

/// The document `GET /openapi.json` serves for `config`, made at its first request. One whose
/// schema file cannot be read then (it compiled when the configuration was built) is logged,
/// and a document without paths is served.
fn openapi_document(config: Arc<Config>) -> OpenApiDocument {
    Arc::new(LazyLock::new(Box::new(move || {
        crate::openapi::document(&config).unwrap_or_else(|error| {
            tracing::warn!(%error, "the OpenAPI document could not be made");
            serde_json::json!({"openapi": "3.1.0", "info": {"title": "flowgate", "version": env!("CARGO_PKG_VERSION")}, "paths": {}})
        })
    })))
}
