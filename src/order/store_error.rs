//! Why the store could not be read or written: a [`StoreErrorKind`] that code can match on, the
//! text operators read (tables and constraints named, never values or statements), and the
//! driver's or the system's own error kept as its source. Each backend maps its errors to a kind
//! in one place (`queue/sqlite/error.rs`, `queue/postgres/error.rs`).

use std::error::Error;
use std::sync::Arc;

/// The store could not be read or written: the webhook is answered 503, never half-done.
///
/// `detail` already says what the source says (in words safe to log). The source is shared, so
/// every request of a failed batch gets the batch's error with its cause; `Error` is written by
/// hand because a derived `source()` would hand out the `Arc`, which cannot be downcast.
#[derive(Clone, Debug)]
pub struct StoreError {
    kind: StoreErrorKind,
    detail: String,
    source: Option<Arc<dyn Error + Send + Sync>>,
}

/// What kind of failure it was, whichever store had it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// Someone else holds what was needed: a lock, the database, every pooled connection.
    Busy,
    /// No room left to write: the disk, the database server's space or memory.
    Full,
    /// What is stored cannot be read as it was written, or a newer flowgate wrote it.
    Corrupt,
    /// The store is out of reach or shut: its file gone, its server unreachable, its writer
    /// stopped.
    Gone,
    /// The database refused a write that breaks one of its constraints.
    Constraint,
    /// The operating system failed a call: a file, a thread, a disk that stopped answering.
    Io,
    /// The store is set up wrong: a URL that does not parse, a database without what flowgate
    /// needs.
    Setup,
    /// Anything else the database refused (a statement, a misuse): a bug more than a state.
    Other,
}

impl StoreError {
    /// An error of `kind` with no cause beneath it.
    pub fn new(kind: StoreErrorKind, detail: impl Into<String>) -> StoreError {
        StoreError {
            kind,
            detail: detail.into(),
            source: None,
        }
    }

    /// An error of `kind` caused by `source`, whose text `detail` already gives as it may be
    /// logged.
    pub fn with_source(
        kind: StoreErrorKind,
        detail: impl Into<String>,
        source: impl Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError {
            kind,
            detail: detail.into(),
            source: Some(Arc::new(source)),
        }
    }

    /// `context: source`, an error of `kind` caused by `source`.
    pub fn caused(
        kind: StoreErrorKind,
        context: impl std::fmt::Display,
        source: impl Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError::with_source(kind, format!("{context}: {source}"), source)
    }

    /// The same failure said in the terms of what was being done: `context: detail`.
    pub fn context(self, context: impl std::fmt::Display) -> StoreError {
        StoreError {
            detail: format!("{context}: {}", self.detail),
            ..self
        }
    }

    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// What went wrong, without the leading "the order store is unavailable".
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the order store is unavailable: {}", self.detail)
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        let source: &(dyn Error + 'static) = self.source.as_deref()?;
        Some(source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_the_detail_and_the_cause_stays_reachable() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let error =
            StoreError::caused(StoreErrorKind::Io, "cannot lock db", io).context("cannot open db");
        assert_eq!(error.detail(), "cannot open db: cannot lock db: denied");
        assert_eq!(
            error.to_string(),
            "the order store is unavailable: cannot open db: cannot lock db: denied"
        );
        assert_eq!(error.kind(), StoreErrorKind::Io);
        let source = error.source().expect("a source");
        assert!(source.downcast_ref::<std::io::Error>().is_some());
        let copy = error.clone();
        assert!(copy.source().is_some(), "a clone keeps the cause");
    }
}
