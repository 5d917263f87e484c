//! The rooms of `src/` stay layered as `lib.rs` draws them: every `crate::` path in a room's
//! code (its tests aside) names the room itself or one drawn below it, so no two rooms import
//! each other, directly or round a circle.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The line of `lib.rs` after which the building is drawn, top floor first.
const FLOORS_MARKER: &str = "//! Rooms, top floor first";

/// One room's imports of other rooms: target → the files that import it.
type Imports = BTreeMap<String, Vec<PathBuf>>;

#[test]
fn every_room_imports_only_rooms_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let floors = floors(&src);
    let imports = imports(&src, &floors);
    let mut upward = Vec::new();
    for (room, targets) in &imports {
        for (target, files) in targets {
            if floors[target] >= floors[room] {
                upward.push(format!("{room} imports {target} in {files:?}"));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that do not point down the floors lib.rs draws:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_architecture_document_draws_the_same_floors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).expect("read lib.rs");
    let drawing: String = lib
        .lines()
        .skip_while(|l| !l.starts_with(FLOORS_MARKER))
        .skip_while(|l| !l.contains("```text"))
        .skip(1)
        .take_while(|l| !l.contains("```"))
        .map(|l| format!("{}\n", l.trim_start_matches("//!").trim_start_matches(' ')))
        .collect();
    let document = root.join("docs/architecture.md");
    let document = std::fs::read_to_string(document).expect("read docs/architecture.md");
    assert!(
        document.contains(&format!("```text\n{drawing}```")),
        "docs/architecture.md does not draw the floors of lib.rs:\n{drawing}"
    );
}

#[test]
fn every_room_of_src_is_on_a_floor() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let floors = floors(&src);
    let rooms = rooms(&src);
    let missing: Vec<_> = rooms.iter().filter(|r| !floors.contains_key(*r)).collect();
    let gone: Vec<_> = floors.keys().filter(|r| !rooms.contains(*r)).collect();
    assert!(
        missing.is_empty(),
        "rooms lib.rs does not draw: {missing:?}"
    );
    assert!(gone.is_empty(), "lib.rs draws rooms src/ lacks: {gone:?}");
}

/// Room name → floor (0 is the ground floor), read from the drawing in `lib.rs`.
fn floors(src: &Path) -> BTreeMap<String, usize> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("read lib.rs");
    let mut lines = lib.lines().skip_while(|l| !l.starts_with(FLOORS_MARKER));
    assert!(
        lines.next().is_some(),
        "lib.rs has no `{FLOORS_MARKER}` drawing"
    );
    let drawn: Vec<Vec<String>> = lines
        .skip_while(|l| !l.contains("```text"))
        .skip(1)
        .take_while(|l| !l.contains("```"))
        .map(|l| {
            let floor = l.trim_start_matches("//!").split("  ").next().unwrap_or("");
            floor
                .split(',')
                .map(|room| room.trim().to_owned())
                .filter(|room| !room.is_empty())
                .collect()
        })
        .collect();
    assert!(!drawn.is_empty(), "lib.rs draws no floors");
    let top = drawn.len() - 1;
    let mut floors = BTreeMap::new();
    for (i, rooms) in drawn.into_iter().enumerate() {
        for room in rooms {
            assert!(
                floors.insert(room.clone(), top - i).is_none(),
                "{room} drawn twice"
            );
        }
    }
    floors
}

/// The top-level modules of `src/`: its files and folders but the crate roots.
fn rooms(src: &Path) -> Vec<String> {
    let mut rooms: Vec<String> = std::fs::read_dir(src)
        .expect("read src")
        .map(|entry| entry.expect("entry").path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_owned();
            match name.strip_suffix(".rs") {
                Some("lib" | "main") => None,
                Some(stem) => Some(stem.to_owned()),
                None => path.is_dir().then_some(name),
            }
        })
        .collect();
    rooms.sort();
    rooms.dedup();
    rooms
}

/// Room → the other rooms its non-test code names with a `crate::` path.
fn imports(src: &Path, floors: &BTreeMap<String, usize>) -> BTreeMap<String, Imports> {
    let mut imports: BTreeMap<String, Imports> = BTreeMap::new();
    for file in rust_files(src) {
        let relative = file.strip_prefix(src).expect("under src");
        let first = relative.components().next().expect("a component");
        let first = first.as_os_str().to_str().expect("utf-8");
        let room = first.strip_suffix(".rs").unwrap_or(first);
        if !floors.contains_key(room) || is_test_file(relative) {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read a source file");
        for target in named_rooms(&code_of(&text)) {
            if target != room && floors.contains_key(&target) {
                let files = imports.entry(room.to_owned()).or_default();
                let files = files.entry(target).or_default();
                if !files.iter().any(|f| f == relative) {
                    files.push(relative.to_owned());
                }
            }
        }
    }
    imports
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read a directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// Test modules may reach anywhere: `tests.rs`, `*_tests.rs` and anything under `tests/`.
fn is_test_file(relative: &Path) -> bool {
    relative.components().any(|c| c.as_os_str() == "tests")
        || relative
            .file_stem()
            .and_then(|s| s.to_str())
            .is_some_and(|s| s == "tests" || s.ends_with("_tests"))
}

/// The code of a file without its comments and without an inline `#[cfg(test)]` module.
fn code_of(text: &str) -> String {
    let code = match text.find("#[cfg(test)]\nmod ") {
        Some(at) if !text[at..].lines().nth(1).unwrap_or("").ends_with(';') => &text[..at],
        _ => text,
    };
    code.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every room a `crate::` path names, including each branch of `use crate::{a, b::c}`.
fn named_rooms(code: &str) -> Vec<String> {
    let mut named = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            named.extend(branches(group));
        } else {
            named.push(identifier(rest).to_owned());
        }
    }
    named
}

/// The first identifier of each top-level branch of a `{...}` group (`group` starts inside it).
fn branches(group: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut depth = 0;
    let mut expecting = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => expecting = true,
            c if expecting && depth == 0 && (c.is_alphanumeric() || c == '_') => {
                names.push(identifier(&group[i..]).to_owned());
                expecting = false;
            }
            _ => {}
        }
    }
    names
}

fn identifier(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

#[test]
fn the_reader_sees_grouped_and_plain_paths_and_skips_comments_and_tests() {
    let code = code_of(
        "use crate::{config::Config, metrics::{Metrics, Outcome}};\n\
         // crate::app in a comment\n\
         let x = crate::queue::Store; /// crate::admin\n\
         #[cfg(test)]\nmod tests {\n    use crate::ingress;\n}\n",
    );
    assert_eq!(named_rooms(&code), ["config", "metrics", "queue"]);
}
