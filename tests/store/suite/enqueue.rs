//! Committing deliveries: what a claim gets back, dedup keys inside and outside the window,
//! sync deliveries' keys, and many webhooks committing at once.

use std::collections::HashSet;
use std::sync::Arc;

use uuid::Uuid;

use flowgate::order::OrderUpdate;
use flowgate::queue::{DeliveryState, Enqueued, Existing, Finish, ListFilter};

use super::{
    Backend, VENDOR, accept, claim_ids, days, dead, delivery, finish, secs, sync_delivery, t0,
};

pub async fn enqueue_then_claim(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let mut new = delivery(Uuid::new_v4(), t);
    new.content.update = OrderUpdate {
        state: Some("Completed".to_owned()),
        status: Some("Photos delivered".to_owned()),
        title: Some("Listing photos".to_owned()),
        action_text: None,
        metadata: Some(vec![("Shoot".to_owned(), "Friday".to_owned())]),
    };
    let id = accept(&*store, new.clone()).await;
    let record = store.get(id).await.expect("get").expect("committed");
    assert_eq!(record.state, DeliveryState::Pending);
    assert_eq!(record.next_attempt_at, Some(new.content.created_at));

    let lease = t + secs(60);
    let claimed = store
        .claim(t + secs(1), 10, lease, &[])
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    let got = &claimed[0];
    assert_eq!(
        (got.content.id, got.content.order_id),
        (new.content.id, new.content.order_id)
    );
    assert_eq!(
        (&got.content.vendor, &got.content.tenant),
        (&new.content.vendor, &new.content.tenant)
    );
    assert_eq!(got.content.event_id, new.content.event_id);
    assert_eq!(got.content.update, new.content.update);
    assert_eq!(got.content.state_default, new.content.state_default);
    assert_eq!(got.content.traceparent, new.content.traceparent);
    assert_eq!(got.content.created_at, new.content.created_at);
    assert_eq!((got.attempts, got.patched), (0, false));

    let record = store.get(id).await.expect("get").expect("committed");
    assert_eq!(record.state, DeliveryState::InFlight);
    assert!(claim_ids(&*store, t + secs(2), 10).await.is_empty());
}

pub async fn dedup_taken_within_the_window(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let first = delivery(Uuid::new_v4(), t);
    accept(&*store, first.clone()).await;
    let mut repeat = delivery(Uuid::new_v4(), t + secs(5));
    repeat.content.event_id = first.content.event_id.clone();
    repeat.body_hash = [8; 32];
    let enqueued = store.enqueue(repeat, t - days(1)).await.expect("enqueue");
    let existing = Existing {
        id: first.content.id,
        state: DeliveryState::Pending,
        body_hash: first.body_hash,
    };
    assert_eq!(enqueued, Enqueued::Taken(existing.clone()));

    let find = |since| store.find(VENDOR, &first.content.event_id, since);
    assert_eq!(find(t - days(1)).await.expect("find"), Some(existing));
    assert_eq!(find(t + secs(1)).await.expect("find"), None);

    // The key is per vendor.
    let mut other = delivery(Uuid::new_v4(), t);
    other.content.vendor = "video".to_owned();
    other.content.event_id = first.content.event_id.clone();
    accept(&*store, other).await;
}

pub async fn dedup_key_replaced_outside_the_window(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let old = delivery(Uuid::new_v4(), t - days(2));
    accept(&*store, old.clone()).await;
    let mut again = delivery(Uuid::new_v4(), t);
    again.content.event_id = old.content.event_id.clone();
    let enqueued = store
        .enqueue(again.clone(), t - days(1))
        .await
        .expect("enqueue");
    assert_eq!(enqueued, Enqueued::Accepted);
    let found = store
        .find(VENDOR, &old.content.event_id, t - days(30))
        .await
        .expect("find");
    assert_eq!(found.map(|e| e.id), Some(again.content.id));
}

pub async fn dedup_off_is_never_taken(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let mut first = delivery(Uuid::new_v4(), t);
    first.dedup = false;
    let mut second = delivery(Uuid::new_v4(), t);
    second.dedup = false;
    second.content.event_id = first.content.event_id.clone();
    accept(&*store, first.clone()).await;
    accept(&*store, second).await;
    let found = store
        .find(VENDOR, &first.content.event_id, t - days(1))
        .await
        .expect("find");
    assert_eq!(found, None);
}

pub async fn sync_dead_gives_the_key_back(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let first = sync_delivery(Uuid::new_v4(), t);
    accept(&*store, first.clone()).await;
    let record = store
        .get(first.content.id)
        .await
        .expect("get")
        .expect("committed");
    assert_eq!(record.state, DeliveryState::InFlight);
    assert_eq!((record.mode, record.next_attempt_at), ("sync", None));
    finish(&*store, first.content.id, dead(422)).await;

    let since = t - days(1);
    assert_eq!(
        store
            .find(VENDOR, &first.content.event_id, since)
            .await
            .expect("find"),
        None
    );
    let mut retry = sync_delivery(Uuid::new_v4(), t + secs(1));
    retry.content.event_id = first.content.event_id.clone();
    accept(&*store, retry).await;
}

pub async fn sync_delivered_keeps_the_key(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let first = sync_delivery(Uuid::new_v4(), t);
    accept(&*store, first.clone()).await;
    finish(&*store, first.content.id, Finish::Delivered).await;
    let mut repeat = sync_delivery(Uuid::new_v4(), t + secs(1));
    repeat.content.event_id = first.content.event_id.clone();
    let enqueued = store.enqueue(repeat, t - days(1)).await.expect("enqueue");
    let Enqueued::Taken(existing) = enqueued else {
        panic!("the key is kept: {enqueued:?}");
    };
    assert_eq!(
        (existing.id, existing.state),
        (first.content.id, DeliveryState::Delivered)
    );
}

pub async fn sync_deliveries_are_never_claimed(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let order = Uuid::new_v4();
    let sync = accept(&*store, sync_delivery(order, t)).await;
    assert!(claim_ids(&*store, t + days(1), 10).await.is_empty());
    // A sync delivery the caller wants retried ends dead instead: nothing would retry it,
    // and left open it would hold its order's line.
    let retry = super::retry_at(t + secs(5), true);
    finish(&*store, sync, retry).await;
    let record = store.get(sync).await.expect("get").expect("kept");
    assert_eq!(record.state, DeliveryState::Dead);
}

pub async fn concurrent_enqueues_each_acknowledged_once(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for _ in 0..10 {
                    let new = delivery(Uuid::new_v4(), t);
                    let enqueued = store.enqueue(new.clone(), t - days(1)).await;
                    assert_eq!(enqueued.expect("enqueue"), Enqueued::Accepted);
                    ids.push(new.content.id);
                }
                ids
            })
        })
        .collect();
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.extend(task.await.expect("task"));
    }
    let unique: HashSet<Uuid> = acknowledged.iter().copied().collect();
    assert_eq!((acknowledged.len(), unique.len()), (500, 500));

    assert_eq!(store.depth().await.expect("depth").pending, 500);
    let filter = ListFilter {
        limit: 500,
        ..ListFilter::default()
    };
    let page = store.list(&filter).await.expect("list");
    let listed: HashSet<Uuid> = page.deliveries.iter().map(|d| d.id).collect();
    assert_eq!(listed, unique);
    assert_eq!(page.next_cursor, None);
}

/// Deliveries committed at the same moment share a transaction; one that cannot be committed
/// (its id is taken) fails alone and the others commit.
pub async fn a_failing_delivery_among_concurrent_ones_fails_alone(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let first = accept(store.as_ref(), delivery(Uuid::new_v4(), t)).await;
    let tasks: Vec<_> = (0..30)
        .map(|n| {
            let store = Arc::clone(&store);
            let mut new = delivery(Uuid::new_v4(), t);
            if n == 15 {
                new.content.id = first;
            }
            tokio::spawn(async move { (new.content.id, store.enqueue(new, t - days(1)).await) })
        })
        .collect();
    let mut accepted = HashSet::new();
    let mut failed = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            (id, Ok(Enqueued::Accepted)) => {
                accepted.insert(id);
            }
            (id, Ok(taken)) => panic!("{id}: {taken:?}"),
            (id, Err(_)) => failed.push(id),
        }
    }
    assert_eq!(failed, vec![first]);
    assert_eq!(accepted.len(), 29);
    assert_eq!(store.depth().await.expect("depth").pending, 30);
    for id in accepted {
        assert!(store.get(id).await.expect("get").is_some(), "{id} is kept");
    }
}

pub async fn racing_enqueues_of_one_key_commit_one(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let event_id = format!("evt-{}", Uuid::new_v4());
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            let mut new = delivery(Uuid::new_v4(), t);
            new.content.event_id = event_id.clone();
            tokio::spawn(async move {
                let enqueued = store.enqueue(new.clone(), t - days(1)).await;
                (new.content.id, enqueued.expect("enqueue"))
            })
        })
        .collect();
    let mut accepted = Vec::new();
    let mut taken = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            (id, Enqueued::Accepted) => accepted.push(id),
            (_, Enqueued::Taken(existing)) => taken.push(existing.id),
        }
    }
    assert_eq!(accepted.len(), 1);
    assert_eq!(taken.len(), 19);
    assert!(taken.iter().all(|id| *id == accepted[0]));
}
