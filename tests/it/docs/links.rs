//! The manual's links hold: every relative link of README.md and docs/*.md names a file or
//! folder of the repository, and a `#anchor` into a Markdown file names one of its headings, as
//! GitHub spells a heading's anchor.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use super::{REPO, documents};

/// The targets of the inline links `[text](target)` outside code blocks and code spans.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            continue;
        }
        // What a code span shows is not a link.
        let outside_code: String = line
            .split('`')
            .enumerate()
            .map(|(i, part)| if i % 2 == 0 { part } else { "" })
            .collect::<Vec<_>>()
            .join("`");
        let mut rest = outside_code.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            let target = rest[..end].split_whitespace().next().unwrap_or("");
            targets.push(target.to_owned());
            rest = &rest[end..];
        }
    }
    targets
}

/// The anchors GitHub gives the headings of a Markdown text: lower case, punctuation dropped,
/// spaces as hyphens, and `-1`, `-2`… on repeats.
fn anchors(text: &str) -> HashSet<String> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut in_block = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        let Some(title) = line.strip_prefix('#').filter(|_| !in_block) else {
            continue;
        };
        let slug: String = title
            .trim_start_matches('#')
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let unique = (0..)
            .map(|n| {
                if n == 0 {
                    slug.clone()
                } else {
                    format!("{slug}-{n}")
                }
            })
            .find(|candidate| !seen.contains(candidate))
            .expect("a free anchor");
        seen.insert(unique);
    }
    seen
}

/// `path` with `.` and `..` resolved, without touching the file system.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// What is wrong with one link of `document`, if anything.
fn broken(document: &Path, target: &str) -> Option<String> {
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let file = if path.is_empty() {
        document.to_path_buf()
    } else {
        normalise(&document.parent().expect("a folder").join(path))
    };
    if !file.starts_with(REPO) || !file.exists() {
        return Some(format!("`{target}`: no such file"));
    }
    let anchor = anchor?;
    if file.extension().is_none_or(|e| e != "md") {
        return None;
    }
    let text = std::fs::read_to_string(&file).expect("a readable document");
    (!anchors(&text).contains(anchor)).then(|| format!("`{target}`: no heading `#{anchor}`"))
}

#[test]
fn every_relative_link_of_the_manual_resolves() {
    let mut broken_links = Vec::new();
    let mut checked = 0;
    for document in documents() {
        let text = std::fs::read_to_string(&document).expect("a readable document");
        for target in link_targets(&text) {
            checked += 1;
            if let Some(why) = broken(&document, &target) {
                let name = document.strip_prefix(REPO).unwrap_or(&document);
                broken_links.push(format!("{}: {why}", name.display()));
            }
        }
    }
    assert!(checked > 0, "no document links anything");
    assert!(broken_links.is_empty(), "{}", broken_links.join("\n"));
}

#[test]
fn anchors_are_spelt_as_github_spells_them() {
    let text = "# flowgate\n## `[vendors.NAME.map]`\n## Tenants' access tokens\n## Retries\n\
                ```sh\n# not a heading\n```\n### Retries\n";
    let expected = [
        "flowgate",
        "vendorsnamemap",
        "tenants-access-tokens",
        "retries",
        "retries-1",
    ];
    assert_eq!(
        anchors(text),
        expected
            .iter()
            .map(ToString::to_string)
            .collect::<HashSet<_>>()
    );
}
