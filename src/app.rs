//! Wires the configuration into running listeners, and drains them on shutdown: readiness turns
//! 503 at once, listeners close after `server.drain_delay`, in-flight requests get
//! `server.shutdown_grace`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinError, JoinHandle};

use crate::config::{Config, ConfigError, ConfigErrors, SecretRef};
use crate::deliver::Deliverer;
use crate::flow::FlowClient;
use crate::ingress::{self, FlowPath, Vendors};
use crate::order::MemoryOrderBook;
use crate::route::Tenants;
use crate::simulator::{Simulator, SimulatorSettings};
use crate::verify::flow_token::FlowTokens;
use crate::{admin, server};

/// Whether the gateway takes traffic: false while starting and from the first shutdown signal.
#[derive(Clone, Default)]
pub struct Health {
    ready: Arc<AtomicBool>,
}

impl Health {
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
}

/// Everything `serve` needs, built and checked; `check-config` builds the same and stops.
pub struct App {
    pub config: Arc<Config>,
    vendors: Arc<Vendors>,
    flow: FlowPath,
    health: Health,
    simulator: Option<(TcpListener, Simulator)>,
}

impl App {
    /// Resolves every secret and compiles every schema; the errors are the ones `check-config`
    /// reports, so `serve` refuses to start on exactly those.
    pub fn build(config: Config) -> Result<App, ConfigErrors> {
        let mut errors: Vec<ConfigError> = simulator_secret(&config)
            .into_iter()
            .filter_map(|secret| secret.and_then(|s| s.resolve(&config.source)).err())
            .collect();
        let vendors = Vendors::build(&config).map_err(|e| errors.extend(e.0));
        let tenants = Tenants::build(&config).map_err(|e| errors.extend(e.0));
        let (Ok(vendors), Ok(tenants)) = (vendors, tenants) else {
            return Err(ConfigErrors(errors));
        };
        ConfigErrors(errors).into_result()?;
        let client = FlowClient::new(config.flow.connect_timeout);
        let flow = FlowPath {
            tenants: Arc::new(tenants),
            tokens: Arc::new(FlowTokens::new(
                client.clone(),
                config.flow.token_cache_ttl,
                config.flow.negative_cache_ttl,
            )),
            deliverer: Arc::new(Deliverer::new(client, Arc::new(MemoryOrderBook::default()))),
        };
        Ok(App {
            config: Arc::new(config),
            vendors: Arc::new(vendors),
            flow,
            health: Health::default(),
            simulator: None,
        })
    }

    /// The in-process Flow simulator of `[simulator]`, served on `listener` beside the gateway.
    pub fn with_simulator(mut self, listener: TcpListener) -> Result<App, ConfigErrors> {
        let settings = simulator_settings(&self.config)?;
        self.simulator = Some((listener, Simulator::new(settings)));
        Ok(self)
    }

    /// Serves both listeners until `shutdown` completes, then drains. Tests pass listeners bound
    /// to port 0 and a shutdown future of their own.
    pub async fn run(
        mut self,
        public: TcpListener,
        admin: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let (close, closed) = watch::channel(false);
        let (cut, cut_requests) = watch::channel(false);
        let ingress = ingress::router(
            &self.config,
            self.vendors.clone(),
            self.flow.clone(),
            self.health.clone(),
            cut_requests,
        );
        // The simulator outlives the drain: requests still in flight may need it.
        let (_simulator_close, simulator_closed) = watch::channel(false);
        if let Some((listener, simulator)) = self.simulator.take() {
            let timeout = self.config.server.request_timeout;
            let serving = server::serve(listener, simulator.router(), timeout, simulator_closed);
            tokio::spawn(async move {
                if let Err(error) = serving.await {
                    tracing::error!(%error, "the Flow simulator stopped");
                }
            });
        }
        let header_timeout = self.config.server.request_timeout;
        let public = server::serve(public, ingress, header_timeout, closed.clone());
        let admin = server::serve(
            admin,
            admin::router(self.health.clone()),
            header_timeout,
            closed,
        );
        let mut servers = tokio::spawn(async move { tokio::try_join!(public, admin) });
        self.health.set_ready(true);
        tracing::info!("flowgate is ready");
        tokio::select! {
            () = shutdown => {}
            result = &mut servers => return joined(result),
        }
        self.drain(&mut servers, close, cut).await?;
        tracing::info!("flowgate stopped");
        Ok(())
    }

    /// Not ready at once; listeners closed after the drain delay; in-flight requests given the
    /// grace period, then answered 503 and dropped.
    async fn drain(
        &self,
        servers: &mut Servers,
        close: watch::Sender<bool>,
        cut: watch::Sender<bool>,
    ) -> std::io::Result<()> {
        let server = &self.config.server;
        self.health.set_ready(false);
        tracing::info!(drain_delay = ?server.drain_delay, "shutting down: no longer ready");
        tokio::time::sleep(server.drain_delay).await;
        let _ = close.send(true);
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

/// How long cut requests get to send their 503 before their connections are dropped.
const CUT_WAIT: Duration = Duration::from_secs(1);

type Servers = JoinHandle<std::io::Result<((), ())>>;

fn joined(result: Result<std::io::Result<((), ())>, JoinError>) -> std::io::Result<()> {
    result.map_err(std::io::Error::other)?.map(drop)
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
