//! The real gateway on loopback port 0, and what tests need to talk to it: an HTTP client
//! (`client`), raw TCP for requests a client would not send (`raw`), and vendor signing (`sign`).
//! The `store` test target compiles it too, for its replicas on PostgreSQL.

pub mod admin;
pub mod client;
pub mod demo;
pub mod fixtures;
pub mod flow;
pub mod queued;
pub mod raw;
pub mod sign;
pub mod tls;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use flowgate::app::App;
use flowgate::config::Config;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use client::{Reply, assert_problem};

/// The longest any single exchange with the gateway may take before a test fails instead of
/// hanging.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `future`, failing the test if it takes longer than `limit`.
pub async fn within<F: Future>(limit: Duration, what: &str, future: F) -> F::Output {
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {limit:?}"))
}

/// A gateway serving its public and admin listeners on loopback, from a config file in its own
/// temporary directory. Dropping it stops the server task.
pub struct Gateway {
    pub public: SocketAddr,
    pub admin: SocketAddr,
    /// Kept so the directory lives as long as the gateway.
    dir: TempDir,
    config_path: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    run: Option<JoinHandle<io::Result<()>>>,
    sim: Option<flow::FlowSim>,
}

impl Gateway {
    /// Writes `toml` as `config.toml` into a fresh directory and serves it.
    pub async fn start(toml: &str) -> Gateway {
        Self::start_with_files(toml, &[]).await
    }

    /// Like [`Gateway::start`], first writing `files` (paths relative to the config's directory,
    /// e.g. schemas) next to the config.
    pub async fn start_with_files(toml: &str, files: &[(&str, &str)]) -> Gateway {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for (name, contents) in files {
            write_file(dir.path(), name, contents);
        }
        let config_path = write_file(dir.path(), "config.toml", toml);
        Self::serve(dir, config_path, "/readyz").await
    }

    /// Like [`Gateway::start_with_files`], for a gateway whose store is not accepting from the
    /// start: waits for `/healthz`, which answers once the store is open.
    pub async fn start_unready(toml: &str, files: &[(&str, &str)]) -> Gateway {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for (name, contents) in files {
            write_file(dir.path(), name, contents);
        }
        let config_path = write_file(dir.path(), "config.toml", toml);
        Self::serve(dir, config_path, "/healthz").await
    }

    /// Serves the config at `config_path`, once `up` answers 200 on the admin listener.
    async fn serve(dir: TempDir, config_path: PathBuf, up: &str) -> Gateway {
        // No process environment: tests must not depend on the variables of whoever runs them.
        let config = Config::load_with_env(&config_path, Vec::new())
            .unwrap_or_else(|errors| panic!("the test config does not load: {errors}"));
        let app = App::build(config)
            .unwrap_or_else(|errors| panic!("the test config does not build: {errors}"));
        let public = TcpListener::bind("127.0.0.1:0").await.expect("bind public");
        let admin = TcpListener::bind("127.0.0.1:0").await.expect("bind admin");
        let (public_addr, admin_addr) = (
            public.local_addr().expect("public address"),
            admin.local_addr().expect("admin address"),
        );
        let (shutdown, signal) = oneshot::channel::<()>();
        let run = tokio::spawn(app.run(public, admin, async {
            let _ = signal.await;
        }));
        // Either means the store is open: a test may look at it at once.
        until_up(&format!("http://{admin_addr}{up}")).await;
        Gateway {
            public: public_addr,
            admin: admin_addr,
            dir,
            config_path,
            shutdown: Some(shutdown),
            run: Some(run),
            sim: None,
        }
    }

    /// Keeps `sim` (the Flow this gateway's tenants point at) alive as long as the gateway.
    pub fn with_sim(mut self, sim: flow::FlowSim) -> Gateway {
        self.sim = Some(sim);
        self
    }

    /// The simulated Flow the gateway delivers to.
    pub fn sim(&self) -> &flow::FlowSim {
        self.sim
            .as_ref()
            .expect("this gateway was started with a simulated Flow")
    }

    /// `http://<public>{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.public)
    }

    /// `http://<admin>{path}`.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Writes another file next to the config (a payload, a second config for a client);
    /// relative paths in it resolve like the config's.
    pub fn write_file(&self, name: &str, contents: &str) -> PathBuf {
        write_file(self.dir.path(), name, contents)
    }

    /// Completes the shutdown future `run` was given, as SIGTERM would.
    pub fn begin_shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }

    /// Waits for `run` to return, failing the test if it takes longer than `limit`.
    pub async fn stopped(mut self, limit: Duration) -> io::Result<()> {
        let run = self.run.take().expect("the gateway is running");
        within(limit, "the gateway's run future", run)
            .await
            .expect("the run task does not panic")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(run) = self.run.take() {
            run.abort();
        }
    }
}

fn write_file(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create the file's directory");
    }
    std::fs::write(&path, contents).expect("write a test file");
    path
}

/// Repeats `attempt` until `done` holds for its reply, for conditions a test cannot observe
/// directly (e.g. that a held request has reached the server). Fails after [`TIMEOUT`].
pub async fn eventually(
    what: &str,
    mut attempt: impl AsyncFnMut() -> Reply,
    done: impl Fn(&Reply) -> bool,
) -> Reply {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let reply = attempt().await;
        if done(&reply) {
            return reply;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: never happened; last reply {reply:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A loopback port that was free a moment ago (for child processes, which bind their own).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Waits until `url` answers 200 (a child process starting up), failing after [`TIMEOUT`].
pub async fn until_up(url: &str) {
    let uri: http::Uri = url.parse().expect("a URL");
    within(TIMEOUT, &format!("{url} answering 200"), async {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Empty<bytes::Bytes>>();
        loop {
            if let Ok(response) = client.get(uri.clone()).await
                && response.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

/// Names a release build of flowgate for the tests that must run the binary users run (the
/// crash test); `.ci/run` builds one and sets it.
pub const RELEASE_BINARY_VAR: &str = "FLOWGATE_TEST_RELEASE_BINARY";

/// The flowgate binary as a child process: no stdin, killed with the test, and without the
/// caller's `FLOWGATE_*` variables (tests must not depend on whoever runs them).
pub fn flowgate_command() -> tokio::process::Command {
    command_for(env!("CARGO_BIN_EXE_flowgate"))
}

/// As [`flowgate_command`], on the release binary [`RELEASE_BINARY_VAR`] names; without it, on
/// the test build, saying so.
pub fn release_flowgate_command() -> tokio::process::Command {
    match std::env::var_os(RELEASE_BINARY_VAR) {
        Some(binary) => command_for(binary),
        None => {
            eprintln!(
                "{RELEASE_BINARY_VAR} is not set: running the test build of flowgate \
                 instead of a release build (.ci/run sets it)"
            );
            flowgate_command()
        }
    }
}

fn command_for(binary: impl AsRef<std::ffi::OsStr>) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(binary);
    command
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("FLOWGATE_")) {
        command.env_remove(name);
    }
    command
}
