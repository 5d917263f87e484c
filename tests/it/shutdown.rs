//! Draining on shutdown (DESIGN section 8): readiness turns 503 at once while webhooks are still
//! served, listeners close after `server.drain_delay`, in-flight requests get
//! `server.shutdown_grace` and no longer, and `run` returns `Ok(())`.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::client::{get, head};
use crate::support::fixtures::{self, canonical, canonical_update};
use crate::support::raw::{RawConnection, accepts_connections};
use crate::support::{TIMEOUT, assert_problem, eventually, within};

#[tokio::test]
async fn during_the_drain_delay_readiness_is_503_while_webhooks_are_still_served() {
    let server = "drain_delay = \"1s\"\nshutdown_grace = \"5s\"";
    let mut gw = fixtures::gateway(server, "").await;
    let in_flight = gw
        .webhook("canonical", canonical_update())
        .signed(&canonical())
        .hold(10)
        .await;

    let shutdown = Instant::now();
    gw.begin_shutdown();
    let readyz = async || get(&gw.admin_url("/readyz")).await;
    let not_ready = eventually("readiness turns 503", readyz, |r| r.status == 503).await;
    assert_eq!(
        not_ready.json(),
        json!({"ready": false, "checks": {"gateway": "shutting down"}})
    );
    assert_eq!(get(&gw.url("/ping")).await.status, 503);
    assert_eq!(head(&gw.url("/ping")).await.status, 503);
    let new_webhook = gw.send_signed("canonical", canonical_update()).await;
    assert_eq!(new_webhook.status, 200, "{new_webhook:?}");
    assert!(
        shutdown.elapsed() < Duration::from_secs(1),
        "the checks above must fall inside the drain delay to mean anything"
    );

    let closed = async || !accepts_connections(gw.public).await;
    within(TIMEOUT, "the public listener closing", async {
        while !closed().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        shutdown.elapsed() >= Duration::from_millis(900),
        "listeners closed before the drain delay: {:?}",
        shutdown.elapsed()
    );

    let finished = in_flight.finish().await;
    assert_eq!(finished.status, 200, "{finished:?}");
    gw.stopped(TIMEOUT).await.expect("run returns Ok(())");
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_after_the_drain_delay() {
    let server = "drain_delay = \"200ms\"\nshutdown_grace = \"30s\"";
    let mut gw = fixtures::gateway(server, "").await;
    let mut idle = RawConnection::open(gw.public).await;
    let ping = format!("GET /ping HTTP/1.1\r\nhost: {}\r\n\r\n", gw.public);
    idle.write(ping.as_bytes()).await.expect("send a ping");
    let pong = idle.next_reply_within(TIMEOUT).await;
    assert_eq!(pong.status, 200);

    let shutdown = Instant::now();
    gw.begin_shutdown();
    idle.assert_closed_within(Duration::from_secs(5)).await;
    // Well inside the 30 s grace: an idle connection is not waited for.
    gw.stopped(Duration::from_secs(5))
        .await
        .expect("run returns Ok(())");
    assert!(shutdown.elapsed() >= Duration::from_millis(180));
}

#[tokio::test]
async fn a_request_still_in_flight_after_shutdown_grace_is_cut_with_503_and_does_not_keep_the_gateway_running()
 {
    let server = "max_in_flight = 1\nrequest_timeout = \"60s\"\nshutdown_grace = \"1s\"";
    let mut gw = fixtures::gateway(server, "").await;
    let stuck = gw
        .webhook("canonical", canonical_update())
        .signed(&canonical())
        .hold(10)
        .await;
    // The only in-flight slot being taken proves the stuck request reached the gateway.
    let probe = async || get(&gw.url("/ping")).await;
    let shed = eventually("the stuck request is in flight", probe, |r| r.status == 503).await;
    assert_problem(&shed, 503, "overloaded");

    let shutdown = Instant::now();
    gw.begin_shutdown();
    gw.stopped(Duration::from_secs(4))
        .await
        .expect("run returns Ok(()) after cutting the request");
    let took = shutdown.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "grace not given: {took:?}"
    );
    let cut = stuck.reply_within(Duration::from_secs(2)).await;
    assert_problem(&cut, 503, "unavailable");
}
