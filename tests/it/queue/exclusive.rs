//! One process per SQLite database (DESIGN section 8): a second `serve` on a database another
//! process is running on exits at once, naming the database and the holder's PID, before its
//! start-up recovery could take the first one's delivery in flight.

use std::path::Path;
use std::process::Stdio;

use serde_json::json;
use tokio::process::{Child, Command};

use super::{accepted, queued_config};
use crate::support::admin::until_state_at;
use crate::support::flow::FlowSim;
use crate::support::queued::post_to;
use crate::support::{TIMEOUT, flowgate_command, free_port, until_up, within};

/// `serve` with its own ports on the database `store`, as `<name>.toml` in `dir`.
fn serve(dir: &Path, name: &str, sim: &FlowSim, store: &Path) -> (Command, String, String) {
    let (public, admin) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let config = format!(
        "[server]\nlisten = \"{public}\"\nadmin_listen = \"{admin}\"\n[log]\nlevel = \"warn\"\n\
         {}\n{}\n[store]\nurl = \"sqlite://{}\"\n",
        sim.tenant("sim", Some(14)),
        queued_config(),
        store.display()
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, config).expect("write the config");
    let mut command = flowgate_command();
    command.arg("--config").arg(&path).arg("serve");
    (command, public, admin)
}

#[tokio::test]
async fn a_second_serve_on_the_same_database_exits_and_leaves_the_first_ones_work_alone() {
    let sim = FlowSim::start().await;
    // Flow answers slowly: the first process's delivery stays in flight while the second starts.
    sim.fault(json!({"op": "updatestate", "latency_ms": 3000}))
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let database = dir.path().join("data").join("flowgate.db");
    let (mut first, public, admin) = serve(dir.path(), "first", &sim, &database);
    let first: Child = first
        .stderr(Stdio::null())
        .spawn()
        .expect("the first starts");
    until_up(&format!("http://{admin}/readyz")).await;
    let order = uuid::Uuid::new_v4().to_string();
    let id = accepted(&post_to(&public, &order, json!({"state": "Completed"})).await);
    until_state_at(&admin, &id, "in_flight").await;

    let (mut second, _, _) = serve(dir.path(), "second", &sim, &database);
    let second = second
        .stderr(Stdio::piped())
        .spawn()
        .expect("the second runs");
    let exit = within(
        TIMEOUT,
        "the second process exiting",
        second.wait_with_output(),
    )
    .await
    .expect("its output");
    let stderr = String::from_utf8_lossy(&exit.stderr);
    assert!(!exit.status.success(), "{stderr}");
    let holder = first.id().expect("the first is running");
    assert!(
        stderr.contains(&database.display().to_string())
            && stderr.contains(&format!("pid {holder}")),
        "the error names the database and the holder: {stderr}"
    );

    let record = until_state_at(&admin, &id, "delivered").await;
    assert_eq!(record["attempts"].as_array().map(Vec::len), Some(1));
    let calls = sim.calls_of("updatestate").await;
    assert_eq!(calls.len(), 1, "Flow got one updatestate: {calls:#?}");
    drop(first);
}
