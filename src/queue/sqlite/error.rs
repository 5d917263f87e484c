//! SQLite's errors as [`StoreError`]s, mapped to their kind here and nowhere else: a short
//! message (SQLite's own text names tables and columns, never values; the SQL of a rejected
//! statement is left out) with the driver's error kept as the source.

use rusqlite::ErrorCode;

use crate::order::{StoreError, StoreErrorKind as Kind};

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> StoreError {
        use rusqlite::Error as E;
        let (kind, detail) = match &error {
            E::SqliteFailure(code, message) => {
                let detail = match message {
                    Some(message) => format!("sqlite: {message} (code {})", code.extended_code),
                    None => format!("sqlite: {code}"),
                };
                (kind_of(code.code), detail)
            }
            E::SqlInputError { error, .. } => {
                (Kind::Other, format!("sqlite rejected a statement: {error}"))
            }
            E::FromSqlConversionFailure(..)
            | E::IntegralValueOutOfRange(..)
            | E::InvalidColumnType(..)
            | E::Utf8Error(..) => (Kind::Corrupt, "a stored value is unreadable".to_owned()),
            other => (Kind::Other, format!("sqlite: {other}")),
        };
        StoreError::with_source(kind, detail, error)
    }
}

/// What a SQLite result code says about the store.
fn kind_of(code: ErrorCode) -> Kind {
    match code {
        ErrorCode::DatabaseBusy
        | ErrorCode::DatabaseLocked
        | ErrorCode::FileLockingProtocolFailed => Kind::Busy,
        ErrorCode::DiskFull | ErrorCode::OutOfMemory => Kind::Full,
        ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => Kind::Corrupt,
        ErrorCode::ConstraintViolation => Kind::Constraint,
        ErrorCode::SystemIoFailure
        | ErrorCode::CannotOpen
        | ErrorCode::PermissionDenied
        | ErrorCode::ReadOnly
        | ErrorCode::NoLargeFileSupport => Kind::Io,
        _ => Kind::Other,
    }
}

/// A value that cannot be written as JSON, or read back from it.
pub(super) fn json_error(error: serde_json::Error) -> StoreError {
    StoreError::caused(Kind::Corrupt, "cannot encode a stored value", error)
}

/// A call to the operating system that failed: `context: error`.
pub(super) fn io_error(context: impl std::fmt::Display, error: std::io::Error) -> StoreError {
    StoreError::caused(Kind::Io, context, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_a_busy_database_and_a_broken_constraint_are_told_apart() {
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY)")
            .expect("table");
        conn.execute("INSERT INTO t (n) VALUES (1)", [])
            .expect("insert");
        let again = conn.execute("INSERT INTO t (n) VALUES (1)", []);
        let error = StoreError::from(again.expect_err("a duplicate key"));
        assert_eq!(error.kind(), Kind::Constraint);
        assert!(
            error
                .detail()
                .starts_with("sqlite: UNIQUE constraint failed"),
            "{error}"
        );
        assert!(std::error::Error::source(&error).is_some());
        let failure = |code| rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
        let full = StoreError::from(failure(rusqlite::ffi::SQLITE_FULL));
        assert_eq!(full.kind(), Kind::Full);
        let busy = StoreError::from(failure(rusqlite::ffi::SQLITE_BUSY));
        assert_eq!(busy.kind(), Kind::Busy);
        assert_eq!(busy.detail(), "sqlite: Error code 5: database is locked");
    }
}
