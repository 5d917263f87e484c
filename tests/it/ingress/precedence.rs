//! Which error wins: the first failing check answers, and nothing after it runs.

use super::{SMALL_BODIES, assert_accepted, gateway, limited_vendor};
use crate::support::assert_problem;
use crate::support::fixtures::{self, OTHER_SECRET, canonical_update, canonical_update_of_length};
use crate::support::sign;

#[tokio::test]
async fn an_unknown_vendor_is_404_whatever_its_content_type_or_signature() {
    let gw = gateway().await;
    let reply = gw
        .webhook("nobody", "not json")
        .header("content-type", "text/plain")
        .send()
        .await;
    assert_problem(&reply, 404, "unknown-vendor");
}

#[tokio::test]
async fn a_wrong_content_type_is_415_before_the_signature_is_checked() {
    let gw = gateway().await;
    let reply = gw
        .webhook("canonical", canonical_update())
        .header("content-type", "text/plain")
        .send()
        .await;
    assert_problem(&reply, 415, "unsupported-media-type");
}

#[tokio::test]
async fn a_too_large_body_is_413_before_its_signature_is_checked() {
    let gw = fixtures::gateway(SMALL_BODIES, "").await;
    let forged = sign::sign(&sign::standard_webhooks(OTHER_SECRET), b"other");
    let reply = gw
        .webhook("canonical", canonical_update_of_length(513))
        .headers(forged)
        .send()
        .await;
    assert_problem(&reply, 413, "payload-too-large");
}

#[tokio::test]
async fn a_bad_signature_is_401_even_when_the_body_is_not_json() {
    let gw = gateway().await;
    let reply = gw
        .webhook("canonical", "not json at all")
        .signed(&sign::standard_webhooks(OTHER_SECRET))
        .send()
        .await;
    assert_problem(&reply, 401, "signature-invalid");
}

#[tokio::test]
async fn failed_authentications_do_not_spend_the_vendor_rate_limit() {
    let once = limited_vendor("once", "{ per_second = 0.01, burst = 1 }");
    let gw = fixtures::gateway("", &once).await;
    for _ in 0..5 {
        let reply = gw
            .webhook("once", canonical_update())
            .signed(&sign::standard_webhooks(OTHER_SECRET))
            .send()
            .await;
        assert_problem(&reply, 401, "signature-invalid");
    }
    let signed = async || gw.send_signed("once", canonical_update()).await;
    assert_accepted(&signed().await);
    assert_problem(&signed().await, 429, "rate-limited");
}

#[tokio::test]
async fn a_rate_limited_webhook_is_429_before_its_body_is_parsed() {
    let once = limited_vendor("once", "{ per_second = 0.01, burst = 1 }");
    let gw = fixtures::gateway("", &once).await;
    let first = gw.send_signed("once", canonical_update()).await;
    assert_accepted(&first);
    let reply = gw.send_signed("once", "not json").await;
    assert_problem(&reply, 429, "rate-limited");
}
