//! Reads the checked sessions out of a Markdown file. A line `<!-- run: COMMAND -->` runs a
//! command; `<!-- check OPTIONS: COMMAND -->` runs one and compares what it prints with the
//! fenced block that follows; `<!-- check log -->` finds the block's lines in the gateway's log.
//! Every command must be one the reader sees in the nearest `sh` block above it. OPTIONS, any
//! of: `exit=N`, `json`, `subset`, `until`, `lines=A-B` (see [`Expect`]).

use std::path::Path;

/// What a checked block's command must print, and how it is compared.
#[derive(Debug, Default, Clone)]
pub struct Expect {
    /// The exit status the command must end with.
    pub exit: i32,
    /// The output is an optional status line and then JSON, compared as values.
    pub json: bool,
    /// The command may print more than the block shows: more lines, more JSON members.
    pub subset: bool,
    /// The command only reads, and what it reads settles in the background: run it again until
    /// it prints the block.
    pub until: bool,
    /// Only these lines of the block (1-based, inclusive) are the command's output.
    pub lines: Option<(usize, usize)>,
}

/// One step of a file's session, in the order the file gives them.
#[derive(Debug)]
pub enum Step {
    Run {
        command: String,
        at: String,
    },
    Check {
        command: String,
        expect: Expect,
        block: String,
        at: String,
    },
    /// Each line of `block` is a line the gateway logs.
    Log {
        block: String,
        at: String,
    },
}

/// The steps of `file`; empty when it marks none. A marker that cannot be read fails the test.
pub fn steps(file: &Path, text: &str) -> Vec<Step> {
    let lines: Vec<&str> = text.lines().collect();
    let mut steps = Vec::new();
    let mut last_sh: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let at = format!("{}:{}", file.display(), i + 1);
        let line = lines[i].trim();
        if let Some(fence) = fence_of(line) {
            let (body, end) = block_at(&lines, i + 1, fence, &at);
            if line[fence.len()..].trim() == "sh" {
                last_sh = body.lines().map(shown_command).collect();
            }
            i = end + 1;
            continue;
        }
        if let Some(marker) = marker_of(line, &at) {
            let step = match marker {
                Marker::Run(command) => {
                    assert_shown(&command, &last_sh, &at);
                    Step::Run { command, at }
                }
                Marker::Check(command, expect) => {
                    assert_shown(&command, &last_sh, &at);
                    let block = next_block(&lines, i + 1, &at);
                    Step::Check {
                        command,
                        expect,
                        block,
                        at,
                    }
                }
                Marker::Log => Step::Log {
                    block: next_block(&lines, i + 1, &at),
                    at,
                },
            };
            steps.push(step);
        }
        i += 1;
    }
    steps
}

enum Marker {
    Run(String),
    Check(String, Expect),
    Log,
}

fn marker_of(line: &str, at: &str) -> Option<Marker> {
    let inner = line.strip_prefix("<!--")?.strip_suffix("-->")?.trim();
    if let Some(command) = inner.strip_prefix("run:") {
        return Some(Marker::Run(command.trim().to_owned()));
    }
    if inner == "check log" {
        return Some(Marker::Log);
    }
    let rest = inner.strip_prefix("check")?;
    let (options, command) = rest
        .split_once(':')
        .unwrap_or_else(|| panic!("{at}: a check marker is `<!-- check OPTIONS: COMMAND -->`"));
    let mut expect = Expect::default();
    for option in options.split_whitespace() {
        match option.split_once('=') {
            None if option == "json" => expect.json = true,
            None if option == "subset" => expect.subset = true,
            None if option == "until" => expect.until = true,
            Some(("exit", code)) => expect.exit = number(code, at),
            Some(("lines", range)) => {
                let (from, to) = range.split_once('-').unwrap_or((range, range));
                expect.lines = Some((number(from, at), number(to, at)));
            }
            _ => panic!("{at}: unknown check option `{option}`"),
        }
    }
    Some(Marker::Check(command.trim().to_owned(), expect))
}

fn number<T: std::str::FromStr>(text: &str, at: &str) -> T {
    text.parse()
        .unwrap_or_else(|_| panic!("{at}: `{text}` is not a number"))
}

/// The fence (three or more backticks) that opens a block on this line.
fn fence_of(line: &str) -> Option<&str> {
    let ticks = line.len() - line.trim_start_matches('`').len();
    (ticks >= 3).then(|| &line[..ticks])
}

/// The text of the block whose first line is `start`, and the line of its closing fence.
fn block_at(lines: &[&str], start: usize, fence: &str, at: &str) -> (String, usize) {
    let end = (start..lines.len())
        .find(|&j| lines[j].trim() == fence)
        .unwrap_or_else(|| panic!("{at}: the block is never closed"));
    (lines[start..end].join("\n"), end)
}

/// The block a marker stands above: further markers may come between, nothing else.
fn next_block(lines: &[&str], start: usize, at: &str) -> String {
    for (j, line) in lines.iter().enumerate().skip(start) {
        let line = line.trim();
        if let Some(fence) = fence_of(line) {
            return block_at(lines, j + 1, fence, at).0;
        }
        assert!(
            line.starts_with("<!--"),
            "{at}: a check marker must stand right above its block"
        );
    }
    panic!("{at}: no block follows the check marker")
}

/// A line of an `sh` block as the command it runs: `cargo run --release --` is the binary,
/// and a trailing `# comment` is prose.
fn shown_command(line: &str) -> String {
    let line = line.split(" #").next().unwrap_or(line).trim();
    match line.strip_prefix("cargo run --release -- ") {
        Some(rest) => format!("flowgate {rest}"),
        None => line.to_owned(),
    }
}

/// A marker may only run what the reader is shown, so the two cannot drift apart.
fn assert_shown(command: &str, shown: &[String], at: &str) {
    assert!(
        shown.iter().any(|line| line == command),
        "{at}: `{command}` is not a command of the nearest `sh` block above it"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_take_their_block_and_must_name_a_shown_command() {
        let text = "```sh\ncargo run --release -- send x   # exits 1\n```\n\
                    <!-- run: flowgate send x -->\n<!-- check exit=1 until: flowgate send x -->\n\
                    ```text\n409 Conflict\n```\n<!-- check log -->\n```text\nline\n```\n";
        let steps = steps(Path::new("doc.md"), text);
        assert!(matches!(&steps[0], Step::Run { command, .. } if command == "flowgate send x"));
        let Step::Check { expect, block, .. } = &steps[1] else {
            panic!("{steps:?}");
        };
        assert_eq!(
            (expect.exit, expect.until, block.as_str()),
            (1, true, "409 Conflict")
        );
        assert!(matches!(&steps[2], Step::Log { block, .. } if block == "line"));

        let unshown = std::panic::catch_unwind(|| {
            super::steps(Path::new("doc.md"), "<!-- run: flowgate serve -->\n")
        });
        assert!(unshown.is_err());
    }
}
