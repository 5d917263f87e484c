//! Group commit: one thread owns the write connection. Requests queue on a channel; the thread
//! takes whatever has queued (up to [`MAX_BATCH`]), runs each in its own savepoint of one
//! transaction, commits, and only then answers them all. While one commit waits for its fsync
//! the next batch gathers, so the batch size follows the load without a timer.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::oneshot;

use crate::order::StoreError;

/// Requests committed together at most; bounds the time the first of them waits.
const MAX_BATCH: usize = 256;

/// The handle to the writer thread; dropping it lets the thread finish its batch and close.
pub(super) struct Writer {
    requests: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub(super) fn start(conn: Connection) -> Result<Writer, StoreError> {
        let (requests, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("flowgate-store".to_owned())
            .spawn(move || serve(conn, &queue))
            .map_err(|e| StoreError(format!("cannot start the store's writer: {e}")))?;
        Ok(Writer {
            requests: Some(requests),
            thread: Some(thread),
        })
    }

    /// Runs `work` in the next batch; its outcome is returned once the batch has committed,
    /// or the batch's error when the commit failed.
    pub(super) async fn call<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let stopped = || StoreError("the store's writer has stopped".to_owned());
        let (reply, answer) = oneshot::channel();
        let call = Call {
            work: Some(work),
            outcome: None,
            reply,
        };
        self.requests
            .as_ref()
            .ok_or_else(stopped)?
            .send(Box::new(call))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop; joining closes the connection before a
        // reopen of the same file (tests, restarts) runs its recovery.
        self.requests.take();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the store's writer thread panicked");
        }
    }
}

fn serve(mut conn: Connection, queue: &mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit(&mut conn, batch);
    }
}

/// Runs and commits one batch, then answers every request in it.
fn commit(conn: &mut Connection, mut batch: Vec<Box<dyn Job>>) {
    let failure = run_batch(conn, &mut batch).err();
    if let Some(error) = &failure {
        tracing::error!(%error, requests = batch.len(), "store commit failed");
    }
    for job in batch {
        job.answer(failure.as_ref());
    }
}

fn run_batch(conn: &mut Connection, batch: &mut [Box<dyn Job>]) -> Result<(), StoreError> {
    // IMMEDIATE takes the write lock up front: a busy database fails here, before any work.
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for job in batch.iter_mut() {
        job.run(&mut tx);
        // Some errors (disk full, I/O) make SQLite roll the whole transaction back; the
        // requests that ran before would otherwise be acknowledged without being written.
        if tx.is_autocommit() {
            return Err(StoreError(
                "sqlite rolled the batch's transaction back".to_owned(),
            ));
        }
    }
    tx.commit()?;
    Ok(())
}

/// One queued request, type-erased so requests with different answers share a batch.
trait Job: Send {
    /// Runs the request in its own savepoint, keeping its outcome until the commit.
    fn run(&mut self, tx: &mut Transaction<'_>);
    /// Sends the kept outcome, or `failure` when the batch did not commit.
    fn answer(self: Box<Self>, failure: Option<&StoreError>);
}

struct Call<T, F> {
    work: Option<F>,
    outcome: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Call<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, tx: &mut Transaction<'_>) {
        if let Some(work) = self.work.take() {
            self.outcome = Some(in_savepoint(tx, work));
        }
    }

    fn answer(self: Box<Self>, failure: Option<&StoreError>) {
        let outcome = match (failure, self.outcome) {
            (Some(error), _) => Err(StoreError(error.0.clone())),
            (None, Some(outcome)) => outcome,
            (None, None) => Err(StoreError("the request did not run".to_owned())),
        };
        // The caller may have given up waiting (a request timeout): nobody is left to tell.
        let _ = self.reply.send(outcome);
    }
}

/// A failing request rolls back to its savepoint, leaving the rest of the batch intact. The
/// savepoint statements are cached like every other, so a request costs no parse of them.
fn in_savepoint<T>(
    tx: &mut Transaction<'_>,
    work: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let run = |sql: &str| tx.prepare_cached(sql).and_then(|mut s| s.execute([]));
    run("SAVEPOINT request")?;
    let outcome = work(tx);
    if outcome.is_err() {
        run("ROLLBACK TO request")?;
    }
    run("RELEASE request")?;
    outcome
}
