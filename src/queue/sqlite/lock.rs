//! One process per database (contract section 8): an exclusive `flock` on a lock file beside
//! the database, taken before the database is opened and held as long as the store. Start-up
//! recovery treats every `in_flight` delivery as interrupted, which is only true when no other
//! process is running on the file. The holder writes its PID in the lock file, so a second
//! process can say who holds it.

use std::ffi::OsString;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::order::{StoreError, StoreErrorKind};

use super::error::io_error;

/// The held lock; dropping it (closing the file) releases it. The kernel releases it too when
/// the process dies, so a crash never leaves the database locked.
pub(super) struct DatabaseLock {
    _file: File,
}

impl DatabaseLock {
    /// Takes the lock of `database` without waiting: a database already in use is an error
    /// naming the database and the holder's PID.
    pub(super) fn take(database: &Path) -> Result<DatabaseLock, StoreError> {
        let path = lock_path(database);
        let cannot = |e: std::io::Error| {
            let context = format_args!("cannot lock {} ({})", database.display(), path.display());
            io_error(context, e)
        };
        // Not truncated on open: the holder's PID must survive another process's attempt.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(cannot)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(in_use(database, &path, &mut file)),
            Err(TryLockError::Error(e)) => return Err(cannot(e)),
        }
        file.set_len(0).map_err(cannot)?;
        file.seek(SeekFrom::Start(0)).map_err(cannot)?;
        writeln!(file, "{}", std::process::id()).map_err(cannot)?;
        Ok(DatabaseLock { _file: file })
    }
}

/// `flowgate.db` → `flowgate.db.lock`, in the same directory.
fn lock_path(database: &Path) -> PathBuf {
    let mut name = database
        .file_name()
        .map_or_else(OsString::new, ToOwned::to_owned);
    name.push(".lock");
    database.with_file_name(name)
}

/// The error for a database another process holds, with the PID it wrote.
fn in_use(database: &Path, lock: &Path, file: &mut File) -> StoreError {
    let mut text = String::new();
    // The holder may not have written its PID yet; the error says so rather than failing.
    let pid = match file.read_to_string(&mut text) {
        Ok(_) if text.trim().parse::<u32>().is_ok() => format!("pid {}", text.trim()),
        _ => "pid unknown".to_owned(),
    };
    let detail = format!(
        "the database {} is in use by another flowgate process ({pid}, holding {}); \
         one process per SQLite database: stop that process or give this one another store.url",
        database.display(),
        lock.display()
    );
    StoreError::new(StoreErrorKind::Busy, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_database_names_the_holder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let database = dir.path().join("flowgate.db");
        let held = DatabaseLock::take(&database).expect("the first lock");
        let written = std::fs::read_to_string(dir.path().join("flowgate.db.lock")).expect("read");
        assert_eq!(written, format!("{}\n", std::process::id()));
        let Err(refused) = DatabaseLock::take(&database) else {
            panic!("a second lock was granted");
        };
        assert_eq!(refused.kind(), StoreErrorKind::Busy);
        let message = refused.detail().to_owned();
        assert!(
            message.contains(&database.display().to_string()),
            "{message}"
        );
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        drop(held);
        DatabaseLock::take(&database).expect("free again once the holder is gone");
    }
}
