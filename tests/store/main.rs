//! The store's tests: one behaviour suite (`suite`) run against both stores, what only each
//! promises (`sqlite`, `postgres`), and replicas of the binary sharing one PostgreSQL schema
//! (`replicas`).
//!
//! A test harness of its own (`harness`), so a test that needs PostgreSQL is reported ignored,
//! saying why, when no server can be had, never passed without running. `server` finds the
//! server once per test process (or starts one) and stops what it started when the tests end.

#[macro_use]
mod harness;
mod postgres;
mod replicas;
mod server;
mod sqlite;
mod suite;
// The integration tests' support (gateways on loopback, the simulated Flow) for `replicas`,
// which uses only part of it.
#[allow(dead_code, unused_imports)]
#[path = "../it/support/mod.rs"]
mod support;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    let trials = [
        sqlite::trials(),
        postgres::trials(),
        replicas::trials(),
        server::tests::trials(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    server::stop();
    conclusion.exit_code()
}
