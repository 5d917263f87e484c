//! A tenant's circuit breaker (contract section 8): opens after `circuit.failures` consecutive
//! retryable failures (429s excluded), stays open exactly `circuit.open_for`, then lets one probe
//! through; a failed probe reopens it for `open_for` again, a successful one closes it.

use std::time::Duration;

pub struct Circuit {
    failures: u32,
    open_for: Duration,
}

impl Circuit {
    pub fn new(failures: u32, open_for: Duration) -> Self {
        Self { failures, open_for }
    }
}
