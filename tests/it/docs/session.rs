//! Runs one file's steps, in its order, against the demo gateway served by the real binary: the
//! commands through `sh` in the demo's directory as a reader would type them, with the demo's
//! addresses, the binary for `flowgate` and a private folder for `/tmp/`.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::markdown::{Expect, Step};
use super::matcher::{Bindings, first_mismatch, json_mismatch, line_matches, lines_match};
use crate::support::demo::{Demo, terminate};
use crate::support::{TIMEOUT, until_up, within};

/// How long a step marked `until` may take to settle: longer than the first retry's delay
/// (5 s and up to 20 % more), which the README's Flow-outage session waits for.
const SETTLE: Duration = Duration::from_secs(30);

const REPO: &str = env!("CARGO_MANIFEST_DIR");

struct Session {
    demo: Demo,
    bindings: Bindings,
    /// What the document writes, and what it is here: the demo's addresses, `/tmp/`.
    replacements: Vec<(String, String)>,
}

/// Serves the demo, runs `steps`, stops the gateway.
pub async fn run(steps: &[Step]) {
    let demo = Demo::new();
    let log = std::fs::File::create(demo.dir.path().join("serve.log")).expect("the log file");
    // The level the demo configures, whatever the caller's RUST_LOG says.
    let gateway = demo
        .command(&["serve"])
        .env_remove("RUST_LOG")
        .stderr(Stdio::from(log))
        .spawn()
        .expect("serve starts");
    until_up(&format!("http://{}/readyz", demo.admin)).await;
    let tmp = demo.dir.path().join("tmp");
    std::fs::create_dir(&tmp).expect("a private /tmp");
    let replacements = vec![
        ("127.0.0.1:8080".to_owned(), demo.public.clone()),
        ("127.0.0.1:9090".to_owned(), demo.admin.clone()),
        ("127.0.0.1:8081".to_owned(), demo.sim.clone()),
        ("/tmp/".to_owned(), format!("{}/", tmp.display())),
    ];
    let mut session = Session {
        demo,
        bindings: example_ids(),
        replacements,
    };
    for step in steps {
        session.step(step).await;
    }
    assert!(terminate(gateway).await.success(), "serve exits 0");
}

/// The ids the example files carry are the same in every run.
fn example_ids() -> Bindings {
    let mut bindings = Bindings::default();
    let uuid = regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
        .expect("a valid pattern");
    for entry in std::fs::read_dir(Path::new(REPO).join("examples")).expect("examples/") {
        let text = std::fs::read_to_string(entry.expect("an entry").path()).unwrap_or_default();
        for id in uuid.find_iter(&text) {
            bindings.fix(id.as_str());
        }
    }
    bindings
}

impl Session {
    async fn step(&mut self, step: &Step) {
        match step {
            Step::Run { command, at } => {
                let (code, output) = self.shell(command, at).await;
                assert_eq!(code, 0, "{at}: `{command}` failed:\n{output}");
            }
            Step::Check {
                command,
                expect,
                block,
                at,
            } => self.check(command, expect, block, at).await,
            Step::Log { block, at } => self.log(block, at).await,
        }
    }

    async fn check(&mut self, command: &str, expect: &Expect, block: &str, at: &str) {
        let block = self.localise(block);
        let mut documented: Vec<&str> = block.lines().collect();
        if let Some((from, to)) = expect.lines {
            documented = documented[from - 1..to].to_vec();
        }
        let deadline = Instant::now() + SETTLE;
        loop {
            let (code, output) = self.shell(command, at).await;
            let mut tentative = self.bindings.clone();
            let mismatch = if code == expect.exit {
                output_mismatch(expect, &documented, &output, &mut tentative)
            } else {
                Some(format!(
                    "the exit code, {code}, where the document says {}",
                    expect.exit
                ))
            };
            let Some(mismatch) = mismatch else {
                self.bindings = tentative;
                return;
            };
            if !expect.until || Instant::now() > deadline {
                panic!(
                    "{at}: `{command}` printed\n{output}\nThe document shows\n{}\n\
                     They differ in {mismatch}",
                    documented.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until each line of `block` is a line of the gateway's log.
    async fn log(&mut self, block: &str, at: &str) {
        let block = self.localise(block);
        let deadline = Instant::now() + SETTLE;
        loop {
            let log = std::fs::read_to_string(self.demo.dir.path().join("serve.log"))
                .expect("the gateway's log");
            let mut tentative = self.bindings.clone();
            let found = block.lines().all(|want| {
                log.lines()
                    .any(|line| line_matches(want, line, &mut tentative))
            });
            if found {
                self.bindings = tentative;
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{at}: the gateway never logged\n{block}\nIts log:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `text` with the document's addresses and paths replaced by this demo's.
    fn localise(&self, text: &str) -> String {
        self.replacements
            .iter()
            .fold(text.to_owned(), |text, (from, to)| text.replace(from, to))
    }

    /// Runs `command` as the reader would; its exit code and its stdout followed by its stderr.
    async fn shell(&self, command: &str, at: &str) -> (i32, String) {
        let command = self
            .bindings
            .apply(command)
            .unwrap_or_else(|e| panic!("{at}: `{command}`: {e}"));
        let command = match command.strip_prefix("flowgate ") {
            Some(rest) => format!("{} {rest}", env!("CARGO_BIN_EXE_flowgate")),
            None => command,
        };
        let mut shell = tokio::process::Command::new("sh");
        shell
            .arg("-c")
            .arg(self.localise(&command))
            .current_dir(self.demo.dir.path())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("FLOWGATE_")) {
            shell.env_remove(name);
        }
        let output = within(TIMEOUT, &format!("{at}: `{command}`"), shell.output())
            .await
            .unwrap_or_else(|e| panic!("{at}: sh cannot run: {e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.code().unwrap_or(-1), text)
    }
}

/// Where `output` differs from the documented lines, read as text or as a status line and
/// JSON; none when it is what the document shows.
fn output_mismatch(
    expect: &Expect,
    documented: &[&str],
    output: &str,
    b: &mut Bindings,
) -> Option<String> {
    let lines: Vec<&str> = output.lines().map(str::trim_end).collect();
    let documented: Vec<&str> = documented.iter().map(|l| l.trim_end()).collect();
    if !expect.json {
        let matched = lines_match(&documented, &lines, expect.subset, b);
        return (!matched).then(|| first_mismatch(&documented, &lines, expect.subset, b));
    }
    let (want_head, want_json) = split_json(&documented);
    let (head, json) = split_json(&lines);
    if !lines_match(&want_head, &head, expect.subset, b) {
        return Some("the lines before the JSON".to_owned());
    }
    let want: Value = serde_json::from_str(&want_json).expect("the document's JSON parses");
    match serde_json::from_str::<Value>(&json) {
        Ok(got) => {
            json_mismatch(&want, &got, expect.subset, b).map(|path| format!("the JSON at `{path}`"))
        }
        Err(e) => Some(format!("the output, which is no JSON: {e}")),
    }
}

/// The lines before the JSON (a status line), and the JSON.
fn split_json<'a>(lines: &[&'a str]) -> (Vec<&'a str>, String) {
    let start = lines
        .iter()
        .position(|l| l.starts_with('{') || l.starts_with('['))
        .unwrap_or(lines.len());
    (lines[..start].to_vec(), lines[start..].join("\n"))
}
