//! The tenants' rate buckets shared through the database: two processes (two stores on one
//! schema) taking tokens of one bucket as fast as it lets them never get more, together, than
//! the burst plus the rate times the time taken; separate keys are separate buckets.

use std::sync::Arc;
use std::time::Duration;

use libtest_mimic::Trial;
use tokio::time::Instant;

use flowgate::config::RateLimitConfig;
use flowgate::flow::{SharedBuckets, Take};
use flowgate::queue::postgres::PgStore;

use super::Scratch;

pub fn trials() -> Vec<Trial> {
    trials! {
        postgres(4):
            two_replicas_together_stay_within_burst_plus_rate;
        postgres:
            an_empty_bucket_says_how_long_until_its_next_token_and_keys_are_apart,
            a_schema_of_version_two_keeps_its_tokens_and_leaves_the_wal;
    }
}

const RATE: RateLimitConfig = RateLimitConfig {
    per_second: 40.0,
    burst: 5,
};

/// A granted token: the database granted it between `asked` and `answered`.
#[derive(Clone, Copy)]
struct Grant {
    asked: Instant,
    answered: Instant,
}

/// Takes tokens of `key` for `run`, sleeping as the bucket says between tries.
async fn take_for(store: PgStore, key: &str, run: Duration) -> Vec<Grant> {
    let end = Instant::now() + run;
    let mut granted = Vec::new();
    while Instant::now() < end {
        let asked = Instant::now();
        match store.take(key, RATE).await.expect("take") {
            Take::Taken => granted.push(Grant {
                asked,
                answered: Instant::now(),
            }),
            Take::Wait(wait) => tokio::time::sleep(wait.max(Duration::from_millis(1))).await,
        }
    }
    granted
}

async fn two_replicas_together_stay_within_burst_plus_rate() {
    let scratch = Scratch::new();
    let replicas = [scratch.open().await, scratch.open().await];
    let key: Arc<str> = Arc::from("client:shared");
    let run = Duration::from_millis(1500);
    let started = Instant::now();
    let takers: Vec<_> = (0..6)
        .map(|n| {
            let (store, key) = (replicas[n % 2].clone(), key.clone());
            tokio::spawn(async move { take_for(store, &key, run).await })
        })
        .collect();
    let mut granted = Vec::new();
    for taker in takers {
        granted.extend(taker.await.expect("taker"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let allowed = f64::from(RATE.burst) + RATE.per_second * elapsed;
    let count = granted.len() as f64;
    assert!(
        count <= allowed,
        "{count} tokens in {elapsed:.3}s, at most {allowed:.1} allowed"
    );
    // The budget is used, not just respected: most of it was granted.
    assert!(
        count >= 0.8 * allowed,
        "only {count} of {allowed:.1} tokens granted"
    );
    // Every window holds at most burst + rate × window of the grants made inside it. A grant
    // is known to lie inside a window only when it was asked and answered within it, so the
    // check is sound however late an answer reaches its taker on a busy machine.
    for from in &granted {
        for to in &granted {
            if to.answered <= from.asked {
                continue;
            }
            let window = to.answered.duration_since(from.asked).as_secs_f64();
            let inside = granted
                .iter()
                .filter(|g| g.asked >= from.asked && g.answered <= to.answered)
                .count() as f64;
            let bound = f64::from(RATE.burst) + RATE.per_second * window;
            assert!(inside <= bound, "{inside} grants within {window:.3}s");
        }
    }
}

async fn an_empty_bucket_says_how_long_until_its_next_token_and_keys_are_apart() {
    let scratch = Scratch::new();
    let store = scratch.open().await;
    for _ in 0..RATE.burst {
        assert_eq!(
            store.take("client:a", RATE).await.expect("take"),
            Take::Taken
        );
    }
    match store.take("client:a", RATE).await.expect("take") {
        Take::Wait(wait) => assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(25),
            "one token at 40/s is at most 25 ms away: {wait:?}"
        ),
        Take::Taken => panic!("the burst is spent"),
    }
    assert_eq!(
        store.take("client:b", RATE).await.expect("take"),
        Take::Taken
    );
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert_eq!(
        store.take("client:a", RATE).await.expect("take"),
        Take::Taken
    );
}

/// Whether the `buckets` table is written to the WAL.
async fn buckets_logged(client: &tokio_postgres::Client) -> bool {
    let persistence: i8 = client
        .query_one(
            "SELECT relpersistence::\"char\" FROM pg_catalog.pg_class
             WHERE oid = 'buckets'::regclass",
            &[],
        )
        .await
        .expect("the buckets table")
        .get(0);
    persistence == b'p' as i8
}

/// One token in ten seconds: nothing refills while a test runs.
const SLOW: RateLimitConfig = RateLimitConfig {
    per_second: 0.1,
    burst: 5,
};

async fn a_schema_of_version_two_keeps_its_tokens_and_leaves_the_wal() {
    let scratch = Scratch::new();
    let store = scratch.open().await;
    let client = scratch.client().await;
    assert!(
        !buckets_logged(&client).await,
        "a new schema's buckets are unlogged"
    );
    // The schema as version 2 left it: a logged table, holding a bucket part spent.
    client
        .batch_execute(
            "ALTER TABLE buckets SET LOGGED; DROP TABLE rejections; DROP TABLE bodies;
             DELETE FROM migrations WHERE version >= 3;",
        )
        .await
        .expect("back to version 2");
    for _ in 0..SLOW.burst - 1 {
        assert_eq!(
            store.take("client:a", SLOW).await.expect("take"),
            Take::Taken
        );
    }
    drop(store);
    let store = scratch.open().await;
    assert!(
        !buckets_logged(&client).await,
        "the upgrade unlogs the table"
    );
    // The upgrade kept the row: one token is left.
    assert_eq!(
        store.take("client:a", SLOW).await.expect("take"),
        Take::Taken
    );
    assert!(
        matches!(
            store.take("client:a", SLOW).await.expect("take"),
            Take::Wait(_)
        ),
        "the bucket kept what was spent before the upgrade"
    );
}
