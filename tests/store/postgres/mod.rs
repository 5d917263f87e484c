//! The suite against [`PgStore`] on the PostgreSQL server `crate::server` found, each test in a
//! schema of its own (a fresh name, created by the store, dropped at the end), and what only the
//! shared store promises: several processes on one schema (`postgres/fleet.rs`), one line per
//! order across them (`postgres/lines.rs`) and one rate bucket per client id across them
//! (`postgres/buckets.rs`). Without a server these tests are ignored.

mod buckets;
mod fleet;
mod lines;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use libtest_mimic::Trial;
use tokio_postgres::NoTls;
use uuid::Uuid;

use flowgate::order::{LastSent, OrderBook};
use flowgate::queue::postgres::{PgOptions, PgStore, check_url};
use flowgate::queue::{DeliveryAdmin, DeliveryQueue, DeliveryState, Finish, Store};

use crate::server;
use crate::suite::{Backend, accept, attempt, claim_one, delivery, store_suite, t0};

/// How long a stopped store's connections may take to close on the server.
const CLOSING: Duration = Duration::from_secs(10);

pub fn trials() -> Vec<Trial> {
    let mut trials = store_suite!(postgres, PgBackend::start().await);
    trials.extend(trials! {
        test: a_bad_url_is_refused_without_repeating_it;
        tokio: an_unreachable_server_is_a_short_error_without_the_password;
        postgres: a_finish_that_fails_records_nothing_and_its_connection_serves_the_next;
    });
    for module in [buckets::trials(), fleet::trials(), lines::trials()] {
        trials.extend(module);
    }
    trials
}

/// A schema of one test's own on the test server, dropped with everything in it at the end.
pub(crate) struct Scratch {
    url: String,
    schema: String,
}

impl Scratch {
    /// A fresh schema name (the store creates the schema).
    pub(crate) fn new() -> Scratch {
        let url = server::url().to_owned();
        let schema = format!("flowgate_test_{}", Uuid::new_v4().simple());
        Scratch { url, schema }
    }

    /// The store's options; its connections carry the schema's name as their application name,
    /// so the end of the test can end them.
    pub(crate) fn options(&self) -> PgOptions {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        PgOptions {
            url: format!("{}{separator}application_name={}", self.url, self.schema),
            schema: self.schema.clone(),
            pool_size: 8,
            sync_lease: Duration::from_secs(60),
        }
    }

    /// One process's store on the schema; a server that does not answer fails the test.
    pub(crate) async fn open(&self) -> PgStore {
        PgStore::open(&self.options())
            .await
            .unwrap_or_else(|e| panic!("the store does not open on {}: {e}", self.url))
    }

    /// A plain connection with the schema as its search path, to look under the store.
    pub(crate) async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls)
            .await
            .unwrap_or_else(|e| panic!("the server {} does not answer: {e}", self.url));
        tokio::spawn(connection);
        let path = format!("SET search_path TO \"{}\"", self.schema);
        client.batch_execute(&path).await.expect("search path");
        client
    }

    /// Waits until the server has closed the connections of a stopped store (as it does at once
    /// when a process dies), so a store opened next sees that process gone.
    pub(crate) async fn until_gone(&self, store: PgStore) {
        let owner = store.owner_key();
        drop(store);
        let client = self.client().await;
        let deadline = tokio::time::Instant::now() + CLOSING;
        loop {
            let held: bool = client
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
                         AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1)",
                    &[&owner],
                )
                .await
                .expect("read pg_locks")
                .get(0);
            if !held {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the stopped store's connection never closed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Scratch {
    /// On a thread and runtime of its own: the test's runtime may be ending, and is blocked
    /// while this runs, so the test's stores cannot close their connections (one may still be in
    /// a transaction whose rollback was not sent yet). Those connections are ended first, as the
    /// end of the test process would end them.
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        let dropping = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let (client, connection) = tokio_postgres::connect(&url, NoTls).await.ok()?;
                tokio::spawn(connection);
                let end = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                           WHERE application_name = $1 AND pid <> pg_backend_pid()";
                if let Err(e) = client.execute(end, &[&schema]).await {
                    return Some(Err(e));
                }
                let drop =
                    format!("SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                Some(client.batch_execute(&drop).await)
            })
        });
        match dropping.join() {
            Ok(Some(Ok(()))) => {}
            Ok(Some(Err(e))) => eprintln!("the test schema {} was left behind: {e:?}", self.schema),
            _ => eprintln!("the test schema {} was left behind", self.schema),
        }
    }
}

pub(crate) struct PgBackend {
    // Field order: the store closes before its schema is dropped.
    store: Option<PgStore>,
    scratch: Scratch,
}

impl PgBackend {
    pub(crate) async fn start() -> PgBackend {
        let scratch = Scratch::new();
        let store = scratch.open().await;
        PgBackend {
            store: Some(store),
            scratch,
        }
    }
}

#[async_trait]
impl Backend for PgBackend {
    fn store(&self) -> Arc<dyn Store> {
        Arc::new(self.store.clone().expect("the store is open"))
    }

    /// The process ends (its connections with it) and a new one starts on the same schema.
    async fn restart(&mut self) {
        let store = self.store.take().expect("the store is open");
        self.scratch.until_gone(store).await;
        self.store = Some(self.scratch.open().await);
    }
}

fn a_bad_url_is_refused_without_repeating_it() {
    let error = check_url("postgres://flowgate:s3cret@db:notaport/flowgate").expect_err("bad");
    assert!(!error.detail().contains("s3cret"), "{error}");
    check_url("postgres://flowgate:s3cret@db:5432/flowgate").expect("good");
    check_url("postgresql://db/flowgate?connect_timeout=2").expect("good");
}

async fn an_unreachable_server_is_a_short_error_without_the_password() {
    let options = PgOptions {
        // Port 1 on loopback: nothing listens there.
        url: "postgres://flowgate:s3cret@127.0.0.1:1/flowgate".to_owned(),
        schema: "public".to_owned(),
        pool_size: 1,
        sync_lease: Duration::from_secs(60),
    };
    let error = PgStore::open(&options).await.expect_err("no server");
    assert!(!error.detail().contains("s3cret"), "{error}");
    assert!(error.detail().contains("connecting"), "{error}");
}

/// A finish sends its statements two at a time: when one fails (PostgreSQL's text holds no
/// NUL), in the first pair or the second, its partner is dropped unanswered and the transaction
/// rolls back whole, and the one pooled connection that ran it serves the next finish.
async fn a_finish_that_fails_records_nothing_and_its_connection_serves_the_next() {
    let scratch = Scratch::new();
    let options = PgOptions {
        pool_size: 1,
        ..scratch.options()
    };
    let store = PgStore::open(&options).await.expect("open");
    let (order, t) = (Uuid::new_v4(), t0());
    let id = accept(&store, delivery(order, t)).await;
    claim_one(&store, t, id).await;
    let sent = |title: &str| LastSent {
        title: Some(title.to_owned()),
        ..LastSent::default()
    };
    let tried = |error: Option<&str>| {
        let mut tried = attempt(t, "patch", Some(200));
        tried.error = error.map(str::to_owned);
        vec![tried]
    };

    // What Flow accepted fails with the row's lock; the attempts fail with the turn's end,
    // after what Flow accepted was written.
    for (title, error) in [
        ("nul\0byte", None),
        ("Written, then rolled back", Some("nul\0byte")),
    ] {
        let failed = store.finish(
            id,
            tried(error),
            Finish::Delivered,
            Some((order, sent(title))),
        );
        failed.await.expect_err("a NUL cannot be stored");
        let record = store.get(id).await.expect("get").expect("kept");
        assert_eq!(record.state, DeliveryState::InFlight, "{title}");
        assert!(record.attempts.is_empty(), "{title}: {:?}", record.attempts);
        let kept = store.last_sent(order).await.expect("read");
        assert_eq!(kept, LastSent::default(), "{title}");
    }

    let finished = store.finish(
        id,
        tried(None),
        Finish::Delivered,
        Some((order, sent("Done"))),
    );
    finished.await.expect("the next finish");
    let record = store.get(id).await.expect("get").expect("kept");
    assert_eq!(record.state, DeliveryState::Delivered);
    assert_eq!(record.attempts.len(), 1);
    assert_eq!(store.last_sent(order).await.expect("read"), sent("Done"));
}
