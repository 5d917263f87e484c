//! Queued delivery (DESIGN sections 8 and 9): 202 after the commit, workers delivering in order
//! per order through Flow's outages, refusals and rate limits, dedup, dead letters and their
//! redrive through the admin API. On PostgreSQL, shared by several replicas: the `store` test
//! target.

mod crash;
mod dedup;
mod exclusive;
mod outages;
mod pacing;
mod pause;
mod readiness;

pub use crate::support::queued::{accepted, post, queued_config, statuses};
use crate::support::{Gateway, fixtures};

pub async fn queued_gateway() -> Gateway {
    fixtures::gateway("", &queued_config()).await
}
