//! Checkpoints off the acknowledgement path: a thread of its own copies the WAL back into the
//! database file a few times a second, on a connection of its own, while the writer goes on
//! committing. Pages written by many commits are copied once, and no webhook waits for it.

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::order::StoreError;

use super::error::io_error;
use super::schema;

/// How often the WAL is copied back; it holds about this long of commits between copies.
const PERIOD: Duration = Duration::from_millis(250);

/// The running checkpointer; dropping it stops the thread.
pub(super) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub(super) fn start(path: &Path) -> Result<Checkpointer, StoreError> {
        let conn = schema::open_checkpointer(path)?;
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("flowgate-checkpoint".to_owned())
            .spawn(move || run(&conn, &stopped))
            .map_err(|e| io_error("cannot start the store's checkpointer", e))?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the store's checkpoint thread panicked");
        }
    }
}

fn run(conn: &Connection, stopped: &mpsc::Receiver<()>) {
    let mut failing = false;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(PERIOD) {
        // PASSIVE never waits for the writer or readers: it copies what it can now and the
        // rest next time. A failure is logged once until checkpoints work again.
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            Ok(()) => failing = false,
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "the store's WAL checkpoint failed; retrying");
            }
            Err(_) => {}
        }
    }
}
