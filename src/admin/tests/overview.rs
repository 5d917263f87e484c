//! The overview: what runs, the queue, the tenants' switches and the vendors' last hour.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use super::{End, admin};
use crate::metrics::Outcome;
use crate::queue::QueueDepth;

#[tokio::test]
async fn the_overview_counts_the_queue_and_the_last_hour() {
    let gw = admin();
    gw.delivery("photo", "acme", Uuid::new_v4(), 5, End::Dead)
        .await;
    gw.delivery("photo", "beta", Uuid::new_v4(), 10, End::Pending)
        .await;
    let photo = gw.metrics.vendor("photo");
    for outcome in [
        Outcome::Accepted,
        Outcome::Delivered,
        Outcome::SchemaInvalid,
    ] {
        photo.received(outcome, Duration::from_millis(1));
    }
    photo.received(Outcome::Duplicate, Duration::from_millis(1));
    gw.control.set_paused("beta", true);

    // Nothing counted the queue yet: the overview counts it itself.
    let reply = gw.call("GET", "/admin/overview").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = &reply.body;
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["config_hash"], gw.config_hash);
    let started_at =
        chrono::DateTime::parse_from_rfc3339(body["started_at"].as_str().expect("a time"));
    assert_eq!(started_at.expect("RFC 3339"), gw.started_at);
    assert_eq!(
        body["queue"],
        json!({"pending": 1, "in_flight": 0, "retrying": 0, "dead": 1})
    );
    let pending_age = body["oldest_age_seconds"]["pending"]
        .as_u64()
        .expect("seconds");
    assert!((600..=605).contains(&pending_age), "{body}");
    assert_eq!(body["oldest_age_seconds"]["retrying"], 0);
    assert_eq!(
        body["tenants"],
        json!([
            {"tenant": "acme", "paused": false, "circuit": "closed"},
            {"tenant": "beta", "paused": true, "circuit": "closed"},
        ])
    );
    assert_eq!(
        body["vendors"],
        json!([
            {"vendor": "photo", "accepted_1h": 2, "rejected_1h": 1},
            {"vendor": "video", "accepted_1h": 0, "rejected_1h": 0},
        ])
    );

    // Once the gauges counted, their count is the answer.
    let now = Utc::now();
    let counted = QueueDepth {
        pending: 7,
        retrying: 2,
        oldest_retrying: Some(now - chrono::Duration::seconds(30)),
        ..QueueDepth::default()
    };
    gw.metrics.set_queue(&counted, now);
    let reply = gw.call("GET", "/admin/overview").await;
    assert_eq!(
        reply.body["queue"],
        json!({"pending": 7, "in_flight": 0, "retrying": 2, "dead": 0})
    );
    let retrying_age = reply.body["oldest_age_seconds"]["retrying"].as_u64();
    assert!(matches!(retrying_age, Some(30..=35)), "{}", reply.body);
}
