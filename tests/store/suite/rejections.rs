//! Rejections: kept with their exact body, listed newest first with filters and paging, read
//! and deleted one by one, purged by retention, trimmed to the newest `max`, and kept in the
//! same group commits as the webhooks around them.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use uuid::Uuid;

use flowgate::queue::{Enqueued, Rejection, RejectionFilter, Retention, Store};

use super::{Backend, VENDOR, days, delivery, secs, t0};

const DAY: Duration = Duration::from_secs(24 * 3600);

/// A schema violation of `vendor`'s, received at `received_at`.
pub fn rejection(vendor: &str, received_at: DateTime<Utc>) -> Rejection {
    let id = Rejection::new_id(received_at);
    Rejection {
        id,
        vendor: vendor.to_owned(),
        received_at,
        status: 422,
        code: "schema-violation".to_owned(),
        detail: "The payload does not match its schema".to_owned(),
        errors: json!([{"pointer": "/status", "message": "\"shipped\" is not one of the values"}]),
        event_id: Some(format!("evt-{id}")),
        request_id: format!("req-{id}"),
        content_type: Some("application/json".to_owned()),
        body: Bytes::from(format!("{{\"status\":\"shipped\",\"id\":\"{id}\"}}")),
        delivery_id: None,
    }
}

/// Refused before the event id was known: no errors, no event id, no content type.
fn bare(vendor: &str, received_at: DateTime<Utc>, code: &str) -> Rejection {
    Rejection {
        status: 400,
        code: code.to_owned(),
        detail: "The body is not acceptable JSON".to_owned(),
        errors: serde_json::Value::Null,
        event_id: None,
        content_type: None,
        ..rejection(vendor, received_at)
    }
}

async fn keep(store: &dyn Store, rejection: Rejection) -> Uuid {
    let id = rejection.id;
    store.keep_rejection(rejection).await.expect("keep");
    id
}

/// The ids `filter` lists on one page, checking that the listing leaves bodies out.
async fn listed(store: &dyn Store, filter: RejectionFilter) -> Vec<Uuid> {
    let filter = RejectionFilter {
        limit: 500,
        ..filter
    };
    let page = store.rejections(&filter).await.expect("list");
    assert_eq!(page.next_cursor, None);
    page.rejections
        .iter()
        .map(|r| {
            assert!(r.body.is_empty(), "{} is listed without its body", r.id);
            r.id
        })
        .collect()
}

async fn all(store: &dyn Store) -> Vec<Uuid> {
    listed(store, RejectionFilter::default()).await
}

fn retention(rejections: Duration) -> Retention {
    Retention {
        delivered: 7 * DAY,
        dead: Duration::ZERO,
        dedup_window: DAY,
        orders: 90 * DAY,
        rejections,
        bodies: DAY,
    }
}

pub async fn kept_as_received_with_its_exact_bytes(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let mut refused = rejection(VENDOR, t);
    // Not UTF-8: the body is bytes, kept as they came.
    refused.body = Bytes::from_static(b"{\"name\":\"caf\xe9\"}\x00\xff\xfe");
    refused.content_type = Some("application/json; charset=latin1".to_owned());
    refused.delivery_id = Some(Uuid::new_v4());
    let plain = bare(VENDOR, t - secs(1), "invalid-json");
    for kept in [refused.clone(), plain.clone()] {
        keep(&*store, kept).await;
    }
    let read = |id| {
        let store = Arc::clone(&store);
        async move { store.rejection(id).await.expect("get").expect("kept") }
    };
    assert_eq!(read(refused.id).await, refused);
    assert_eq!(read(plain.id).await, plain);
    assert_eq!(store.rejection(Uuid::now_v7()).await.expect("get"), None);

    let page = store
        .rejections(&RejectionFilter {
            limit: 10,
            ..RejectionFilter::default()
        })
        .await
        .expect("list");
    let without_body = Rejection {
        body: Bytes::new(),
        ..refused.clone()
    };
    assert_eq!(
        page.rejections,
        vec![
            without_body,
            Rejection {
                body: Bytes::new(),
                ..plain
            }
        ]
    );
    let twin = store.keep_rejection(refused).await;
    assert!(twin.is_err(), "an id is kept once");
}

pub async fn listed_newest_first_by_vendor_code_and_time(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let old = keep(&*store, rejection(VENDOR, t - days(3))).await;
    let video = keep(&*store, rejection("video", t - secs(20))).await;
    let broken = keep(&*store, bare(VENDOR, t - secs(10), "invalid-json")).await;
    let newest = keep(&*store, rejection(VENDOR, t)).await;

    assert_eq!(all(&*store).await, vec![newest, broken, video, old]);
    let by_vendor = RejectionFilter {
        vendor: Some(VENDOR.to_owned()),
        ..RejectionFilter::default()
    };
    assert_eq!(
        listed(&*store, by_vendor.clone()).await,
        vec![newest, broken, old]
    );
    let by_code = RejectionFilter {
        code: Some("schema-violation".to_owned()),
        ..RejectionFilter::default()
    };
    assert_eq!(
        listed(&*store, by_code.clone()).await,
        vec![newest, video, old]
    );
    let since = RejectionFilter {
        since: Some(t - days(1)),
        ..RejectionFilter::default()
    };
    assert_eq!(
        listed(&*store, since.clone()).await,
        vec![newest, broken, video]
    );
    // `since` takes what was received at that very millisecond.
    let at_the_millisecond = RejectionFilter {
        since: Some(t - secs(10)),
        ..RejectionFilter::default()
    };
    assert_eq!(
        listed(&*store, at_the_millisecond).await,
        vec![newest, broken]
    );
    let every_filter = RejectionFilter {
        vendor: Some(VENDOR.to_owned()),
        code: Some("schema-violation".to_owned()),
        since: Some(t - days(1)),
        ..RejectionFilter::default()
    };
    assert_eq!(listed(&*store, every_filter).await, vec![newest]);
    let nothing = RejectionFilter {
        vendor: Some("video".to_owned()),
        code: Some("invalid-json".to_owned()),
        ..RejectionFilter::default()
    };
    assert!(listed(&*store, nothing).await.is_empty());
}

pub async fn listed_in_pages_with_a_cursor(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let mut kept = Vec::new();
    for n in 0..7 {
        kept.push(keep(&*store, rejection(VENDOR, t - secs(n))).await);
    }
    // Another vendor's between them: a filtered listing pages over its own.
    for n in 0..3 {
        let between = t - secs(n) - TimeDelta::milliseconds(500);
        keep(&*store, rejection("video", between)).await;
    }
    let mut filter = RejectionFilter {
        vendor: Some(VENDOR.to_owned()),
        limit: 3,
        ..RejectionFilter::default()
    };
    let mut pages = Vec::new();
    loop {
        let page = store.rejections(&filter).await.expect("list");
        pages.push(page.rejections.iter().map(|r| r.id).collect::<Vec<_>>());
        match page.next_cursor {
            Some(cursor) => filter.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(
        pages,
        vec![kept[0..3].to_vec(), kept[3..6].to_vec(), kept[6..].to_vec()]
    );
    let exact = RejectionFilter {
        limit: 10,
        ..RejectionFilter::default()
    };
    let page = store.rejections(&exact).await.expect("list");
    assert_eq!(
        (page.rejections.len(), page.next_cursor),
        (10, None),
        "a page that holds the rest says no more follow"
    );
    let tampered = RejectionFilter {
        cursor: Some("not-a-cursor".to_owned()),
        limit: 3,
        ..RejectionFilter::default()
    };
    let page = store.rejections(&tampered).await.expect("list");
    assert!(page.rejections.is_empty() && page.next_cursor.is_none());
}

/// A replay reads oldest first with bodies, between `since` and `until` or by id, in pages,
/// and a replayed rejection records the delivery it became.
pub async fn read_for_replay_oldest_first_with_bodies(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let mut kept = Vec::new();
    for n in (0..5).rev() {
        kept.push(keep(&*store, rejection(VENDOR, t - secs(n))).await);
    }
    keep(
        &*store,
        rejection("video", t - secs(2) - TimeDelta::milliseconds(500)),
    )
    .await;
    let mut filter = RejectionFilter {
        vendor: Some(VENDOR.to_owned()),
        limit: 2,
        ..RejectionFilter::default()
    };
    let mut pages = Vec::new();
    loop {
        let page = store
            .rejections_to_replay(&filter)
            .await
            .expect("replay page");
        for kept in &page.rejections {
            let whole = store.rejection(kept.id).await.expect("get").expect("kept");
            assert_eq!(kept.body, whole.body, "a replay reads the body");
        }
        pages.push(page.rejections.iter().map(|r| r.id).collect::<Vec<_>>());
        match page.next_cursor {
            Some(cursor) => filter.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(
        pages,
        vec![kept[0..2].to_vec(), kept[2..4].to_vec(), kept[4..].to_vec()]
    );
    let between = RejectionFilter {
        since: Some(t - secs(3)),
        until: Some(t - secs(1)),
        limit: 1000,
        ..RejectionFilter::default()
    };
    let ids = |page: flowgate::queue::RejectionPage| -> Vec<Uuid> {
        page.rejections.iter().map(|r| r.id).collect()
    };
    let page = store.rejections_to_replay(&between).await.expect("between");
    assert_eq!(page.rejections.len(), 3, "two of the vendor's and video's");
    assert_eq!(page.rejections[0].id, kept[1]);
    let chosen = RejectionFilter {
        ids: vec![kept[3], kept[0]],
        limit: 1000,
        ..RejectionFilter::default()
    };
    let page = store.rejections_to_replay(&chosen).await.expect("by id");
    assert_eq!(ids(page), vec![kept[0], kept[3]]);
    let delivery = Uuid::now_v7();
    store
        .record_replay(kept[2], delivery)
        .await
        .expect("record");
    let replayed = store.rejection(kept[2]).await.expect("get").expect("kept");
    assert_eq!(replayed.delivery_id, Some(delivery));
    let others = store.rejection(kept[1]).await.expect("get").expect("kept");
    assert_eq!(others.delivery_id, None);
}

pub async fn deleted_one_by_one(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let gone = keep(&*store, rejection(VENDOR, t - secs(1))).await;
    let stays = keep(&*store, rejection(VENDOR, t)).await;
    assert!(store.delete_rejection(gone).await.expect("delete"));
    assert!(!store.delete_rejection(gone).await.expect("delete again"));
    assert_eq!(store.rejection(gone).await.expect("get"), None);
    assert_eq!(all(&*store).await, vec![stays]);
}

/// The purge drops rejections received before the retention, counted with the deliveries it
/// drops, and keeps the rest.
pub async fn purged_by_retention(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let mut stale = Vec::new();
    for n in 1..=3 {
        stale.push(keep(&*store, rejection(VENDOR, t - days(7) - secs(n))).await);
    }
    let recent = keep(&*store, rejection(VENDOR, t - days(6))).await;
    let fresh = keep(&*store, rejection("video", t)).await;
    let purged = store.purge(t, retention(7 * DAY)).await.expect("purge");
    assert_eq!(purged, 3);
    assert_eq!(all(&*store).await, vec![fresh, recent]);
    for id in stale {
        assert_eq!(store.rejection(id).await.expect("get"), None);
    }
    let at_the_cutoff = t + days(1);
    assert_eq!(
        store
            .purge(at_the_cutoff, retention(7 * DAY))
            .await
            .expect("purge"),
        0,
        "received exactly at the cutoff is not before it"
    );
    let later = at_the_cutoff + TimeDelta::milliseconds(1);
    assert_eq!(
        store.purge(later, retention(7 * DAY)).await.expect("purge"),
        1,
        "a millisecond later, it goes"
    );
    assert_eq!(all(&*store).await, vec![fresh]);
}

/// The trim keeps the newest `max` and says how many went; with nothing beyond `max`, it drops
/// nothing, whatever the kept and deleted before.
pub async fn trimmed_to_the_newest_max(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let mut kept = Vec::new();
    for n in (0..10).rev() {
        kept.push(keep(&*store, rejection(VENDOR, t - secs(n))).await);
    }
    kept.reverse();
    assert_eq!(store.trim_rejections(20).await.expect("trim"), 0);
    assert_eq!(store.trim_rejections(10).await.expect("trim"), 0);
    assert_eq!(store.trim_rejections(4).await.expect("trim"), 6);
    assert_eq!(all(&*store).await, kept[..4].to_vec());
    assert_eq!(store.trim_rejections(4).await.expect("trim"), 0);

    let mut newer = Vec::new();
    for n in 1..=3 {
        newer.push(keep(&*store, rejection(VENDOR, t + secs(n))).await);
    }
    newer.reverse();
    assert_eq!(store.trim_rejections(4).await.expect("trim"), 3);
    let expected: Vec<Uuid> = newer.iter().chain(&kept[..1]).copied().collect();
    assert_eq!(all(&*store).await, expected);

    assert!(store.delete_rejection(newer[0]).await.expect("delete"));
    assert_eq!(store.trim_rejections(4).await.expect("trim"), 0);
    assert_eq!(store.trim_rejections(1).await.expect("trim"), 2);
    assert_eq!(all(&*store).await, vec![newer[1]]);
    assert_eq!(store.trim_rejections(0).await.expect("trim"), 1);
    assert!(all(&*store).await.is_empty());
}

/// Rejections and webhooks arriving at the same moment share commits: each is acknowledged,
/// and each is there.
pub async fn kept_while_webhooks_commit(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                if n % 2 == 0 {
                    let refused = rejection(VENDOR, t - secs(n));
                    let id = refused.id;
                    store.keep_rejection(refused).await.expect("keep");
                    (None, Some(id))
                } else {
                    let new = delivery(Uuid::new_v4(), t);
                    let id = new.content.id;
                    let enqueued = store.enqueue(new, t - days(1)).await.expect("enqueue");
                    assert_eq!(enqueued, Enqueued::Accepted);
                    (Some(id), None)
                }
            })
        })
        .collect();
    let (mut accepted, mut refused) = (HashSet::new(), HashSet::new());
    for task in tasks {
        let (delivery, rejection) = task.await.expect("task");
        accepted.extend(delivery);
        refused.extend(rejection);
    }
    assert_eq!(store.depth().await.expect("depth").pending, 20);
    let listed: HashSet<Uuid> = all(&*store).await.into_iter().collect();
    assert_eq!((listed.len(), listed), (20, refused));
    for id in accepted {
        assert!(store.get(id).await.expect("get").is_some(), "{id} is kept");
    }
}

/// A rejection that cannot be kept (its id is taken) fails alone; the webhooks and rejections
/// committed with it are kept.
pub async fn a_failing_rejection_among_webhooks_fails_alone(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let first = rejection(VENDOR, t - days(1));
    keep(&*store, first.clone()).await;
    let tasks: Vec<_> = (0..30)
        .map(|n| {
            let store = Arc::clone(&store);
            let twin = first.clone();
            tokio::spawn(async move {
                match n {
                    15 => store.keep_rejection(twin).await.is_ok(),
                    n if n % 3 == 0 => {
                        let refused = rejection(VENDOR, t - secs(n));
                        store.keep_rejection(refused).await.is_ok()
                    }
                    _ => {
                        let new = delivery(Uuid::new_v4(), t);
                        store.enqueue(new, t - days(1)).await.is_ok()
                    }
                }
            })
        })
        .collect();
    let mut failed = Vec::new();
    for (n, task) in tasks.into_iter().enumerate() {
        if !task.await.expect("task") {
            failed.push(n);
        }
    }
    assert_eq!(failed, vec![15]);
    let kept = all(&*store).await;
    assert_eq!(kept.len(), 1 + 9, "the first, and every third but the twin");
    assert_eq!(store.depth().await.expect("depth").pending, 20);
    let read = store.rejection(first.id).await.expect("get");
    assert_eq!(read, Some(first), "the twin changed nothing");
}
