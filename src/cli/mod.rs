//! The command-line verbs. Each loads only what it uses: `send` resolves one vendor's secret,
//! `map` compiles one vendor's schema and routes by the tenants' URLs and ids, `healthcheck` needs
//! only the admin address, `replay --candidate` loads a second configuration without its secrets.

mod admin_api;
mod deliveries;
mod dry_run;
mod map;
mod openapi;
mod orders;
mod rejections;
mod reload;
mod replay;
mod simulate;
mod tenants;

pub use deliveries::{DeliveriesAction, DeliveriesArgs, deliveries};
pub use map::map;
pub use openapi::openapi;
pub use orders::{OrdersAction, OrdersArgs, orders};
pub use rejections::{RejectionsAction, RejectionsArgs, rejections};
pub use reload::{ReloadArgs, reload};
pub use replay::{ReplayArgs, ReplaySource, replay};
pub use simulate::simulate;
pub use tenants::{TenantsAction, TenantsArgs, tenants};

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use http::{Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::app::App;
use crate::config::{Config, ConfigErrors, LogFormat};
use crate::verify::signature::Verifier;

#[derive(Debug, Parser)]
#[command(
    name = "flowgate",
    version,
    about = "A webhook gateway between marketing vendors and Core's Flow API"
)]
pub struct Cli {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        env = "FLOWGATE_CONFIG",
        default_value = "config.toml"
    )]
    pub config: PathBuf,
    /// Log format; overrides `log.format`.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway until SIGTERM or SIGINT.
    Serve,
    /// Load and check everything `serve` would, print a redacted summary.
    CheckConfig,
    /// Sign FILE as VENDOR with its configured secret and post it; exit 0 only on 2xx.
    Send {
        #[arg(long)]
        vendor: String,
        /// Base URL of the gateway; default http://{server.listen}.
        #[arg(long)]
        url: Option<String>,
        file: PathBuf,
    },
    /// Exit 0 when the admin listener's /readyz answers 200 (for container health checks).
    Healthcheck,
    /// Run the Flow simulator alone (`[simulator]` settings; it need not be enabled).
    Simulate {
        /// Address to listen on; default `simulator.listen`.
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Run FILE through the gateway's stages as VENDOR, without sending: print the OrderUpdate,
    /// its tenant and the Flow calls (exit 0), or the problem the gateway would answer (exit 1).
    /// Exit 2 when it cannot run.
    Map {
        #[arg(long)]
        vendor: String,
        file: PathBuf,
    },
    /// Inspect and steer deliveries through the admin API (needs the admin token).
    Deliveries(DeliveriesArgs),
    /// List tenants, pause and resume them, close their circuits (needs the admin token).
    Tenants(TenantsArgs),
    /// Show what the gateway knows of an order (needs the admin token).
    Orders(OrdersArgs),
    /// List and show the webhooks that authenticated but were refused (needs the admin token).
    Rejections(RejectionsArgs),
    /// Run kept webhooks again through the running configuration (a dry run unless --apply),
    /// or through a candidate configuration that is not running (needs the admin token).
    Replay(ReplayArgs),
    /// Ask the running gateway to load its configuration again (needs the admin token); exit
    /// 0 only when the new configuration runs.
    Reload(ReloadArgs),
    /// Print the OpenAPI 3.1 document of the configuration (no secret is read); with
    /// `--vendor`, only what that vendor needs, to hand over to it.
    Openapi {
        #[arg(long)]
        vendor: Option<String>,
    },
}

impl Command {
    /// The exit code when the verb cannot run: 1, but 2 for `map`, whose 1 says the gateway
    /// would refuse FILE.
    pub fn could_not_run(&self) -> ExitCode {
        match self {
            Command::Map { .. } => ExitCode::from(map::COULD_NOT_RUN),
            _ => ExitCode::FAILURE,
        }
    }
}

/// `serve`: build, bind, run until a signal.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let stop = shutdown_signal();
    let mut app = App::build(config).map_err(config_refused)?;
    warn_about_inline_secrets(&app.config);
    if app.config.simulator.enabled {
        let address = app.config.simulator.listen;
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("simulator.listen: cannot listen on {address}"))?;
        app = app.with_simulator(listener).map_err(config_refused)?;
        tracing::info!(listen = %address, "Flow simulator listening (in process)");
    }
    let server = &app.config.server;
    let public = tokio::net::TcpListener::bind(server.listen)
        .await
        .with_context(|| format!("server.listen: cannot listen on {}", server.listen))?;
    let admin = tokio::net::TcpListener::bind(server.admin_listen)
        .await
        .with_context(|| {
            format!(
                "server.admin_listen: cannot listen on {}",
                server.admin_listen
            )
        })?;
    let version = env!("CARGO_PKG_VERSION");
    tracing::info!(version, listen = %server.listen, admin_listen = %server.admin_listen, "flowgate starting");
    app.run(public, admin, stop).await?;
    Ok(())
}

/// Completes on SIGTERM or SIGINT. The handlers are installed when this is called, not when the
/// future is first polled, so a signal sent as soon as the gateway reports ready is not missed.
pub(crate) fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                },
                _ => drop(tokio::signal::ctrl_c().await),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        drop(tokio::signal::ctrl_c().await);
    }
}

fn warn_about_inline_secrets(config: &Config) {
    for key in crate::config::summary::inline_secrets(config) {
        tracing::warn!(key = %key, "inline secret: for local demos only, use {key}_env or {key}_file");
    }
}

/// `check-config`: the summary on stdout and exit 0, or every error on stderr and exit 1.
pub fn check_config(path: &Path) -> ExitCode {
    let built = Config::load(path).and_then(App::build);
    match built {
        Ok(app) => {
            let certificate = app.tls().map(crate::tls::LoadedTls::describe);
            let summary = crate::config::summary::render(&app.config, certificate.as_deref());
            print!("{summary}");
            ExitCode::SUCCESS
        }
        Err(errors) => {
            print_config_errors(&errors);
            eprintln!(
                "{} error(s); the configuration is not usable",
                errors.0.len()
            );
            ExitCode::FAILURE
        }
    }
}

/// One `error:` line on stderr per problem, each naming its key and where its value came from.
pub fn print_config_errors(errors: &ConfigErrors) {
    for error in &errors.0 {
        eprintln!("error: {error}");
    }
}

/// Prints every error as [`print_config_errors`] does; the error returned ends the run.
fn config_refused(errors: ConfigErrors) -> anyhow::Error {
    print_config_errors(&errors);
    anyhow::anyhow!(
        "{} error(s); the configuration is not usable",
        errors.0.len()
    )
}

/// `send`: sign FILE as the vendor would and post it.
pub async fn send(
    config: &Config,
    vendor: &str,
    url: Option<&str>,
    file: &Path,
) -> anyhow::Result<ExitCode> {
    let Some(settings) = config.vendors.get(vendor) else {
        bail!("no vendor `{vendor}` in {}", config.source.file.display());
    };
    let key = format!("vendors.{vendor}.verify");
    let verifier = Verifier::from_config(&settings.verify, &config.source, &key)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let event_id = format!("msg_{}", uuid::Uuid::now_v7().simple());
    let base = url.map_or_else(
        || format!("http://{}", dialable(config.server.listen)),
        str::to_owned,
    );
    let target = format!("{}/webhooks/{vendor}", base.trim_end_matches('/'));
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(&target)
        .header(header::CONTENT_TYPE, "application/json");
    for (name, value) in verifier.sign(&body, &event_id, SystemTime::now()) {
        request = request.header(name, value);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .with_context(|| format!("bad URL {target}"))?;
    let (status, answer) = fetch(request, Duration::from_secs(30)).await?;
    print(&format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default()
    ));
    match serde_json::from_slice::<serde_json::Value>(&answer) {
        Ok(json) => print(&serde_json::to_string_pretty(&json).unwrap_or_default()),
        Err(_) => print(&String::from_utf8_lossy(&answer)),
    }
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `healthcheck`: GET /readyz on the admin listener.
pub async fn healthcheck(config: &Config) -> anyhow::Result<ExitCode> {
    let address = dialable(config.server.admin_listen);
    let request = Request::get(format!("http://{address}/readyz")).body(Full::new(Bytes::new()))?;
    let (status, body) = fetch(request, Duration::from_secs(5)).await?;
    print(&format!("readyz: {status}"));
    // A container's health log then says why it is not ready, as /readyz names each check.
    let checks = serde_json::from_slice::<serde_json::Value>(&body).ok();
    if let Some(checks) = checks.as_ref().and_then(|b| b["checks"].as_object()) {
        for (check, why) in checks {
            print(&format!("{check}: {}", why.as_str().unwrap_or_default()));
        }
    }
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One line on stdout; a closed pipe (`| head`) is not an error worth a panic.
fn print(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// A listen address as a client dials it: `0.0.0.0` / `::` mean this machine.
fn dialable(mut address: SocketAddr) -> SocketAddr {
    if address.ip().is_unspecified() {
        let loopback: IpAddr = if address.is_ipv4() {
            Ipv4Addr::LOCALHOST.into()
        } else {
            Ipv6Addr::LOCALHOST.into()
        };
        address.set_ip(loopback);
    }
    address
}

async fn fetch(
    request: Request<Full<Bytes>>,
    timeout: Duration,
) -> anyhow::Result<(http::StatusCode, Bytes)> {
    let uri = request.uri().clone();
    let exchange = async {
        let builder = Client::builder(TokioExecutor::new());
        // Root certificates are loaded only for https, so plain-http verbs (healthcheck) work in
        // an image without a CA bundle.
        let response = if uri.scheme_str() == Some("https") {
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_native_roots()
                .context("cannot load the system's root certificates")?
                .https_only()
                .enable_http1()
                .build();
            builder.build(https).request(request).await?
        } else {
            builder.build_http().request(request).await?
        };
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        anyhow::Ok((status, body))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .with_context(|| format!("{uri} did not answer within {timeout:?}"))?
        .with_context(|| format!("cannot reach {uri}"))
}
