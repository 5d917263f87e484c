//! Group commit: the deliveries and rejections a process commits at once share a transaction,
//! and so one commit and one WAL flush. A transaction of its own per webhook made the flush the
//! limit: every webhook waited for one, and the pool's connections were the most that could
//! share it.
//!
//! A task gathers what the requests hand it: the first write, then every one already waiting
//! behind it, up to [`MOST_PER_COMMIT`], run as one transaction whose statements go to the
//! server back to back without waiting for each answer. Up to [`COMMITS_AT_ONCE`] such
//! transactions run at a time; while they do, the next one gathers, so the slower the database,
//! the more each commit carries. When a statement fails, each write of the batch is then
//! committed alone, so one bad write fails only itself.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use deadpool_postgres::Pool;
use futures_util::future::try_join_all;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::order::{StoreError, StoreErrorKind as Kind};
use crate::queue::fault::StoreFault;
use crate::queue::{Enqueued, NewDelivery, Rejection};

use super::{checkout, deliveries, rejections};

/// Writes in one transaction at most: one process's requests at a busy moment.
const MOST_PER_COMMIT: usize = 64;

/// Transactions of writes at once, of the pool's connections; the rest stay free for
/// claims, ends of turns and reads.
const COMMITS_AT_ONCE: usize = 4;

/// A write waiting for its commit, and who waits.
enum Waiting {
    Delivery {
        delivery: NewDelivery,
        dedup_since: DateTime<Utc>,
        answer: oneshot::Sender<Result<Enqueued, StoreError>>,
    },
    Rejection {
        rejection: Rejection,
        answer: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// What one write of a transaction did.
enum Written {
    Delivery(Enqueued),
    Rejection,
}

impl Waiting {
    /// Tells whoever waits how its write ended.
    fn answer(self, outcome: Result<Written, StoreError>) {
        // The caller may have given up waiting (a request timeout): nobody is left to tell.
        match self {
            Waiting::Delivery { answer, .. } => {
                let _ = answer.send(outcome.and_then(|written| match written {
                    Written::Delivery(enqueued) => Ok(enqueued),
                    Written::Rejection => Err(mixed_up()),
                }));
            }
            Waiting::Rejection { answer, .. } => {
                let _ = answer.send(outcome.and_then(|written| match written {
                    Written::Rejection => Ok(()),
                    Written::Delivery(_) => Err(mixed_up()),
                }));
            }
        }
    }
}

/// Each write is answered with its own outcome, in order: never reached.
fn mixed_up() -> StoreError {
    StoreError::new(Kind::Other, "postgres: a commit's answers were mixed up")
}

/// Where this process's requests hand their writes; the task ends with the last clone.
pub(super) struct Commits {
    waiting: mpsc::UnboundedSender<Waiting>,
}

/// What every transaction of writes needs.
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
        self.hand(Waiting::Delivery {
            delivery,
            dedup_since,
            answer,
        })?;
        answered.await.map_err(|_| gone())?
    }

    /// Commits `rejection`, in a transaction it may share with deliveries.
    pub(super) async fn keep_rejection(&self, rejection: Rejection) -> Result<(), StoreError> {
        let (answer, answered) = oneshot::channel();
        self.hand(Waiting::Rejection { rejection, answer })?;
        answered.await.map_err(|_| gone())?
    }

    fn hand(&self, waiting: Waiting) -> Result<(), StoreError> {
        self.waiting.send(waiting).map_err(|_| gone())
    }
}

fn gone() -> StoreError {
    StoreError::new(Kind::Gone, "postgres: the store is shutting down")
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

/// Commits the batch and answers each of its writes.
async fn commit(shared: &Shared, batch: Vec<Waiting>) {
    let outcome = run(shared, &batch).await;
    match outcome {
        Ok(outcomes) => {
            for (waiting, outcome) in batch.into_iter().zip(outcomes) {
                waiting.answer(Ok(outcome));
            }
        }
        Err(Failed::Statement(_)) if batch.len() > 1 => {
            let alone = batch.into_iter().map(|waiting| async move {
                let outcome = run(shared, std::slice::from_ref(&waiting)).await;
                let outcome = outcome.map(|mut one| one.remove(0));
                waiting.answer(outcome.map_err(Failed::into_error));
            });
            futures_util::future::join_all(alone).await;
        }
        Err(failed) => {
            let error = failed.into_error();
            for waiting in batch {
                waiting.answer(Err(error.clone()));
            }
        }
    }
}

/// Why a transaction of writes did not commit.
enum Failed {
    /// No connection, or the transaction could not begin: the same for each write alone.
    Connection(StoreError),
    /// A statement or the commit failed: perhaps one write's fault.
    Statement(StoreError),
}

impl Failed {
    fn into_error(self) -> StoreError {
        match self {
            Failed::Connection(error) | Failed::Statement(error) => error,
        }
    }
}

/// One transaction: every write's statements sent at once, then the commit.
async fn run(shared: &Shared, batch: &[Waiting]) -> Result<Vec<Written>, Failed> {
    let mut client = checkout(&shared.pool, &shared.reach)
        .await
        .map_err(Failed::Connection)?;
    let transaction = client
        .transaction()
        .await
        .map_err(|e| Failed::Connection(e.into()))?;
    let tx = &transaction;
    let each = batch.iter().map(|waiting| async move {
        match waiting {
            Waiting::Delivery {
                delivery,
                dedup_since,
                ..
            } => deliveries::enqueue(tx, delivery, *dedup_since, shared.owner, shared.sync_lease)
                .await
                .map(Written::Delivery),
            Waiting::Rejection { rejection, .. } => rejections::keep(tx, rejection)
                .await
                .map(|()| Written::Rejection),
        }
    });
    let outcomes = try_join_all(each).await.map_err(Failed::Statement)?;
    transaction
        .commit()
        .await
        .map_err(|e| Failed::Statement(e.into()))?;
    Ok(outcomes)
}
