//! Trials for `libtest_mimic`, as `#[test]` and `#[tokio::test]` would make them, and
//! `postgres` ones: run against the server `crate::server` finds, or reported ignored when there
//! is none (failed instead under `FLOWGATE_REQUIRE_POSTGRES`), as are other trials `needing` what
//! is not there.
//!
//! [`trials!`] lists a module's tests by kind; a test function it does not list is dead code,
//! which the lints refuse, so none is forgotten.

use std::future::Future;

use libtest_mimic::{Completion, Failed, Trial};

use crate::server;

/// A module's trials, each named `module::function` (without the crate's name), by kind:
/// `test` (a plain function), `tokio` (an async one on a current-thread runtime), `postgres`
/// (an async one that needs a server); `tokio(n)` and `postgres(n)` run on `n` worker threads.
macro_rules! trials {
    ($($kind:ident $(($threads:literal))?: $($case:ident),+ $(,)?;)*) => {{
        [$(trials!(@group $kind (0 $(+ $threads)?) $($case),+)),*]
            .into_iter()
            .flatten()
            .collect::<Vec<libtest_mimic::Trial>>()
    }};
    (@group $kind:ident ($threads:expr) $($case:ident),+) => {
        vec![$(trials!(@one $kind ($threads) $case)),+]
    };
    (@one test ($threads:expr) $case:ident) => {
        $crate::harness::test($crate::harness::name(module_path!(), stringify!($case)), $case)
    };
    (@one $kind:ident ($threads:expr) $case:ident) => {
        $crate::harness::$kind(
            $crate::harness::name(module_path!(), stringify!($case)),
            $threads,
            $case,
        )
    };
}

/// `module::case` for a case in `module_path` (which starts with the crate's name).
pub fn name(module_path: &str, case: &str) -> String {
    match module_path.split_once("::") {
        Some((_, module)) => format!("{module}::{case}"),
        None => case.to_owned(),
    }
}

pub fn test(name: String, body: fn()) -> Trial {
    Trial::test(name, move || {
        body();
        Ok(())
    })
}

/// `threads` 0 is a current-thread runtime, as `#[tokio::test]`'s default.
pub fn tokio<F, Fut>(name: String, threads: usize, body: F) -> Trial
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    Trial::test(name, move || {
        runtime(threads).block_on(body());
        Ok(())
    })
}

/// Runs when `server` has a server; else ignored, saying why, or failed when one is required.
pub fn postgres<F, Fut>(name: String, threads: usize, body: F) -> Trial
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    needing(name, server::found, move || {
        runtime(threads).block_on(body());
    })
}

/// Runs when `need` holds; else ignored with its reason, or failed when PostgreSQL is required.
pub fn needing<F>(name: String, need: fn() -> Result<(), String>, body: F) -> Trial
where
    F: FnOnce() + Send + 'static,
{
    Trial::ignorable_test(name, move || match need() {
        Ok(()) => {
            body();
            Ok(Completion::Completed)
        }
        Err(why) if server::required() => Err(Failed::from(format!(
            "{why}, and {} requires it",
            server::REQUIRED_VAR
        ))),
        Err(why) => Ok(Completion::ignored_with(why)),
    })
}

fn runtime(threads: usize) -> tokio::runtime::Runtime {
    let mut builder = match threads {
        0 => tokio::runtime::Builder::new_current_thread(),
        n => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(n);
            builder
        }
    };
    builder.enable_all().build().expect("a runtime")
}
