//! `GET /launch/{vendor}` (DESIGN section 7): Core's order button. The token is verified, the
//! order bound, and the broker redirected with the query passed on; failures are HTML pages.

use serde_json::json;

use super::post_canonical;
use crate::support::Reply;
use crate::support::client::get;
use crate::support::fixtures::{self, CANONICAL_SECRET};

const LAUNCH_URL: &str = "https://photo.example/order?src=core";

fn launcher() -> String {
    format!(
        "[vendors.launcher]\nverify = {{ scheme = \"standard-webhooks\", secrets = [\"{CANONICAL_SECRET}\"] }}\nlaunch_url = \"{LAUNCH_URL}\"\nflow_token = \"required\"\ndelivery = \"sync\"\nlaunch_params = {{ order_id = \"StreamOrderId\", flow_url = \"flowUrl\", tenant_id = \"tenantId\", token = \"token\", case_id = \"caseId\" }}\n"
    )
}

fn assert_private(reply: &Reply) {
    assert_eq!(reply.header("cache-control"), Some("no-store"), "{reply:?}");
    assert_eq!(
        reply.header("referrer-policy"),
        Some("no-referrer"),
        "{reply:?}"
    );
}

fn assert_page(reply: &Reply, status: u16) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_private(reply);
    assert!(
        reply
            .header("content-type")
            .unwrap_or_default()
            .starts_with("text/html"),
        "{reply:?}"
    );
    let page = String::from_utf8_lossy(&reply.body);
    assert!(page.contains("<h1>"), "{page}");
}

#[tokio::test]
async fn a_launch_verifies_binds_and_redirects_with_the_query() {
    let gw = fixtures::gateway("", &launcher()).await;
    let (order, token) = gw.sim().create_order(10351).await;
    let query = format!(
        "StreamOrderId={order}&flowUrl={}&tenantId=14&token={token}&caseId=10351",
        gw.sim().base_url()
    );
    let reply = get(&gw.url(&format!("/launch/launcher?{query}"))).await;
    assert_eq!(reply.status, 302, "{reply:?}");
    assert_private(&reply);
    let location = reply.header("location").expect("Location");
    let expected = format!(
        "https://photo.example/order?src=core&{}",
        form_urlencoded::parse(query.as_bytes())
            .fold(
                form_urlencoded::Serializer::new(String::new()),
                |mut s, (k, v)| {
                    s.append_pair(&k, &v);
                    s
                }
            )
            .finish()
    );
    assert_eq!(location, expected);
    assert_eq!(gw.sim().calls_of("verify_token").await.len(), 1);

    // The binding lets the vendor report later without a token or routing data.
    let reply = post_canonical(&gw, "launcher", &order, json!({"state": "InProcess"})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let flow_order = gw
        .sim()
        .order(&order)
        .await
        .expect("delivered to the bound tenant");
    assert_eq!(
        flow_order["OrderStatuses"].as_array().map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn launch_failures_are_short_pages_with_the_right_status() {
    let gw = fixtures::gateway("", &launcher()).await;
    let (order, token) = gw.sim().create_order(1).await;
    let base = gw.sim().base_url();
    let launch = |query: String| {
        let url = gw.url(&format!("/launch/launcher?{query}"));
        async move { get(&url).await }
    };
    assert_page(&launch(format!("flowUrl={base}&token={token}")).await, 400);
    assert_page(
        &launch(format!("StreamOrderId=nope&flowUrl={base}&token={token}")).await,
        400,
    );
    assert_page(
        &launch(format!("StreamOrderId={order}&flowUrl={base}")).await,
        400,
    );
    assert_page(
        &launch(format!("StreamOrderId={order}&flowUrl={base}&token=forged")).await,
        401,
    );
    assert_page(
        &launch(format!(
            "StreamOrderId={order}&flowUrl=http://elsewhere.example/flow&token={token}"
        ))
        .await,
        403,
    );
    let other = uuid::Uuid::new_v4();
    assert_page(
        &launch(format!(
            "StreamOrderId={other}&flowUrl={base}&token={token}"
        ))
        .await,
        403,
    );
    // A token not verified before (a verified one is answered from the cache).
    let (fresh_order, fresh_token) = gw.sim().create_order(2).await;
    gw.sim()
        .fault(json!({"op": "verify_token", "fail_next": 1, "status": 503}))
        .await;
    assert_page(
        &launch(format!(
            "StreamOrderId={fresh_order}&flowUrl={base}&token={fresh_token}"
        ))
        .await,
        503,
    );
    assert_page(&get(&gw.url("/launch/canonical?x=1")).await, 404);
    assert_page(&get(&gw.url("/launch/nobody")).await, 404);
}
