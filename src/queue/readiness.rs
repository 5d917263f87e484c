//! Whether the store is accepting new deliveries (contract sections 8, 9 and 11): the one answer
//! the ingress gives before a commit (503 rather than a 2xx that could not survive a restart),
//! `/readyz` names, and `flowgate_store_ready` reports. The store says what it sees itself (a
//! vanished SQLite file, failing writes, an unreachable PostgreSQL); the free disk under an
//! embedded store is looked at here, once a second.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{StoreError, StoreUpkeep};

/// Why the store is not accepting now.
#[derive(Debug)]
pub enum NotAccepting {
    /// It could not keep what it would commit: 503 `unavailable`.
    Store(StoreError),
    /// Its disk is below `store.min_free_disk` (back-pressure, 503 `overloaded`): `free` bytes.
    LowDisk { free: u64 },
}

impl std::fmt::Display for NotAccepting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotAccepting::Store(error) => f.write_str(error.detail()),
            NotAccepting::LowDisk { free } => {
                write!(f, "low disk: {:.1} GiB free", *free as f64 / GIB)
            }
        }
    }
}

const GIB: f64 = (1u64 << 30) as f64;

/// No free space read yet, or enough of it.
const NOT_LOW: u64 = u64::MAX;

/// The store and the disk under it, as readiness sees them.
pub struct StoreReadiness {
    store: Arc<dyn StoreUpkeep>,
    disk: Option<Disk>,
}

/// The embedded store's directory, whose disk must keep `store.min_free_disk` free. With
/// PostgreSQL there is none (the database's disk is its server's to watch).
struct Disk {
    dir: PathBuf,
    /// `store.min_free_disk`, which a reload may change.
    min_free: AtomicU64,
    /// The free bytes last read while below `min_free`; [`NOT_LOW`] otherwise.
    low: AtomicU64,
}

impl StoreReadiness {
    /// `database`: the embedded store's file, whose directory's disk is watched.
    pub fn new(
        store: Arc<dyn StoreUpkeep>,
        database: Option<&Path>,
        min_free: u64,
    ) -> StoreReadiness {
        let disk = database.and_then(Path::parent).map(|dir| Disk {
            dir: dir.to_owned(),
            min_free: AtomicU64::new(min_free),
            low: AtomicU64::new(NOT_LOW),
        });
        StoreReadiness { store, disk }
    }

    /// Ok while the store accepts new deliveries; else the worst reason it does not (a store
    /// that cannot keep a commit before a full disk). Cheap: no query, no system call.
    pub fn check(&self) -> Result<(), NotAccepting> {
        self.store.accepting().map_err(NotAccepting::Store)?;
        match self.disk.as_ref().map(|d| d.low.load(Ordering::Relaxed)) {
            Some(free) if free != NOT_LOW => Err(NotAccepting::LowDisk { free }),
            _ => Ok(()),
        }
    }

    /// `store.min_free_disk` from now on (a reload); read again at the next look at the disk.
    pub fn set_min_free(&self, min_free: u64) {
        if let Some(disk) = &self.disk {
            disk.min_free.store(min_free, Ordering::Relaxed);
        }
    }

    /// Reads the disk's free space (call it once a second); a change is logged once.
    pub fn watch_disk(&self) {
        let Some(disk) = &self.disk else {
            return;
        };
        let free = match fs4::available_space(&disk.dir) {
            Ok(free) => free,
            Err(error) => {
                tracing::warn!(%error, "cannot read the store's free disk space");
                return;
            }
        };
        let min_free = disk.min_free.load(Ordering::Relaxed);
        let now = if free < min_free { free } else { NOT_LOW };
        let was = disk.low.swap(now, Ordering::Relaxed);
        if now != NOT_LOW && was == NOT_LOW {
            tracing::warn!(
                free,
                min_free_disk = min_free,
                "the store's disk is nearly full: new webhooks are refused"
            );
        } else if now == NOT_LOW && was != NOT_LOW {
            tracing::info!(free, "the store's disk has room again");
        }
    }
}
