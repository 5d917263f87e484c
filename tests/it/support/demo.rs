//! The repository's demo setup (`config.toml`, `schemas/vendors`, `examples`) copied into a
//! temporary directory with its ports moved to free ones, and the binary run in it as a newcomer
//! would run it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

use super::client::request;
use super::{TIMEOUT, flowgate_command, free_port, within};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The repository's demo setup in a temporary directory, its ports moved to free ones.
pub struct Demo {
    pub dir: tempfile::TempDir,
    pub public: String,
    pub admin: String,
    pub sim: String,
}

impl Demo {
    pub fn new() -> Demo {
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

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    pub fn example(&self, name: &str) -> PathBuf {
        self.dir.path().join("examples").join(name)
    }

    /// The binary with `--config` and `args`, without the caller's `FLOWGATE_*` variables.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = flowgate_command();
        command
            .arg("--config")
            .arg(self.config())
            .args(args)
            .current_dir(self.dir.path());
        command
    }

    pub async fn run(&self, args: &[&str]) -> (bool, String) {
        let output = within(TIMEOUT, "the flowgate binary", self.command(args).output())
            .await
            .expect("the binary runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        (output.status.success(), format!("{stdout}{stderr}"))
    }

    /// The order once the simulated Flow holds a state for it (queued delivery arrives shortly
    /// after the 202: a patch, then the updatestate).
    pub async fn sim_order(&self, guid: &str) -> Value {
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
pub async fn terminate(mut child: Child) -> std::process::ExitStatus {
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
