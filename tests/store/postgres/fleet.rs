//! Several processes on one schema: each store opened on it stands for one replica, with a pool
//! and a presence of its own. Dedup keys, claims, leases and migrations hold across them.

use chrono::Utc;
use libtest_mimic::Trial;
use uuid::Uuid;

use flowgate::queue::postgres::PgStore;
use flowgate::queue::{DeliveryAdmin, DeliveryQueue, DeliveryState, Enqueued, Finish, StoreUpkeep};

use super::Scratch;
use crate::suite::{accept, attempt, claim_ids, days, delivery, secs, sync_delivery, t0};

pub fn trials() -> Vec<Trial> {
    trials! {
        postgres(2):
            racing_enqueues_of_one_key_from_two_replicas_commit_one,
            replicas_starting_at_once_migrate_once;
        postgres:
            an_expired_lease_passes_to_the_other_replica_and_stays_with_it,
            a_starting_replica_recovers_a_stopped_ones_claims_and_not_a_running_ones,
            a_newer_schema_is_refused,
            every_table_lives_in_the_configured_schema;
    }
}

async fn racing_enqueues_of_one_key_from_two_replicas_commit_one() {
    let scratch = Scratch::new();
    let replicas = [scratch.open().await, scratch.open().await];
    let t = t0();
    let event_id = format!("evt-{}", Uuid::new_v4());
    let tasks: Vec<_> = (0..20)
        .map(|n| {
            let store = replicas[n % 2].clone();
            let mut new = delivery(Uuid::new_v4(), t);
            new.content.event_id = event_id.clone();
            tokio::spawn(async move {
                let enqueued = store.enqueue(new.clone(), t - days(1)).await;
                (new.content.id, enqueued.expect("enqueue"))
            })
        })
        .collect();
    let (mut accepted, mut taken) = (Vec::new(), Vec::new());
    for task in tasks {
        match task.await.expect("task") {
            (id, Enqueued::Accepted) => accepted.push(id),
            (_, Enqueued::Taken(existing)) => taken.push(existing.id),
        }
    }
    assert_eq!((accepted.len(), taken.len()), (1, 19));
    assert!(taken.iter().all(|id| *id == accepted[0]));
    assert_eq!(replicas[1].depth().await.expect("depth").pending, 1);
}

async fn an_expired_lease_passes_to_the_other_replica_and_stays_with_it() {
    let scratch = Scratch::new();
    let (first, second) = (scratch.open().await, scratch.open().await);
    let t = t0();
    let id = accept(&first, delivery(Uuid::new_v4(), t)).await;
    assert_eq!(claim_ids(&first, t, 10).await, vec![id]);
    assert!(claim_ids(&second, t + secs(1), 10).await.is_empty());
    assert_eq!(
        second.release_expired(t + secs(30)).await.expect("release"),
        0
    );
    assert_eq!(
        second.release_expired(t + secs(61)).await.expect("release"),
        1
    );
    // Leased until t + 121 s.
    assert_eq!(claim_ids(&second, t + secs(61), 10).await, vec![id]);

    // The first replica's late outcome is recorded but does not end the second's turn, and its
    // renewal does not extend the second's lease.
    let late = attempt(t + secs(62), "updatestate", Some(200));
    first
        .finish(id, vec![late.clone()], Finish::Delivered, None)
        .await
        .expect("finish");
    first.renew(id, t + days(1)).await.expect("renew");
    let record = second.get(id).await.expect("get").expect("kept");
    assert_eq!(
        (record.state, record.attempts),
        (DeliveryState::InFlight, vec![late])
    );
    assert_eq!(
        second
            .release_expired(t + secs(122))
            .await
            .expect("release"),
        1
    );
    assert_eq!(claim_ids(&second, t + secs(122), 10).await, vec![id]);
    second
        .finish(id, Vec::new(), Finish::Delivered, None)
        .await
        .expect("finish");
    let record = first.get(id).await.expect("get").expect("kept");
    assert_eq!(record.state, DeliveryState::Delivered);
}

async fn a_starting_replica_recovers_a_stopped_ones_claims_and_not_a_running_ones() {
    let scratch = Scratch::new();
    let (stopped, running) = (scratch.open().await, scratch.open().await);
    let t = t0();
    let orphan = accept(&stopped, delivery(Uuid::new_v4(), t)).await;
    assert_eq!(claim_ids(&stopped, t, 10).await, vec![orphan]);
    let held = accept(&running, delivery(Uuid::new_v4(), t)).await;
    assert_eq!(claim_ids(&running, t, 10).await, vec![held]);
    let orphan_sync = accept(&stopped, sync_delivery(Uuid::new_v4(), t)).await;
    let held_sync = accept(&running, sync_delivery(Uuid::new_v4(), t)).await;

    scratch.until_gone(stopped).await;
    let started = scratch.open().await;
    let state = async |id| {
        let record = started.get(id).await.expect("get").expect("kept");
        (record.state, record.error)
    };
    assert_eq!(state(orphan).await, (DeliveryState::Pending, None));
    assert_eq!(state(held).await, (DeliveryState::InFlight, None));
    let interrupted = Some("interrupted".to_owned());
    assert_eq!(state(orphan_sync).await, (DeliveryState::Dead, interrupted));
    assert_eq!(state(held_sync).await, (DeliveryState::InFlight, None));
    assert_eq!(claim_ids(&started, Utc::now(), 10).await, vec![orphan]);
    // The running replica's claim is still its own to end.
    running
        .finish(held, Vec::new(), Finish::Delivered, None)
        .await
        .expect("finish");
    assert_eq!(state(held).await, (DeliveryState::Delivered, None));
}

async fn replicas_starting_at_once_migrate_once() {
    let scratch = Scratch::new();
    let opening: Vec<_> = (0..4)
        .map(|_| {
            let options = scratch.options();
            tokio::spawn(async move { PgStore::open(&options).await })
        })
        .collect();
    let mut stores = Vec::new();
    for open in opening {
        stores.push(open.await.expect("task").expect("every replica opens"));
    }
    let client = scratch.client().await;
    let versions: Vec<i32> = client
        .query("SELECT version FROM migrations ORDER BY version", &[])
        .await
        .expect("migrations")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(versions, vec![1, 2, 3, 4, 5]);
    let id = accept(&stores[3], delivery(Uuid::new_v4(), t0())).await;
    assert!(stores[0].get(id).await.expect("get").is_some());
}

async fn a_newer_schema_is_refused() {
    let scratch = Scratch::new();
    drop(scratch.open().await);
    let client = scratch.client().await;
    client
        .batch_execute("INSERT INTO migrations (version) VALUES (99)")
        .await
        .expect("a newer version");
    let error = PgStore::open(&scratch.options())
        .await
        .expect_err("refused");
    assert!(error.detail().contains("schema version 99"), "{error}");
}

async fn every_table_lives_in_the_configured_schema() {
    let scratch = Scratch::new();
    drop(scratch.open().await);
    let client = scratch.client().await;
    let tables: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() ORDER BY table_name",
            &[],
        )
        .await
        .expect("tables")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let expected = [
        "attempts",
        "bindings",
        "bodies",
        "buckets",
        "dedup",
        "deliveries",
        "last_sent",
        "migrations",
        "rejections",
    ];
    assert_eq!(tables, expected);
}
