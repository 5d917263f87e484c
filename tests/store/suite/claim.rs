//! Claims and turns: per-order FIFO, due times, paused tenants, limits, how each `Finish` ends
//! a turn, leases, and recovery of what a stopped process left in flight.

use uuid::Uuid;

use flowgate::queue::{DeliveryState, Finish};

use super::{
    Backend, accept, attempt, claim_and_finish, claim_ids, claim_one, days, dead, delivery, finish,
    retry_at, secs, sync_delivery, t0,
};

pub async fn later_delivery_waits_for_the_earlier_one(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let order = Uuid::new_v4();
    let first = accept(&*store, delivery(order, t)).await;
    let second = accept(&*store, delivery(order, t)).await;
    // Pending first: only it is claimable, though both are due.
    claim_one(&*store, t + secs(1), first).await;
    // In flight first: the second waits.
    assert!(claim_ids(&*store, t + secs(1), 10).await.is_empty());
    // Retrying first, not yet due: the second still waits.
    finish(&*store, first, retry_at(t + secs(30), true)).await;
    assert!(claim_ids(&*store, t + secs(2), 10).await.is_empty());
    claim_one(&*store, t + secs(30), first).await;
    finish(&*store, first, Finish::Delivered).await;
    // Delivered first: the second's turn.
    claim_one(&*store, t + secs(31), second).await;
}

pub async fn dead_delivery_leaves_the_line(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let order = Uuid::new_v4();
    let first = accept(&*store, delivery(order, t)).await;
    let second = accept(&*store, delivery(order, t)).await;
    claim_and_finish(&*store, t, first, dead(400)).await;
    claim_one(&*store, t, second).await;
}

pub async fn orders_run_in_parallel(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let mut firsts = Vec::new();
    for _ in 0..3 {
        let order = Uuid::new_v4();
        firsts.push(accept(&*store, delivery(order, t)).await);
        accept(&*store, delivery(order, t)).await;
    }
    let mut claimed = claim_ids(&*store, t, 10).await;
    claimed.sort();
    firsts.sort();
    assert_eq!(claimed, firsts);
}

pub async fn claim_waits_for_next_attempt_at(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let id = accept(&*store, delivery(Uuid::new_v4(), t + secs(10))).await;
    assert!(claim_ids(&*store, t + secs(9), 10).await.is_empty());
    claim_one(&*store, t + secs(10), id).await;
    finish(&*store, id, retry_at(t + secs(40), false)).await;
    assert!(claim_ids(&*store, t + secs(39), 10).await.is_empty());
    claim_one(&*store, t + secs(40), id).await;
}

pub async fn claim_skips_paused_tenants(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let demo = accept(&*store, delivery(Uuid::new_v4(), t)).await;
    let mut other = delivery(Uuid::new_v4(), t);
    other.content.tenant = "other".to_owned();
    let other = accept(&*store, other).await;
    let paused = ["demo".to_owned(), "third".to_owned()];
    let claimed = store
        .claim(t, 10, t + secs(60), &paused)
        .await
        .expect("claim");
    assert_eq!(
        claimed.iter().map(|c| c.content.id).collect::<Vec<_>>(),
        vec![other]
    );
    claim_one(&*store, t, demo).await;
}

/// Deliveries held back by a pause, a retry that fell due during it among them, come back in
/// due order once their tenant is resumed; a tenant paused again is skipped again.
pub async fn a_resumed_tenant_is_claimed_in_due_order(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let retried = accept(&*store, delivery(Uuid::new_v4(), t)).await;
    claim_and_finish(&*store, t, retried, retry_at(t + secs(20), true)).await;
    let first = accept(&*store, delivery(Uuid::new_v4(), t + secs(10))).await;
    let last = accept(&*store, delivery(Uuid::new_v4(), t + secs(30))).await;
    let claim = |now, paused: bool| {
        let store = store.clone();
        let paused = if paused {
            vec!["demo".to_owned()]
        } else {
            Vec::new()
        };
        async move {
            let claimed = store.claim(now, 10, now + secs(60), &paused).await;
            let claimed = claimed.expect("claim");
            claimed
                .into_iter()
                .map(|c| c.content.id)
                .collect::<Vec<_>>()
        }
    };
    assert!(claim(t + secs(15), true).await.is_empty());
    assert!(claim(t + secs(40), true).await.is_empty());
    // Not yet due: `last`, parked at 40 s, keeps its due time of 30 s.
    assert_eq!(claim(t + secs(25), false).await, vec![first, retried]);
    assert!(claim(t + secs(40), true).await.is_empty());
    assert_eq!(claim(t + secs(40), false).await, vec![last]);
}

pub async fn claim_honours_the_limit_in_due_order(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let mut ids = Vec::new();
    // Committed newest first: due order (next_attempt_at) is the reverse of commit order.
    for n in (0..5).rev() {
        ids.push(accept(&*store, delivery(Uuid::new_v4(), t - secs(n))).await);
    }
    assert_eq!(claim_ids(&*store, t, 2).await, vec![ids[0], ids[1]]);
    assert_eq!(claim_ids(&*store, t, 10).await, ids[2..].to_vec());
}

pub async fn retry_counts_only_spent_attempts(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let id = accept(&*store, delivery(Uuid::new_v4(), t)).await;
    claim_one(&*store, t, id).await;
    finish(&*store, id, retry_at(t + secs(5), true)).await;
    let record = store.get(id).await.expect("get").expect("kept");
    assert_eq!(record.state, DeliveryState::Retrying);
    assert_eq!(record.next_attempt_at, Some(t + secs(5)));
    assert_eq!(record.error.as_deref(), Some("flow answered 503"));

    let claimed = store.claim(t + secs(5), 10, t + secs(65), &[]).await;
    let claimed = claimed.expect("claim");
    assert_eq!((claimed[0].attempts, claimed[0].patched), (1, false));
    let unspent = Finish::Retry {
        at: t + secs(6),
        spent: false,
        patched: true,
        error: "flow answered 429".to_owned(),
    };
    finish(&*store, id, unspent).await;
    let claimed = store.claim(t + secs(6), 10, t + secs(66), &[]).await;
    let claimed = claimed.expect("claim");
    assert_eq!((claimed[0].attempts, claimed[0].patched), (1, true));
}

pub async fn dead_keeps_flows_answer(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let id = accept(&*store, delivery(Uuid::new_v4(), t)).await;
    claim_and_finish(&*store, t, id, dead(422)).await;
    let record = store.get(id).await.expect("get").expect("kept");
    assert_eq!(record.state, DeliveryState::Dead);
    assert_eq!(record.flow_status, Some(422));
    assert_eq!(
        record.flow_body.as_deref(),
        Some("{\"Message\":\"refused\"}")
    );
    assert_eq!(record.error.as_deref(), Some("flow answered 422"));
    assert_eq!(record.next_attempt_at, None);
}

pub async fn attempts_are_recorded_in_order(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let id = accept(&*store, delivery(Uuid::new_v4(), t)).await;
    let tries = [
        attempt(t, "patch", Some(503)),
        attempt(t + secs(5), "patch", None),
        attempt(t + secs(35), "patch", Some(200)),
    ];
    for (n, tried) in tries.iter().enumerate() {
        let at = t + secs(60 * n as i64);
        claim_one(&*store, at, id).await;
        let end = match n {
            2 => Finish::Delivered,
            _ => retry_at(at + secs(1), true),
        };
        store
            .finish(id, vec![tried.clone()], end, None)
            .await
            .expect("finish");
    }
    let record = store.get(id).await.expect("get").expect("kept");
    assert_eq!(record.attempts, tries.to_vec());
    assert_eq!(record.state, DeliveryState::Delivered);
    assert_eq!(record.error, None);
}

pub async fn expired_leases_are_released(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let tried = accept(&*store, delivery(Uuid::new_v4(), t)).await;
    claim_and_finish(&*store, t, tried, retry_at(t, true)).await;
    let fresh = accept(&*store, delivery(Uuid::new_v4(), t)).await;
    // Both leased until t + 60 s.
    assert_eq!(claim_ids(&*store, t, 10).await.len(), 2);
    assert_eq!(
        store.release_expired(t + secs(30)).await.expect("release"),
        0
    );
    let now = t + secs(61);
    assert_eq!(store.release_expired(now).await.expect("release"), 2);
    let fresh = store.get(fresh).await.expect("get").expect("kept");
    let tried = store.get(tried).await.expect("get").expect("kept");
    assert_eq!(fresh.state, DeliveryState::Pending);
    assert_eq!(tried.state, DeliveryState::Retrying);
    assert!(fresh.next_attempt_at.is_some_and(|at| at <= now));
    assert_eq!(claim_ids(&*store, now, 10).await.len(), 2);
}

pub async fn renew_extends_the_lease(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let id = accept(&*store, delivery(Uuid::new_v4(), t)).await;
    claim_one(&*store, t, id).await;
    store.renew(id, t + secs(120)).await.expect("renew");
    assert_eq!(
        store.release_expired(t + secs(90)).await.expect("release"),
        0
    );
    assert_eq!(
        store.release_expired(t + secs(121)).await.expect("release"),
        1
    );
}

pub async fn finish_of_an_unknown_delivery_is_harmless(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let tried = attempt(t, "patch", Some(200));
    store
        .finish(Uuid::new_v4(), vec![tried], Finish::Delivered, None)
        .await
        .expect("finish");
}

pub async fn restart_recovers_what_was_in_flight(backend: &mut dyn Backend) {
    let store = backend.store();
    let t = t0();
    let tried = accept(&*store, delivery(Uuid::new_v4(), t)).await;
    claim_and_finish(&*store, t, tried, retry_at(t, true)).await;
    let fresh = accept(&*store, delivery(Uuid::new_v4(), t)).await;
    assert_eq!(claim_ids(&*store, t, 10).await.len(), 2);
    let sync = sync_delivery(Uuid::new_v4(), t);
    accept(&*store, sync.clone()).await;
    drop(store);

    backend.restart().await;
    let store = backend.store();
    let state = |id| {
        let store = store.clone();
        async move { store.get(id).await.expect("get").expect("kept") }
    };
    assert_eq!(state(fresh).await.state, DeliveryState::Pending);
    assert_eq!(state(tried).await.state, DeliveryState::Retrying);
    let interrupted = state(sync.content.id).await;
    assert_eq!(interrupted.state, DeliveryState::Dead);
    assert_eq!(interrupted.error.as_deref(), Some("interrupted"));
    let found = store
        .find(&sync.content.vendor, &sync.content.event_id, t - days(1))
        .await;
    assert_eq!(found.expect("find"), None);
    // Due at once: a claim now (not a minute later, when the lease would have run out) gets them.
    assert_eq!(claim_ids(&*store, chrono::Utc::now(), 10).await.len(), 2);
}
