//! Whether the gateway takes traffic, as both listeners tell it: `/ping` on the public one,
//! `/readyz` on the admin one. Set by the app: ready once started, not ready from the first
//! shutdown signal.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the gateway takes traffic: false while starting and from the first shutdown signal.
#[derive(Clone, Default)]
pub struct Health {
    ready: Arc<AtomicBool>,
    draining: Arc<AtomicBool>,
}

impl Health {
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Why the gateway is not ready, for `/readyz`: starting, or shutting down.
    pub fn not_ready(&self) -> Option<&'static str> {
        if self.draining.load(Ordering::Relaxed) {
            Some("shutting down")
        } else if self.is_ready() {
            None
        } else {
            Some("starting")
        }
    }

    /// Ready once started; not ready again only for the drain.
    pub(crate) fn set_ready(&self, ready: bool) {
        self.draining.store(!ready, Ordering::Relaxed);
        self.ready.store(ready, Ordering::Relaxed);
    }
}
