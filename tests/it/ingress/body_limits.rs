//! Limits on the request: content type (415), body size (413), overload (503), timeout (408).

use std::time::{Duration, Instant};

use super::{SMALL_BODIES, assert_accepted, assert_cut_after_request_timeout, gateway};
use crate::support::fixtures::{self, canonical, canonical_update, canonical_update_of_length};
use crate::support::raw::RawConnection;
use crate::support::{assert_problem, eventually};

// === 415 ===

#[tokio::test]
async fn a_missing_or_non_json_content_type_is_415() {
    let gw = gateway().await;
    let missing = gw
        .webhook("canonical", canonical_update())
        .without("content-type")
        .signed(&canonical())
        .send()
        .await;
    assert_problem(&missing, 415, "unsupported-media-type");
    for content_type in [
        "text/plain",
        "text/json",
        "application/xml",
        "application/+json",
    ] {
        let reply = gw
            .webhook("canonical", canonical_update())
            .header("content-type", content_type)
            .signed(&canonical())
            .send()
            .await;
        assert_problem(&reply, 415, "unsupported-media-type");
    }
}

#[tokio::test]
async fn json_media_types_with_parameters_or_a_json_suffix_are_accepted() {
    let gw = gateway().await;
    for content_type in [
        "application/json; charset=utf-8",
        "application/cloudevents+json; charset=utf-8",
        "Application/JSON",
    ] {
        let reply = gw
            .webhook("canonical", canonical_update())
            .header("content-type", content_type)
            .signed(&canonical())
            .send()
            .await;
        assert_accepted(&reply);
    }
}

// === 413 ===

#[tokio::test]
async fn a_body_of_exactly_max_body_bytes_is_accepted() {
    let gw = fixtures::gateway(SMALL_BODIES, "").await;
    let body = canonical_update_of_length(512);
    let reply = gw.send_signed("canonical", body).await;
    assert_accepted(&reply);
}

#[tokio::test]
async fn a_content_length_above_max_body_bytes_is_413() {
    let gw = fixtures::gateway(SMALL_BODIES, "").await;
    let body = canonical_update_of_length(513);
    let reply = gw.send_signed("canonical", body).await;
    assert_problem(&reply, 413, "payload-too-large");
}

#[tokio::test]
async fn a_chunked_body_growing_past_max_body_bytes_is_413() {
    let gw = fixtures::gateway(SMALL_BODIES, "").await;
    let mut request = format!(
        "POST /webhooks/canonical HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        gw.public
    )
    .into_bytes();
    for _ in 0..4 {
        let chunk = "x".repeat(200);
        request.extend_from_slice(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes());
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let mut connection = RawConnection::open(gw.public).await;
    // The server may answer and close before it has read everything; the answer is what counts.
    let _ = connection.write(&request).await;
    assert_problem(&connection.reply().await, 413, "payload-too-large");
}

#[tokio::test]
async fn a_content_length_claiming_more_than_the_cap_is_413_without_waiting_for_the_body() {
    let gw = fixtures::gateway(SMALL_BODIES, "").await;
    let held = gw
        .webhook("canonical", vec![b' '; 1_000_000])
        .signed(&canonical())
        .hold(2)
        .await;
    // request_timeout is the default 10s: an answer inside 2s was not waiting for the body.
    let reply = held.reply_within(Duration::from_secs(2)).await;
    assert_problem(&reply, 413, "payload-too-large");
}

// === 503, 408 ===

#[tokio::test]
async fn a_request_beyond_max_in_flight_is_503_overloaded_with_retry_after() {
    let gw = fixtures::gateway("max_in_flight = 1", "").await;
    let held = gw
        .webhook("canonical", canonical_update())
        .signed(&canonical())
        .hold(10)
        .await;
    let send = async || gw.send_signed("canonical", canonical_update()).await;
    let reply = eventually("a second request is shed", send, |r| r.status == 503).await;
    assert_problem(&reply, 503, "overloaded");
    assert!(reply.retry_after() >= 1, "{reply:?}");

    assert_accepted(&held.finish().await);
    assert_accepted(&send().await);
}

#[tokio::test]
async fn a_body_that_does_not_fit_max_buffered_bytes_is_503_overloaded() {
    let server = "max_body_bytes = 1024\nmax_buffered_bytes = 1024";
    let gw = fixtures::gateway(server, "").await;
    let held = gw
        .webhook("canonical", canonical_update_of_length(1000))
        .signed(&canonical())
        .hold(700)
        .await;
    let send = async || {
        gw.send_signed("canonical", canonical_update_of_length(600))
            .await
    };
    let reply = eventually("a body beyond the budget is shed", send, |r| {
        r.status == 503
    })
    .await;
    assert_problem(&reply, 503, "overloaded");
    assert!(reply.retry_after() >= 1, "{reply:?}");

    assert_accepted(&held.finish().await);
    assert_accepted(&send().await);
}

#[tokio::test]
async fn a_body_that_never_completes_is_408_after_request_timeout() {
    let gw = fixtures::gateway(r#"request_timeout = "1s""#, "").await;
    let started = Instant::now();
    let held = gw
        .webhook("canonical", canonical_update())
        .signed(&canonical())
        .hold(10)
        .await;
    let reply = held.reply_within(Duration::from_secs(5)).await;
    assert_problem(&reply, 408, "request-timeout");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "answered too early"
    );
}

#[tokio::test]
async fn headers_that_never_complete_close_the_connection_after_request_timeout() {
    assert_cut_after_request_timeout(|gw| {
        format!(
            "POST /webhooks/canonical HTTP/1.1\r\nhost: {}\r\n",
            gw.public
        )
        .into_bytes()
    })
    .await;
}
