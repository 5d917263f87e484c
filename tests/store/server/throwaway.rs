//! A PostgreSQL server of the test process's own: a cluster `initdb` makes in a temporary
//! directory, served on a free loopback port with trust authentication and without fsync (its
//! data is thrown away). PostgreSQL refuses to run as root, so as root it runs as the `postgres`
//! user, through `setpriv`.
//!
//! The server is the child of a small watchdog shell whose standard input is a pipe from the test
//! process. The pipe closes when the test process ends, however it ends (the tests done, Ctrl-C,
//! SIGKILL): the watchdog then stops the server (a fast shutdown), waits for it and removes the
//! directory. [`stop`] closes the pipe itself and waits, so the server is gone before the test
//! process exits.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::{BIN_VAR, answers};

/// The watchdog: `$1` is the directory, the rest the server's command line. It ignores the
/// signals a terminal sends its process group, so it outlives a test process stopped by Ctrl-C
/// long enough to clean up after it; `cat` returns when the pipe closes.
const WATCHDOG: &str = r#"
trap '' HUP INT QUIT TERM
dir=$1
shift
"$@" >"$dir/server.log" 2>&1 &
server=$!
cat >/dev/null
kill -INT "$server" 2>/dev/null
wait "$server"
rm -rf "$dir"
"#;

/// Where a PostgreSQL package puts its binaries when they are not on `PATH` (Debian, Ubuntu).
const VERSIONED_BINARIES: &str = "/usr/lib/postgresql";

/// How long a fresh server may take to answer: `initdb` and the first start on a busy machine.
const STARTS_WITHIN: Duration = Duration::from_secs(60);

static RUNNING: Mutex<Option<Child>> = Mutex::new(None);

/// Starts the server; its URL, or why it could not start.
pub fn start() -> Result<String, String> {
    let bin = binaries()?;
    let user = User::to_run_as()?;
    let dir = tempfile::Builder::new()
        .prefix("flowgate-test-pg-")
        .tempdir()
        .map_err(|e| format!("no temporary directory: {e}"))?
        .keep();
    let started = user.own(&dir).and_then(|()| start_in(&dir, &bin, &user));
    if started.is_err() {
        stop();
        let _ = std::fs::remove_dir_all(&dir);
    }
    started
}

/// Stops the server, if one was started, and waits until it is gone with its directory.
pub fn stop() {
    let running = RUNNING
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(mut watchdog) = running {
        drop(watchdog.stdin.take());
        let _ = watchdog.wait();
    }
}

/// Whether a server could be started here, without starting one: why not, if not.
pub fn can_start() -> Result<(), String> {
    binaries()?;
    User::to_run_as().map(drop)
}

fn start_in(dir: &Path, bin: &Path, user: &User) -> Result<String, String> {
    let data = dir.join("data");
    let initdb = user
        .command(bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("initdb does not run: {e}"))?;
    if !initdb.status.success() {
        let said = String::from_utf8_lossy(&initdb.stderr);
        return Err(format!(
            "initdb failed ({}): {}",
            initdb.status,
            said.trim()
        ));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|e| format!("no free loopback port: {e}"))?
        .port();
    let mut server: Vec<OsString> = user.prefix.clone();
    server.push(bin.join("postgres").into());
    server.extend([
        "-D".into(),
        data.into(),
        "-p".into(),
        port.to_string().into(),
    ]);
    server.extend(["-k".into(), dir.as_os_str().to_owned()]);
    for setting in [
        "listen_addresses=127.0.0.1",
        "fsync=off",
        "synchronous_commit=off",
        "full_page_writes=off",
    ] {
        server.extend(["-c".into(), setting.into()]);
    }
    let watchdog = Command::new("sh")
        .args(["-c", WATCHDOG, "flowgate-test-postgres-watchdog"])
        .arg(dir)
        .args(&server)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("the watchdog does not start: {e}"))?;
    *RUNNING.lock().unwrap_or_else(PoisonError::into_inner) = Some(watchdog);
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    until_answering(&url, dir)?;
    eprintln!(
        "PostgreSQL tests start a server of their own: {} in {}, on 127.0.0.1:{port}",
        bin.join("postgres").display(),
        dir.display()
    );
    Ok(url)
}

/// Waits for the server to answer; fails with its log when it stopped or took too long.
fn until_answering(url: &str, dir: &Path) -> Result<(), String> {
    let deadline = Instant::now() + STARTS_WITHIN;
    loop {
        let Err(why) = answers(url) else {
            return Ok(());
        };
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        // What PostgreSQL logs last when it stops, e.g. when the port was taken meanwhile.
        let stopped = log.contains("database system is shut down");
        if stopped || Instant::now() > deadline {
            return Err(format!(
                "the server did not answer ({why}); its log: {}",
                log.trim()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The first directory holding `initdb` and `postgres`: in `FLOWGATE_TEST_POSTGRES_BIN` when
/// set, else on `PATH`, then a package's versioned directories, the newest version first.
fn binaries() -> Result<PathBuf, String> {
    let dirs: Vec<PathBuf> = match std::env::var_os(BIN_VAR) {
        Some(dirs) => std::env::split_paths(&dirs).collect(),
        None => {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
            dirs.extend(versioned(Path::new(VERSIONED_BINARIES)));
            dirs
        }
    };
    dirs.into_iter()
        .find(|dir| ["initdb", "postgres"].iter().all(|b| dir.join(b).is_file()))
        .ok_or_else(|| match std::env::var_os(BIN_VAR) {
            Some(dirs) => format!("no initdb and postgres in {BIN_VAR} ({})", dirs.display()),
            None => format!("no initdb and postgres on PATH or in {VERSIONED_BINARIES}/*/bin"),
        })
}

/// `root/<version>/bin` for each version under `root`, the newest first.
fn versioned(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut versions: Vec<(u32, PathBuf)> = entries
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    versions.into_iter().map(|(_, bin)| bin).collect()
}

/// Who runs `initdb` and the server: the test process's user, or `postgres` for root.
struct User {
    /// The command line that runs a program as that user (empty: as the test process's).
    prefix: Vec<OsString>,
    /// The user and group the server's directory must belong to, when not the test process's.
    owner: Option<(u32, u32)>,
}

impl User {
    fn to_run_as() -> Result<User, String> {
        if id(&["-u"])? != 0 {
            return Ok(User {
                prefix: Vec::new(),
                owner: None,
            });
        }
        let refused = "running as root, which PostgreSQL refuses";
        let (Ok(uid), Ok(gid)) = (id(&["-u", "postgres"]), id(&["-g", "postgres"])) else {
            return Err(format!(
                "{refused}, and there is no `postgres` user to run it as"
            ));
        };
        let setpriv = Command::new("setpriv").arg("--version").output();
        if !setpriv.is_ok_and(|ran| ran.status.success()) {
            return Err(format!(
                "{refused}, and setpriv (util-linux) is missing to run it as `postgres`"
            ));
        }
        let prefix = [
            "setpriv".to_owned(),
            format!("--reuid={uid}"),
            format!("--regid={gid}"),
            "--clear-groups".to_owned(),
            "--".to_owned(),
        ];
        Ok(User {
            prefix: prefix.into_iter().map(OsString::from).collect(),
            owner: Some((uid, gid)),
        })
    }

    fn command(&self, program: PathBuf) -> Command {
        let Some((first, rest)) = self.prefix.split_first() else {
            return Command::new(program);
        };
        let mut command = Command::new(first);
        command.args(rest).arg(program);
        command
    }

    fn own(&self, dir: &Path) -> Result<(), String> {
        match self.owner {
            Some((uid, gid)) => std::os::unix::fs::chown(dir, Some(uid), Some(gid))
                .map_err(|e| format!("{} cannot be given to `postgres`: {e}", dir.display())),
            None => Ok(()),
        }
    }
}

/// What `id` says, as a number.
fn id(args: &[&str]) -> Result<u32, String> {
    let ran = Command::new("id")
        .args(args)
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("id does not run: {e}"))?;
    let said = String::from_utf8_lossy(&ran.stdout);
    said.trim()
        .parse()
        .map_err(|_| format!("`id {}` said {:?}", args.join(" "), said.trim()))
}
