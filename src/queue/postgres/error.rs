//! PostgreSQL's and the pool's errors as [`StoreError`]s, mapped to their kind here and nowhere
//! else: a short message (the server's own text names tables and constraints; values would be
//! in its DETAIL, which is left out, as are statements) with the driver's error as the source.

use std::io::ErrorKind as IoKind;

use deadpool_postgres::{PoolError, TimeoutType};

use crate::order::{StoreError, StoreErrorKind as Kind};

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> StoreError {
        let kind = kind_of(&error);
        let detail = if let Some(db) = error.as_db_error() {
            format!("postgres: {} (SQLSTATE {})", db.message(), db.code().code())
        } else {
            match std::error::Error::source(&error) {
                Some(cause) => format!("postgres: {error}: {cause}"),
                None => format!("postgres: {error}"),
            }
        };
        StoreError::with_source(kind, detail, error)
    }
}

impl From<PoolError> for StoreError {
    fn from(error: PoolError) -> StoreError {
        let (kind, detail) = match error {
            PoolError::Backend(error) => return error.into(),
            // Every connection was busy for the whole wait.
            PoolError::Timeout(TimeoutType::Wait) => (Kind::Busy, NO_CONNECTION_IN_TIME),
            // A new connection, or the check of an old one, got no answer from the server.
            PoolError::Timeout(_) => (Kind::Gone, NO_CONNECTION_IN_TIME),
            PoolError::Closed => (Kind::Gone, "postgres: the connection pool is closed"),
            other => {
                let detail = format!("postgres: cannot get a connection: {other}");
                return StoreError::with_source(Kind::Other, detail, other);
            }
        };
        StoreError::new(kind, detail)
    }
}

const NO_CONNECTION_IN_TIME: &str = "postgres: no connection to the database came free in time";

/// What an error of the server or the connection says about the store.
fn kind_of(error: &tokio_postgres::Error) -> Kind {
    if let Some(code) = error.code() {
        return sqlstate_kind(code.code());
    }
    if error.is_closed() {
        return Kind::Gone;
    }
    let io = std::error::Error::source(error).and_then(|c| c.downcast_ref::<std::io::Error>());
    match io.map(std::io::Error::kind) {
        Some(
            IoKind::ConnectionRefused
            | IoKind::ConnectionReset
            | IoKind::ConnectionAborted
            | IoKind::NotConnected
            | IoKind::BrokenPipe
            | IoKind::TimedOut
            | IoKind::UnexpectedEof
            | IoKind::HostUnreachable
            | IoKind::NetworkUnreachable,
        ) => Kind::Gone,
        Some(_) => Kind::Io,
        None => Kind::Other,
    }
}

/// A SQLSTATE by its class (the first two characters), or by itself where the class is mixed.
fn sqlstate_kind(code: &str) -> Kind {
    match code {
        // disk_full; out_of_memory.
        "53100" | "53200" => Kind::Full,
        // too_many_connections; lock_not_available; serialization_failure; deadlock_detected.
        "53300" | "55P03" | "40001" | "40P01" => Kind::Busy,
        // admin_shutdown, crash_shutdown, cannot_connect_now.
        "57P01" | "57P02" | "57P03" => Kind::Gone,
        // data_corrupted, index_corrupted.
        "XX001" | "XX002" => Kind::Corrupt,
        _ => match code.get(..2) {
            Some("23") => Kind::Constraint,
            Some("08") => Kind::Gone,
            Some("53") => Kind::Full,
            Some("58") => Kind::Io,
            _ => Kind::Other,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_name_their_kind() {
        let kinds = [
            ("23505", Kind::Constraint),
            ("23503", Kind::Constraint),
            ("53100", Kind::Full),
            ("53300", Kind::Busy),
            ("40P01", Kind::Busy),
            ("08006", Kind::Gone),
            ("57P01", Kind::Gone),
            ("XX001", Kind::Corrupt),
            ("58030", Kind::Io),
            ("42P01", Kind::Other),
        ];
        for (code, kind) in kinds {
            assert_eq!(sqlstate_kind(code), kind, "{code}");
        }
    }

    #[test]
    fn a_pool_that_never_frees_a_connection_is_busy_and_one_that_closed_is_gone() {
        let busy = StoreError::from(PoolError::Timeout(TimeoutType::Wait));
        assert_eq!(busy.kind(), Kind::Busy);
        assert_eq!(busy.detail(), NO_CONNECTION_IN_TIME);
        let closed = StoreError::from(PoolError::Closed);
        assert_eq!(closed.kind(), Kind::Gone);
    }
}
