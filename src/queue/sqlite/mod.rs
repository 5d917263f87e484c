//! The embedded store: one SQLite file in WAL mode. One writer thread (`writer.rs`) owns the
//! write connection and commits concurrent requests together, so many webhooks share one fsync
//! and none is acknowledged before its commit; reads use a small pool of read-only connections
//! (WAL lets them run beside the writer). One process at a time holds the database (`lock.rs`),
//! and a thread checks that the file at its path is still the one open (`watch.rs`). The
//! queries live in `deliveries.rs` (with `parked.rs`, which keeps paused tenants' deliveries
//! out of the claims' way), `admin.rs`, `upkeep.rs`, `book.rs`, `rejections.rs` and
//! `bodies.rs`; the trait impls that route them in `store.rs`.

mod admin;
mod bodies;
mod book;
#[cfg(test)]
mod budget;
mod checkpoint;
mod claims;
mod deliveries;
mod error;
mod keys;
mod lock;
mod parked;
#[cfg(test)]
mod plans;
mod rejections;
mod remembered;
mod rows;
mod schema;
mod schema_v7;
mod store;
mod upkeep;
mod watch;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::config::{Config, SyncMode};
use crate::order::{Binding, LastSent, StoreError, StoreErrorKind};
use crate::queue::fault::StoreFault;

use checkpoint::Checkpointer;
use claims::Claims;
use error::io_error;
use keys::Keys;
use lock::DatabaseLock;
use remembered::Remembered;
use watch::{FileWatch, Watched};
use writer::{Writer, control};

/// Reads running at once, each on a connection of the pool; further reads wait their turn
/// rather than open more connections.
const READERS: usize = 8;

/// Orders whose binding (or the lack of one) is remembered at most.
const BINDINGS_KEPT: u64 = 50_000;

/// Orders whose last-sent values are remembered at most (a few hundred bytes each).
const SENT_KEPT: u64 = 10_000;

/// The SQLite store; clones share one writer thread and one reader pool.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    // Dropped before the readers: the writer finishes its batch and closes the file.
    writer: Writer,
    _checkpointer: Checkpointer,
    _watch: FileWatch,
    /// Whether the file at `path` is still the database open (`watch.rs`).
    file: Arc<StoreFault>,
    /// The deliveries' keys, given out by the writer.
    keys: Arc<Keys>,
    /// The deliveries this process's workers hold (`claims.rs`).
    claims: Arc<Claims>,
    /// Whether the writer's last batch committed.
    writes: Arc<StoreFault>,
    /// Whether the writer's batch now running hangs (`watch.rs`).
    stall: Arc<StoreFault>,
    read_slots: Semaphore,
    idle_readers: Mutex<Vec<Connection>>,
    /// Every order's binding (a binding never changes once made, so most lookups end here).
    bindings: Remembered<Option<Binding>>,
    /// What Flow last accepted, for the orders delivered lately: fewer, and larger.
    sent: Remembered<LastSent>,
    // Last: released only once the connections above are closed.
    _lock: DatabaseLock,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Locks the database against other processes, opens it (creating the file and its parent
    /// directory) and migrates it, makes the deliveries a previous process left in flight due
    /// again, and starts the writer thread. A database another process holds is refused before
    /// anything in it is read.
    pub fn open(path: &Path, sync: SyncMode) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                io_error(
                    format_args!("cannot create the directory {}", dir.display()),
                    e,
                )
            })?;
        }
        let lock = DatabaseLock::take(path)?;
        let prepared = schema::prepare(path, sync)
            .map_err(|e| e.context(format_args!("cannot open {}", path.display())))?;
        let last: i64 =
            prepared.query_row("SELECT COALESCE(MAX(seq), 0) FROM deliveries", [], |row| {
                row.get(0)
            })?;
        let claims = Arc::new(Claims::default());
        claims::install(&prepared, claims.clone())?;
        let writes = Arc::new(StoreFault::new("writes"));
        let writer = Writer::start(prepared, writes.clone())?;
        let watched = Watched {
            file: Arc::new(StoreFault::new("file")),
            running: writer.running(),
            stall: Arc::new(StoreFault::new("commits")),
        };
        let (file, stall) = (watched.file.clone(), watched.stall.clone());
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer,
                _checkpointer: Checkpointer::start(path)?,
                _watch: FileWatch::start(path, watched)?,
                file,
                keys: Arc::new(Keys::starting_after(last)),
                claims,
                writes,
                stall,
                read_slots: Semaphore::new(READERS),
                idle_readers: Mutex::new(Vec::new()),
                bindings: Remembered::new(BINDINGS_KEPT),
                sent: Remembered::new(SENT_KEPT),
                _lock: lock,
            }),
        })
    }

    /// The database file `store.url` names: `sqlite://data/flowgate.db` resolves against the
    /// config file's directory, `sqlite:///abs/path.db` is absolute. `None` for other schemes.
    pub fn path_from_config(config: &Config) -> Option<PathBuf> {
        let rest = config.store.url.strip_prefix("sqlite://")?;
        if rest.is_empty() {
            return None;
        }
        Some(config.source.resolve("store.url", Path::new(rest)))
    }

    /// Runs `work` on the writer thread inside the next batch's transaction (twice when another
    /// request of the batch fails: see `writer.rs`); answers once that transaction is committed.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.inner.writer.call(work).await
    }

    /// Runs `work` in a read transaction (one consistent snapshot) on a pooled connection.
    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let interrupted = || StoreError::new(StoreErrorKind::Gone, "a store read was interrupted");
        let _turn = self
            .inner
            .read_slots
            .acquire()
            .await
            .map_err(|_| interrupted())?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let conn = inner.take_reader()?;
            control(&conn, "BEGIN")?;
            let outcome = work(&conn);
            // A reader that cannot end its snapshot is not given back to the pool.
            let _ = control(&conn, "COMMIT");
            inner.give_reader(conn);
            outcome
        })
        .await
        .map_err(|_| interrupted())?
    }
}

impl Inner {
    fn take_reader(&self) -> Result<Connection, StoreError> {
        let idle = self
            .idle_readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(conn) => Ok(conn),
            None => schema::open_reader(&self.path),
        }
    }

    fn give_reader(&self, conn: Connection) {
        let mut idle = self
            .idle_readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if idle.len() < READERS && conn.is_autocommit() {
            idle.push(conn);
        }
    }
}
