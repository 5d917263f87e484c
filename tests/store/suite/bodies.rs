//! Accepted bodies: kept in their delivery's commit with their exact bytes (a duplicate keeps
//! none), listed oldest first with filters and paging, purged by their own retention, and
//! deleted with their delivery.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use uuid::{NoContext, Timestamp, Uuid};

use flowgate::queue::{AcceptedFilter, Deleted, Enqueued, Finish, NewDelivery, Retention, Store};

use super::{Backend, accept, claim_and_finish, days, delivery, secs, t0};

const DAY: Duration = Duration::from_secs(24 * 3600);

/// A v7 id of `at`'s millisecond, as the ingress gives a delivery accepted then.
fn id_at(at: DateTime<Utc>) -> Uuid {
    let millis = u64::try_from(at.timestamp_millis()).expect("after the epoch");
    let nanos = u32::try_from(millis % 1000).expect("a millisecond") * 1_000_000;
    Uuid::new_v7(Timestamp::from_unix(NoContext, millis / 1000, nanos))
}

/// A queued delivery of `vendor` accepted at `at`, keeping `body`.
fn with_body(vendor: &str, at: DateTime<Utc>, body: &[u8]) -> NewDelivery {
    let mut new = delivery(Uuid::new_v4(), at);
    new.content.id = id_at(at);
    new.content.vendor = vendor.to_owned();
    new.body = Some(Bytes::copy_from_slice(body));
    new
}

fn retention(bodies: Duration) -> Retention {
    Retention {
        delivered: 7 * DAY,
        dead: Duration::ZERO,
        dedup_window: DAY,
        orders: 90 * DAY,
        rejections: 7 * DAY,
        bodies,
    }
}

/// The ids `filter` lists on one page, oldest first, with no page after it.
async fn listed(store: &dyn Store, filter: AcceptedFilter) -> Vec<Uuid> {
    let filter = AcceptedFilter {
        limit: 1000,
        ..filter
    };
    let (page, next) = store.accepted(&filter).await.expect("accepted");
    assert_eq!(next, None);
    page.iter().map(|a| a.content.id).collect()
}

pub async fn kept_in_its_deliverys_commit_with_its_exact_bytes(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    // Not UTF-8: a NUL, a lone continuation byte and an invalid lead byte.
    let raw: &[u8] = b"{\"id\":\"ph-1\"}\x00\x80\xfe\xff";
    let kept = with_body("photo", t, raw);
    let content = kept.content.clone();
    let id = accept(&*store, kept).await;
    let body = store.accepted_body(id).await.expect("body");
    assert_eq!(body.as_deref(), Some(raw));

    let (page, next) = store
        .accepted(&AcceptedFilter {
            ids: vec![id],
            limit: 10,
            ..AcceptedFilter::default()
        })
        .await
        .expect("accepted");
    assert_eq!(next, None);
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].content, content);
    assert_eq!(page[0].body.as_ref(), raw);

    let bare = accept(&*store, delivery(Uuid::new_v4(), t)).await;
    assert_eq!(store.accepted_body(bare).await.expect("body"), None);
    assert_eq!(listed(&*store, AcceptedFilter::default()).await, vec![id]);

    // A duplicate of the first (its key, another id and body) commits nothing, no body either.
    let mut again = with_body("photo", t + secs(1), b"another body");
    again.content.event_id = content.event_id.clone();
    let again_id = again.content.id;
    let enqueued = store.enqueue(again, t - days(1)).await.expect("enqueue");
    assert!(
        matches!(enqueued, Enqueued::Taken(ref e) if e.id == id),
        "{enqueued:?}"
    );
    assert_eq!(store.accepted_body(again_id).await.expect("body"), None);
    assert_eq!(
        store.accepted_body(id).await.expect("body").as_deref(),
        Some(raw)
    );
    assert_eq!(listed(&*store, AcceptedFilter::default()).await, vec![id]);
}

pub async fn listed_oldest_first_by_vendor_time_and_ids(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let hours = |n: i64| t - chrono::TimeDelta::hours(n);
    // Accepted oldest first, as time runs: the order of their acceptance is the listing's.
    let a1 = accept(&*store, with_body("photo", hours(4), b"a1")).await;
    let a2 = accept(&*store, with_body("photo", hours(3), b"a2")).await;
    let b2 = accept(&*store, with_body("print", hours(2), b"b2")).await;
    let a3 = accept(&*store, with_body("photo", hours(1), b"a3")).await;

    assert_eq!(
        listed(&*store, AcceptedFilter::default()).await,
        vec![a1, a2, b2, a3]
    );
    let photo = AcceptedFilter {
        vendor: Some("photo".to_owned()),
        ..AcceptedFilter::default()
    };
    assert_eq!(listed(&*store, photo.clone()).await, vec![a1, a2, a3]);
    let window = AcceptedFilter {
        since: Some(hours(3)),
        until: Some(hours(1)),
        ..AcceptedFilter::default()
    };
    assert_eq!(listed(&*store, window.clone()).await, vec![a2, b2]);
    let photo_window = AcceptedFilter {
        vendor: Some("photo".to_owned()),
        ..window
    };
    assert_eq!(listed(&*store, photo_window).await, vec![a2]);
    let chosen = AcceptedFilter {
        ids: vec![a3, b2, Uuid::new_v4()],
        ..AcceptedFilter::default()
    };
    assert_eq!(listed(&*store, chosen).await, vec![b2, a3]);
    let (page, _) = store
        .accepted(&AcceptedFilter {
            ids: vec![b2],
            limit: 10,
            ..AcceptedFilter::default()
        })
        .await
        .expect("accepted");
    assert_eq!(page[0].content.vendor, "print");
    assert_eq!(page[0].body.as_ref(), b"b2");
}

pub async fn listed_in_pages_with_a_cursor(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let mut ids = Vec::new();
    for n in (1..=5).rev() {
        ids.push(accept(&*store, with_body("photo", t - secs(n * 10), b"page")).await);
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let filter = AcceptedFilter {
            limit: 2,
            cursor: cursor.clone(),
            ..AcceptedFilter::default()
        };
        let (page, next) = store.accepted(&filter).await.expect("accepted");
        pages += 1;
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|a| a.content.id));
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids, "every body once, oldest first");
    let tampered = AcceptedFilter {
        limit: 2,
        cursor: Some("not-a-cursor".to_owned()),
        ..AcceptedFilter::default()
    };
    let (page, next) = store.accepted(&tampered).await.expect("accepted");
    assert!(page.is_empty() && next.is_none());
}

pub async fn purged_by_their_own_retention(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let old = accept(&*store, with_body("photo", t - days(2), b"old")).await;
    let new = accept(&*store, with_body("photo", t - secs(3600), b"new")).await;
    assert_eq!(store.purge(t, retention(DAY)).await.expect("purge"), 0);
    assert_eq!(store.accepted_body(old).await.expect("body"), None);
    assert_eq!(
        store.accepted_body(new).await.expect("body").as_deref(),
        Some(&b"new"[..])
    );
    assert!(
        store.get(old).await.expect("get").is_some(),
        "the delivery stays"
    );
    assert_eq!(listed(&*store, AcceptedFilter::default()).await, vec![new]);
    // Zero keeps none: what was kept goes at the next purge.
    store
        .purge(t, retention(Duration::ZERO))
        .await
        .expect("purge");
    assert_eq!(store.accepted_body(new).await.expect("body"), None);
}

pub async fn deleted_with_their_delivery(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let deleted = accept(&*store, with_body("photo", t - secs(2), b"deleted")).await;
    claim_and_finish(&*store, t, deleted, Finish::Delivered).await;
    assert_eq!(
        store.delete(deleted).await.expect("delete"),
        Deleted::Deleted
    );
    assert_eq!(store.accepted_body(deleted).await.expect("body"), None);

    let purged = accept(&*store, with_body("print", t - secs(1), b"purged")).await;
    claim_and_finish(&*store, t, purged, Finish::Delivered).await;
    let open = accept(&*store, with_body("other", t, b"open")).await;
    // Long past the deliveries' retention, well within the bodies'.
    let later = Utc::now() + days(8);
    assert_eq!(
        store
            .purge(later, retention(365 * DAY))
            .await
            .expect("purge"),
        1
    );
    assert_eq!(store.get(purged).await.expect("get"), None);
    assert_eq!(store.accepted_body(purged).await.expect("body"), None);
    // The delivery still open keeps its body through the same purge.
    assert_eq!(
        store.accepted_body(open).await.expect("body").as_deref(),
        Some(&b"open"[..])
    );
    assert_eq!(listed(&*store, AcceptedFilter::default()).await, vec![open]);
}
