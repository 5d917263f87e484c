//! The store's upkeep while the gateway runs: the queue counted every second for back-pressure,
//! the gauges and readiness, the rejections kept within their bound every second, and records
//! past their retention purged every minute.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::queue::backlog::Backlog;
use crate::queue::readiness::StoreReadiness;
use crate::queue::{Retention, Store};

/// How often the open deliveries are counted for back-pressure.
const COUNT_EVERY: Duration = Duration::from_secs(1);
/// How often records past their retention are purged, in counts.
const PURGE_EVERY_COUNTS: u32 = 60;

/// The store's queue and readiness as back-pressure, readiness and the gauges see them.
pub(super) struct Queue {
    pub(super) store: Arc<dyn Store>,
    pub(super) backlog: Arc<Backlog>,
    pub(super) readiness: Arc<StoreReadiness>,
    pub(super) metrics: Metrics,
}

impl Queue {
    /// Counts the deliveries by state, for the backlog and the gauges.
    pub(super) async fn count(&self) {
        match self.store.depth().await {
            Ok(depth) => {
                let open = depth.pending + depth.in_flight + depth.retrying;
                self.backlog.set(open);
                self.metrics.set_queue(&depth, chrono::Utc::now());
            }
            Err(error) => tracing::warn!(%error, "counting the queue failed"),
        }
    }

    /// Drops the oldest rejections beyond `max`, counted.
    pub(super) async fn trim_rejections(&self, max: u64) {
        match self.store.trim_rejections(max).await {
            Ok(0) => {}
            Ok(dropped) => {
                self.metrics.rejections_dropped(dropped);
                tracing::debug!(dropped, max, "the oldest rejections dropped");
            }
            Err(error) => tracing::warn!(%error, "trimming the rejections failed"),
        }
    }

    /// Reads the store's free disk and reports whether the store accepts.
    pub(super) fn check_store(&self) {
        self.readiness.watch_disk();
        let ready = self.readiness.check().is_ok();
        self.metrics.set_store_ready(ready);
    }
}

/// Counts the queue, trims the rejections and checks the store every second (and folds
/// histogram samples into their buckets); purges what retention (as the running configuration
/// sets it) no longer keeps every minute, and at once when rejections stop being kept (a zero
/// `rejection_retention` purges every kept one).
pub(super) async fn upkeep(queue: Queue, config: Arc<ArcSwap<Config>>) {
    let mut every = tokio::time::interval(COUNT_EVERY);
    let store = &queue.store;
    let mut keeping_rejections = true;
    for tick in 0u32.. {
        every.tick().await;
        queue.count().await;
        let max_rejections = config.load().store.max_rejections;
        queue.trim_rejections(max_rejections).await;
        queue.metrics.run_upkeep();
        queue.check_store();
        // A reload to `rejection_retention = "0s"` keeps no rejection from then on, and its
        // purge drops the ones kept before at once rather than within the minute.
        let was_keeping = keeping_rejections;
        keeping_rejections = !config.load().store.rejection_retention.is_zero();
        let stopped_keeping = was_keeping && !keeping_rejections;
        if tick % PURGE_EVERY_COUNTS != 0 && !stopped_keeping {
            continue;
        }
        let retention = retention(&config.load());
        match store.purge(chrono::Utc::now(), retention).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "records past their retention purged"),
            Err(error) => tracing::warn!(%error, "purging old records failed"),
        }
    }
}

/// What the store keeps, and for how long, as `[store]` sets it.
fn retention(config: &Config) -> Retention {
    let store = &config.store;
    Retention {
        delivered: store.retention,
        dead: store.dead_retention,
        dedup_window: store.dedup_window,
        orders: store.order_retention,
        rejections: store.rejection_retention,
        bodies: store.body_retention,
    }
}
