//! Every file of `console/` is served under `/console/` with its media type and the security
//! headers; so are the redirect and the 404s, and no file needs the token.

use std::path::Path;

use http::Method;

use super::console_gateway;
use crate::support::client::{bare, exchange};
use crate::support::{Reply, assert_problem};

fn assert_secured(reply: &Reply, what: &str) {
    let expected = [
        ("content-security-policy", "default-src 'self'"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-cache"),
    ];
    for (name, value) in expected {
        assert_eq!(
            reply.header(name),
            Some(value),
            "{name} of {what}: {reply:?}"
        );
    }
}

fn media_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        other => panic!("console/ holds a file of an unexpected kind: {other:?}"),
    }
}

#[tokio::test]
async fn every_console_file_is_served_with_its_type_and_the_security_headers() {
    let gw = console_gateway().await;
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .expect("the console folder")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert!(names.contains(&"index.html".to_owned()), "{names:?}");
    for name in &names {
        let reply = exchange(bare(
            Method::GET,
            &gw.admin_url(&format!("/console/{name}")),
        ))
        .await;
        assert_eq!(reply.status, 200, "{name} is not served: {reply:?}");
        assert_eq!(
            reply.header("content-type"),
            Some(media_type(name)),
            "{name}"
        );
        let on_disk = std::fs::read(folder.join(name)).expect("the file");
        assert_eq!(
            reply.body.as_ref(),
            on_disk.as_slice(),
            "{name} is served as built"
        );
        assert_secured(&reply, name);
    }

    let page = exchange(bare(Method::GET, &gw.admin_url("/console/"))).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_secured(&page, "/console/");
    let text = String::from_utf8_lossy(&page.body);
    assert!(
        !text.contains("<script>") && !text.contains("style="),
        "nothing inline: {text}"
    );
}

#[tokio::test]
async fn the_console_redirects_its_bare_path_and_answers_404_problems_below_it() {
    let gw = console_gateway().await;
    let redirect = exchange(bare(Method::GET, &gw.admin_url("/console"))).await;
    assert_eq!(redirect.status, 308, "{redirect:?}");
    assert_eq!(redirect.header("location"), Some("/console/"));
    assert_secured(&redirect, "/console");

    for path in [
        "/console/nothing.js",
        "/console/a/b.css",
        "/console/..%2Fconfig.toml",
        "/console//console/app.js",
    ] {
        let missing = exchange(bare(Method::GET, &gw.admin_url(path))).await;
        assert_problem(&missing, 404, "not-found");
        assert_secured(&missing, path);
    }
    let posted = exchange(bare(Method::POST, &gw.admin_url("/console/app.js"))).await;
    assert_problem(&posted, 405, "method-not-allowed");
    assert_secured(&posted, "POST /console/app.js");
}
