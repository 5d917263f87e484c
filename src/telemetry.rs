//! Logs with `tracing`: human-readable text or one JSON object per line, on stderr so a CLI
//! verb's own output stays clean. `RUST_LOG` overrides the configured level. A thread of its own
//! writes the lines, so a request never waits on stderr; colours only on a terminal. Text values
//! are escaped (`text.rs`), so no request can forge a line; JSON lines are flat (`json.rs`).

mod json;
mod text;

use std::io::{BufWriter, IsTerminal};

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::JsonFields;

use crate::config::LogFormat;

/// Lines queued for the log thread before a request waits for it (a line is never dropped): a
/// burst's worth, and a few hundred KiB of channel allocated up front.
const QUEUED_LINES: usize = 8_192;

/// Installs the subscriber; logging stops when the guard is dropped, after what it holds is
/// written.
pub fn init(format: LogFormat, level: &str) -> WorkerGuard {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // The log thread writes what is queued, then flushes: a batch under load, one line at a time
    // when quiet.
    let (writer, guard) = NonBlockingBuilder::default()
        .buffered_lines_limit(QUEUED_LINES)
        .lossy(false)
        .thread_name("flowgate-log")
        .finish(BufWriter::new(std::io::stderr()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    // A second init (tests start several gateways in one process) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.fmt_fields(text::EscapedFields).try_init(),
        LogFormat::Json => builder
            .fmt_fields(JsonFields::new())
            .event_format(json::FlatJson)
            .try_init(),
    };
    guard
}

/// What a subscriber writes, kept for tests to read.
#[cfg(test)]
#[derive(Clone, Default)]
pub(crate) struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

#[cfg(test)]
impl Captured {
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("the buffer").clone()).expect("UTF-8")
    }
}

#[cfg(test)]
impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("the buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
