//! The workers (contract section 8): a dispatcher claims due deliveries from the store (per-order
//! FIFO is the store's claim) and runs each as a task, at most `delivery.workers` at once. One
//! attempt asks the tenant's pause and circuit, sends what the delivery still owes, and records
//! its end as a sync delivery does (`settle.rs`); its lease is renewed while it runs.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tracing::Instrument;

use super::control::TenantControl;
use super::schedule::{Backoff, BackoffError};
use super::settle::{self, Progress, Settled};
use super::{Deliverer, Delivery, Run};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::queue::{Attempt, Claimed, DeliveryContent, DeliveryQueue, Finish};
use crate::route::Tenants;

/// How often an idle dispatcher looks for due deliveries when nothing wakes it.
pub const DEFAULT_POLL: Duration = Duration::from_millis(200);
/// The shortest renewal or release period, whatever the lease: a zero period would spin.
const MIN_PERIOD: Duration = Duration::from_millis(10);

#[derive(Clone)]
pub struct WorkerSettings {
    /// Attempts running at once.
    pub workers: usize,
    /// How long a claim holds a delivery; renewed every third of it while the attempt runs.
    pub lease: Duration,
    /// One attempt (both calls) must be done within this.
    pub attempt_timeout: Duration,
    pub backoff: Backoff,
    pub poll: Duration,
}

impl WorkerSettings {
    /// `[delivery]` and `store.lease`, polling every [`DEFAULT_POLL`].
    pub fn from_config(config: &Config) -> Result<WorkerSettings, BackoffError> {
        Ok(WorkerSettings {
            workers: config.delivery.workers,
            lease: config.store.lease,
            attempt_timeout: config.delivery.request_timeout,
            backoff: Backoff::from_config(&config.delivery)?,
            poll: DEFAULT_POLL,
        })
    }
}

/// What the workers run with from the configuration: a reload replaces it whole, and an
/// attempt finishes with the one it started with.
pub struct WorkerConfig {
    pub tenants: Arc<Tenants>,
    pub control: Arc<TenantControl>,
    /// `workers` is read once, when the workers start.
    pub settings: WorkerSettings,
}

/// The workers' configuration, replaced by a reload.
pub type LiveWorkerConfig = Arc<ArcSwap<WorkerConfig>>;

/// The background delivery service, run beside the listeners.
pub struct Workers {
    shared: Arc<Shared>,
}

/// What every attempt task needs.
struct Shared {
    store: Arc<dyn DeliveryQueue>,
    deliverer: Arc<Deliverer>,
    config: LiveWorkerConfig,
    waker: Arc<Notify>,
    metrics: Metrics,
}

impl Workers {
    pub fn new(
        store: Arc<dyn DeliveryQueue>,
        deliverer: Arc<Deliverer>,
        config: LiveWorkerConfig,
        metrics: Metrics,
    ) -> Self {
        let shared = Shared {
            store,
            deliverer,
            config,
            waker: Arc::new(Notify::new()),
            metrics,
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// Wakes an idle dispatcher at once (call it after a commit) instead of at its next poll.
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.shared.waker)
    }

    /// Runs until `stop` turns true (or its sender is dropped): then claims nothing more, gives
    /// running attempts `grace`, and returns, aborting what is left. An interrupted attempt
    /// stays `in_flight` in the store and is due again after a restart or when its lease ends.
    pub async fn run(self, mut stop: watch::Receiver<bool>, grace: Duration) {
        let workers = self.shared.config.load().settings.workers;
        let slots = Arc::new(Semaphore::new(workers.max(1)));
        let mut running = JoinSet::new();
        self.dispatch(&slots, &mut running, &mut stop).await;
        drain(running, grace).await;
    }

    async fn dispatch(
        &self,
        slots: &Arc<Semaphore>,
        running: &mut JoinSet<()>,
        stop: &mut watch::Receiver<bool>,
    ) {
        let shared = &self.shared;
        let mut release_at = Instant::now();
        loop {
            let config = shared.config.load_full();
            reap(running);
            if *stop.borrow_and_update() {
                return;
            }
            if Instant::now() >= release_at {
                shared.release_expired().await;
                release_at = Instant::now() + (config.settings.lease / 2).max(MIN_PERIOD);
            }
            let free = slots.available_permits();
            if free == 0 {
                // Every slot is busy: the next claim waits for one to come free.
                tokio::select! {
                    _ = slots.acquire() => {}
                    () = stopped(stop) => return,
                }
                continue;
            }
            let claimed = shared.claim(&config, free).await;
            let idle = claimed.is_empty();
            for delivery in claimed {
                let slot = Arc::clone(slots).try_acquire_owned().ok();
                running.spawn(Arc::clone(shared).attempt(delivery, slot));
            }
            if idle {
                tokio::select! {
                    () = shared.waker.notified() => {}
                    () = tokio::time::sleep(config.settings.poll) => {}
                    () = stopped(stop) => return,
                }
            }
        }
    }
}

impl Shared {
    /// Due deliveries for `limit` free slots; none when the store fails (logged, tried again at
    /// the next poll).
    async fn claim(&self, config: &WorkerConfig, limit: usize) -> Vec<Claimed> {
        let now = Utc::now();
        let lease_until = after(now, config.settings.lease);
        let paused = config.control.paused();
        match self.store.claim(now, limit, lease_until, &paused).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::error!(%error, "claiming due deliveries failed");
                Vec::new()
            }
        }
    }

    async fn release_expired(&self) {
        match self.store.release_expired(Utc::now()).await {
            Ok(0) => {}
            Ok(released) => {
                tracing::warn!(released, "deliveries whose lease ran out are due again");
            }
            Err(error) => tracing::error!(%error, "releasing expired leases failed"),
        }
    }

    /// One attempt as a task, its lines in the span of the webhook's trace.
    async fn attempt(
        self: Arc<Self>,
        claimed: Claimed,
        slot: Option<tokio::sync::OwnedSemaphorePermit>,
    ) {
        let span = trace_span(&claimed.content.traceparent);
        self.attempt_traced(claimed, slot).instrument(span).await;
    }

    /// Holds its worker slot and keeps its lease until the attempt has finished.
    async fn attempt_traced(
        self: Arc<Self>,
        claimed: Claimed,
        _slot: Option<tokio::sync::OwnedSemaphorePermit>,
    ) {
        let config = self.config.load_full();
        let _lease = self.keep_lease(claimed.content.id, config.settings.lease);
        let spent_before = claimed.attempts;
        let (delivery, finish, mut run) = self.run_attempt(&config, claimed).await;
        let attempts = run.as_ref().map(Run::attempts).unwrap_or_default();
        log_end(&delivery, spent_before, &finish, attempts.last());
        let settled = Settled {
            finish,
            attempts,
            sent: run.as_mut().and_then(|run| run.sent.take()),
        };
        let counted = self.metrics.vendor(&delivery.vendor);
        if let Err(error) = settle::record(&*self.store, &counted, &delivery, settled).await {
            tracing::error!(delivery_id = %delivery.id, %error, "the attempt's outcome was not recorded; the delivery is due again when its lease runs out");
        }
        // Only now may the order's next run start: it builds its bodies over what this one sent.
        drop(run);
        // The order's next delivery may be due now.
        self.waker.notify_one();
    }

    /// Runs the attempt: the delivery, how the attempt ends its turn, and the run when calls
    /// were made.
    async fn run_attempt(
        &self,
        config: &WorkerConfig,
        claimed: Claimed,
    ) -> (DeliveryContent, Finish, Option<Run>) {
        let progress = Progress {
            attempts: claimed.attempts,
            created_at: claimed.content.created_at,
        };
        let Some(flow) = config.tenants.flow(&claimed.content.tenant).cloned() else {
            let error = "unknown tenant".to_owned();
            let dead = Finish::Dead {
                patched: claimed.patched,
                flow_status: None,
                flow_body: None,
                error,
            };
            return (claimed.content, dead, None);
        };
        let (backoff, now) = (&config.settings.backoff, Instant::now());
        let mut admission = match config.control.admit(&claimed.content.tenant, now) {
            Ok(admission) => admission,
            Err(closed) => {
                let finish =
                    settle::closed(closed, claimed.patched, progress, backoff, Utc::now(), now);
                return (claimed.content, finish, None);
            }
        };
        let patched = claimed.patched;
        let delivery = Delivery {
            content: claimed.content,
            flow,
        };
        let deadline = now + config.settings.attempt_timeout;
        let run = self.deliverer.run(&delivery, patched, deadline).await;
        admission.record_calls(&run.calls);
        let mut rng = fastrand::Rng::new();
        let finish = settle::finish(
            &run.result,
            run.patched,
            progress,
            backoff,
            Utc::now(),
            &mut rng,
        );
        (delivery.content, finish, Some(run))
    }

    /// Renews the claim every third of the lease until the returned guard is dropped.
    fn keep_lease(&self, id: uuid::Uuid, lease: Duration) -> LeaseKeeper {
        let store = Arc::clone(&self.store);
        let every = (lease / 3).max(MIN_PERIOD);
        LeaseKeeper(tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
            loop {
                ticks.tick().await;
                if let Err(error) = store.renew(id, after(Utc::now(), lease)).await {
                    tracing::warn!(delivery_id = %id, %error, "renewing the lease failed");
                }
            }
        }))
    }
}

/// Stops renewing a lease when the attempt ends, however it ends (an abort included).
struct LeaseKeeper(JoinHandle<()>);

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One line per attempt's end, naming its last call; every call was logged as it was made.
/// `spent_before`: the attempts spent before this one.
fn log_end(delivery: &DeliveryContent, spent_before: u32, finish: &Finish, last: Option<&Attempt>) {
    let (id, order_id) = (delivery.id, delivery.order_id);
    let (vendor, tenant) = (&delivery.vendor, &delivery.tenant);
    let operation = last.map(|a| a.operation.as_str());
    let status = last.and_then(|a| a.status);
    let duration_ms = last.map(|a| a.duration_ms);
    match finish {
        Finish::Delivered => {
            tracing::info!(delivery_id = %id, vendor, tenant, order_id = %order_id, operation, status, duration_ms, outcome = "delivered", "delivery attempt");
        }
        Finish::Retry {
            at, spent, error, ..
        } => {
            tracing::info!(delivery_id = %id, vendor, tenant, order_id = %order_id, operation, status, duration_ms, outcome = "retrying", next_attempt_at = %at, spent, spent_before, error, "delivery attempt");
        }
        Finish::Dead { error, .. } => {
            tracing::warn!(delivery_id = %id, vendor, tenant, order_id = %order_id, operation, status, duration_ms, outcome = "dead", spent_before, error, "delivery attempt");
        }
    }
}

/// The span of an attempt: the W3C trace context the webhook arrived with (kept with the
/// delivery, well-formed: `00-<32 hex trace id>-<16 hex span id>-<flags>`), so its lines join
/// the request's in a trace search.
fn trace_span(traceparent: &str) -> tracing::Span {
    let trace_id = traceparent.get(3..35).unwrap_or_default();
    let span_id = traceparent.get(36..52).unwrap_or_default();
    tracing::info_span!("delivery", trace_id, span_id)
}

/// Forgets finished attempt tasks, logging any that panicked.
fn reap(running: &mut JoinSet<()>) {
    while let Some(joined) = running.try_join_next() {
        if let Err(error) = joined {
            tracing::error!(%error, "an attempt task failed; its delivery is due again when its lease runs out");
        }
    }
}

/// Gives running attempts `grace`, then aborts the rest.
async fn drain(mut running: JoinSet<()>, grace: Duration) {
    reap(&mut running);
    if running.is_empty() {
        return;
    }
    tracing::info!(
        running = running.len(),
        ?grace,
        "waiting for running attempts"
    );
    let all_done = async {
        while let Some(joined) = running.join_next().await {
            if let Err(error) = joined {
                tracing::error!(%error, "an attempt task failed");
            }
        }
    };
    if tokio::time::timeout(grace, all_done).await.is_err() {
        tracing::warn!(
            interrupted = running.len(),
            "attempts still running after the grace period were interrupted; they are retried after restart"
        );
        running.abort_all();
        while running.join_next().await.is_some() {}
    }
}

/// Completes once `stop` is true or its sender is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: nobody can ask to stop any more, so stop now.
    let _ = stop.wait_for(|stop| *stop).await;
}

/// `now + duration`, saturating instead of overflowing.
fn after(now: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(duration)
        .ok()
        .and_then(|delta| now.checked_add_signed(delta))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
