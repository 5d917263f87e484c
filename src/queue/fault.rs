//! One reason a store may stop accepting new deliveries (a vanished file, failing writes, an
//! unreachable database), set and cleared by the part of the store that notices it and read by
//! readiness (`readiness.rs`). Each change is logged once, not every time it is seen again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::order::StoreError;

/// The current cause, if any, of one kind of store failure.
pub(crate) struct StoreFault {
    /// What is watched, for the log: `file`, `writes`, `connection`.
    watched: &'static str,
    /// Whether `cause` holds one: the writer clears the fault after every commit, so the common
    /// case (nothing to clear) reads an atomic and takes no lock.
    failing: AtomicBool,
    cause: Mutex<Option<StoreError>>,
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
    pub(crate) fn set(&self, now: Option<StoreError>) {
        if now.is_none() && !self.failing.load(Ordering::Acquire) {
            return;
        }
        let mut cause = self.cause.lock().unwrap_or_else(PoisonError::into_inner);
        let same =
            |a: &StoreError, b: &StoreError| a.kind() == b.kind() && a.detail() == b.detail();
        match (&*cause, &now) {
            (None, None) => return,
            (Some(was), Some(is)) if same(was, is) => return,
            _ => {}
        }
        match &now {
            Some(error) => tracing::error!(
                watched = self.watched,
                cause = error.detail(),
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
    pub(crate) fn cause(&self) -> Option<StoreError> {
        if !self.failing.load(Ordering::Acquire) {
            return None;
        }
        self.cause
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
