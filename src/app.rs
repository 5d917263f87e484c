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
use crate::ingress::{self, Vendors};
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
    health: Health,
}

impl App {
    /// Resolves every secret and compiles every schema; the errors are the ones `check-config`
    /// reports, so `serve` refuses to start on exactly those.
    pub fn build(config: Config) -> Result<App, ConfigErrors> {
        let secret_errors: Vec<ConfigError> = server_secrets(&config)
            .into_iter()
            .filter_map(|secret| secret.and_then(|s| s.resolve(&config.source)).err())
            .collect();
        let vendors = match Vendors::build(&config) {
            Ok(vendors) if secret_errors.is_empty() => vendors,
            Ok(_) => return Err(ConfigErrors(secret_errors)),
            Err(ConfigErrors(mut errors)) => {
                errors.extend(secret_errors);
                return Err(ConfigErrors(errors));
            }
        };
        Ok(App {
            config: Arc::new(config),
            vendors: Arc::new(vendors),
            health: Health::default(),
        })
    }

    /// Serves both listeners until `shutdown` completes, then drains. Tests pass listeners bound
    /// to port 0 and a shutdown future of their own.
    pub async fn run(
        self,
        public: TcpListener,
        admin: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let (close, closed) = watch::channel(false);
        let (cut, cut_requests) = watch::channel(false);
        let ingress = ingress::router(
            &self.config,
            self.vendors.clone(),
            self.health.clone(),
            cut_requests,
        );
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

/// The secrets `serve` needs besides the vendors': each tenant's, and the simulator's.
fn server_secrets(config: &Config) -> Vec<Result<SecretRef, ConfigError>> {
    let tenants = config.tenants.iter().map(|(name, tenant)| {
        tenant
            .auth
            .secret(&config.source, &format!("tenants.{name}.auth"))
    });
    let simulator = config.simulator_secret().transpose();
    tenants
        .chain(simulator.filter(|_| config.simulator.enabled))
        .collect()
}
