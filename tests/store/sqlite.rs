//! The suite against [`SqliteStore`] on a real file in a temporary directory, and what only the
//! embedded store promises: a second connection sees every acknowledged commit, migrations are
//! idempotent, `store.url` resolves against the config file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use libtest_mimic::Trial;
use rusqlite::Connection;
use tempfile::TempDir;
use uuid::Uuid;

use flowgate::config::{Config, SyncMode};
use flowgate::queue::sqlite::SqliteStore;
use flowgate::queue::{Deleted, DeliveryState, Enqueued, Finish, Store};

use crate::suite::rejections::rejection;
use crate::suite::{
    Backend, VENDOR, accept, attempt, claim_and_finish, claim_ids, claim_one, days, delivery, secs,
    store_suite, t0,
};

struct SqliteBackend {
    // Field order: the store closes before its directory is removed.
    store: Option<SqliteStore>,
    path: PathBuf,
    _dir: TempDir,
}

impl SqliteBackend {
    fn new() -> SqliteBackend {
        let dir = TempDir::new().expect("temp dir");
        // A directory that does not exist yet: `open` creates it.
        let path = dir.path().join("data").join("flowgate.db");
        let store = SqliteStore::open(&path, SyncMode::Full).expect("open");
        SqliteBackend {
            store: Some(store),
            path,
            _dir: dir,
        }
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    fn store(&self) -> Arc<dyn Store> {
        Arc::new(self.store.clone().expect("the store is open"))
    }

    async fn restart(&mut self) {
        // Dropping the last handle joins the writer thread and closes the file.
        self.store = None;
        self.store = Some(SqliteStore::open(&self.path, SyncMode::Full).expect("reopen"));
    }
}

pub fn trials() -> Vec<Trial> {
    let mut trials = store_suite!(tokio, SqliteBackend::new());
    trials.extend(trials! {
        test:
            the_open_states_are_exactly_those_after_delivered,
            store_url_resolves_against_the_config_file,
            store_url_from_the_environment_resolves_against_the_working_directory;
        tokio:
            an_acknowledged_delivery_is_on_disk,
            a_line_waits_unscheduled_until_its_turn,
            a_paused_backlog_leaves_the_claims_index,
            reopening_keeps_schema_and_data,
            a_newer_schema_is_refused,
            a_failing_request_leaves_its_batch_committed,
            deleting_a_delivery_removes_its_row_and_key,
            the_rejections_count_follows_every_insert_and_delete;
    });
    trials
}

fn state_on_disk(path: &Path, id: Uuid) -> Option<String> {
    use rusqlite::OptionalExtension;
    let conn = Connection::open(path).expect("second connection");
    conn.query_row(
        "SELECT state FROM deliveries WHERE id = ?1",
        [id.as_bytes()],
        |row| row.get(0),
    )
    .optional()
    .expect("query")
}

/// The SQL of `deliveries.rs` writes "open" as `state > 'delivered'`; SQLite compares text byte
/// by byte, as `str` does.
fn the_open_states_are_exactly_those_after_delivered() {
    for state in DeliveryState::ALL {
        assert_eq!(state.is_open(), state.as_str() > "delivered", "{state:?}");
    }
}

async fn an_acknowledged_delivery_is_on_disk() {
    let backend = SqliteBackend::new();
    let store = backend.store();
    let id = accept(&*store, delivery(Uuid::new_v4(), t0())).await;
    assert_eq!(state_on_disk(&backend.path, id).as_deref(), Some("pending"));
}

/// Only the head of an order's line is scheduled, so a long line costs a claim one candidate;
/// the next one becomes due, since its commit, when the head finishes.
async fn a_line_waits_unscheduled_until_its_turn() {
    let backend = SqliteBackend::new();
    let store = backend.store();
    let (t, order) = (t0(), Uuid::new_v4());
    let first = accept(&*store, delivery(order, t)).await;
    let second = accept(&*store, delivery(order, t)).await;
    let scheduled = |id| {
        let store = store.clone();
        async move {
            let record = store.get(id).await.expect("get").expect("the delivery");
            record.next_attempt_at
        }
    };
    assert_eq!(scheduled(first).await, Some(t));
    assert_eq!(scheduled(second).await, None, "waits its turn unscheduled");
    claim_and_finish(&*store, t, first, Finish::Delivered).await;
    assert_eq!(scheduled(second).await, Some(t), "due since its commit");
    claim_one(&*store, t, second).await;
}

/// A paused tenant's backlog leaves the claims' index at the first claim that skips it, so
/// later claims do not step over it; resuming puts it back, and so does a restart, which ends
/// every pause.
async fn a_paused_backlog_leaves_the_claims_index() {
    let mut backend = SqliteBackend::new();
    let store = backend.store();
    let t = t0();
    for n in 0..3 {
        accept(&*store, delivery(Uuid::new_v4(), t + secs(n))).await;
    }
    let in_claims_index = |path: &Path| -> i64 {
        let conn = Connection::open(path).expect("second connection");
        conn.query_row(
            "SELECT COUNT(*) FROM deliveries INDEXED BY deliveries_due
             WHERE state IN ('pending', 'retrying') AND mode = 'queued' AND parked = 0",
            [],
            |row| row.get(0),
        )
        .expect("count")
    };
    assert_eq!(in_claims_index(&backend.path), 3);
    let paused = ["demo".to_owned()];
    let claimed = store.claim(t + secs(1), 10, t + secs(60), &paused).await;
    assert!(claimed.expect("claim").is_empty());
    assert_eq!(
        in_claims_index(&backend.path),
        1,
        "only what was not due stays"
    );
    let claimed = store.claim(t + secs(9), 10, t + secs(60), &paused).await;
    assert!(claimed.expect("claim").is_empty());
    assert_eq!(in_claims_index(&backend.path), 0);

    // The old store must be gone before a new one may open the file.
    drop(store);
    backend.restart().await;
    assert_eq!(claim_ids(&*backend.store(), t + secs(9), 10).await.len(), 3);
}

async fn reopening_keeps_schema_and_data() {
    let mut backend = SqliteBackend::new();
    let id = accept(&*backend.store(), delivery(Uuid::new_v4(), t0())).await;
    backend.restart().await;
    backend.restart().await;
    let record = backend.store().get(id).await.expect("get").expect("kept");
    assert_eq!(record.id, id);
    let conn = Connection::open(&backend.path).expect("second connection");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .expect("version");
    assert_eq!(version, 7);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .expect("journal mode");
    assert_eq!(mode, "wal");
}

async fn a_newer_schema_is_refused() {
    let mut backend = SqliteBackend::new();
    backend.store = None;
    let conn = Connection::open(&backend.path).expect("second connection");
    conn.execute_batch("PRAGMA user_version = 99")
        .expect("set version");
    drop(conn);
    let error = SqliteStore::open(&backend.path, SyncMode::Normal).expect_err("refused");
    assert!(error.detail().contains("schema version 99"), "{error}");
}

async fn a_failing_request_leaves_its_batch_committed() {
    let backend = SqliteBackend::new();
    let store = backend.store();
    let first = accept(&*store, delivery(Uuid::new_v4(), t0())).await;
    let mut twin = delivery(Uuid::new_v4(), t0());
    twin.content.id = first;
    // The twin's id is taken: its insert fails inside the batch it shares with the others.
    let tasks: Vec<_> = std::iter::once(twin)
        .chain((0..20).map(|_| delivery(Uuid::new_v4(), t0())))
        .map(|d| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.enqueue(d, t0() - days(1)).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task"));
    }
    assert!(outcomes[0].is_err());
    assert!(
        outcomes[1..]
            .iter()
            .all(|o| matches!(o, Ok(Enqueued::Accepted)))
    );
    assert_eq!(store.depth().await.expect("depth").pending, 21);
}

async fn deleting_a_delivery_removes_its_row_and_key() {
    let backend = SqliteBackend::new();
    let store = backend.store();
    let new = delivery(Uuid::new_v4(), t0());
    let id = accept(&*store, new.clone()).await;
    claim_one(&*store, t0(), id).await;
    let tried = attempt(t0(), "updatestate", Some(200));
    store
        .finish(id, vec![tried], Finish::Delivered, None)
        .await
        .expect("finish");
    assert_eq!(store.delete(id).await.expect("delete"), Deleted::Deleted);
    let conn = Connection::open(&backend.path).expect("second connection");
    let count = |table: &str| -> i64 {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
            row.get(0)
        })
        .expect("count")
    };
    // Its calls and its dedup key were in its row; its body goes with it.
    assert_eq!((count("deliveries"), count("bodies")), (0, 0));
    let since = t0() - days(1);
    assert_eq!(
        store
            .find(&new.content.vendor, &new.content.event_id, since)
            .await
            .expect("find"),
        None
    );
}

/// The trim reads the rejections' number from the row the schema's triggers keep: it follows
/// every keep, delete, purge and trim, and a restart.
async fn the_rejections_count_follows_every_insert_and_delete() {
    let mut backend = SqliteBackend::new();
    let counts = |path: &Path| -> (i64, i64) {
        let conn = Connection::open(path).expect("second connection");
        let number = |sql: &str| -> i64 { conn.query_row(sql, [], |row| row.get(0)).expect(sql) };
        (
            number("SELECT n FROM rejections_count"),
            number("SELECT COUNT(*) FROM rejections"),
        )
    };
    let store = backend.store();
    let t = t0();
    let mut ids = Vec::new();
    for n in 0..12 {
        let refused = rejection(VENDOR, t - days(n));
        ids.push(refused.id);
        store.keep_rejection(refused).await.expect("keep");
    }
    assert_eq!(counts(&backend.path), (12, 12));
    assert!(store.delete_rejection(ids[0]).await.expect("delete"));
    assert_eq!(counts(&backend.path), (11, 11));
    let retention = flowgate::queue::Retention {
        delivered: Duration::from_secs(3600),
        dead: Duration::ZERO,
        dedup_window: Duration::from_secs(3600),
        orders: Duration::from_secs(3600),
        rejections: Duration::from_secs(10 * 24 * 3600 - 60),
        bodies: Duration::from_secs(3600),
    };
    assert_eq!(store.purge(t, retention).await.expect("purge"), 2);
    assert_eq!(counts(&backend.path), (9, 9));
    assert_eq!(store.trim_rejections(5).await.expect("trim"), 4);
    assert_eq!(counts(&backend.path), (5, 5));
    drop(store);
    backend.restart().await;
    assert_eq!(backend.store().trim_rejections(5).await.expect("trim"), 0);
    assert_eq!(counts(&backend.path), (5, 5));
}

fn store_url_resolves_against_the_config_file() {
    let mut config = Config::default();
    config.source.dir = PathBuf::from("/etc/flowgate");
    assert_eq!(
        SqliteStore::path_from_config(&config),
        Some(PathBuf::from("/etc/flowgate/data/flowgate.db"))
    );
    config.store.url = "sqlite:///var/lib/flowgate/flowgate.db".to_owned();
    assert_eq!(
        SqliteStore::path_from_config(&config),
        Some(PathBuf::from("/var/lib/flowgate/flowgate.db"))
    );
    config.store.url = "postgres://db/flowgate".to_owned();
    assert_eq!(SqliteStore::path_from_config(&config), None);
}

fn store_url_from_the_environment_resolves_against_the_working_directory() {
    let mut config = Config::default();
    config.source.dir = PathBuf::from("/etc/flowgate");
    config
        .source
        .env_keys
        .insert("store.url".to_owned(), "FLOWGATE_STORE__URL".to_owned());
    assert_eq!(
        SqliteStore::path_from_config(&config),
        Some(PathBuf::from("data/flowgate.db"))
    );
}
