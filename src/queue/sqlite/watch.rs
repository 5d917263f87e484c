//! The database at the store's path must stay the file the store has open (contract section 8).
//! SQLite in WAL mode goes on committing into a file that was deleted or replaced, and those
//! commits vanish with the process; so a thread of its own compares the two twice a second: the
//! same device and inode, and a link count above zero. The check is two `stat` calls and never
//! touches the database. The same thread notices a commit that hangs (a disk that stopped
//! answering), which the writer, stuck in it, cannot report itself.

use std::fs::{File, Metadata};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::order::{StoreError, StoreErrorKind as Kind};
use crate::queue::fault::StoreFault;

use super::error::io_error;

use super::writer::{Running, STALLED_AFTER};

/// How often the file is looked at: within the contract's second, with room to spare.
const EVERY: Duration = Duration::from_millis(500);

/// What the watch reports to.
pub(super) struct Watched {
    /// Whether the file at the path is the database open.
    pub(super) file: Arc<StoreFault>,
    /// The writer's batch now running, and whether it runs too long.
    pub(super) running: Arc<Running>,
    pub(super) stall: Arc<StoreFault>,
}

/// The running watch; dropping it stops the thread.
pub(super) struct FileWatch {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FileWatch {
    /// Watches `path`, which must be the database the store has just opened.
    pub(super) fn start(path: &Path, watched: Watched) -> Result<FileWatch, StoreError> {
        let open = OpenFile::of(path)?;
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("flowgate-store-watch".to_owned())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    watched.file.set(open.check());
                    watched.stall.set(watched.running.stalled(STALLED_AFTER));
                }
            })
            .map_err(|e| io_error("cannot start the store's file watch", e))?;
        Ok(FileWatch {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for FileWatch {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the store's file watch panicked");
        }
    }
}

/// The database file as opened: a handle of its own (so its link count can be read after the
/// path is gone) and its identity.
struct OpenFile {
    path: PathBuf,
    file: File,
    identity: Identity,
}

impl OpenFile {
    fn of(path: &Path) -> Result<OpenFile, StoreError> {
        let cannot = |e: std::io::Error| {
            io_error(
                format_args!("cannot watch the database {}", path.display()),
                e,
            )
        };
        let file = File::open(path).map_err(cannot)?;
        let identity = Identity::of(&file.metadata().map_err(cannot)?);
        Ok(OpenFile {
            path: path.to_owned(),
            file,
            identity,
        })
    }

    /// Why the path no longer names the open file, if it does not.
    fn check(&self) -> Option<StoreError> {
        let path = self.path.display();
        let gone = |detail: String| Some(StoreError::new(Kind::Gone, detail));
        let unreadable = |e| Some(io_error(format_args!("file unreadable: {path}"), e));
        let at_path = match std::fs::metadata(&self.path) {
            Ok(metadata) => Identity::of(&metadata),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return gone(format!("file gone: {path} was deleted or moved"));
            }
            Err(e) => return unreadable(e),
        };
        if at_path.device != self.identity.device || at_path.inode != self.identity.inode {
            return gone(format!(
                "file replaced: {path} is not the file the store has open"
            ));
        }
        // The path names the open file; one deleted since would have no links left.
        match self.file.metadata().map(|m| Identity::of(&m).links) {
            Ok(0) => gone(format!("file gone: {path} was deleted")),
            Ok(_) => None,
            Err(e) => unreadable(e),
        }
    }
}

/// What makes a file the same file.
struct Identity {
    device: u64,
    inode: u64,
    links: u64,
}

impl Identity {
    #[cfg(unix)]
    fn of(metadata: &Metadata) -> Identity {
        use std::os::unix::fs::MetadataExt;
        Identity {
            device: metadata.dev(),
            inode: metadata.ino(),
            links: metadata.nlink(),
        }
    }

    /// Elsewhere only a missing file is seen.
    #[cfg(not(unix))]
    fn of(_: &Metadata) -> Identity {
        Identity {
            device: 0,
            inode: 0,
            links: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::super::writer::Writer;
    use super::*;

    fn watched() -> (tempfile::TempDir, PathBuf, OpenFile) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("flowgate.db");
        std::fs::write(&path, b"db").expect("write");
        let open = OpenFile::of(&path).expect("open");
        (dir, path, open)
    }

    #[test]
    fn the_same_file_passes_and_a_deleted_one_is_gone() {
        let (_dir, path, open) = watched();
        assert!(open.check().is_none());
        std::fs::remove_file(&path).expect("remove");
        let cause = open.check().expect("gone");
        assert!(cause.detail().starts_with("file gone: "), "{cause}");
        assert_eq!(cause.kind(), Kind::Gone);
    }

    #[test]
    fn another_file_at_the_path_is_a_replacement_and_the_same_one_back_is_fine() {
        let (dir, path, open) = watched();
        let aside = dir.path().join("aside.db");
        std::fs::rename(&path, &aside).expect("move away");
        std::fs::write(&path, b"db").expect("a new file");
        let cause = open.check().expect("replaced");
        assert!(cause.detail().starts_with("file replaced: "), "{cause}");
        std::fs::rename(&aside, &path).expect("move back");
        assert!(open.check().is_none(), "the open file is at its path again");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_that_runs_too_long_stalls_the_writes_until_it_ends() {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = Connection::open(dir.path().join("writer.db")).expect("open");
        let writer = Writer::start(conn, Arc::new(StoreFault::new("writes"))).expect("writer");
        let writer = Arc::new(writer);
        let (running, after) = (writer.running(), Duration::from_millis(50));
        assert!(running.stalled(after).is_none());
        let (release, released) = mpsc::channel::<()>();
        let released = std::sync::Mutex::new(released);
        let hanging = {
            let writer = Arc::clone(&writer);
            tokio::spawn(async move {
                // A disk that hangs: the batch waits until the test lets it go.
                writer
                    .call(move |_| {
                        let _ = released.lock().expect("lock").recv();
                        Ok(())
                    })
                    .await
            })
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let cause = loop {
            if let Some(cause) = running.stalled(after) {
                break cause;
            }
            assert!(tokio::time::Instant::now() < deadline, "never stalled");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert!(cause.detail().starts_with("writes stalled: "), "{cause}");
        release.send(()).expect("release");
        hanging.await.expect("task").expect("the batch commits");
        assert!(running.stalled(after).is_none());
    }
}
