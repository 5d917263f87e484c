//! The release-shaped binary stops cleanly on SIGTERM and SIGINT: exit 0, after saying so.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_flowgate");

fn stops_cleanly_on(signal: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{}\"\nadmin_listen = \"127.0.0.1:{}\"\n",
        free_port(),
        free_port()
    );
    std::fs::write(dir.path().join("config.toml"), config).expect("write config");
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .arg("serve")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let ready = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.contains("flowgate is ready"));
    assert!(ready, "the gateway must report ready");
    let status = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "did not stop within 10s of SIG{signal}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(exit.success(), "exit {exit:?} after SIG{signal}: {rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("flowgate stopped")),
        "{rest:?}"
    );
}

#[test]
fn sigterm_stops_the_gateway_with_exit_0() {
    stops_cleanly_on("TERM");
}

#[test]
fn sigint_stops_the_gateway_with_exit_0() {
    stops_cleanly_on("INT");
}
