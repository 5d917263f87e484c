//! Retention, depth, readiness and the order book: what the purge removes and keeps, what
//! metrics see, and bindings and last-sent values per order.

use std::time::Duration;

use chrono::Utc;
use uuid::Uuid;

use flowgate::order::{Binding, Broker, LastSent};
use flowgate::queue::{Deleted, Enqueued, Finish, QueueDepth, Retention, TenantDepth};

use super::{
    Backend, accept, claim_and_finish, claim_one, days, dead, delivery, finish, retry_at, secs, t0,
};

const DAY: Duration = Duration::from_secs(24 * 3600);

fn retention() -> Retention {
    Retention {
        delivered: 7 * DAY,
        dead: Duration::ZERO,
        dedup_window: DAY,
        orders: 90 * DAY,
        rejections: 7 * DAY,
        bodies: DAY,
    }
}

pub async fn purge_delivered_by_retention(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let delivered = accept(&*store, delivery(Uuid::new_v4(), t)).await;
    claim_and_finish(&*store, t, delivered, Finish::Delivered).await;
    let waiting = accept(&*store, delivery(Uuid::new_v4(), t - days(30))).await;

    // `updated_at` is when the delivery finished: now.
    assert_eq!(
        store
            .purge(Utc::now() + days(6), retention())
            .await
            .expect("purge"),
        0
    );
    assert!(store.get(delivered).await.expect("get").is_some());
    assert_eq!(
        store
            .purge(Utc::now() + days(8), retention())
            .await
            .expect("purge"),
        1
    );
    assert_eq!(store.get(delivered).await.expect("get"), None);
    // Open deliveries are never purged, however old.
    assert!(store.get(waiting).await.expect("get").is_some());
}

pub async fn purge_dead_only_with_a_retention(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let refused = accept(&*store, delivery(Uuid::new_v4(), t)).await;
    claim_and_finish(&*store, t, refused, dead(400)).await;
    let later = Utc::now() + days(365);
    assert_eq!(store.purge(later, retention()).await.expect("purge"), 0);
    let keep_a_day = Retention {
        dead: DAY,
        ..retention()
    };
    assert_eq!(store.purge(Utc::now(), keep_a_day).await.expect("purge"), 0);
    assert_eq!(
        store
            .purge(Utc::now() + days(2), keep_a_day)
            .await
            .expect("purge"),
        1
    );
    assert_eq!(store.get(refused).await.expect("get"), None);
}

/// A key guards its delivery for the dedup window, whatever became of it; past the window a
/// repeat is a new delivery, which takes the key over.
pub async fn dedup_keys_expire_with_the_window(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let window = t - days(1);
    let finished = delivery(Uuid::new_v4(), t - days(2));
    accept(&*store, finished.clone()).await;
    claim_and_finish(&*store, t, finished.content.id, Finish::Delivered).await;
    let open = delivery(Uuid::new_v4(), t - days(2));
    accept(&*store, open.clone()).await;
    let fresh = delivery(Uuid::new_v4(), t);
    accept(&*store, fresh.clone()).await;

    assert_eq!(store.purge(t, retention()).await.expect("purge"), 0);
    let find = |event_id: String| {
        let store = store.clone();
        async move {
            store
                .find(super::VENDOR, &event_id, window)
                .await
                .expect("find")
        }
    };
    assert_eq!(find(finished.content.event_id.clone()).await, None);
    assert_eq!(find(open.content.event_id.clone()).await, None);
    assert!(find(fresh.content.event_id.clone()).await.is_some());

    let mut repeat = delivery(Uuid::new_v4(), t);
    repeat.content.event_id = finished.content.event_id.clone();
    let enqueued = store
        .enqueue(repeat.clone(), window)
        .await
        .expect("enqueue");
    assert_eq!(
        enqueued,
        Enqueued::Accepted,
        "a repeat past the window is new"
    );
    let found = find(finished.content.event_id).await.map(|e| e.id);
    assert_eq!(
        found,
        Some(repeat.content.id),
        "the key names the new delivery"
    );
    // The record itself is kept for `retention.delivered`.
    assert!(store.get(finished.content.id).await.expect("get").is_some());
}

fn binding(tenant: &str, bound_at: chrono::DateTime<Utc>) -> Binding {
    Binding {
        tenant: tenant.to_owned(),
        vendor: "photo".to_owned(),
        case_id: Some(7),
        broker: Broker {
            user_id: Some(11),
            full_name: Some("Ada Broker".to_owned()),
            email: Some("ada@example.com".to_owned()),
            company: None,
            office_id: Some(3),
            office_name: Some("Harbour".to_owned()),
        },
        token_hash: [9; 32],
        bound_at,
    }
}

fn sent(title: &str) -> LastSent {
    LastSent {
        title: Some(title.to_owned()),
        action_text: None,
        metadata: vec![
            ("Shoot".to_owned(), "Friday".to_owned()),
            ("Agent".to_owned(), "Ada".to_owned()),
        ],
        state: Some("InProcess".to_owned()),
    }
}

pub async fn purge_forgets_untouched_orders(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let (active, idle, fresh) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    store
        .bind(active, binding("demo", t - days(100)))
        .await
        .expect("bind");
    store
        .record_sent(active, sent("Photos"))
        .await
        .expect("record");
    store
        .bind(idle, binding("demo", t - days(100)))
        .await
        .expect("bind");
    store.bind(fresh, binding("demo", t)).await.expect("bind");

    store.purge(Utc::now(), retention()).await.expect("purge");
    assert!(store.binding(active).await.expect("read").is_some());
    assert_eq!(store.last_sent(active).await.expect("read"), sent("Photos"));
    assert_eq!(store.binding(idle).await.expect("read"), None);
    assert!(store.binding(fresh).await.expect("read").is_some());

    store
        .purge(Utc::now() + days(91), retention())
        .await
        .expect("purge");
    assert_eq!(store.binding(active).await.expect("read"), None);
    assert_eq!(
        store.last_sent(active).await.expect("read"),
        LastSent::default()
    );
    assert_eq!(store.binding(fresh).await.expect("read"), None);
}

pub async fn depth_counts_and_oldest(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    assert_eq!(store.depth().await.expect("depth"), QueueDepth::default());
    let retrying = accept(&*store, delivery(Uuid::new_v4(), t - secs(20))).await;
    claim_and_finish(&*store, t, retrying, retry_at(t + days(1), true)).await;
    let in_flight = accept(&*store, delivery(Uuid::new_v4(), t - secs(30))).await;
    claim_one(&*store, t, in_flight).await;
    let refused = accept(&*store, delivery(Uuid::new_v4(), t - secs(40))).await;
    claim_and_finish(&*store, t, refused, dead(400)).await;
    let delivered = accept(&*store, delivery(Uuid::new_v4(), t - secs(50))).await;
    claim_one(&*store, t, delivered).await;
    finish(&*store, delivered, Finish::Delivered).await;
    accept(&*store, delivery(Uuid::new_v4(), t - secs(10))).await;
    accept(&*store, delivery(Uuid::new_v4(), t - secs(5))).await;

    let depth = store.depth().await.expect("depth");
    let expected = QueueDepth {
        pending: 2,
        in_flight: 1,
        retrying: 1,
        dead: 1,
        oldest_pending: Some(t - secs(10)),
        oldest_retrying: Some(t - secs(20)),
    };
    assert_eq!(depth, expected);
}

pub async fn depth_by_tenant_counts_open_and_dead(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    assert!(store.depth_by_tenant().await.expect("depth").is_empty());
    let retrying = accept(&*store, delivery(Uuid::new_v4(), t - secs(20))).await;
    claim_and_finish(&*store, t, retrying, retry_at(t + days(1), true)).await;
    let in_flight = accept(&*store, delivery(Uuid::new_v4(), t - secs(30))).await;
    claim_one(&*store, t, in_flight).await;
    let delivered = accept(&*store, delivery(Uuid::new_v4(), t - secs(50))).await;
    claim_and_finish(&*store, t, delivered, Finish::Delivered).await;
    let mut other = delivery(Uuid::new_v4(), t - secs(40));
    other.content.tenant = "other".to_owned();
    let refused = accept(&*store, other).await;
    claim_and_finish(&*store, t, refused, dead(400)).await;
    let mut done = delivery(Uuid::new_v4(), t - secs(5));
    done.content.tenant = "done".to_owned();
    let done = accept(&*store, done).await;
    claim_and_finish(&*store, t, done, Finish::Delivered).await;
    accept(&*store, delivery(Uuid::new_v4(), t - secs(10))).await;

    let depths = store.depth_by_tenant().await.expect("depth");
    let counted: Vec<(&str, TenantDepth)> = depths.iter().map(|(t, d)| (t.as_str(), *d)).collect();
    let demo = TenantDepth {
        pending: 1,
        in_flight: 1,
        retrying: 1,
        dead: 0,
    };
    let other = TenantDepth {
        dead: 1,
        ..TenantDepth::default()
    };
    assert_eq!(
        counted,
        [("demo", demo), ("other", other)],
        "no row for `done`"
    );
}

pub async fn first_binding_wins(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let order = Uuid::new_v4();
    assert_eq!(store.binding(order).await.expect("read"), None);
    let first = binding("demo", t);
    assert_eq!(store.bind(order, first.clone()).await.expect("bind"), first);
    let second = binding("other", t + secs(1));
    assert_eq!(store.bind(order, second).await.expect("bind"), first);
    assert_eq!(store.binding(order).await.expect("read"), Some(first));
    let unbound = Binding {
        case_id: None,
        broker: Broker::default(),
        ..binding("demo", t)
    };
    let other = Uuid::new_v4();
    assert_eq!(
        store.bind(other, unbound.clone()).await.expect("bind"),
        unbound
    );
}

pub async fn last_sent_round_trip(backend: &mut dyn Backend) {
    let store = backend.store();
    let order = Uuid::new_v4();
    assert_eq!(
        store.last_sent(order).await.expect("read"),
        LastSent::default()
    );
    store
        .record_sent(order, sent("Photos"))
        .await
        .expect("record");
    assert_eq!(store.last_sent(order).await.expect("read"), sent("Photos"));
    let replaced = LastSent {
        action_text: Some("Open".to_owned()),
        metadata: Vec::new(),
        ..sent("Video")
    };
    store
        .record_sent(order, replaced.clone())
        .await
        .expect("record");
    assert_eq!(store.last_sent(order).await.expect("read"), replaced);
    let other = Uuid::new_v4();
    assert_eq!(
        store.last_sent(other).await.expect("read"),
        LastSent::default()
    );
}

/// A turn's end records what Flow accepted with it: when the delivery is done, when it is to
/// be retried (the patch went through, updatestate did not), and when an operator cancelled
/// and deleted the delivery while its attempt ran.
pub async fn finish_records_what_was_sent(backend: &mut dyn Backend) {
    let store = backend.store();
    let (done, retried, deleted) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let ends = [
        (done, Finish::Delivered, sent("Done")),
        (retried, retry_at(t0() + days(1), true), sent("Patched")),
        (deleted, Finish::Delivered, sent("Deleted")),
    ];
    for (order, end, values) in ends {
        let id = accept(&*store, delivery(order, t0())).await;
        claim_one(&*store, t0(), id).await;
        if order == deleted {
            store.cancel(id).await.expect("cancel");
            assert_eq!(store.delete(id).await.expect("delete"), Deleted::Deleted);
        }
        store
            .finish(id, Vec::new(), end, Some((order, values.clone())))
            .await
            .expect("finish");
        assert_eq!(store.last_sent(order).await.expect("read"), values);
    }
    // Ending a turn with nothing accepted leaves the order's values as they were.
    let id = accept(&*store, delivery(done, t0())).await;
    claim_one(&*store, t0() + secs(1), id).await;
    store
        .finish(id, Vec::new(), dead(400), None)
        .await
        .expect("finish");
    assert_eq!(store.last_sent(done).await.expect("read"), sent("Done"));
}

pub async fn a_working_store_is_accepting(backend: &mut dyn Backend) {
    let store = backend.store();
    accept(&*store, delivery(Uuid::new_v4(), t0())).await;
    store.accepting().expect("accepting");
}
