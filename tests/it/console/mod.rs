//! The operator console (DESIGN section 18): its files and their headers over plain HTTP, and
//! an operator's work in a real headless Chromium (`browser.rs`), which is skipped, saying so,
//! where chromedriver is not installed.

mod browser;
mod files;
mod operator;

use crate::support::Gateway;
use crate::support::fixtures;
use crate::support::queued::queued_config;

/// The fixtures' vendors (the queued one too), the tenant `sim` and the tests' admin token.
async fn console_gateway() -> Gateway {
    fixtures::gateway("", &queued_config()).await
}
