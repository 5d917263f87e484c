//! What ships besides the code stays true to it: the README's first commands and the CI script
//! that runs them, the defaults the README documents, its example payloads, the container
//! image's essentials (no Docker engine runs here, so the Dockerfile is read, not built), and the
//! repository's demo configuration.

use std::path::{Path, PathBuf};

use flowgate::app::App;
use flowgate::config::Config;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> String {
    std::fs::read_to_string(repo().join(name)).unwrap_or_else(|e| panic!("cannot read {name}: {e}"))
}

// === README and CI ===

/// The commands of the README's first code block, which must come right after the title.
fn readme_opening_commands() -> Vec<String> {
    let readme = read("README.md");
    let mut lines = readme.lines().map(str::trim).filter(|l| !l.is_empty());
    let title = lines.next().unwrap_or_default();
    assert!(
        title.starts_with("# "),
        "README.md must open with a title, not {title:?}"
    );
    let fence = lines.next().unwrap_or_default();
    assert!(
        fence.starts_with("```"),
        "the title must be followed by the commands' code block, not {fence:?}"
    );
    lines
        .take_while(|l| !l.starts_with("```"))
        .filter(|l| !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_readme_opens_with_the_serve_and_test_commands() {
    assert_eq!(
        readme_opening_commands(),
        ["cargo run --release -- serve", "cargo test --locked"]
    );
}

/// `.ci/run`'s commands: every line that is not blank or a comment, trimmed.
fn ci_commands() -> Vec<String> {
    read(".ci/run")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn ci_runs_the_readme_test_command_after_fmt_and_clippy() {
    let script = read(".ci/run");
    assert!(script.starts_with("#!/usr/bin/env bash\n"), "a bash script");
    let commands = ci_commands();
    assert!(
        commands.iter().any(|c| c == "set -euo pipefail"),
        "fails on the first error"
    );
    let position = |wanted: &str| {
        commands
            .iter()
            .position(|c| c == wanted)
            .unwrap_or_else(|| panic!(".ci/run does not run `{wanted}`"))
    };
    let test_command = readme_opening_commands()
        .into_iter()
        .find(|c| c.starts_with("cargo test"))
        .expect("the README names a test command");
    let fmt = position("cargo fmt --all -- --check");
    let clippy = position("cargo clippy --all-targets --locked -- -D warnings");
    let test = position(&test_command);
    assert!(
        fmt < clippy && clippy < test,
        "fmt, then clippy, then the tests"
    );
}

#[cfg(unix)]
#[test]
fn the_ci_script_is_executable() {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(repo().join(".ci/run"))
        .expect(".ci/run exists")
        .permissions()
        .mode();
    assert_ne!(mode & 0o111, 0, ".ci/run must be executable");
}

/// `(key, default)` of every row of the README's table for `[section]` whose default is one
/// literal in backticks (rows such as "none" or "required" have no literal to check).
fn readme_defaults(section: &str) -> Vec<(String, Option<String>)> {
    let readme = read("README.md");
    let heading = format!("### `[{section}]`");
    let mut lines = readme.lines().skip_while(|l| !l.starts_with(&heading));
    assert!(lines.next().is_some(), "README.md has no `{heading}` table");
    lines
        .take_while(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with("| `"))
        .map(|row| {
            // `\|` inside a cell is an escaped pipe, not a column break.
            let cells: Vec<String> = row
                .replace("\\|", "\u{0}")
                .split('|')
                .map(|c| c.trim().replace('\u{0}', "|"))
                .collect();
            let key = cells[1].trim_matches('`').to_owned();
            let default = cells[3]
                .strip_prefix('`')
                .and_then(|d| d.strip_suffix('`'))
                .filter(|d| !d.contains('`'))
                .map(str::to_owned);
            (key, default)
        })
        .collect()
}

/// The top-level field names of a struct's pretty `Debug` output.
fn debug_fields(pretty: &str) -> Vec<String> {
    pretty
        .lines()
        .filter_map(|l| l.strip_prefix("    "))
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_once(':').map(|(name, _)| name.to_owned()))
        .collect()
}

/// `token`, `token_env` and `token_file` are one documented key in three forms.
fn secret_base(key: &str) -> &str {
    key.strip_suffix("_env")
        .or_else(|| key.strip_suffix("_file"))
        .unwrap_or(key)
}

#[test]
fn the_readme_documents_every_key_with_its_real_default() {
    let defaults = Config::default();
    let sections: [(&str, String); 8] = [
        ("server", format!("{:#?}", defaults.server)),
        ("admin", format!("{:#?}", defaults.admin)),
        ("store", format!("{:#?}", defaults.store)),
        ("delivery", format!("{:#?}", defaults.delivery)),
        ("flow", format!("{:#?}", defaults.flow)),
        ("limits", format!("{:#?}", defaults.limits)),
        ("log", format!("{:#?}", defaults.log)),
        ("simulator", format!("{:#?}", defaults.simulator)),
    ];
    for (section, built_in) in sections {
        let rows = readme_defaults(section);
        for field in debug_fields(&built_in) {
            assert!(
                rows.iter()
                    .any(|(key, _)| secret_base(key) == secret_base(&field)),
                "README.md does not document `{section}.{field}`"
            );
        }
        // Writing every documented default into a file must load exactly the built-in defaults.
        let mut file = format!("[{section}]\n");
        for (key, default) in &rows {
            if let Some(default) = default {
                file.push_str(&format!("{key} = {default}\n"));
            }
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.toml");
        std::fs::write(&path, &file).expect("write config");
        let loaded = Config::load_with_env(&path, std::iter::empty())
            .unwrap_or_else(|e| panic!("the README's [{section}] defaults do not load:\n{e}"));
        let documented = match section {
            "server" => format!("{:#?}", loaded.server),
            "admin" => format!("{:#?}", loaded.admin),
            "store" => format!("{:#?}", loaded.store),
            "delivery" => format!("{:#?}", loaded.delivery),
            "flow" => format!("{:#?}", loaded.flow),
            "limits" => format!("{:#?}", loaded.limits),
            "log" => format!("{:#?}", loaded.log),
            _ => format!("{:#?}", loaded.simulator),
        };
        assert_eq!(
            documented, built_in,
            "the README's [{section}] defaults differ from the built-in ones"
        );
    }
}

/// The JSON payloads of the README's shell examples: heredoc bodies and `BODY='…'` lines.
fn readme_payloads() -> Vec<String> {
    let readme = read("README.md");
    let mut payloads = Vec::new();
    let mut heredoc: Option<String> = None;
    for line in readme.lines() {
        match heredoc.as_mut() {
            Some(body) if line.trim() == "EOF" => {
                payloads.push(std::mem::take(body));
                heredoc = None;
            }
            Some(body) => {
                body.push_str(line);
                body.push('\n');
            }
            None if line.contains("<<'EOF'") => heredoc = Some(String::new()),
            None => {
                if let Some(body) = line.trim().strip_prefix("BODY='") {
                    payloads.push(body.trim_end_matches('\'').to_owned());
                }
            }
        }
    }
    payloads
}

#[test]
fn the_readme_example_payloads_are_valid_for_a_demo_vendor() {
    let mut validators = vec![flowgate::validate::compile_canonical().expect("canonical schema")];
    let vendor_schemas = std::fs::read_dir(repo().join("schemas/vendors")).expect("schemas");
    for entry in vendor_schemas {
        let path: PathBuf = entry.expect("schema entry").path();
        validators.push(
            flowgate::validate::compile_file(&path)
                .expect("vendor schema")
                .1,
        );
    }
    let payloads = readme_payloads();
    assert!(payloads.len() >= 3, "found only {payloads:?}");
    for payload in payloads {
        let document: serde_json::Value = serde_json::from_str(&payload)
            .unwrap_or_else(|e| panic!("README payload is not JSON ({e}):\n{payload}"));
        assert!(
            validators.iter().any(|v| v.is_valid(&document)),
            "no schema accepts the README payload:\n{payload}"
        );
    }
}

// === the container image ===

/// One Dockerfile instruction: its keyword in capitals and its arguments, continuations joined.
struct Instruction {
    keyword: String,
    args: String,
}

fn dockerfile() -> Vec<Instruction> {
    let mut instructions = Vec::new();
    let mut pending = String::new();
    for line in read("Dockerfile").lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && pending.is_empty()) {
            continue;
        }
        if let Some(continued) = line.strip_suffix('\\') {
            pending.push_str(continued);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let (keyword, args) = pending
            .split_once(char::is_whitespace)
            .unwrap_or((pending.as_str(), ""));
        instructions.push(Instruction {
            keyword: keyword.to_ascii_uppercase(),
            args: args.split_whitespace().collect::<Vec<_>>().join(" "),
        });
        pending.clear();
    }
    instructions
}

/// The instructions of the last stage: the image that ships.
fn runtime_stage(instructions: &[Instruction]) -> &[Instruction] {
    let start = instructions
        .iter()
        .rposition(|i| i.keyword == "FROM")
        .expect("a FROM");
    &instructions[start..]
}

/// An exec-form (`["a", "b"]`) or shell-form argument list as plain words.
fn words(args: &str) -> String {
    args.replace(['[', ']', '"', ','], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_image_is_a_multi_stage_locked_release_build() {
    let instructions = dockerfile();
    let stages = instructions.iter().filter(|i| i.keyword == "FROM").count();
    assert!(
        stages >= 2,
        "a build stage and a runtime stage, found {stages}"
    );
    let build = instructions
        .iter()
        .find(|i| i.keyword == "RUN" && i.args.contains("cargo build"))
        .expect("a RUN with cargo build");
    for flag in ["--release", "--locked"] {
        assert!(build.args.contains(flag), "cargo build without {flag}");
    }
    let runtime = runtime_stage(&instructions);
    assert!(
        runtime
            .iter()
            .any(|i| i.keyword == "COPY" && i.args.starts_with("--from=")),
        "the runtime stage copies the binary from the build stage"
    );
    assert!(
        !runtime.iter().any(|i| i.args.contains("cargo ")),
        "the runtime stage carries no toolchain"
    );
}

#[test]
fn the_image_runs_as_a_non_root_user() {
    let instructions = dockerfile();
    let user = runtime_stage(&instructions)
        .iter()
        .rfind(|i| i.keyword == "USER")
        .expect("a USER in the runtime stage");
    let name = user.args.split(':').next().unwrap_or_default();
    assert!(
        !["root", "0", ""].contains(&name),
        "USER {} is root",
        user.args
    );
}

#[test]
fn the_image_checks_its_health_and_serves_by_default() {
    let instructions = dockerfile();
    let runtime = runtime_stage(&instructions);
    let last = |keyword: &str| {
        runtime
            .iter()
            .rfind(|i| i.keyword == keyword)
            .map(|i| words(&i.args))
            .unwrap_or_else(|| panic!("no {keyword} in the runtime stage"))
    };
    let health = last("HEALTHCHECK");
    assert!(
        health.contains("CMD flowgate healthcheck"),
        "HEALTHCHECK must run `flowgate healthcheck`: {health}"
    );
    assert_eq!(last("ENTRYPOINT"), "flowgate");
    assert_eq!(last("CMD"), "serve");
}

#[test]
fn the_image_exposes_both_listeners_on_all_interfaces() {
    let instructions = dockerfile();
    let runtime = runtime_stage(&instructions);
    let exposed: Vec<&str> = runtime
        .iter()
        .filter(|i| i.keyword == "EXPOSE")
        .flat_map(|i| i.args.split_whitespace())
        .map(|port| port.trim_end_matches("/tcp"))
        .collect();
    let env: Vec<(String, String)> = runtime
        .iter()
        .filter(|i| i.keyword == "ENV")
        .flat_map(|i| i.args.split_whitespace())
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
        .collect();
    let value = |key: &str| {
        env.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no ENV {key}"))
    };
    assert_eq!(value("FLOWGATE_SERVER__LISTEN"), "0.0.0.0:8080");
    assert_eq!(value("FLOWGATE_SERVER__ADMIN_LISTEN"), "0.0.0.0:9090");

    // The variables are real configuration, and the ports they open are the ones exposed.
    let config = Config::load_with_env(&repo().join("config.toml"), env.clone())
        .unwrap_or_else(|e| panic!("{e}"));
    for address in [config.server.listen, config.server.admin_listen] {
        assert!(
            address.ip().is_unspecified(),
            "{address} is not all interfaces"
        );
        let port = address.port().to_string();
        assert!(
            exposed.contains(&port.as_str()),
            "port {port} is not exposed"
        );
    }
}

#[test]
fn the_build_context_leaves_out_build_output_data_and_history() {
    let ignored: Vec<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_matches('/').to_owned())
        .collect();
    for wanted in ["target", "data", ".git"] {
        assert!(
            ignored.iter().any(|l| l == wanted),
            ".dockerignore does not exclude {wanted}"
        );
    }
}

// === the demo configuration ===

#[test]
fn the_repository_config_loads_and_builds_without_any_environment() {
    let config = Config::load(&repo().join("config.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        config.vendors.contains_key("demo"),
        "the README's examples use vendor `demo`"
    );
    assert!(
        config.vendors.contains_key("example-photo"),
        "the README's examples use vendor `example-photo`"
    );
    App::build(config).unwrap_or_else(|e| panic!("{e}"));
}
