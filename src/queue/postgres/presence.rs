//! Which processes are running: each holds an advisory lock on its own random key (its owner
//! key, written on every delivery it claims) on a connection of its own, outside the pool. The
//! server drops the lock the moment that connection closes (a crash, `kill -9`, a stop), so a
//! process starting up can tell orphaned claims from those of live processes.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};

use crate::order::{StoreError, StoreErrorKind as Kind};

/// How long to wait before connecting again after the presence connection was lost.
const RECONNECT_EVERY: Duration = Duration::from_secs(1);

/// The owner keys holding a presence now, for `WHERE claimed_by NOT IN (...)`. Advisory locks
/// on a `bigint` key show in `pg_locks` as its high and low halves (`objsubid` 1).
pub(super) const PRESENT_OWNERS: &str = "
    SELECT (l.classid::bigint << 32) | l.objid::bigint
    FROM pg_catalog.pg_locks l
    WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
      AND l.database = (SELECT oid FROM pg_catalog.pg_database
                        WHERE datname = pg_catalog.current_database())";

/// A fresh owner key: random, so keys of processes past and present never meet.
pub(super) fn new_owner() -> i64 {
    // Zero and negative keys are valid too; positive ones read better in `pg_locks`.
    fastrand::i64(1..i64::MAX)
}

/// The held presence; dropping it closes the connection, which releases the lock.
pub(super) struct Presence {
    task: JoinHandle<()>,
}

impl Presence {
    /// Connects and takes the lock (failing when it cannot), then keeps it: a lost connection
    /// is replaced and the lock taken again.
    pub(super) async fn start(
        config: tokio_postgres::Config,
        owner: i64,
    ) -> Result<Presence, StoreError> {
        let held = hold(&config, owner).await?;
        Ok(Presence {
            task: tokio::spawn(keep(config, owner, held)),
        })
    }
}

impl Drop for Presence {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A connection holding the lock: the client (dropping it closes the connection) and the task
/// that drives the connection, which ends when it closes.
struct Held {
    _client: Client,
    driver: JoinHandle<()>,
}

async fn hold(config: &tokio_postgres::Config, owner: i64) -> Result<Held, StoreError> {
    let (client, connection) = config.connect(NoTls).await?;
    let driver = tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "the store's presence connection failed");
        }
    });
    let taken: bool = client
        .query_one("SELECT pg_catalog.pg_try_advisory_lock($1)", &[&owner])
        .await?
        .try_get(0)?;
    if !taken {
        return Err(StoreError::new(
            Kind::Busy,
            "postgres: this process's presence key is held by another connection",
        ));
    }
    Ok(Held {
        _client: client,
        driver,
    })
}

async fn keep(config: tokio_postgres::Config, owner: i64, mut held: Held) {
    loop {
        let _ = (&mut held.driver).await;
        tracing::warn!(
            "lost the database connection that marks this process as running; reconnecting"
        );
        held = loop {
            tokio::time::sleep(RECONNECT_EVERY).await;
            match hold(&config, owner).await {
                Ok(held) => break held,
                Err(error) => tracing::debug!(%error, "reconnecting the presence failed"),
            }
        };
        tracing::info!("the database connection that marks this process as running is back");
    }
}
