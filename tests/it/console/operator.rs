//! An operator's work in the console, in headless Chromium: signing in (a wrong token is
//! refused), the overview's numbers, a dead delivery found and retried, a tenant paused and
//! resumed, a rejection replayed dry. After each, the token is in no URL and no cookie, and the
//! browser reached nothing but the admin listener.

use fantoccini::Locator;
use serde_json::{Value, json};

use super::browser::Browser;
use super::console_gateway;
use crate::support::Gateway;
use crate::support::admin::{ADMIN_TOKEN, admin, until_state};
use crate::support::fixtures::{self, ORDER_ID, PHOTO_SCHEMA, PHOTO_SCHEMA_PATH, photo};
use crate::support::queued::{accepted, post};

/// A delivery of a fresh order that Flow refused at once: dead.
async fn dead_delivery(gw: &Gateway) -> String {
    let refusal = json!({"op": "updatestate", "status": 400, "fail_next": 1});
    gw.sim().fault(refusal).await;
    let order = uuid::Uuid::new_v4().to_string();
    let id = accepted(&post(gw, &order, json!({"state": "Completed"})).await);
    until_state(gw, &id, "dead").await;
    id
}

/// A `photo` event of a type its schema and map do not know yet: refused, and kept.
fn shipped() -> String {
    format!(r#"{{"id":"ph-7","type":"order.shipped","data":{{"orderId":"{ORDER_ID}"}}}}"#)
}

/// Checks what every step must leave true.
async fn assert_kept_in(browser: &Browser) {
    browser.assert_token_kept_to_the_tab(ADMIN_TOKEN).await;
    browser.assert_only_the_admin_origin_was_reached().await;
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_the_right_one_shows_the_overview() {
    let gw = console_gateway().await;
    dead_delivery(&gw).await;
    let refused = gw.webhook("photo", shipped()).signed(&photo()).send().await;
    assert_eq!(refused.status, 422, "{refused:?}");
    let Some(browser) = Browser::start(&gw).await else {
        return;
    };
    browser.open("#/overview").await;
    browser.sign_in("not-the-token").await;
    browser.text_of("#sign-in-message", "refused (401").await;
    assert_kept_in(&browser).await;

    browser.sign_in(ADMIN_TOKEN).await;
    browser.text_of(".view h1", "Overview").await;
    let overview = overview_with_one_dead(&gw).await;
    for state in ["pending", "in_flight", "retrying", "dead"] {
        let shown = format!("[data-queue={state}] .stat-value");
        let number = overview["queue"][state].to_string();
        assert_eq!(browser.text_of(&shown, &number).await, number, "{state}");
    }
    browser.text_of("#overview", "Drift of queued").await;
    assert_kept_in(&browser).await;
    browser.screenshot("overview").await;

    // Each vendor links to its drift.
    let link = browser.element(Locator::LinkText("Drift of photo")).await;
    link.click().await.expect("a click");
    browser.until_shown("#/vendors/photo/drift").await;
    browser.text_of(".view h1", "Drift of photo").await;
    assert_kept_in(&browser).await;

    browser.click_button("Sign out").await;
    browser.text_of("#sign-in-message", "Signed out").await;
    let kept = browser.run("return sessionStorage.length;").await;
    assert_eq!(kept, json!(0), "signing out forgets the token");
    browser.close().await;
}

/// `GET /admin/overview` once its queue counts (which the gauges refresh every second) show the
/// dead delivery.
async fn overview_with_one_dead(gw: &Gateway) -> Value {
    let deadline = tokio::time::Instant::now() + crate::support::TIMEOUT;
    loop {
        let (status, overview) = admin(gw, "GET", "/admin/overview").await;
        assert_eq!(status, 200, "{overview}");
        if overview["queue"]["dead"] == 1 {
            return overview;
        }
        assert!(tokio::time::Instant::now() < deadline, "{overview}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_gateway_without_an_admin_token_says_its_admin_api_is_closed() {
    let gw = fixtures::gateway("", "").await;
    let Some(browser) = Browser::start(&gw).await else {
        return;
    };
    browser.open("").await;
    browser.sign_in("anything").await;
    browser
        .text_of("#sign-in-message", "admin API is closed")
        .await;
    browser.assert_token_kept_to_the_tab("anything").await;
    browser.close().await;
}

#[tokio::test]
async fn a_dead_delivery_found_in_the_list_is_retried_and_delivered() {
    let gw = console_gateway().await;
    let id = dead_delivery(&gw).await;
    gw.sim().clear_faults().await;
    let Some(browser) = Browser::start(&gw).await else {
        return;
    };
    browser.open("#/deliveries").await;
    browser.sign_in(ADMIN_TOKEN).await;
    browser.text_of(".view h1", "Deliveries").await;
    let state = browser.element(Locator::Css("select[name=state]")).await;
    state
        .select_by_value("dead")
        .await
        .expect("state=dead chosen");
    browser.click_button("Filter").await;
    browser.until_shown("#/deliveries?state=dead").await;
    let url = browser.client.current_url().await.expect("the URL");
    assert!(url.as_str().ends_with("#/deliveries?state=dead"), "{url}");
    let rows = browser.client.find_all(Locator::Css("tbody tr")).await;
    assert_eq!(
        rows.map(|r| r.len()).unwrap_or_default(),
        1,
        "only the dead one"
    );
    let link = format!("a[href='#/deliveries/{id}']");
    browser
        .element(Locator::Css(&link))
        .await
        .click()
        .await
        .expect("a click");
    browser.text_of(".view h1", &id).await;
    browser.text_of("main", "400").await;
    assert_kept_in(&browser).await;

    browser.click_button("Retry").await;
    browser.text_of("#flash", "Retried").await;
    until_state(&gw, &id, "delivered").await;
    browser.client.refresh().await.expect("a reload");
    browser.text_of(".fields", "delivered").await;
    browser.screenshot("delivery").await;
    assert_kept_in(&browser).await;
    browser.close().await;
}

#[tokio::test]
async fn a_tenant_is_paused_and_resumed_with_its_buttons() {
    let gw = console_gateway().await;
    let Some(browser) = Browser::start(&gw).await else {
        return;
    };
    browser.open("#/tenants").await;
    browser.sign_in(ADMIN_TOKEN).await;
    browser.text_of(".view h1", "Tenants").await;
    browser.click_button("Pause").await;
    browser.text_of("#flash", "Paused sim").await;
    browser.text_of("tbody", "paused").await;
    let order = uuid::Uuid::new_v4().to_string();
    let held = accepted(&post(&gw, &order, json!({"state": "InProcess"})).await);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let record = crate::support::admin::delivery(&gw, &held).await;
    assert_eq!(
        record["state"], "pending",
        "paused: nothing starts {record}"
    );
    assert_eq!(tenant(&gw).await["paused"], true);

    browser.click_button("Resume").await;
    browser.text_of("#flash", "Resumed sim").await;
    until_state(&gw, &held, "delivered").await;
    assert_eq!(tenant(&gw).await["paused"], false);
    assert_kept_in(&browser).await;
    browser.close().await;
}

/// `sim` as `GET /admin/tenants` lists it.
async fn tenant(gw: &Gateway) -> Value {
    let (status, answer) = admin(gw, "GET", "/admin/tenants").await;
    assert_eq!(status, 200, "{answer}");
    let tenants = answer["tenants"].as_array().expect("tenants");
    tenants
        .iter()
        .find(|t| t["tenant"] == "sim")
        .expect("sim")
        .clone()
}

/// Teaches the photo vendor's schema and map the type `order.shipped`, and reloads.
async fn teach_shipped(gw: &Gateway) {
    let schema = PHOTO_SCHEMA.replace(
        r#""order.delivered"]"#,
        r#""order.delivered", "order.shipped"]"#,
    );
    gw.write_file(PHOTO_SCHEMA_PATH, &schema);
    let config = std::fs::read_to_string(gw.config_path()).expect("the config");
    let known = r#""order.delivered" = "Completed""#;
    let taught = config.replace(known, &format!(r#"{known}, "order.shipped" = "InProcess""#));
    assert_ne!(
        taught, config,
        "the map's values are where this test expects them"
    );
    gw.write_file("config.toml", &taught);
    let (status, answer) = admin(gw, "POST", "/admin/reload").await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn a_rejection_is_shown_with_its_body_and_replayed_dry_after_the_fix() {
    let gw = console_gateway().await;
    let refused = gw.webhook("photo", shipped()).signed(&photo()).send().await;
    assert_eq!(refused.status, 422, "{refused:?}");
    teach_shipped(&gw).await;
    let Some(browser) = Browser::start(&gw).await else {
        return;
    };
    browser.open("#/rejections?vendor=photo").await;
    browser.sign_in(ADMIN_TOKEN).await;
    browser.text_of("table", "schema-violation").await;
    let link = browser
        .element(Locator::Css("td a[href^='#/rejections/']"))
        .await;
    link.click().await.expect("a click");
    browser.text_of(".view h1", "Rejection").await;
    let url = browser.client.current_url().await.expect("the URL");
    assert!(
        url.fragment()
            .is_some_and(|f| f.starts_with("/rejections/")),
        "{url}"
    );
    browser.text_of("details.body", "order.shipped").await;

    browser.click_button("Replay").await;
    let before = browser.text_of("[data-replay=before]", "rejected").await;
    assert!(before.contains("schema-violation"), "{before}");
    let after = browser.text_of("[data-replay=after]", "accepted").await;
    assert!(
        after.contains("updatestate"),
        "the Flow call it would make: {after}"
    );
    browser
        .text_of("#replay-result", "The outcome changed")
        .await;
    assert!(
        gw.sim().calls_of("updatestate").await.is_empty(),
        "a dry run calls nothing"
    );
    browser
        .element(Locator::XPath("//button[normalize-space()='Apply replay']"))
        .await;
    browser.screenshot("replay").await;
    assert_kept_in(&browser).await;
    browser.close().await;
}
