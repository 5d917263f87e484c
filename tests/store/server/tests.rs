//! Each way of finding a server, taken by running one test that needs PostgreSQL in a child
//! process of this binary, with the variables that lead there: a set variable naming no server
//! fails it; a local server that answers runs it; without one, a server of the tests' own runs
//! it and is gone, with its directory, once the child has exited; with none to be had it is
//! ignored, or failed when one is required.

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::Trial;

use super::{BIN_VAR, LOCAL_VAR, REQUIRED_VAR, URL_VAR, answers, throwaway};
use crate::harness;

/// A quick test of the suite that needs PostgreSQL.
const CASE: &str = "postgres::upkeep::a_working_store_is_accepting";
/// Nothing listens on port 1 of loopback.
const NO_SERVER: &str = "postgres://postgres@127.0.0.1:1/test";

pub fn trials() -> Vec<Trial> {
    let mut trials = trials! {
        test: a_set_variable_naming_no_server_fails_the_tests, without_a_server_the_tests_are_ignored;
    };
    let name = |case| harness::name(module_path!(), case);
    trials.push(harness::needing(
        name("a_local_server_that_answers_runs_the_tests"),
        super::found,
        a_local_server_that_answers_runs_the_tests,
    ));
    trials.push(harness::needing(
        name("a_server_of_the_tests_own_runs_them_and_is_gone_after"),
        || throwaway::can_start().map_err(|why| format!("no PostgreSQL server can start: {why}")),
        a_server_of_the_tests_own_runs_them_and_is_gone_after,
    ));
    trials
}

fn a_set_variable_naming_no_server_fails_the_tests() {
    let run = Child::run(&[(URL_VAR, NO_SERVER)]);
    run.assert(false, "0 passed; 1 failed; 0 ignored");
}

fn without_a_server_the_tests_are_ignored() {
    let empty = tempfile::tempdir().expect("a directory without binaries");
    let nowhere = empty.path().to_str().expect("a UTF-8 path");
    let none = [(LOCAL_VAR, NO_SERVER), (BIN_VAR, nowhere)];
    let run = Child::run(&none);
    run.assert(true, "0 passed; 0 failed; 1 ignored");
    assert!(
        run.stderr.contains("PostgreSQL tests cannot run"),
        "{run:?}"
    );
    let run = Child::run(&[none[0], none[1], (REQUIRED_VAR, "1")]);
    run.assert(false, "0 passed; 1 failed; 0 ignored");
}

fn a_local_server_that_answers_runs_the_tests() {
    let empty = tempfile::tempdir().expect("a directory without binaries");
    let nowhere = empty.path().to_str().expect("a UTF-8 path");
    let run = Child::run(&[(LOCAL_VAR, super::url()), (BIN_VAR, nowhere)]);
    run.assert(true, "1 passed; 0 failed; 0 ignored");
    assert!(run.stderr.contains(super::url()), "{run:?}");
}

fn a_server_of_the_tests_own_runs_them_and_is_gone_after() {
    let mut vars = vec![(LOCAL_VAR, NO_SERVER.to_owned())];
    if let Ok(dirs) = std::env::var(BIN_VAR) {
        vars.push((BIN_VAR, dirs));
    }
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = Child::run(&vars);
    run.assert(true, "1 passed; 0 failed; 0 ignored");
    let dir = run.server_dir();
    assert!(!dir.exists(), "{} is left behind", dir.display());
    let left = processes_naming(&dir);
    assert!(left.is_empty(), "processes left behind: {left:?}");
    let url = run.server_url();
    assert!(answers(&url).is_err(), "{url} still answers");
}

/// What a run of [`CASE`] in a child process printed.
#[derive(Debug)]
struct Child {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Child {
    /// Runs [`CASE`] with `vars` and none of the caller's variables about PostgreSQL.
    fn run(vars: &[(&str, &str)]) -> Child {
        let binary = std::env::current_exe().expect("this test binary");
        let mut command = Command::new(binary);
        command.args(["--exact", CASE, "--color", "never", "--test-threads", "1"]);
        for name in [URL_VAR, LOCAL_VAR, BIN_VAR, REQUIRED_VAR] {
            command.env_remove(name);
        }
        command.envs(vars.iter().copied());
        let ran = command.output().expect("this test binary runs");
        Child {
            success: ran.status.success(),
            stdout: String::from_utf8_lossy(&ran.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&ran.stderr).into_owned(),
        }
    }

    /// Checks the exit status and the counts of the summary line.
    fn assert(&self, success: bool, counts: &str) {
        let summary = self.stdout.lines().find(|l| l.starts_with("test result:"));
        assert!(summary.is_some_and(|l| l.contains(counts)), "{self:#?}");
        assert_eq!(self.success, success, "{self:#?}");
    }

    /// The directory of the server the child started, as it said.
    fn server_dir(&self) -> PathBuf {
        let said = self.said("server of their own: ");
        let (_, dir) = said.split_once(" in ").expect("the server's directory");
        let (dir, _) = dir.rsplit_once(", on ").expect("the server's address");
        PathBuf::from(dir)
    }

    /// The URL of the server the child ran against, as it said.
    fn server_url(&self) -> String {
        self.said("run against ").to_owned()
    }

    fn said(&self, prefix: &str) -> &str {
        let line = self.stderr.lines().find_map(|l| l.split_once(prefix));
        line.map(|(_, rest)| rest)
            .unwrap_or_else(|| panic!("{self:#?}"))
    }
}

/// The command lines of running processes that name `dir` (a server's, a watchdog's).
fn processes_naming(dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy();
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    processes
        .flatten()
        .filter_map(|process| std::fs::read(process.path().join("cmdline")).ok())
        .map(|line| String::from_utf8_lossy(&line).replace('\0', " "))
        .filter(|line| line.contains(dir.as_ref()))
        .collect()
}
