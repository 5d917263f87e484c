//! Back-pressure on queued deliveries (contract section 8): the one rule that admits a new one,
//! only into a store that will keep it, with room on its disk (`readiness.rs`) and in its queue
//! ([`Backlog`], against `store.max_pending`).

use std::sync::atomic::{AtomicU64, Ordering};

use super::readiness::{NotAccepting, StoreReadiness};

/// Open deliveries (pending, in flight, retrying) as last counted, against `store.max_pending`.
/// Counted every second rather than per request: the limit protects the disk from an outage
/// that lasts hours, so a second's lag does not matter and ingest pays for no count query.
pub struct Backlog {
    open: AtomicU64,
    /// `store.max_pending`, which a reload may change.
    limit: AtomicU64,
}

/// Why a queued delivery may not be committed now.
#[derive(Debug)]
pub enum Refused {
    /// The store is not accepting: it could not keep it, or its disk is nearly full.
    NotAccepting(NotAccepting),
    /// `store.max_pending` deliveries are open.
    QueueFull,
}

impl Backlog {
    pub fn new(limit: u64) -> Self {
        Self {
            open: AtomicU64::new(0),
            limit: AtomicU64::new(limit),
        }
    }

    pub fn set_limit(&self, limit: u64) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    pub fn set(&self, open: u64) {
        self.open.store(open, Ordering::Relaxed);
    }

    fn is_full(&self) -> bool {
        self.open.load(Ordering::Relaxed) >= self.limit.load(Ordering::Relaxed)
    }

    /// Whether a queued delivery may be committed now. Cheap: no query, no system call.
    pub fn admit(&self, readiness: &StoreReadiness) -> Result<(), Refused> {
        readiness.check().map_err(Refused::NotAccepting)?;
        if self.is_full() {
            return Err(Refused::QueueFull);
        }
        Ok(())
    }
}
