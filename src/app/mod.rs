//! Wires the configuration into running listeners, workers and the gateway's own metrics, and
//! drains them on shutdown: readiness turns 503 at once, listeners close after
//! `server.drain_delay`, in-flight requests get `server.shutdown_grace`. `built.rs` builds what
//! one configuration needs, `reload.rs` swaps a new one in while the gateway runs, and
//! `upkeep.rs` counts and purges the store.

mod built;
mod reload;
mod upkeep;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinError, JoinHandle};

use crate::config::{Config, ConfigError, ConfigErrors, SecretRef};
use crate::deliver::Deliverer;
use crate::deliver::control::TenantControl;
use crate::deliver::worker::{WorkerConfig, Workers};
use crate::flow::{FlowClient, SharedBuckets};
use crate::health::Health;
use crate::http::server::{self, Accept, Routes};
use crate::ingress::Capacities;
use crate::metrics::Metrics;
use crate::queue::Store;
use crate::queue::backlog::Backlog;
use crate::queue::postgres::{PgOptions, PgStore};
use crate::queue::readiness::StoreReadiness;
use crate::queue::sqlite::SqliteStore;
use crate::simulator::{Simulator, SimulatorSettings};
use crate::tls::{LiveTls, LoadedTls};
use crate::validate::Drift;
use built::Built;
use reload::{Generation, Running, Shared};
use upkeep::{Queue, upkeep};

/// Everything `serve` needs, built and checked; `check-config` builds the same and stops.
pub struct App {
    pub config: Arc<Config>,
    built: Built,
    client: FlowClient,
    health: Health,
    metrics: Metrics,
    simulator: Option<(TcpListener, Simulator)>,
}

impl App {
    /// Resolves every secret and compiles every schema; the errors are the ones `check-config`
    /// reports, so `serve` refuses to start on exactly those.
    pub fn build(config: Config) -> Result<App, ConfigErrors> {
        // What only start-up reads; a reload checks the rest (`Built::new`).
        let mut start_only: Vec<ConfigError> = simulator_secret(&config)
            .into_iter()
            .filter_map(|secret| secret.and_then(|s| s.resolve(&config.source)).err())
            .collect();
        start_only.extend(store_url_error(&config));
        let metrics = Metrics::from_config(&config);
        let client = FlowClient::new(config.flow.connect_timeout);
        let built = Built::new(config, &metrics, &client, None);
        let built = match (built, start_only.is_empty()) {
            (Ok(built), true) => built,
            (Ok(_), false) => return Err(ConfigErrors(start_only)),
            (Err(mut errors), _) => {
                errors.0.splice(0..0, start_only);
                return Err(errors);
            }
        };
        Ok(App {
            config: built.config.clone(),
            built,
            client,
            health: Health::default(),
            metrics,
            simulator: None,
        })
    }

    /// The public listener's TLS, as loaded; `None` without `[server.tls]`.
    pub fn tls(&self) -> Option<&LoadedTls> {
        self.built.tls.as_ref()
    }

    /// The in-process Flow simulator of `[simulator]`, served on `listener` beside the gateway.
    pub fn with_simulator(mut self, listener: TcpListener) -> Result<App, ConfigErrors> {
        let settings = simulator_settings(&self.config)?;
        self.simulator = Some((listener, Simulator::new(settings)));
        Ok(self)
    }

    /// Serves both listeners, the workers and the upkeep until `shutdown` completes, then
    /// drains; `SIGHUP` reloads the configuration meanwhile. Tests pass listeners bound to port
    /// 0 and a shutdown future of their own.
    pub async fn run(
        self,
        public: TcpListener,
        admin: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let (store, buckets) = self.open_store().await?;
        let App {
            config,
            built,
            client,
            health,
            metrics,
            simulator,
        } = self;
        let readiness = Arc::new(StoreReadiness::new(
            store.clone(),
            SqliteStore::path_from_config(&config).as_deref(),
            config.store.min_free_disk.0,
        ));
        let backlog = Arc::new(Backlog::new(config.store.max_pending));
        let deliverer = Arc::new(Deliverer::new(client.clone(), store.clone()));
        let control = Arc::new(TenantControl::new(
            config.tenants.keys(),
            &config.delivery.circuit,
        ));
        let workers_config = Arc::new(ArcSwap::from_pointee(WorkerConfig {
            tenants: built.tenants.clone(),
            control: control.clone(),
            settings: built.workers.clone(),
        }));
        let workers = Workers::new(
            store.clone(),
            deliverer.clone(),
            workers_config.clone(),
            metrics.clone(),
        );
        let (close, closed) = watch::channel(false);
        let (cut, cut_requests) = watch::channel(false);
        let live_config = Arc::new(ArcSwap::new(config.clone()));
        let shared = Shared {
            store: store.clone(),
            deliverer,
            backlog: backlog.clone(),
            readiness: readiness.clone(),
            waker: workers.waker(),
            buckets,
            client: client.clone(),
            health: health.clone(),
            metrics: metrics.clone(),
            drift: Arc::new(Drift::default()),
            capacities: Capacities::new(&config),
            cut: cut_requests,
            // To the millisecond, as the admin API's other times.
            started_at: chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 3),
        };
        // Served for the configuration's life; a reload replaces the certificate.
        let tls = built.tls.clone().map(|tls| LiveTls::new(tls, &metrics));
        let generation = Generation { built, control };
        let running = Running::start(
            shared,
            generation,
            workers_config,
            live_config.clone(),
            tls.clone(),
        )
        .await;
        let grace = config.server.shutdown_grace;
        let (stop_workers, workers_stopped) = watch::channel(false);
        let delivering = tokio::spawn(workers.run(workers_stopped, grace));
        // The queue gauges, the back-pressure and the store's readiness describe the store
        // before the gateway is ready.
        let queue = Queue {
            store,
            backlog,
            readiness,
            metrics: metrics.clone(),
        };
        queue.count().await;
        queue.check_store();
        let upkeep = tokio::spawn(upkeep(queue, live_config.clone()));
        let reloads = reload::on_hangup(Arc::downgrade(&running));
        if let Some(simulator) = simulator {
            start_simulator(simulator, config.server.request_timeout);
        }
        let header_timeout = config.server.request_timeout;
        let accept = Accept {
            header_timeout,
            proxy_protocol: config.server.proxy_protocol,
            tls,
        };
        let public = server::serve(public, running.public.clone(), accept, closed.clone());
        let admin_routes = running.admin.clone();
        let admin = server::serve(admin, admin_routes, Accept::plain(header_timeout), closed);
        let mut servers = tokio::spawn(async move { tokio::try_join!(public, admin) });
        health.set_ready(true);
        tracing::info!("flowgate is ready");
        tokio::select! {
            () = shutdown => {}
            result = &mut servers => return joined(result),
        }
        reloads.abort();
        let senders = ShutdownSenders {
            close,
            cut,
            stop_workers,
        };
        let config = live_config.load_full();
        drain(&health, &config, &mut servers, senders).await?;
        let _ = tokio::time::timeout(config.server.shutdown_grace + CUT_WAIT, delivering).await;
        upkeep.abort();
        // Awaited so the store it holds is closed, and its file unlocked, when `run` returns.
        let _ = upkeep.await;
        drop(running);
        tracing::info!("flowgate stopped");
        Ok(())
    }

    /// Opens (creating and migrating) the store of `store.url`: PostgreSQL, shared with the
    /// other replicas, in `store.schema`, with the fleet's shared buckets; else the embedded
    /// SQLite file.
    async fn open_store(&self) -> io::Result<(Arc<dyn Store>, Option<Arc<dyn SharedBuckets>>)> {
        let config = &self.config;
        if let Some(options) = PgOptions::from_config(config) {
            let store = PgStore::open(&options)
                .await
                .map_err(|e| io::Error::other(format!("store.url: {e}")))?;
            tracing::info!(schema = %options.schema, "the PostgreSQL store is open");
            // Replicas pace each tenant together, so the fleet stays within its rate_limit.
            let buckets: Arc<dyn SharedBuckets> = Arc::new(store.clone());
            self.built.tenants.share_buckets(&buckets);
            return Ok((Arc::new(store), Some(buckets)));
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
        Ok((Arc::new(store), None))
    }
}

/// The in-process simulator, when attached. It outlives the drain (requests still in flight
/// may need it) and stops with the process.
fn start_simulator((listener, simulator): (TcpListener, Simulator), timeout: Duration) {
    let (close, closed) = watch::channel(false);
    let routes = Routes::new(simulator.router());
    let serving = server::serve(listener, routes, Accept::plain(timeout), closed);
    tokio::spawn(async move {
        let _close = close;
        if let Err(error) = serving.await {
            tracing::error!(%error, "the Flow simulator stopped");
        }
    });
}

/// Not ready at once; listeners closed and workers stopped claiming after the drain delay;
/// in-flight requests (and attempts) given the grace period, then answered 503 and dropped.
async fn drain(
    health: &Health,
    config: &Config,
    servers: &mut Servers,
    senders: ShutdownSenders,
) -> io::Result<()> {
    let server = &config.server;
    let ShutdownSenders {
        close,
        cut,
        stop_workers,
    } = senders;
    health.set_ready(false);
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
