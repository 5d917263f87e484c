//! The PostgreSQL server the tests that need one run against, found once per test process, at
//! the first such test:
//!
//! 1. the server `FLOWGATE_TEST_POSTGRES_URL` names; one that does not answer fails the tests;
//! 2. else the local default server, `postgres://postgres@127.0.0.1:5432/test`, when it answers
//!    within two seconds;
//! 3. else a throwaway server started from the PostgreSQL binaries on the machine
//!    (`throwaway.rs`), stopped when the tests end.
//!
//! With none, those tests are reported ignored; `FLOWGATE_REQUIRE_POSTGRES` (set by `.ci/run`)
//! makes them fail instead. Two variables let the tests of these ways (`tests.rs`) take each of
//! them on any machine: `FLOWGATE_TEST_POSTGRES_LOCAL` replaces the local default server's URL,
//! and `FLOWGATE_TEST_POSTGRES_BIN` the directories searched for the binaries (`PATH`, then
//! `/usr/lib/postgresql/*/bin`).

pub mod tests;
mod throwaway;

use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use tokio_postgres::NoTls;

pub const URL_VAR: &str = "FLOWGATE_TEST_POSTGRES_URL";
pub const LOCAL_VAR: &str = "FLOWGATE_TEST_POSTGRES_LOCAL";
pub const BIN_VAR: &str = "FLOWGATE_TEST_POSTGRES_BIN";
pub const REQUIRED_VAR: &str = "FLOWGATE_REQUIRE_POSTGRES";

const LOCAL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";
/// How long the local default server has to answer before it counts as absent.
const LOCAL_ANSWERS_WITHIN: Duration = Duration::from_secs(2);

/// Why a test that needs PostgreSQL did not run; the whole story is printed once, on stderr.
const NONE: &str = "no PostgreSQL server; FLOWGATE_TEST_POSTGRES_URL names one";

static LOCATED: OnceLock<Result<String, String>> = OnceLock::new();

/// The server's URL, or why there is none.
pub fn located() -> &'static Result<String, String> {
    LOCATED.get_or_init(|| {
        let located = locate();
        match &located {
            Ok(url) => eprintln!("PostgreSQL tests run against {url}"),
            Err(why) => eprintln!("PostgreSQL tests cannot run: {why}"),
        }
        located
    })
}

/// Whether there is a server; why not, in short, if not.
pub fn found() -> Result<(), String> {
    located().as_ref().map(drop).map_err(|_| NONE.to_owned())
}

/// The server's URL, for the tests that run only with one.
pub fn url() -> &'static str {
    match located() {
        Ok(url) => url,
        Err(why) => panic!("no PostgreSQL server: {why}"),
    }
}

/// Whether a test that needs PostgreSQL fails, instead of being ignored, without one.
pub fn required() -> bool {
    var(REQUIRED_VAR).is_some_and(|value| value != "0")
}

/// Stops the throwaway server, if one was started; the tests are over.
pub fn stop() {
    throwaway::stop();
}

fn locate() -> Result<String, String> {
    if let Some(url) = var(URL_VAR) {
        return Ok(url);
    }
    let local = var(LOCAL_VAR).unwrap_or_else(|| LOCAL_DEFAULT.to_owned());
    let absent = match answers(&local) {
        Ok(()) => return Ok(local),
        Err(why) => why,
    };
    throwaway::start().map_err(|why| {
        format!(
            "{URL_VAR} is not set, the local server {local} does not answer ({absent}), \
             and no server of the tests' own could be started: {why}"
        )
    })
}

/// A variable's value, unless unset or blank.
fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// Whether a server at `url` answers a query within [`LOCAL_ANSWERS_WITHIN`].
fn answers(url: &str) -> Result<(), String> {
    let mut config = tokio_postgres::Config::from_str(url).map_err(|e| e.to_string())?;
    config.connect_timeout(LOCAL_ANSWERS_WITHIN);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let asked = async {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(connection);
            client.simple_query("SELECT 1").await.map(drop)
        };
        match tokio::time::timeout(LOCAL_ANSWERS_WITHIN, asked).await {
            Ok(answer) => answer.map_err(|e| e.to_string()),
            Err(_) => Err(format!("no answer within {LOCAL_ANSWERS_WITHIN:?}")),
        }
    })
}
