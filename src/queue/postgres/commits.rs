//! Group commit: the deliveries a process commits at once share a transaction, and so one
//! commit and one WAL flush. A transaction of its own per webhook made the flush the limit:
//! every webhook waited for one, and the pool's connections were the most that could share it.
//!
//! A task gathers what the requests hand it: the first delivery, then every one already waiting
//! behind it, up to [`MOST_PER_COMMIT`], run as one transaction whose statements go to the
//! server back to back without waiting for each answer. Up to [`COMMITS_AT_ONCE`] such
//! transactions run at a time; while they do, the next one gathers, so the slower the database,
//! the more each commit carries. When a statement fails, each delivery of the batch is then
//! committed alone, so one bad delivery fails only itself.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use deadpool_postgres::Pool;
use futures_util::future::try_join_all;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::order::{StoreError, StoreErrorKind as Kind};
use crate::queue::fault::StoreFault;
use crate::queue::{Enqueued, NewDelivery};

use super::{checkout, deliveries};

/// Deliveries in one transaction at most: one process's requests at a busy moment.
const MOST_PER_COMMIT: usize = 64;

/// Transactions of deliveries at once, of the pool's connections; the rest stay free for
/// claims, ends of turns and reads.
const COMMITS_AT_ONCE: usize = 4;

/// A delivery waiting for its commit, and who waits.
struct Waiting {
    delivery: NewDelivery,
    dedup_since: DateTime<Utc>,
    answer: oneshot::Sender<Result<Enqueued, StoreError>>,
}

/// Where this process's requests hand their deliveries; the task ends with the last clone.
pub(super) struct Commits {
    waiting: mpsc::UnboundedSender<Waiting>,
}

/// What every transaction of deliveries needs.
#[derive(Clone)]
struct Shared {
    pool: Pool,
    reach: Arc<StoreFault>,
    owner: i64,
    sync_lease: TimeDelta,
}

impl Commits {
    pub(super) fn start(
        pool: Pool,
        reach: Arc<StoreFault>,
        owner: i64,
        sync_lease: TimeDelta,
    ) -> Commits {
        let (waiting, arrivals) = mpsc::unbounded_channel();
        let shared = Shared {
            pool,
            reach,
            owner,
            sync_lease,
        };
        tokio::spawn(gather(arrivals, shared));
        Commits { waiting }
    }

    /// Commits `delivery` with its dedup key, in a transaction it may share.
    pub(super) async fn enqueue(
        &self,
        delivery: NewDelivery,
        dedup_since: DateTime<Utc>,
    ) -> Result<Enqueued, StoreError> {
        let (answer, answered) = oneshot::channel();
        let waiting = Waiting {
            delivery,
            dedup_since,
            answer,
        };
        let gone = || StoreError::new(Kind::Gone, "postgres: the store is shutting down");
        self.waiting.send(waiting).map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?
    }
}

async fn gather(mut arrivals: mpsc::UnboundedReceiver<Waiting>, shared: Shared) {
    let running = Arc::new(Semaphore::new(COMMITS_AT_ONCE));
    loop {
        // Never closed, so a permit always comes.
        let Ok(permit) = running.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = arrivals.recv().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MOST_PER_COMMIT {
            match arrivals.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let shared = shared.clone();
        tokio::spawn(async move {
            commit(&shared, batch).await;
            drop(permit);
        });
    }
}

/// Commits the batch and answers each of its deliveries.
async fn commit(shared: &Shared, batch: Vec<Waiting>) {
    let outcome = run(shared, &batch).await;
    match outcome {
        Ok(outcomes) => {
            for (waiting, outcome) in batch.into_iter().zip(outcomes) {
                let _ = waiting.answer.send(Ok(outcome));
            }
        }
        Err(Failed::Statement(_)) if batch.len() > 1 => {
            let alone = batch.into_iter().map(|waiting| async move {
                let outcome = run(shared, std::slice::from_ref(&waiting)).await;
                let outcome = outcome.map(|mut one| one.remove(0));
                let _ = waiting.answer.send(outcome.map_err(Failed::into_error));
            });
            futures_util::future::join_all(alone).await;
        }
        Err(failed) => {
            let error = failed.into_error();
            for waiting in batch {
                let _ = waiting.answer.send(Err(error.clone()));
            }
        }
    }
}

/// Why a transaction of deliveries did not commit.
enum Failed {
    /// No connection, or the transaction could not begin: the same for each delivery alone.
    Connection(StoreError),
    /// A statement or the commit failed: perhaps one delivery's fault.
    Statement(StoreError),
}

impl Failed {
    fn into_error(self) -> StoreError {
        match self {
            Failed::Connection(error) | Failed::Statement(error) => error,
        }
    }
}

/// One transaction: every delivery's statements sent at once, then the commit.
async fn run(shared: &Shared, batch: &[Waiting]) -> Result<Vec<Enqueued>, Failed> {
    let mut client = checkout(&shared.pool, &shared.reach)
        .await
        .map_err(Failed::Connection)?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| Failed::Connection(e.into()))?;
    let each = batch.iter().map(|waiting| {
        deliveries::enqueue(
            &tx,
            &waiting.delivery,
            waiting.dedup_since,
            shared.owner,
            shared.sync_lease,
        )
    });
    let outcomes = try_join_all(each).await.map_err(Failed::Statement)?;
    tx.commit().await.map_err(|e| Failed::Statement(e.into()))?;
    Ok(outcomes)
}
