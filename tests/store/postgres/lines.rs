//! Per-order FIFO across replicas: claims made at once by several processes, an order another
//! claim is working on, and deliveries of one order committed out of their numbering.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use libtest_mimic::Trial;
use uuid::Uuid;

use flowgate::queue::postgres::PgStore;
use flowgate::queue::{Claimed, DeliveryQueue, Finish, NewDelivery, StoreUpkeep};

use super::Scratch;
use crate::suite::{accept, claim_ids, claim_one, delivery, finish, secs, t0};

pub fn trials() -> Vec<Trial> {
    trials! {
        postgres(2):
            two_replicas_claiming_at_once_keep_each_order_in_line;
        postgres:
            an_order_another_claim_is_working_on_is_skipped,
            an_earlier_delivery_committed_later_waits_for_the_one_in_flight;
    }
}

/// What the replicas' claims looked like, checked as they happen.
#[derive(Default)]
struct Lines {
    /// Per order: the position of its next delivery, and whether one is in flight.
    orders: HashMap<Uuid, (usize, bool)>,
    /// Every delivery's order and position in it.
    positions: HashMap<Uuid, (Uuid, usize)>,
    /// Every claim, in the order made; each delivery once, or twice when it was retried.
    claims: Vec<Uuid>,
    retried: HashSet<Uuid>,
}

impl Lines {
    fn claimed(&mut self, claimed: &Claimed) {
        let (order, position) = self.positions[&claimed.content.id];
        let line = self.orders.entry(order).or_default();
        assert!(!line.1, "two deliveries of order {order} in flight at once");
        assert_eq!(line.0, position, "order {order} was claimed out of turn");
        *line = (position, true);
        self.claims.push(claimed.content.id);
    }

    /// How the turn ends; called before it ends, since the next delivery of the order cannot
    /// be claimed before it has. Every third position is retried once first.
    fn finishing(&mut self, claimed: &Claimed) -> Finish {
        let (order, position) = self.positions[&claimed.content.id];
        if position % 3 == 1 && self.retried.insert(claimed.content.id) {
            self.orders.insert(order, (position, false));
            return Finish::Retry {
                at: Utc::now(),
                spent: true,
                patched: false,
                error: "flow answered 503".to_owned(),
            };
        }
        self.orders.insert(order, (position + 1, false));
        Finish::Delivered
    }

    fn delivered(&self) -> usize {
        self.orders.values().map(|(next, _)| next).sum()
    }
}

/// One worker of a replica: claims, holds the claims a moment, ends their turns, until every
/// delivery is delivered.
async fn work(store: PgStore, lines: Arc<Mutex<Lines>>, total: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while lines.lock().expect("lines").delivered() < total {
        assert!(tokio::time::Instant::now() < deadline, "claims stalled");
        let now = Utc::now();
        let claimed = store.claim(now, 4, now + secs(60), &[]).await;
        let claimed = claimed.expect("claim");
        for c in &claimed {
            lines.lock().expect("lines").claimed(c);
        }
        // Held a moment, so an overlapping claim by another worker would be seen.
        tokio::time::sleep(Duration::from_millis(2)).await;
        for c in &claimed {
            let end = lines.lock().expect("lines").finishing(c);
            store
                .finish(c.content.id, Vec::new(), end, None)
                .await
                .expect("finish");
        }
        if claimed.is_empty() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Commits one order's deliveries one after another, alternating between replicas.
async fn enqueue_line(replicas: [PgStore; 2], ids: Vec<NewDelivery>) {
    for (n, new) in ids.into_iter().enumerate() {
        accept(&replicas[n % 2], new).await;
    }
}

async fn two_replicas_claiming_at_once_keep_each_order_in_line() {
    let scratch = Scratch::new();
    let replicas = [scratch.open().await, scratch.open().await];
    // Few orders with long lines: every claim finds later deliveries of orders in flight.
    let mut lines = Lines::default();
    let mut enqueuers = Vec::new();
    for _ in 0..8 {
        let order = Uuid::new_v4();
        let news: Vec<_> = (0..12).map(|_| delivery(order, t0())).collect();
        for (position, new) in news.iter().enumerate() {
            lines.positions.insert(new.content.id, (order, position));
        }
        enqueuers.push((replicas.clone(), news));
    }
    let total = lines.positions.len();
    let lines = Arc::new(Mutex::new(lines));
    // Webhooks keep arriving at both replicas while their workers claim.
    let enqueuers: Vec<_> = enqueuers
        .into_iter()
        .map(|(replicas, news)| tokio::spawn(enqueue_line(replicas, news)))
        .collect();
    let workers: Vec<_> = replicas
        .iter()
        .flat_map(|store| [store.clone(), store.clone()])
        .map(|store| tokio::spawn(work(store, lines.clone(), total)))
        .collect();
    for task in enqueuers.into_iter().chain(workers) {
        task.await.expect("a replica's task");
    }
    let depth = replicas[0].depth().await.expect("depth");
    assert_eq!((depth.pending, depth.in_flight, depth.retrying), (0, 0, 0));
    let lines = lines.lock().expect("lines");
    let mut claims: HashMap<Uuid, usize> = HashMap::new();
    for id in &lines.claims {
        *claims.entry(*id).or_default() += 1;
    }
    for (id, count) in &claims {
        let expected = if lines.retried.contains(id) { 2 } else { 1 };
        assert_eq!(*count, expected, "delivery {id} was claimed {count} times");
    }
    assert_eq!(claims.len(), total);
}

async fn an_order_another_claim_is_working_on_is_skipped() {
    let scratch = Scratch::new();
    let store = scratch.open().await;
    let t = t0();
    let (busy, free) = (Uuid::new_v4(), Uuid::new_v4());
    let waiting = accept(&store, delivery(busy, t)).await;
    let other = accept(&store, delivery(free, t + secs(1))).await;
    // Another process's claim holds the order's lock until its transaction ends.
    let mut elsewhere = scratch.client().await;
    let claim = elsewhere.transaction().await.expect("begin");
    claim
        .execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(
                 current_schema() || ' order ' || $1::uuid::text, 0))",
            &[&busy],
        )
        .await
        .expect("the order's lock");
    assert_eq!(claim_ids(&store, t + secs(1), 10).await, vec![other]);
    claim.commit().await.expect("commit");
    claim_one(&store, t + secs(1), waiting).await;
}

async fn an_earlier_delivery_committed_later_waits_for_the_one_in_flight() {
    let scratch = Scratch::new();
    let (first, second) = (scratch.open().await, scratch.open().await);
    let t = t0();
    let order = Uuid::new_v4();
    // A commit that takes its number first and commits last, as a slow request would.
    let mut slow = scratch.client().await;
    let late = slow.transaction().await.expect("begin");
    let late_id = Uuid::new_v4();
    late.execute(
        "INSERT INTO deliveries (id, vendor, tenant, order_id, event_id, mode, state,
             order_update, traceparent, body_hash, created_at, updated_at, next_attempt_at)
         VALUES ($1, 'photo', 'demo', $2, 'evt-late', 'queued', 'pending',
             '{\"state\": \"InProcess\"}',
             '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', '\\x00', $3, $3, $3)",
        &[&late_id, &order, &t],
    )
    .await
    .expect("insert");
    let early = accept(&first, delivery(order, t)).await;
    claim_one(&first, t, early).await;
    late.commit().await.expect("commit");
    // Numbered before the one in flight, but the order has an attempt running.
    assert!(claim_ids(&second, t, 10).await.is_empty());
    finish(&first, early, Finish::Delivered).await;
    claim_one(&second, t, late_id).await;
}
