//! The Dockerfile read as the image it builds: its instructions, the runtime stage, and the files
//! it copies from the repository laid out under a temporary root as the image's file system.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use flowgate::config::Config;

use super::{read, repo};

/// One Dockerfile instruction: its keyword in capitals and its arguments, continuations joined.
pub(super) struct Instruction {
    pub(super) keyword: String,
    pub(super) args: String,
}

pub(super) fn dockerfile() -> Vec<Instruction> {
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
pub(super) fn runtime_stage(instructions: &[Instruction]) -> &[Instruction] {
    let start = instructions
        .iter()
        .rposition(|i| i.keyword == "FROM")
        .expect("a FROM");
    &instructions[start..]
}

/// An exec-form (`["a", "b"]`) or shell-form argument list as plain words.
pub(super) fn words(args: &str) -> String {
    args.replace(['[', ']', '"', ','], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `key=value` pairs of `ENV` or `LABEL` arguments; a value may be quoted and hold spaces.
pub(super) fn pairs(args: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = args.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => quoted.split_once('"').unwrap_or((quoted, "")),
            None => after.split_once(' ').unwrap_or((after, "")),
        };
        pairs.push((key.trim().to_owned(), value.to_owned()));
        rest = next.trim();
    }
    pairs
}

pub(super) fn pairs_of(runtime: &[Instruction], keyword: &str) -> BTreeMap<String, String> {
    runtime
        .iter()
        .filter(|i| i.keyword == keyword)
        .flat_map(|i| pairs(&i.args))
        .collect()
}

/// The runtime stage's working directory, where `flowgate` starts.
pub(super) fn workdir(runtime: &[Instruction]) -> PathBuf {
    let dir = runtime
        .iter()
        .rfind(|i| i.keyword == "WORKDIR")
        .map(|i| PathBuf::from(&i.args))
        .expect("a WORKDIR in the runtime stage");
    assert!(
        dir.is_absolute(),
        "WORKDIR {} is not absolute",
        dir.display()
    );
    dir
}

/// The configuration `flowgate` reads in the image: `FLOWGATE_CONFIG` when the image sets it,
/// else `config.toml` in the working directory (the CLI's default).
pub(super) fn image_config(runtime: &[Instruction]) -> PathBuf {
    let config = pairs_of(runtime, "ENV")
        .remove("FLOWGATE_CONFIG")
        .unwrap_or_else(|| "config.toml".to_owned());
    workdir(runtime).join(config)
}

/// `(source in the repository, absolute destination in the image)` of every `COPY` from the
/// build context (not from another stage).
pub(super) fn copies(runtime: &[Instruction]) -> Vec<(String, PathBuf)> {
    let mut dir = PathBuf::from("/");
    let mut found = Vec::new();
    for instruction in runtime {
        match instruction.keyword.as_str() {
            "WORKDIR" => dir = dir.join(&instruction.args),
            "COPY" if !instruction.args.contains("--from=") => {
                let words: Vec<String> = words(&instruction.args)
                    .split(' ')
                    .filter(|w| !w.starts_with("--"))
                    .map(str::to_owned)
                    .collect();
                let (dest, sources) = words.split_last().expect("COPY names a destination");
                for source in sources {
                    let mut target = dir.join(dest);
                    if dest.ends_with('/') && !source.ends_with('/') {
                        target = target.join(Path::new(source).file_name().expect("a file name"));
                    }
                    found.push((source.trim_end_matches('/').to_owned(), target));
                }
            }
            _ => {}
        }
    }
    found
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read_dir") {
            let entry = entry.expect("dir entry");
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
}

/// The files the Dockerfile copies from the repository, under a temporary root laid out as the
/// image's file system.
pub(super) struct ImageFiles {
    root: tempfile::TempDir,
}

impl ImageFiles {
    pub(super) fn build(runtime: &[Instruction]) -> ImageFiles {
        let root = tempfile::tempdir().expect("tempdir");
        for (source, dest) in copies(runtime) {
            let dest = dest.strip_prefix("/").expect("absolute");
            copy_tree(&repo().join(&source), &root.path().join(dest));
        }
        ImageFiles { root }
    }

    /// Where `path`, absolute in the image, is here.
    pub(super) fn here(&self, path: &Path) -> PathBuf {
        self.root
            .path()
            .join(path.strip_prefix("/").expect("absolute"))
    }

    /// Where `path`, found here, is in the image.
    pub(super) fn in_image(&self, path: &Path) -> PathBuf {
        Path::new("/").join(path.strip_prefix(self.root.path()).expect("under the root"))
    }
}

/// The image's configuration as `flowgate` loads it there, with the image's environment.
pub(super) fn load_image_config(files: &ImageFiles, runtime: &[Instruction]) -> Config {
    let env = pairs_of(runtime, "ENV");
    Config::load_with_env(&files.here(&image_config(runtime)), env)
        .unwrap_or_else(|e| panic!("the image's configuration does not load:\n{e}"))
}
