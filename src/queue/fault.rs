//! One reason a store may stop accepting new deliveries (a vanished file, failing writes, an
//! unreachable database), set and cleared by the part of the store that notices it and read by
//! readiness (`readiness.rs`). Each change is logged once, not every time it is seen again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

/// The current cause, if any, of one kind of store failure.
pub(crate) struct StoreFault {
    /// What is watched, for the log: `file`, `writes`, `connection`.
    watched: &'static str,
    /// Whether `cause` holds one: the writer clears the fault after every commit, so the common
    /// case (nothing to clear) reads an atomic and takes no lock.
    failing: AtomicBool,
    cause: Mutex<Option<String>>,
}

impl StoreFault {
    pub(crate) fn new(watched: &'static str) -> StoreFault {
        StoreFault {
            watched,
            failing: AtomicBool::new(false),
            cause: Mutex::new(None),
        }
    }

    /// Records what is seen now: `Some(cause)` while failing, `None` once it works again.
    pub(crate) fn set(&self, now: Option<String>) {
        if now.is_none() && !self.failing.load(Ordering::Acquire) {
            return;
        }
        let mut cause = self.cause.lock().unwrap_or_else(PoisonError::into_inner);
        if *cause == now {
            return;
        }
        match &now {
            Some(text) => tracing::error!(
                watched = self.watched,
                cause = text.as_str(),
                "the store is not accepting new webhooks"
            ),
            None => tracing::info!(
                watched = self.watched,
                "the store is accepting new webhooks again"
            ),
        }
        self.failing.store(now.is_some(), Ordering::Release);
        *cause = now;
    }

    /// The cause while failing.
    pub(crate) fn cause(&self) -> Option<String> {
        if !self.failing.load(Ordering::Acquire) {
            return None;
        }
        self.cause
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
