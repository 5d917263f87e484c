//! `x-request-id`: safe ids are echoed, unsafe or missing ones replaced, and every answer carries one.

use super::{assert_accepted, gateway};
use crate::support::assert_problem;
use crate::support::client::{get, head};
use crate::support::fixtures::{canonical, canonical_update};

#[tokio::test]
async fn a_safe_request_id_is_echoed_in_the_header_and_the_problem_body() {
    let gw = gateway().await;
    let id = "abc-123_X.y";
    let problem = gw
        .webhook("nobody", canonical_update())
        .header("x-request-id", id)
        .send()
        .await;
    assert_eq!(problem.request_id(), id);
    assert_eq!(
        assert_problem(&problem, 404, "unknown-vendor")["request_id"],
        id
    );

    let accepted = gw
        .webhook("canonical", canonical_update())
        .header("x-request-id", id)
        .signed(&canonical())
        .send()
        .await;
    assert_accepted(&accepted);
    assert_eq!(accepted.request_id(), id);
}

#[tokio::test]
async fn an_unsafe_request_id_is_replaced_by_a_fresh_one() {
    let gw = gateway().await;
    let too_long = "x".repeat(200);
    for unsafe_id in ["has space", "semi;colon", "slash/ed", too_long.as_str()] {
        let reply = gw
            .webhook("nobody", canonical_update())
            .header("x-request-id", unsafe_id)
            .send()
            .await;
        assert_ne!(reply.request_id(), unsafe_id);
        assert_problem(&reply, 404, "unknown-vendor");
    }
}

#[tokio::test]
async fn a_missing_request_id_is_generated_fresh_for_each_request() {
    let gw = gateway().await;
    let first = gw.webhook("nobody", canonical_update()).send().await;
    let second = gw.webhook("nobody", canonical_update()).send().await;
    assert_ne!(first.request_id(), second.request_id());
}

#[tokio::test]
async fn every_kind_of_answer_carries_a_request_id() {
    let gw = gateway().await;
    let answers = [
        gw.send_signed("canonical", canonical_update()).await,
        gw.webhook("canonical", canonical_update()).send().await,
        get(&gw.url("/ping")).await,
        head(&gw.url("/ping")).await,
        get(&gw.url("/nope")).await,
        get(&gw.admin_url("/healthz")).await,
        get(&gw.admin_url("/readyz")).await,
        get(&gw.admin_url("/nope")).await,
    ];
    for reply in &answers {
        // `send` already checked the id's shape; here it is the point of the test.
        assert!(!reply.request_id().is_empty(), "{reply:?}");
    }
}
