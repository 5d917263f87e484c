//! The README's quick start, run as a newcomer would: the repository's own `config.toml`,
//! schemas and examples, the release-shaped binary serving the gateway with its in-process Flow
//! simulator, `flowgate send` of each example, and the order read back from the simulator.
//! Also `flowgate simulate` (the simulator alone) and `flowgate map`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

use crate::support::client::request;
use crate::support::flowgate_command;
use crate::support::{TIMEOUT, free_port, until_up, within};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The repository's demo setup in a temporary directory, its ports moved to free ones.
struct Demo {
    dir: tempfile::TempDir,
    public: String,
    admin: String,
    sim: String,
}

impl Demo {
    fn new() -> Demo {
        let dir = tempfile::tempdir().expect("tempdir");
        let (public, admin, sim) = (
            format!("127.0.0.1:{}", free_port()),
            format!("127.0.0.1:{}", free_port()),
            format!("127.0.0.1:{}", free_port()),
        );
        let config = std::fs::read_to_string(Path::new(REPO).join("config.toml"))
            .expect("the repository's config.toml")
            .replace("127.0.0.1:8080", &public)
            .replace("127.0.0.1:9090", &admin)
            .replace("127.0.0.1:8081", &sim);
        std::fs::write(dir.path().join("config.toml"), config).expect("write the config");
        copy_folder(REPO, "schemas/vendors", dir.path(), &[]);
        // The examples name the simulator's address as their Flow URL.
        copy_folder(REPO, "examples", dir.path(), &[("127.0.0.1:8081", &sim)]);
        Demo {
            dir,
            public,
            admin,
            sim,
        }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    fn example(&self, name: &str) -> PathBuf {
        self.dir.path().join("examples").join(name)
    }

    /// The binary with `--config` and `args`, without the caller's `FLOWGATE_*` variables.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = flowgate_command();
        command
            .arg("--config")
            .arg(self.config())
            .args(args)
            .current_dir(self.dir.path());
        command
    }

    async fn run(&self, args: &[&str]) -> (bool, String) {
        let output = within(TIMEOUT, "the flowgate binary", self.command(args).output())
            .await
            .expect("the binary runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        (output.status.success(), format!("{stdout}{stderr}"))
    }

    /// The order once the simulated Flow holds a state for it (queued delivery arrives shortly
    /// after the 202: a patch, then the updatestate).
    async fn sim_order(&self, guid: &str) -> Value {
        let url = format!("http://{}/sim/orders/{guid}", self.sim);
        within(TIMEOUT, "the order reaching the simulated Flow", async {
            loop {
                let reply = request("GET", &url, None).await;
                if reply.status == 200 && reply.json()["OrderStatuses"][0].is_object() {
                    return reply.json();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
    }
}

/// Copies the files of `folder` from `from` to `to`, with each `(old, new)` replaced.
fn copy_folder(from: &str, folder: &str, to: &Path, replace: &[(&str, &str)]) {
    let target = to.join(folder);
    std::fs::create_dir_all(&target).expect("create the folder");
    for entry in std::fs::read_dir(Path::new(from).join(folder)).expect("read the folder") {
        let path = entry.expect("an entry").path();
        if path.is_file() {
            let text = std::fs::read_to_string(&path).expect("a text file");
            let text = replace
                .iter()
                .fold(text, |text, (old, new)| text.replace(old, new));
            let name = path.file_name().expect("a file name");
            std::fs::write(target.join(name), text).expect("copy");
        }
    }
}

/// SIGTERM, then the exit status within the timeout.
async fn terminate(mut child: Child) -> std::process::ExitStatus {
    let pid = child.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    within(TIMEOUT, "the process exiting", child.wait())
        .await
        .expect("wait")
}

#[tokio::test]
async fn the_readme_quick_start_changes_an_order_in_the_simulated_flow() {
    let demo = Demo::new();
    let gateway = demo
        .command(&["serve"])
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    until_up(&format!("http://{}/readyz", demo.admin)).await;

    let file = demo.example("demo-update.json");
    let url = format!("http://{}", demo.public);
    let (ok, out) = demo
        .run(&[
            "send",
            "--vendor",
            "demo",
            "--url",
            &url,
            &file.to_string_lossy(),
        ])
        .await;
    assert!(
        ok && out.contains("202 Accepted") && out.contains("pending"),
        "{out}"
    );
    let order = demo.sim_order("9f0c8f0e-3c1b-4d59-a7b5-2b0b6c1d2e3f").await;
    assert_eq!(order["Title"], "Property photos, 20 images");
    assert_eq!(order["OrderStatuses"][0]["OrderStateType"], "InProcess");

    let file = demo.example("example-photo-delivered.json");
    let (ok, out) = demo
        .run(&[
            "send",
            "--vendor",
            "example-photo",
            "--url",
            &url,
            &file.to_string_lossy(),
        ])
        .await;
    assert!(ok && out.contains("202 Accepted"), "{out}");
    let order = demo.sim_order("2d6f1c3a-8b4e-4f0a-9c7d-5e1b2a3c4d5e").await;
    assert_eq!(order["ActionText"], "Open in Example Photo");
    assert_eq!(order["OrderStatuses"][0]["OrderStateType"], "Completed");

    assert!(terminate(gateway).await.success());
}

#[tokio::test]
async fn map_prints_the_update_and_the_calls_without_sending() {
    let demo = Demo::new();
    let file = demo.example("example-photo-delivered.json");
    let (ok, out) = demo
        .run(&["map", "--vendor", "example-photo", &file.to_string_lossy()])
        .await;
    assert!(ok, "{out}");
    let report: Value = serde_json::from_str(&out).expect("the report is JSON");
    assert_eq!(report["order_update"]["state"], "Completed");
    assert_eq!(report["order_update"]["tenant_id"], 14);
    let operations: Vec<&str> = report["flow_calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| c["operation"].as_str().expect("an operation"))
        .collect();
    assert_eq!(operations, ["patch", "updatestate"]);
    assert_eq!(report["flow_calls"][1]["body"]["State"], "Completed");

    let broken = demo.dir.path().join("broken.json");
    std::fs::write(&broken, r#"{"id": "x", "type": "order.lost", "data": {}}"#).expect("write");
    let (ok, out) = demo
        .run(&[
            "map",
            "--vendor",
            "example-photo",
            &broken.to_string_lossy(),
        ])
        .await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("schema-violation") && out.contains("/type"),
        "{out}"
    );
}

#[tokio::test]
async fn simulate_serves_flow_alone_until_sigterm() {
    let demo = Demo::new();
    let listen = format!("127.0.0.1:{}", free_port());
    let simulator = demo
        .command(&["simulate", "--listen", &listen])
        .stderr(Stdio::null())
        .spawn()
        .expect("simulate starts");
    until_up(&format!("http://{listen}/sim/calls")).await;
    let reply = request("POST", &format!("http://{listen}/flow/authtoken"), None).await;
    assert_eq!(reply.status, 400, "no credentials: {reply:?}");
    assert!(terminate(simulator).await.success());
}
