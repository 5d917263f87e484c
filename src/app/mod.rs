//! Wires the configuration into running listeners, workers and the gateway's own metrics, and
//! drains them on shutdown: readiness turns 503 at once, listeners close after
//! `server.drain_delay`, in-flight requests get `server.shutdown_grace`. `upkeep.rs` counts and
//! purges the store while it runs.

mod upkeep;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinError, JoinHandle};

use crate::admin;
use crate::admin::AdminState;
use crate::config::{Config, ConfigError, ConfigErrors, SecretRef};
use crate::deliver::Deliverer;
use crate::deliver::control::TenantControl;
use crate::deliver::worker::{WorkerSettings, Workers};
use crate::flow::{FlowClient, SharedBuckets};
use crate::health::Health;
use crate::http::server::{self, Accept};
use crate::ingress::{self, Dispatch, FlowPath, Vendors};
use crate::metrics::Metrics;
use crate::queue::Store;
use crate::queue::backlog::Backlog;
use crate::queue::postgres::{PgOptions, PgStore};
use crate::queue::readiness::StoreReadiness;
use crate::queue::sqlite::SqliteStore;
use crate::route::Tenants;
use crate::simulator::{Simulator, SimulatorSettings};
use crate::tls::{LiveTls, LoadedTls};
use crate::verify::flow_token::FlowTokens;
use upkeep::{Queue, upkeep};

/// Everything `serve` needs, built and checked; `check-config` builds the same and stops.
pub struct App {
    pub config: Arc<Config>,
    vendors: Arc<Vendors>,
    tenants: Arc<Tenants>,
    tokens: Arc<FlowTokens>,
    client: FlowClient,
    workers: Option<WorkerSettings>,
    admin_token: Option<String>,
    health: Health,
    metrics: Metrics,
    simulator: Option<(TcpListener, Simulator)>,
    tls: Option<LoadedTls>,
}

impl App {
    /// Resolves every secret and compiles every schema; the errors are the ones `check-config`
    /// reports, so `serve` refuses to start on exactly those.
    pub fn build(config: Config) -> Result<App, ConfigErrors> {
        let mut errors: Vec<ConfigError> = simulator_secret(&config)
            .into_iter()
            .filter_map(|secret| secret.and_then(|s| s.resolve(&config.source)).err())
            .collect();
        errors.extend(store_url_error(&config));
        let metrics = Metrics::from_config(&config);
        let vendors = Vendors::build(&config, &metrics).map_err(|e| errors.extend(e.0));
        let tenants = Tenants::build(&config, &metrics).map_err(|e| errors.extend(e.0));
        let workers = WorkerSettings::from_config(&config).map_err(|e| {
            errors.push(
                config
                    .source
                    .error("delivery.retry_schedule", e.to_string()),
            );
        });
        let tls = crate::tls::load(&config).map_err(|e| errors.extend(e));
        let (Ok(vendors), Ok(tenants), Ok(workers), Ok(tls)) = (vendors, tenants, workers, tls)
        else {
            return Err(ConfigErrors(errors));
        };
        ConfigErrors(errors).into_result()?;
        let client = FlowClient::new(config.flow.connect_timeout);
        let tokens = FlowTokens::new(
            client.clone(),
            config.flow.token_cache_ttl,
            config.flow.negative_cache_ttl,
        );
        // Unset, /admin/* answers 403: the one optional secret.
        let admin_token = config
            .admin_token()
            .and_then(|token| token.resolve(&config.source))
            .ok()
            .and_then(|tokens| tokens.into_iter().next());
        Ok(App {
            config: Arc::new(config),
            vendors: Arc::new(vendors),
            tenants: Arc::new(tenants),
            tokens: Arc::new(tokens),
            client,
            workers: Some(workers),
            admin_token,
            health: Health::default(),
            metrics,
            simulator: None,
            tls,
        })
    }

    /// The public listener's TLS, as loaded; `None` without `[server.tls]`.
    pub fn tls(&self) -> Option<&LoadedTls> {
        self.tls.as_ref()
    }

    /// The in-process Flow simulator of `[simulator]`, served on `listener` beside the gateway.
    pub fn with_simulator(mut self, listener: TcpListener) -> Result<App, ConfigErrors> {
        let settings = simulator_settings(&self.config)?;
        self.simulator = Some((listener, Simulator::new(settings)));
        Ok(self)
    }

    /// Serves both listeners, the workers and the upkeep until `shutdown` completes, then
    /// drains. Tests pass listeners bound to port 0 and a shutdown future of their own.
    pub async fn run(
        mut self,
        public: TcpListener,
        admin: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let store = self.open_store().await?;
        let readiness = Arc::new(StoreReadiness::new(
            store.clone(),
            SqliteStore::path_from_config(&self.config).as_deref(),
            self.config.store.min_free_disk.0,
        ));
        let Delivering {
            flow,
            workers,
            admin_state,
            backlog,
        } = self.delivering(&store, &readiness)?;
        let (close, closed) = watch::channel(false);
        let (cut, cut_requests) = watch::channel(false);
        let ingress = ingress::router(
            &self.config,
            self.vendors.clone(),
            flow,
            self.health.clone(),
            self.metrics.clone(),
            cut_requests,
        );
        let grace = self.config.server.shutdown_grace;
        let (stop_workers, workers_stopped) = watch::channel(false);
        let delivering = tokio::spawn(workers.run(workers_stopped, grace));
        // The queue gauges, the back-pressure and the store's readiness describe the store
        // before the gateway is ready.
        let queue = Queue {
            store,
            backlog,
            readiness,
            metrics: self.metrics.clone(),
        };
        queue.count().await;
        queue.check_store();
        let upkeep = tokio::spawn(upkeep(queue, upkeep::retention(&self.config)));
        self.start_simulator();
        let header_timeout = self.config.server.request_timeout;
        let accept = Accept {
            header_timeout,
            proxy_protocol: self.config.server.proxy_protocol,
            tls: self.tls.take().map(|tls| LiveTls::new(tls, &self.metrics)),
        };
        let public = server::serve(public, ingress, accept, closed.clone());
        let admin_router = admin::router(admin_state);
        let admin = server::serve(admin, admin_router, Accept::plain(header_timeout), closed);
        let mut servers = tokio::spawn(async move { tokio::try_join!(public, admin) });
        self.health.set_ready(true);
        tracing::info!("flowgate is ready");
        tokio::select! {
            () = shutdown => {}
            result = &mut servers => return joined(result),
        }
        let senders = ShutdownSenders {
            close,
            cut,
            stop_workers,
        };
        self.drain(&mut servers, senders).await?;
        let _ = tokio::time::timeout(grace + CUT_WAIT, delivering).await;
        upkeep.abort();
        // Awaited so the store it holds is closed, and its file unlocked, when `run` returns.
        let _ = upkeep.await;
        tracing::info!("flowgate stopped");
        Ok(())
    }

    /// Everything that delivers: the deliverer, the workers, the tenants' controls, and the
    /// ingress and admin views of them, all on `store`.
    fn delivering(
        &mut self,
        store: &Arc<dyn Store>,
        readiness: &Arc<StoreReadiness>,
    ) -> io::Result<Delivering> {
        let control = Arc::new(TenantControl::new(
            self.config.tenants.keys(),
            &self.config.delivery.circuit,
        ));
        let deliverer = Arc::new(Deliverer::new(self.client.clone(), store.clone()));
        let backlog = Arc::new(Backlog::new(self.config.store.max_pending));
        let settings = self
            .workers
            .take()
            .ok_or_else(|| io::Error::other("run twice"))?;
        let workers = Workers::new(
            store.clone(),
            deliverer.clone(),
            self.tenants.clone(),
            control.clone(),
            settings,
            self.metrics.clone(),
        );
        let flow = FlowPath {
            tenants: self.tenants.clone(),
            tokens: self.tokens.clone(),
            dispatch: Dispatch {
                store: store.clone(),
                deliverer,
                control: control.clone(),
                waker: workers.waker(),
                dedup_window: self.config.store.dedup_window,
                backlog: backlog.clone(),
                readiness: readiness.clone(),
            },
        };
        let admin_state = AdminState {
            store: store.clone(),
            control,
            token: self.admin_token.clone(),
            health: self.health.clone(),
            metrics: self.metrics.clone(),
            readiness: readiness.clone(),
        };
        Ok(Delivering {
            flow,
            workers,
            admin_state,
            backlog,
        })
    }

    /// The in-process simulator, when attached. It outlives the drain (requests still in flight
    /// may need it) and stops with the process.
    fn start_simulator(&mut self) {
        let Some((listener, simulator)) = self.simulator.take() else {
            return;
        };
        let (close, closed) = watch::channel(false);
        let timeout = self.config.server.request_timeout;
        let serving = server::serve(listener, simulator.router(), Accept::plain(timeout), closed);
        tokio::spawn(async move {
            let _close = close;
            if let Err(error) = serving.await {
                tracing::error!(%error, "the Flow simulator stopped");
            }
        });
    }

    /// Opens (creating and migrating) the store of `store.url`: PostgreSQL, shared with the
    /// other replicas, in `store.schema`; else the embedded SQLite file.
    async fn open_store(&self) -> io::Result<Arc<dyn Store>> {
        let config = &self.config;
        if let Some(options) = PgOptions::from_config(config) {
            let store = PgStore::open(&options)
                .await
                .map_err(|e| io::Error::other(format!("store.url: {e}")))?;
            tracing::info!(schema = %options.schema, "the PostgreSQL store is open");
            // Replicas pace each tenant together, so the fleet stays within its rate_limit.
            let buckets: Arc<dyn SharedBuckets> = Arc::new(store.clone());
            self.tenants.share_buckets(&buckets);
            return Ok(Arc::new(store));
        }
        let path = SqliteStore::path_from_config(config).ok_or_else(|| {
            io::Error::other(format!(
                "store.url: `{}` is neither a sqlite:// nor a postgres:// URL",
                config.store.url
            ))
        })?;
        let sync = config.store.sync;
        let opened = tokio::task::spawn_blocking(move || SqliteStore::open(&path, sync))
            .await
            .map_err(io::Error::other)?;
        // The store's own words: they name the database.
        let store = opened.map_err(|e| io::Error::other(format!("store.url: {}", e.detail())))?;
        Ok(Arc::new(store))
    }

    /// Not ready at once; listeners closed and workers stopped claiming after the drain delay;
    /// in-flight requests (and attempts) given the grace period, then answered 503 and dropped.
    async fn drain(&self, servers: &mut Servers, senders: ShutdownSenders) -> io::Result<()> {
        let server = &self.config.server;
        let ShutdownSenders {
            close,
            cut,
            stop_workers,
        } = senders;
        self.health.set_ready(false);
        tracing::info!(drain_delay = ?server.drain_delay, "shutting down: no longer ready");
        tokio::time::sleep(server.drain_delay).await;
        let _ = close.send(true);
        let _ = stop_workers.send(true);
        if let Ok(result) = tokio::time::timeout(server.shutdown_grace, &mut *servers).await {
            return joined(result);
        }
        tracing::warn!(grace = ?server.shutdown_grace, "requests still in flight after the grace period are cut");
        let _ = cut.send(true);
        // A cut request answers at once; its connection closes with it.
        if tokio::time::timeout(CUT_WAIT, &mut *servers).await.is_err() {
            servers.abort();
        }
        Ok(())
    }
}

/// The delivery side of a running gateway, as `run` wires it.
struct Delivering {
    flow: FlowPath,
    workers: Workers,
    admin_state: AdminState,
    backlog: Arc<Backlog>,
}

/// The senders the drain stops the gateway with, in the order it sends them.
struct ShutdownSenders {
    /// The listeners stop accepting and idle connections close.
    close: watch::Sender<bool>,
    /// Requests still running after the grace period are answered 503.
    cut: watch::Sender<bool>,
    /// The workers claim nothing more; running attempts get the grace period.
    stop_workers: watch::Sender<bool>,
}

/// How long cut requests get to send their 503 before their connections are dropped.
const CUT_WAIT: Duration = Duration::from_secs(1);
type Servers = JoinHandle<io::Result<((), ())>>;

fn joined(result: Result<io::Result<((), ())>, JoinError>) -> io::Result<()> {
    result.map_err(io::Error::other)?.map(drop)
}

/// A PostgreSQL `store.url` that does not parse; checked without connecting, so `check-config`
/// works where the database is out of reach.
fn store_url_error(config: &Config) -> Option<ConfigError> {
    if !config.store.is_postgres() {
        return None;
    }
    let error = crate::queue::postgres::check_url(&config.store.url).err()?;
    Some(config.source.error("store.url", error.detail()))
}

/// The simulator's secret, when the simulator is on (the tenants' are resolved with them).
fn simulator_secret(config: &Config) -> Option<Result<SecretRef, ConfigError>> {
    let secret = config.simulator_secret().transpose();
    secret.filter(|_| config.simulator.enabled)
}

/// `[simulator]` resolved, for the in-process simulator and `flowgate simulate`.
pub fn simulator_settings(config: &Config) -> Result<SimulatorSettings, ConfigErrors> {
    let sim = &config.simulator;
    let missing = || {
        let error = config.source.error(
            "simulator.client_secret",
            "the simulator needs a client secret",
        );
        ConfigErrors(vec![error])
    };
    let secret = config
        .simulator_secret()
        .map_err(|e| ConfigErrors(vec![e]))?
        .ok_or_else(missing)?
        .resolve(&config.source)
        .map_err(|e| ConfigErrors(vec![e]))?;
    Ok(SimulatorSettings {
        client_id: sim.client_id.clone(),
        client_secret: secret.into_iter().next().ok_or_else(missing)?,
        token_ttl: sim.token_ttl,
    })
}
