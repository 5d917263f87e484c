//! The first lines say what runs: `serve` and `simulate` log their version and where they listen
//! (`serve`'s line is checked with the JSON log in `logs.rs`).

use std::process::Stdio;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{TIMEOUT, flowgate_command, free_port, within};

#[tokio::test]
async fn simulate_logs_its_version_at_start_up() {
    let listen = format!("127.0.0.1:{}", free_port());
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml");
    let mut child = flowgate_command()
        .args([
            "--config",
            config,
            "--log-format",
            "json",
            "simulate",
            "--listen",
            &listen,
        ])
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("simulate starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let started = within(TIMEOUT, "the start-up line", async {
        loop {
            let line = lines
                .next_line()
                .await
                .expect("stderr")
                .expect("a line before exit");
            let line: Value = serde_json::from_str(&line).expect("a JSON line");
            if line["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("flowgate simulator starting"))
            {
                return line;
            }
        }
    })
    .await;
    assert_eq!(started["version"], env!("CARGO_PKG_VERSION"), "{started}");
    assert_eq!(started["listen"], listen.as_str(), "{started}");
    child.kill().await.expect("simulate stops");
}
