//! `flowgate simulate`: the Flow simulator alone, on `--listen` or `simulator.listen`, until
//! SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use crate::app::simulator_settings;
use crate::config::Config;
use crate::simulator::Simulator;

/// Slow clients get this long to send their request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn simulate(config: &Config, listen: Option<SocketAddr>) -> anyhow::Result<ExitCode> {
    let settings = simulator_settings(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let stop = super::shutdown_signal();
    let address = listen.unwrap_or(config.simulator.listen);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let bound = listener.local_addr()?;
    let version = env!("CARGO_PKG_VERSION");
    tracing::info!(version, listen = %bound, client_id = %settings.client_id, "flowgate simulator starting; Flow's API is under /flow");
    let (close, closed) = watch::channel(false);
    let router = Simulator::new(settings).router();
    let serving = tokio::spawn(crate::http::server::serve(
        listener,
        crate::http::server::Routes::new(router),
        crate::http::server::Accept::plain(HEADER_TIMEOUT),
        closed,
    ));
    stop.await;
    let _ = close.send(true);
    serving.await??;
    Ok(ExitCode::SUCCESS)
}
