//! Prometheus's own checker accepts the exposition, after traffic has filled counters and
//! histograms.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::json;

use super::Scrape;
use crate::flow::post_canonical;
use crate::queue::{accepted, post, queued_config};
use crate::support::client::get;
use crate::support::eventually;
use crate::support::fixtures;

/// Set (to anything but empty or `0`) where a missing promtool must fail the tests: in CI.
const REQUIRE_PROMTOOL: &str = "FLOWGATE_REQUIRE_PROMTOOL";

#[tokio::test]
async fn the_exposition_passes_promtool_check_metrics() {
    let gw = fixtures::gateway("", &queued_config()).await;
    accepted(
        &post(
            &gw,
            &uuid::Uuid::new_v4().to_string(),
            json!({"state": "InProcess"}),
        )
        .await,
    );
    let order = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        post_canonical(&gw, "canonical", &order, json!({"state": "Completed"}))
            .await
            .status,
        200
    );
    assert_eq!(gw.webhook("canonical", "{}").send().await.status, 401);
    assert_eq!(gw.webhook("nobody", "{}").send().await.status, 404);
    // Wait for the queued one, so lag and delivery histograms hold samples too.
    eventually(
        "the queued delivery",
        async || get(&gw.admin_url("/metrics")).await,
        |reply| {
            String::from_utf8_lossy(&reply.body)
                .contains("flowgate_delivery_lag_seconds_count{vendor=\"queued\"} 1")
        },
    )
    .await;
    let exposition = Scrape::of(&gw).await.0;

    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let required = std::env::var(REQUIRE_PROMTOOL).is_ok_and(|v| !v.is_empty() && v != "0");
            assert!(
                !required,
                "promtool is not on PATH and {REQUIRE_PROMTOOL} is set"
            );
            eprintln!(
                "skipped `promtool check metrics`: promtool is not on PATH (Debian's `prometheus` package has it)"
            );
            return;
        }
        Err(e) => panic!("cannot run promtool: {e}"),
    };
    child
        .stdin
        .take()
        .expect("promtool's stdin")
        .write_all(exposition.as_bytes())
        .expect("write the exposition to promtool");
    let output = child.wait_with_output().expect("promtool finishes");
    assert!(
        output.status.success(),
        "promtool check metrics ({}):\n{}{}\n--- exposition ---\n{exposition}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
