//! Base URLs in one comparable form: scheme and host lowercased, default port dropped, path
//! lowercased without a trailing slash. Anything with credentials, a query or a fragment is not
//! a Flow base URL and normalises to nothing.

/// The comparable form of `url`, or `None` when it is not an absolute http(s) URL that could be
/// a Flow base URL.
pub fn normalise(url: &str) -> Option<String> {
    let uri: http::Uri = url.trim().parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = uri.authority()?;
    if authority.as_str().contains('@') || uri.query().is_some() || url.contains('#') {
        return None;
    }
    let host = authority.host().to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    let port = match authority.port_u16() {
        Some(port) if port != default_port => format!(":{port}"),
        _ => String::new(),
    };
    let path = uri.path().trim_end_matches('/').to_lowercase();
    Some(format!("{scheme}://{host}{port}{path}"))
}
