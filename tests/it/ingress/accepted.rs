//! Webhooks the public listener accepts under each verification scheme, delivered to Flow.

use super::{assert_accepted, gateway, pointers};
use crate::support::assert_problem;
use crate::support::fixtures::{
    BASIC_PASSWORD, BASIC_USER, BEARER_TOKEN, canonical, canonical_update, photo, photo_event,
};
use crate::support::sign::{self, as_svix};

#[tokio::test]
async fn a_canonical_webhook_signed_with_standard_webhooks_is_delivered() {
    let gw = gateway().await;
    let reply = gw.send_signed("canonical", canonical_update()).await;
    assert_accepted(&reply);
}

#[tokio::test]
async fn a_mapped_vendor_signed_with_the_github_preset_is_checked_against_its_own_schema() {
    let gw = gateway().await;
    let accepted = gw
        .webhook("photo", photo_event())
        .signed(&photo())
        .send()
        .await;
    assert_accepted(&accepted);

    // Another event (a new id: the same id with another body would be a dedup conflict).
    let unknown_type = photo_event()
        .replace("order.delivered", "order.lost")
        .replace("ph-1", "ph-2");
    let reply = gw
        .webhook("photo", unknown_type)
        .signed(&photo())
        .send()
        .await;
    let problem = assert_problem(&reply, 422, "schema-violation");
    assert_eq!(pointers(&problem), ["/type"]);
}

#[tokio::test]
async fn standard_webhooks_under_svix_header_names_are_accepted() {
    let gw = gateway().await;
    let body = canonical_update();
    let headers = as_svix(sign::sign(&canonical(), body.as_bytes()));
    assert!(
        headers
            .iter()
            .all(|(name, _)| name.as_str().starts_with("svix-"))
    );
    let reply = gw.webhook("canonical", body).headers(headers).send().await;
    assert_accepted(&reply);
}

#[tokio::test]
async fn bearer_and_basic_vendors_are_accepted_with_their_credentials() {
    let gw = gateway().await;
    let bearer = sign::bearer(BEARER_TOKEN);
    let reply = gw
        .webhook("bearer", canonical_update())
        .signed(&bearer)
        .send()
        .await;
    assert_accepted(&reply);
    let basic = sign::basic(BASIC_USER, BASIC_PASSWORD);
    let reply = gw
        .webhook("basic", canonical_update())
        .signed(&basic)
        .send()
        .await;
    assert_accepted(&reply);
}
