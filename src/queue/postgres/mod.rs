//! The shared store: one PostgreSQL schema used by several flowgate processes at once, each call
//! on a pooled connection in a transaction of its own, except new deliveries (with their
//! bodies, `bodies.rs`) and rejections, which a process commits several to a transaction
//! (`commits.rs`). What keeps replicas apart lives in the database: row and per-order advisory
//! locks for claims (`claims.rs`), `ON CONFLICT` for dedup keys (`deliveries.rs`) and bindings
//! (`book.rs`), and a connection-held lock per process (`presence.rs`) telling a starting
//! process whose claims are orphaned (`schema.rs`), and one row per client id for the tenants'
//! rate buckets (`buckets.rs`).

mod admin;
mod bodies;
mod book;
mod buckets;
mod claims;
mod commits;
mod deliveries;
mod error;
mod presence;
mod rejections;
mod rows;
mod schema;
mod store;
mod upkeep;

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::config::Config;
use crate::order::{StoreError, StoreErrorKind};
use crate::queue::fault::StoreFault;

use commits::Commits;
use presence::Presence;

/// Connections per process. Each call holds one only for its transaction (a few
/// milliseconds), so 16 keep up with every worker and request of one process; calls beyond
/// them wait their turn. With one more connection per process for its presence, a fleet of five
/// uses 85 of PostgreSQL's default `max_connections` (100).
pub const POOL_SIZE: usize = 16;

/// How long a call waits for a free pooled connection, and a new connection for the server,
/// before the call fails (a webhook is then answered 503).
const POOL_WAIT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Unacknowledged data after which a connection counts as broken (a server that vanished
/// without closing it), so a call fails instead of hanging.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// What opening the store needs, from `[store]` (and `[server]` for sync deliveries).
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// The connection string (`postgres://` or `postgresql://`); it may carry a password.
    pub url: String,
    /// Where every table lives; created if missing. A plain SQL identifier.
    pub schema: String,
    pub pool_size: usize,
    /// How long a sync delivery may stay `in_flight` before another process may declare it
    /// interrupted: the longest a request can run (it is never renewed).
    pub sync_lease: Duration,
}

impl PgOptions {
    /// The options `store.url` and `store.schema` give; `None` unless `store.url` is a
    /// PostgreSQL URL.
    pub fn from_config(config: &Config) -> Option<PgOptions> {
        let store = &config.store;
        if !store.is_postgres() {
            return None;
        }
        Some(PgOptions {
            url: store.url.clone(),
            schema: store.schema.clone(),
            pool_size: POOL_SIZE,
            sync_lease: store.lease.max(config.server.request_timeout),
        })
    }

    /// The connection settings of every connection: `url`, our defaults for what it leaves
    /// unset, and `search_path` set to the schema.
    fn connection(&self) -> Result<tokio_postgres::Config, StoreError> {
        let mut config: tokio_postgres::Config = self.url.parse().map_err(|_| {
            // The parser's message (and so its error, left out) may quote the URL, password
            // included.
            let detail = "store.url is not a valid PostgreSQL connection URL";
            StoreError::new(StoreErrorKind::Setup, detail)
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(TCP_USER_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("flowgate");
        }
        // Startup options apply to the connection from its first statement, and again to every
        // connection the pool makes after a reconnect. The schema is a checked identifier.
        let search_path = format!("-c search_path=\"{}\"", self.schema);
        let options = match config.get_options() {
            Some(given) => format!("{given} {search_path}"),
            None => search_path,
        };
        config.options(options);
        Ok(config)
    }
}

/// Checks that `store.url` parses, for `check-config` (no connection is made).
pub fn check_url(url: &str) -> Result<(), StoreError> {
    let options = PgOptions {
        url: url.to_owned(),
        schema: "public".to_owned(),
        pool_size: 1,
        sync_lease: Duration::ZERO,
    };
    options.connection().map(drop)
}

/// The PostgreSQL store; clones share one pool and one presence.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    schema: String,
    /// This process among the fleet: written on what it claims, held as its presence.
    owner: i64,
    /// Where this process's deliveries are committed, several to a transaction.
    commits: Commits,
    _presence: Presence,
    /// Whether the last connection asked of the pool was had (readiness).
    reach: Arc<StoreFault>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.inner.schema)
            .field("owner", &self.inner.owner)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects, creates the schema if missing and migrates it (one process at a time),
    /// announces this process, and makes what processes no longer running left in flight due
    /// again (queued) or dead (sync).
    pub async fn open(options: &PgOptions) -> Result<PgStore, StoreError> {
        let connection = options.connection()?;
        let manager = Manager::from_config(
            connection.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| {
                StoreError::caused(
                    StoreErrorKind::Setup,
                    "cannot set up the connection pool",
                    e,
                )
            })?;
        let reach = Arc::new(StoreFault::new("connection"));
        let mut client = checkout(&pool, &reach).await?;
        schema::migrate(&mut client, &options.schema).await?;
        let owner = presence::new_owner();
        let presence = Presence::start(connection, owner).await?;
        schema::recover(&mut client, chrono::Utc::now()).await?;
        drop(client);
        let sync_lease = TimeDelta::from_std(options.sync_lease).unwrap_or(TimeDelta::MAX);
        Ok(PgStore {
            inner: Arc::new(Inner {
                commits: Commits::start(pool.clone(), reach.clone(), owner, sync_lease),
                pool,
                schema: options.schema.clone(),
                owner,
                _presence: presence,
                reach,
            }),
        })
    }

    /// A pooled connection; the pool replaces broken ones, so a call after an outage connects
    /// anew.
    async fn client(&self) -> Result<Object, StoreError> {
        checkout(&self.inner.pool, &self.inner.reach).await
    }

    /// Whether the database was reached at the last try (every call tries, and the upkeep
    /// counts the queue every second).
    fn reach(&self) -> &StoreFault {
        &self.inner.reach
    }

    fn owner(&self) -> i64 {
        self.inner.owner
    }

    /// This process's presence key, for tests that wait for a stopped process's connections to
    /// close (the store's suite is a test target of its own, outside the crate).
    #[doc(hidden)]
    pub fn owner_key(&self) -> i64 {
        self.inner.owner
    }
}

/// A pooled connection; whether one could be had is what readiness knows of the database.
async fn checkout(pool: &Pool, reach: &StoreFault) -> Result<Object, StoreError> {
    let client = pool.get().await.map_err(StoreError::from);
    reach.set(
        client
            .as_ref()
            .err()
            .map(|e| e.clone().context("unreachable")),
    );
    client
}
