//! The documented sessions, run: every Markdown file of the manual (README.md, docs/*.md) that
//! marks a session with `<!-- check … -->` is played against the demo gateway, and each marked
//! block must be what the binary prints (see `markdown` for the markers, `matcher` for what may
//! differ between runs). `links` checks that the manual's links resolve, and `reference` that
//! the configuration reference names exactly the keys the loader knows.

mod links;
mod markdown;
mod matcher;
mod reference;
mod session;

use std::path::{Path, PathBuf};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// README.md and the manual's pages, in name order.
fn documents() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(Path::new(REPO).join("docs"))
        .into_iter()
        .flatten()
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    let mut documents = vec![Path::new(REPO).join("README.md")];
    documents.extend(pages);
    documents
}

#[tokio::test]
async fn every_documented_session_prints_what_the_document_shows() {
    let mut checked = 0;
    for document in documents() {
        let text = std::fs::read_to_string(&document).expect("a readable document");
        let name = document.strip_prefix(REPO).unwrap_or(&document);
        let steps = markdown::steps(name, &text);
        if steps.is_empty() {
            continue;
        }
        session::run(&steps).await;
        checked += steps.len();
    }
    assert!(checked > 0, "no document marks a session to check");
}
