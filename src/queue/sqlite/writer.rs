//! Group commit: one thread owns the write connection. Requests queue on a channel; the thread
//! takes whatever has queued (up to [`MAX_BATCH`]), runs them in one transaction, commits, and
//! only then answers them all. While one commit waits for its fsync the next batch gathers, so
//! the batch size follows the load without a timer.
//!
//! A request that fails must not take the others down with it, which a savepoint per request
//! would ensure, at the price of copying every page it changes into the savepoint's journal.
//! Requests rarely fail, so a batch first runs without savepoints; only when one of its
//! requests fails is the transaction rolled back and the batch run again, each request in a
//! savepoint of its own. Requests are therefore closures that can run twice.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::order::{StoreError, StoreErrorKind as Kind};
use crate::queue::fault::StoreFault;

use super::error::io_error;

/// Requests committed together at most; bounds the time the first of them waits.
const MAX_BATCH: usize = 256;

/// A batch running longer than this means the disk under the database hangs: the store is not
/// ready until it ends. Twice the lock wait a healthy batch may spend.
pub(super) const STALLED_AFTER: Duration = Duration::from_secs(10);

/// The handle to the writer thread; dropping it lets the thread finish its batch and close.
pub(super) struct Writer {
    requests: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
    running: Arc<Running>,
}

/// When the batch now running started, in milliseconds after `epoch` (plus one, so that zero
/// means no batch is running): the watch (`watch.rs`) reads it.
pub(super) struct Running {
    epoch: Instant,
    since: AtomicU64,
}

impl Running {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn start(&self) {
        self.since.store(self.now() + 1, Ordering::Relaxed);
    }

    fn end(&self) {
        self.since.store(0, Ordering::Relaxed);
    }

    /// Why writes are stalled, while the batch now running has run longer than `after`: the
    /// disk under the database stopped answering.
    pub(super) fn stalled(&self, after: Duration) -> Option<StoreError> {
        let since = self.since.load(Ordering::Relaxed);
        let elapsed = Duration::from_millis((self.now() + 1).saturating_sub(since));
        (since != 0 && elapsed > after).then(|| {
            let detail = format!(
                "writes stalled: a commit has been running for over {} s",
                after.as_secs()
            );
            StoreError::new(Kind::Io, detail)
        })
    }
}

impl Writer {
    /// Starts the thread on `conn`; whether each batch committed goes to `writes` (readiness).
    pub(super) fn start(conn: Connection, writes: Arc<StoreFault>) -> Result<Writer, StoreError> {
        let (requests, queue) = mpsc::channel();
        let running = Arc::new(Running {
            epoch: Instant::now(),
            since: AtomicU64::new(0),
        });
        let batches = Arc::clone(&running);
        let thread = std::thread::Builder::new()
            .name("flowgate-store".to_owned())
            .spawn(move || serve(conn, &queue, &writes, &batches))
            .map_err(|e| io_error("cannot start the store's writer", e))?;
        Ok(Writer {
            requests: Some(requests),
            thread: Some(thread),
            running,
        })
    }

    /// The batch now running, for the watch.
    pub(super) fn running(&self) -> Arc<Running> {
        Arc::clone(&self.running)
    }

    /// Runs `work` in the next batch; its outcome is returned once the batch has committed,
    /// or the batch's error when the commit failed.
    pub(super) async fn call<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let stopped = || StoreError::new(Kind::Gone, "the store's writer has stopped");
        let (reply, answer) = oneshot::channel();
        let write = QueuedWrite {
            work,
            outcome: None,
            reply,
        };
        self.requests
            .as_ref()
            .ok_or_else(stopped)?
            .send(Box::new(write))
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

fn serve(
    conn: Connection,
    queue: &mpsc::Receiver<Box<dyn Job>>,
    writes: &StoreFault,
    running: &Running,
) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit(&conn, batch, writes, running);
    }
}

/// Runs and commits one batch, then answers every request in it. A batch that fails (disk
/// full, I/O, a lock held too long) makes the store not ready until one commits again.
fn commit(conn: &Connection, mut batch: Vec<Box<dyn Job>>, writes: &StoreFault, running: &Running) {
    running.start();
    let failure = run_batch(conn, &mut batch).err();
    running.end();
    if let Some(error) = &failure {
        tracing::error!(%error, requests = batch.len(), "store commit failed");
    }
    writes.set(failure.clone().map(|e| e.context("writes failing")));
    for job in batch {
        job.answer(failure.as_ref());
    }
}

fn run_batch(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Result<(), StoreError> {
    if in_transaction(conn, |tx| run_all(tx, batch, Isolation::Shared))? {
        return Ok(());
    }
    in_transaction(conn, |tx| run_all(tx, batch, Isolation::Savepoint)).map(drop)
}

/// Runs `work` in one transaction, committed when it answers `Ok(true)` and rolled back
/// otherwise. IMMEDIATE takes the write lock up front: a busy database fails here, before any
/// work.
fn in_transaction(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<bool, StoreError>,
) -> Result<bool, StoreError> {
    control(conn, "BEGIN IMMEDIATE")?;
    let outcome = work(conn).and_then(|commit| {
        if commit {
            control(conn, "COMMIT")?;
        }
        Ok(commit)
    });
    // A failed COMMIT leaves the transaction open; SQLite may have rolled it back already.
    if !conn.is_autocommit()
        && let Err(error) = control(conn, "ROLLBACK")
    {
        tracing::error!(%error, "the store's batch could not be rolled back");
    }
    outcome
}

/// Runs a statement that takes no parameters and returns no rows (a transaction's or a
/// savepoint's control), cached like every other statement: SQLite would otherwise parse it
/// anew each time (~3 000 instructions for each BEGIN and COMMIT).
pub(super) fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// How a request runs inside the batch's transaction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Isolation {
    /// Straight in the transaction: a failure spoils the batch, which then runs again.
    Shared,
    /// In a savepoint of its own: a failure is rolled back and the batch goes on.
    Savepoint,
}

/// Runs the batch's requests in order; `Ok(false)` when one failed while they shared the
/// transaction (the rest are not run).
fn run_all(
    tx: &Connection,
    batch: &mut [Box<dyn Job>],
    isolation: Isolation,
) -> Result<bool, StoreError> {
    for job in batch.iter_mut() {
        let succeeded = job.run(tx, isolation);
        // Some errors (disk full, I/O) make SQLite roll the whole transaction back; the
        // requests that ran before would otherwise be acknowledged without being written.
        if tx.is_autocommit() {
            return Err(StoreError::new(
                Kind::Io,
                "sqlite rolled the batch's transaction back",
            ));
        }
        if !succeeded && isolation == Isolation::Shared {
            return Ok(false);
        }
    }
    Ok(true)
}

/// One queued request, type-erased so requests with different answers share a batch.
trait Job: Send {
    /// Runs the request, keeping its outcome until the commit; whether it succeeded.
    fn run(&mut self, tx: &Connection, isolation: Isolation) -> bool;
    /// Sends the kept outcome, or `failure` when the batch did not commit.
    fn answer(self: Box<Self>, failure: Option<&StoreError>);
}

/// A request waiting in the queue for its batch: its work, then its outcome until the commit.
struct QueuedWrite<T, F> {
    work: F,
    outcome: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for QueuedWrite<T, F>
where
    T: Send,
    F: Fn(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, tx: &Connection, isolation: Isolation) -> bool {
        let outcome = match isolation {
            Isolation::Shared => (self.work)(tx),
            Isolation::Savepoint => in_savepoint(tx, &self.work),
        };
        let succeeded = outcome.is_ok();
        self.outcome = Some(outcome);
        succeeded
    }

    fn answer(self: Box<Self>, failure: Option<&StoreError>) {
        let outcome = match (failure, self.outcome) {
            (Some(error), _) => Err(error.clone()),
            (None, Some(outcome)) => outcome,
            (None, None) => Err(StoreError::new(Kind::Other, "the request did not run")),
        };
        // The caller may have given up waiting (a request timeout): nobody is left to tell.
        let _ = self.reply.send(outcome);
    }
}

/// A failing request rolls back to its savepoint, leaving the rest of the batch intact.
fn in_savepoint<T>(
    tx: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    control(tx, "SAVEPOINT request")?;
    let outcome = work(tx);
    if outcome.is_err() {
        control(tx, "ROLLBACK TO request")?;
    }
    control(tx, "RELEASE request")?;
    outcome
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_request_leaves_nothing_and_the_rest_of_its_batch_commits() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("writer.db");
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch("CREATE TABLE t (n INTEGER NOT NULL)")
            .expect("table");
        let writes = Arc::new(StoreFault::new("writes"));
        let writer = Arc::new(Writer::start(conn, writes.clone()).expect("writer"));
        // The first request holds the writer while the others queue, so they share a batch.
        let holder = {
            let writer = Arc::clone(&writer);
            tokio::spawn(async move {
                writer
                    .call(|_| {
                        std::thread::sleep(Duration::from_millis(200));
                        Ok(())
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let requests: Vec<_> = (0..10_i64)
            .map(|n| {
                let writer = Arc::clone(&writer);
                tokio::spawn(async move {
                    writer
                        .call(move |conn| {
                            conn.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
                            if n == 5 {
                                return Err(StoreError::new(Kind::Constraint, "refused"));
                            }
                            Ok(n)
                        })
                        .await
                })
            })
            .collect();
        holder.await.expect("task").expect("holder");
        let mut answers = Vec::new();
        for request in requests {
            answers.push(request.await.expect("task"));
        }
        for (n, answer) in (0..).zip(&answers) {
            match answer {
                Ok(got) => assert_eq!(*got, n),
                Err(error) => assert!(n == 5 && error.detail() == "refused", "{n}: {error}"),
            }
        }
        drop(writer);
        let conn = Connection::open(&path).expect("reopen");
        let rows: Vec<i64> = conn
            .prepare("SELECT n FROM t ORDER BY n")
            .expect("select")
            .query_map([], |row| row.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("values");
        assert_eq!(rows, vec![0, 1, 2, 3, 4, 6, 7, 8, 9]);
        assert!(
            writes.cause().is_none(),
            "one request failing is not the store failing"
        );
    }

    #[tokio::test]
    async fn a_batch_that_cannot_commit_fails_the_writes_until_one_commits() {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = Connection::open(dir.path().join("writer.db")).expect("open");
        let writes = Arc::new(StoreFault::new("writes"));
        let writer = Writer::start(conn, writes.clone()).expect("writer");
        // Ending the batch's transaction from inside it is what an I/O error does to it.
        let lost = writer
            .call(|conn| Ok(conn.execute_batch("ROLLBACK")?))
            .await;
        assert!(lost.is_err());
        let cause = writes.cause().expect("the writes fail");
        assert!(cause.detail().starts_with("writes failing: "), "{cause}");
        writer.call(|_| Ok(())).await.expect("a batch that commits");
        assert!(writes.cause().is_none());
    }
}
