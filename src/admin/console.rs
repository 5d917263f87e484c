//! The operator console (contract section 18): the hand-written page, modules and stylesheet of
//! `console/`, built into the binary and served open under `/console/`. The page itself calls
//! only `/admin/*`, with the token the operator types; every answer here forbids framing,
//! referrers and any script, style or request from another origin.

use axum::Router;
use axum::middleware::map_response;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use http::{HeaderValue, Uri, header};

use crate::http::method_not_allowed;
use crate::problem::{Code, Problem};

/// One file of the console: its name under `/console/`, its media type and its bytes.
struct ConsoleFile {
    name: &'static str,
    media_type: &'static str,
    bytes: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

macro_rules! console_file {
    ($name:literal, $media_type:expr) => {
        ConsoleFile {
            name: $name,
            media_type: $media_type,
            bytes: include_bytes!(concat!("../../console/", $name)),
        }
    };
}

/// Every file of `console/` (the integration tests check that none is left out).
const FILES: &[ConsoleFile] = &[
    console_file!("index.html", HTML),
    console_file!("console.css", CSS),
    console_file!("icon.svg", SVG),
    console_file!("app.js", JAVASCRIPT),
    console_file!("api.js", JAVASCRIPT),
    console_file!("dom.js", JAVASCRIPT),
    console_file!("overview.js", JAVASCRIPT),
    console_file!("deliveries.js", JAVASCRIPT),
    console_file!("delivery.js", JAVASCRIPT),
    console_file!("order.js", JAVASCRIPT),
    console_file!("tenants.js", JAVASCRIPT),
    console_file!("rejections.js", JAVASCRIPT),
    console_file!("rejection.js", JAVASCRIPT),
    console_file!("drift.js", JAVASCRIPT),
];

/// `/console` (redirected), `/console/` (the page) and `/console/<file>`; anything else under
/// it is 404. Mounted outside the bearer layer: loading the page needs no token.
pub fn router() -> Router {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/console/", get(|| async { serve("index.html") }))
        .route(
            "/console/{*file}",
            get(
                |uri: Uri| async move { serve(uri.path().strip_prefix("/console/").unwrap_or("")) },
            ),
        )
        .method_not_allowed_fallback(method_not_allowed)
        .layer(map_response(secured))
}

/// The file `name` with its media type, or 404 `not-found`.
fn serve(name: &str) -> Response {
    let Some(file) = FILES.iter().find(|file| file.name == name) else {
        return Problem::new(Code::NotFound, "The console has no such file.").into_response();
    };
    let media_type = HeaderValue::from_static(file.media_type);
    ([(header::CONTENT_TYPE, media_type)], file.bytes).into_response()
}

/// The headers every console answer carries, its 404s and redirect included.
async fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    // Only this origin's files: no inline script or style, no CDN, no request elsewhere.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Revalidated each time, so an upgraded gateway never runs yesterday's modules.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
