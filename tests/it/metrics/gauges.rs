//! Gauges of state the operator and the OS hold: `flowgate_tenant_paused` follows the admin
//! API's pause and resume, and the standard `process_*` series describe the running process.

use super::Scrape;
use crate::queue::{queued_config, queued_gateway};
use crate::support::admin::admin;
use crate::support::fixtures;

#[tokio::test]
async fn pausing_a_tenant_flips_its_gauge() {
    let gw = queued_gateway().await;
    let paused = |scrape: &Scrape| scrape.value("flowgate_tenant_paused", &[("tenant", "sim")]);
    assert_eq!(
        paused(&Scrape::of(&gw).await),
        0.0,
        "exported from start-up"
    );

    let (status, _) = admin(&gw, "POST", "/admin/tenants/sim/pause").await;
    assert_eq!(status, 200);
    assert_eq!(paused(&Scrape::of(&gw).await), 1.0);
    let (status, _) = admin(&gw, "POST", "/admin/tenants/sim/resume").await;
    assert_eq!(status, 200);
    assert_eq!(paused(&Scrape::of(&gw).await), 0.0);
}

#[tokio::test]
async fn the_process_series_describe_the_running_process() {
    let gw = fixtures::gateway("", &queued_config()).await;
    let scrape = Scrape::of(&gw).await;
    for (name, kind) in [
        ("process_cpu_seconds_total", "counter"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_open_fds", "gauge"),
        ("process_start_time_seconds", "gauge"),
    ] {
        let type_line = format!("# TYPE {name} {kind}\n");
        assert!(scrape.0.contains(&type_line), "{type_line}in\n{}", scrape.0);
    }
    let value = |name: &str| scrape.value(name, &[]);
    assert!(value("process_cpu_seconds_total") >= 0.0);
    // The test process holds at least its listeners and the database open.
    assert!(value("process_open_fds") >= 3.0);
    assert!(value("process_max_fds") >= value("process_open_fds"));
    assert!(value("process_resident_memory_bytes") > 1_000_000.0);
    assert!(value("process_virtual_memory_bytes") >= value("process_resident_memory_bytes"));
    assert!(value("process_threads") >= 1.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    let started = value("process_start_time_seconds");
    assert!(
        started > now - 86_400.0 && started <= now + 1.0,
        "{started} vs {now}"
    );
}
