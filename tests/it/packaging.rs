//! What ships besides the code stays true to it: the README's first commands and the CI script
//! that runs them, the defaults the configuration reference documents, the documents' example
//! payloads, the container image (`image`), the license, and the repository's demo
//! configuration.

mod dockerfile;
mod image;

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

/// `(key, default)` of every row of the configuration reference's table for `[section]` whose
/// default is one literal in backticks (rows such as "none" or "required" have no literal to
/// check).
fn documented_defaults(section: &str) -> Vec<(String, Option<String>)> {
    let reference = read("docs/configuration.md");
    let heading = format!("## `[{section}]`");
    let mut lines = reference.lines().skip_while(|l| !l.starts_with(&heading));
    assert!(
        lines.next().is_some(),
        "docs/configuration.md has no `{heading}` table"
    );
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
fn the_configuration_reference_documents_every_key_with_its_real_default() {
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
        let rows = documented_defaults(section);
        for field in debug_fields(&built_in) {
            assert!(
                rows.iter()
                    .any(|(key, _)| secret_base(key) == secret_base(&field)),
                "docs/configuration.md does not document `{section}.{field}`"
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
            .unwrap_or_else(|e| panic!("the documented [{section}] defaults do not load:\n{e}"));
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
            "the documented [{section}] defaults differ from the built-in ones"
        );
    }
}

/// The README's and the manual's pages (docs/*.md), in name order.
fn documents() -> Vec<String> {
    let mut pages: Vec<String> = std::fs::read_dir(repo().join("docs"))
        .expect("docs/")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    pages.sort();
    let mut documents = vec!["README.md".to_owned()];
    documents.extend(pages);
    documents
}

/// The JSON payloads of the documents' shell examples: heredoc bodies and `BODY='…'` lines.
fn documented_payloads() -> Vec<String> {
    let text: String = documents().iter().map(|name| read(name) + "\n").collect();
    let mut payloads = Vec::new();
    let mut heredoc: Option<String> = None;
    for line in text.lines() {
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
fn the_documented_example_payloads_are_valid_for_a_demo_vendor() {
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
    let payloads = documented_payloads();
    assert!(payloads.len() >= 3, "found only {payloads:?}");
    for payload in payloads {
        let document: serde_json::Value = serde_json::from_str(&payload)
            .unwrap_or_else(|e| panic!("documented payload is not JSON ({e}):\n{payload}"));
        assert!(
            validators.iter().any(|v| v.is_valid(&document)),
            "no schema accepts the documented payload:\n{payload}"
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

// === the license ===

#[test]
fn the_license_file_is_the_one_cargo_toml_names() {
    let manifest: toml::Table = read("Cargo.toml").parse().expect("Cargo.toml");
    assert_eq!(manifest["package"]["license"].as_str(), Some("Apache-2.0"));
    let license = read("LICENSE");
    let opening: Vec<&str> = license
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(2)
        .collect();
    assert_eq!(opening, ["Apache License", "Version 2.0, January 2004"]);
    assert!(
        license.contains("END OF TERMS AND CONDITIONS"),
        "the full terms"
    );
}
