//! Base URLs in one comparable form: scheme and host lowercased, default port dropped, path
//! lowercased without a trailing slash. Anything with credentials, a query or a fragment is not
//! a Flow base URL and normalises to nothing.

/// The comparable form of `url`, or `None` when it is not an absolute http(s) URL that could be
/// a Flow base URL.
pub fn normalise_base_url(url: &str) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_normalise_scheme_host_port_path_and_slash() {
        let same = [
            "https://em1.webtopsolutions.com/flow",
            "HTTPS://EM1.webtopsolutions.com/flow/",
            "https://em1.webtopsolutions.com:443/Flow",
            " https://em1.webtopsolutions.com/FLOW// ",
        ];
        for url in same {
            assert_eq!(
                normalise_base_url(url).as_deref(),
                Some("https://em1.webtopsolutions.com/flow"),
                "{url}"
            );
        }
        assert_eq!(
            normalise_base_url("http://127.0.0.1:80/flow").as_deref(),
            Some("http://127.0.0.1/flow")
        );
        assert_ne!(
            normalise_base_url("http://em1.webtopsolutions.com/flow"),
            normalise_base_url("https://em1.webtopsolutions.com/flow")
        );
        assert_ne!(
            normalise_base_url("https://em1.webtopsolutions.com:8443/flow"),
            normalise_base_url("https://em1.webtopsolutions.com/flow")
        );
        for bad in [
            "ftp://em1.webtopsolutions.com/flow",
            "https://user:pw@em1.webtopsolutions.com/flow",
            "https://em1.webtopsolutions.com/flow?x=1",
            "https://em1.webtopsolutions.com/flow#x",
            "/flow",
            "em1.webtopsolutions.com/flow",
            "",
        ] {
            assert_eq!(normalise_base_url(bad), None, "{bad}");
        }
    }
}
