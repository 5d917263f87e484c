//! Dedup (DESIGN section 8): a vendor's retry of a webhook answers as the original and causes
//! no second Flow call; the same event id with another body is 409.

use serde_json::json;

use super::{accepted, queued_gateway};
use crate::flow::canonical_body;
use crate::support::admin::until_state;
use crate::support::assert_problem;
use crate::support::fixtures::canonical;
use crate::support::sign::sign_at;

#[tokio::test]
async fn a_repeated_webhook_id_answers_as_the_original_and_calls_flow_once() {
    let gw = queued_gateway().await;
    let order = uuid::Uuid::new_v4().to_string();
    let body = canonical_body(&order, json!({"state": "Completed"}));
    let headers = sign_at(
        &canonical(),
        body.as_bytes(),
        "msg_repeat_1",
        std::time::SystemTime::now(),
    );
    let first = gw
        .webhook("queued", body.clone())
        .headers(headers.clone())
        .send()
        .await;
    let id = accepted(&first);

    let again = gw
        .webhook("queued", body.clone())
        .headers(headers.clone())
        .send()
        .await;
    assert_eq!(again.status, 200, "{again:?}");
    let answer = again.json();
    assert_eq!(answer["id"], id.as_str());
    assert_eq!(answer["duplicate"], true);

    until_state(&gw, &id, "delivered").await;
    let later = gw.webhook("queued", body).headers(headers).send().await;
    assert_eq!(later.json()["state"], "delivered");
    assert_eq!(gw.sim().calls_of("updatestate").await.len(), 1);
}

#[tokio::test]
async fn the_same_event_id_with_another_body_is_a_conflict() {
    let gw = queued_gateway().await;
    let order = uuid::Uuid::new_v4().to_string();
    let now = std::time::SystemTime::now();
    let body = canonical_body(&order, json!({"id": "evt-7", "state": "Completed"}));
    accepted(
        &gw.webhook("queued", body.clone())
            .headers(sign_at(&canonical(), body.as_bytes(), "m1", now))
            .send()
            .await,
    );
    // No header id this time: the envelope's `id` is the event id.
    let other = canonical_body(&order, json!({"id": "evt-7", "state": "Cancelled"}));
    let reply = gw
        .webhook("queued", other.clone())
        .signed(&canonical())
        .send()
        .await;
    assert_eq!(reply.status, 202, "a different event: {reply:?}");
    let reply = gw
        .webhook("queued", other.clone())
        .headers(sign_at(&canonical(), other.as_bytes(), "m1", now))
        .send()
        .await;
    assert_problem(&reply, 409, "duplicate-conflict");
}
