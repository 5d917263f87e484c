//! The admin API's view and actions: listing with filters and paging, one delivery with its
//! operations and attempts, retry, cancel, delete and redrive.

use uuid::Uuid;

use flowgate::order::OrderUpdate;
use flowgate::queue::{Deleted, DeliveryState, Finish, ListFilter, RedriveFilter, Retried, Store};

use super::{
    Backend, accept, attempt, claim_and_finish, claim_ids, claim_one, days, dead, delivery, finish,
    secs, sync_delivery, t0,
};

async fn listed(store: &dyn Store, filter: ListFilter) -> Vec<Uuid> {
    let filter = ListFilter {
        limit: 500,
        ..filter
    };
    let page = store.list(&filter).await.expect("list");
    page.deliveries.into_iter().map(|d| d.id).collect()
}

pub async fn list_filters(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let mut other = delivery(Uuid::new_v4(), t);
    other.content.tenant = "other".to_owned();
    let other = accept(&*store, other).await;
    claim_and_finish(&*store, t, other, Finish::Delivered).await;
    let order = Uuid::new_v4();
    let old = accept(&*store, delivery(order, t - days(2))).await;
    let mut video = delivery(Uuid::new_v4(), t);
    video.content.vendor = "video".to_owned();
    let video = accept(&*store, video).await;

    let all = ListFilter::default();
    assert_eq!(listed(&*store, all.clone()).await, vec![video, old, other]);
    let by_state = ListFilter {
        state: Some(DeliveryState::Delivered),
        ..all.clone()
    };
    assert_eq!(listed(&*store, by_state).await, vec![other]);
    let by_vendor = ListFilter {
        vendor: Some("video".to_owned()),
        ..all.clone()
    };
    assert_eq!(listed(&*store, by_vendor).await, vec![video]);
    let by_tenant = ListFilter {
        tenant: Some("demo".to_owned()),
        ..all.clone()
    };
    assert_eq!(listed(&*store, by_tenant).await, vec![video, old]);
    let by_order = ListFilter {
        order_id: Some(order),
        ..all.clone()
    };
    assert_eq!(listed(&*store, by_order).await, vec![old]);
    let since = ListFilter {
        since: Some(t - days(1)),
        ..all.clone()
    };
    assert_eq!(listed(&*store, since).await, vec![video, other]);
    let nothing = ListFilter {
        vendor: Some("video".to_owned()),
        tenant: Some("other".to_owned()),
        ..all
    };
    assert!(listed(&*store, nothing).await.is_empty());
}

pub async fn list_pages_with_a_cursor(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let mut committed = Vec::new();
    for _ in 0..7 {
        committed.push(accept(&*store, delivery(Uuid::new_v4(), t)).await);
    }
    committed.reverse();
    let mut filter = ListFilter {
        limit: 3,
        ..ListFilter::default()
    };
    let mut pages = Vec::new();
    loop {
        let page = store.list(&filter).await.expect("list");
        pages.push(page.deliveries.iter().map(|d| d.id).collect::<Vec<_>>());
        match page.next_cursor {
            Some(cursor) => filter.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![3, 3, 1]
    );
    assert_eq!(pages.concat(), committed);

    // A page that ends exactly at the last delivery says so.
    filter.limit = 7;
    filter.cursor = None;
    assert_eq!(store.list(&filter).await.expect("list").next_cursor, None);
}

pub async fn get_shows_a_delivery_with_its_attempts(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let new = delivery(Uuid::new_v4(), t);
    let id = accept(&*store, new.clone()).await;
    claim_one(&*store, t, id).await;
    let tried = attempt(t, "updatestate", Some(200));
    let end = Finish::Delivered;
    store
        .finish(id, vec![tried.clone()], end, None)
        .await
        .expect("finish");
    let record = store.get(id).await.expect("get").expect("kept");
    assert_eq!((record.id, record.order_id), (id, new.content.order_id));
    assert_eq!(
        (record.vendor, record.tenant),
        (new.content.vendor, new.content.tenant)
    );
    assert_eq!(
        (record.event_id, record.mode),
        (new.content.event_id, "queued")
    );
    assert_eq!(
        (record.state, record.created_at),
        (DeliveryState::Delivered, t)
    );
    assert_eq!(
        (record.next_attempt_at, record.attempts),
        (None, vec![tried])
    );
    assert_eq!(store.get(Uuid::new_v4()).await.expect("get"), None);
}

pub async fn operations_follow_the_update(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let operations = |update: OrderUpdate| {
        let store = store.clone();
        async move {
            let mut new = delivery(Uuid::new_v4(), t);
            new.content.update = update;
            let id = accept(&*store, new).await;
            store.get(id).await.expect("get").expect("kept").operations
        }
    };
    let both = OrderUpdate {
        title: Some("Photos".to_owned()),
        state: Some("Completed".to_owned()),
        ..OrderUpdate::default()
    };
    let status_only = OrderUpdate {
        status: Some("Editing".to_owned()),
        ..OrderUpdate::default()
    };
    let metadata_only = OrderUpdate {
        metadata: Some(Vec::new()),
        ..OrderUpdate::default()
    };
    assert_eq!(operations(both).await, vec!["patch", "updatestate"]);
    assert_eq!(operations(status_only).await, vec!["updatestate"]);
    assert_eq!(operations(metadata_only).await, vec!["patch"]);
}

pub async fn retry_rules(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    assert_eq!(
        store.retry(Uuid::new_v4(), false, t).await.expect("retry"),
        Retried::NotFound
    );
    let order = Uuid::new_v4();
    let first = accept(&*store, delivery(order, t)).await;
    assert_eq!(
        store.retry(first, false, t).await.expect("retry"),
        Retried::NotDead
    );
    let second = accept(&*store, delivery(order, t)).await;
    claim_one(&*store, t, first).await;
    let refused = Finish::Dead {
        patched: true,
        flow_status: Some(400),
        flow_body: Some("bad".to_owned()),
        error: "flow answered 400".to_owned(),
    };
    finish(&*store, first, refused).await;
    claim_and_finish(&*store, t, second, Finish::Delivered).await;

    assert_eq!(
        store.retry(first, false, t).await.expect("retry"),
        Retried::Superseded
    );
    let now = t + secs(30);
    let Retried::Queued(record) = store.retry(first, true, now).await.expect("retry") else {
        panic!("forced retry queues it");
    };
    assert_eq!(record.state, DeliveryState::Pending);
    assert_eq!(record.next_attempt_at, Some(now));
    assert_eq!(
        (record.flow_status, record.flow_body, record.error),
        (None, None, None)
    );
    let claimed = store
        .claim(now, 10, now + secs(60), &[])
        .await
        .expect("claim");
    // The schedule starts over; the patch Flow accepted is not sent again.
    assert_eq!(
        (
            claimed[0].content.id,
            claimed[0].attempts,
            claimed[0].patched
        ),
        (first, 0, true)
    );
}

pub async fn retry_of_a_sync_delivery_is_refused(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let sync = accept(&*store, sync_delivery(Uuid::new_v4(), t)).await;
    finish(&*store, sync, dead(400)).await;
    assert_eq!(
        store.retry(sync, true, t).await.expect("retry"),
        Retried::NotDead
    );
    let redrive = RedriveFilter::default();
    assert_eq!(store.redrive(&redrive, t).await.expect("redrive"), (0, 0));
}

pub async fn retried_delivery_goes_first_in_its_order(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let order = Uuid::new_v4();
    let first = accept(&*store, delivery(order, t)).await;
    let second = accept(&*store, delivery(order, t)).await;
    claim_and_finish(&*store, t, first, dead(400)).await;
    let retried = store.retry(first, false, t).await.expect("retry");
    assert!(matches!(retried, Retried::Queued(_)));
    claim_one(&*store, t, first).await;
    finish(&*store, first, Finish::Delivered).await;
    claim_one(&*store, t, second).await;
}

pub async fn cancel_rules(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    assert_eq!(store.cancel(Uuid::new_v4()).await.expect("cancel"), None);
    let open = accept(&*store, delivery(Uuid::new_v4(), t)).await;
    let record = store.cancel(open).await.expect("cancel").expect("known");
    assert_eq!(record.state, DeliveryState::Dead);
    assert_eq!(
        (record.error.as_deref(), record.next_attempt_at),
        (Some("cancelled"), None)
    );
    assert!(claim_ids(&*store, t + days(1), 10).await.is_empty());

    let done = accept(&*store, delivery(Uuid::new_v4(), t)).await;
    claim_and_finish(&*store, t, done, Finish::Delivered).await;
    let before = store.get(done).await.expect("get").expect("kept");
    let after = store.cancel(done).await.expect("cancel").expect("known");
    assert_eq!(after, before);

    // A cancelled sync delivery is dead: its vendor's retry is processed anew.
    let sync = sync_delivery(Uuid::new_v4(), t);
    accept(&*store, sync.clone()).await;
    store
        .cancel(sync.content.id)
        .await
        .expect("cancel")
        .expect("known");
    let found = store
        .find(&sync.content.vendor, &sync.content.event_id, t - days(1))
        .await;
    assert_eq!(found.expect("find"), None);
}

pub async fn cancelled_in_flight_is_not_revived(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let order = Uuid::new_v4();
    let id = accept(&*store, delivery(order, t)).await;
    let next = accept(&*store, delivery(order, t)).await;
    claim_one(&*store, t, id).await;
    let record = store.cancel(id).await.expect("cancel").expect("known");
    assert_eq!(record.state, DeliveryState::Dead);
    // The running attempt ends; the record stays cancelled but keeps the attempt.
    let tried = attempt(t, "updatestate", Some(200));
    store
        .finish(id, vec![tried.clone()], Finish::Delivered, None)
        .await
        .expect("finish");
    let record = store.get(id).await.expect("get").expect("kept");
    assert_eq!(record.state, DeliveryState::Dead);
    assert_eq!(record.error.as_deref(), Some("cancelled"));
    assert_eq!(record.attempts, vec![tried]);
    claim_one(&*store, t, next).await;
}

pub async fn delete_rules(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    assert_eq!(
        store.delete(Uuid::new_v4()).await.expect("delete"),
        Deleted::NotFound
    );
    let open = accept(&*store, delivery(Uuid::new_v4(), t)).await;
    assert_eq!(store.delete(open).await.expect("delete"), Deleted::Open);
    claim_one(&*store, t, open).await;
    assert_eq!(store.delete(open).await.expect("delete"), Deleted::Open);
    finish(&*store, open, Finish::Delivered).await;
    assert_eq!(store.delete(open).await.expect("delete"), Deleted::Deleted);
    assert_eq!(store.get(open).await.expect("get"), None);

    let refused = accept(&*store, delivery(Uuid::new_v4(), t)).await;
    claim_and_finish(&*store, t, refused, dead(400)).await;
    assert_eq!(
        store.delete(refused).await.expect("delete"),
        Deleted::Deleted
    );
    assert_eq!(
        store.delete(refused).await.expect("delete"),
        Deleted::NotFound
    );
}

pub async fn redrive_counts(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    // Order A: a dead delivery superseded by a later delivered one.
    let order_a = Uuid::new_v4();
    let superseded = accept(&*store, delivery(order_a, t)).await;
    let newer = accept(&*store, delivery(order_a, t)).await;
    claim_and_finish(&*store, t, superseded, dead(400)).await;
    claim_and_finish(&*store, t, newer, Finish::Delivered).await;
    // Order B: dead, nothing newer. Order C: another vendor's dead delivery, a week old.
    let plain = accept(&*store, delivery(Uuid::new_v4(), t)).await;
    claim_and_finish(&*store, t, plain, dead(400)).await;
    let mut video = delivery(Uuid::new_v4(), t - days(7));
    video.content.vendor = "video".to_owned();
    let video = accept(&*store, video).await;
    claim_and_finish(&*store, t, video, dead(400)).await;

    let photo = RedriveFilter {
        vendor: Some("photo".to_owned()),
        ..RedriveFilter::default()
    };
    assert_eq!(store.redrive(&photo, t).await.expect("redrive"), (1, 1));
    let state = |id| {
        let store = store.clone();
        async move { store.get(id).await.expect("get").expect("kept").state }
    };
    assert_eq!(state(plain).await, DeliveryState::Pending);
    assert_eq!(state(superseded).await, DeliveryState::Dead);
    assert_eq!(state(video).await, DeliveryState::Dead);

    let recent = RedriveFilter {
        since: Some(t - days(1)),
        ..RedriveFilter::default()
    };
    assert_eq!(store.redrive(&recent, t).await.expect("redrive"), (0, 1));
    let other_tenant = RedriveFilter {
        tenant: Some("other".to_owned()),
        ..RedriveFilter::default()
    };
    assert_eq!(
        store.redrive(&other_tenant, t).await.expect("redrive"),
        (0, 0)
    );
    let all = RedriveFilter::default();
    assert_eq!(store.redrive(&all, t).await.expect("redrive"), (1, 1));
    assert_eq!(state(video).await, DeliveryState::Pending);
}

pub async fn order_deliveries_newest_first(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let order = Uuid::new_v4();
    let first = accept(&*store, delivery(order, t)).await;
    claim_and_finish(&*store, t, first, Finish::Delivered).await;
    accept(&*store, delivery(Uuid::new_v4(), t)).await;
    let second = accept(&*store, delivery(order, t)).await;
    let records = store.order_deliveries(order).await.expect("order");
    let ids: Vec<Uuid> = records.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![second, first]);
    assert!(
        store
            .order_deliveries(Uuid::new_v4())
            .await
            .expect("order")
            .is_empty()
    );
}
