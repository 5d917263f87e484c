//! How the admin verbs (`deliveries`, `orders`, `rejections`, `tenants`, `reload`, `replay`)
//! reach the admin API: the request with the admin token, and one way of printing its answer.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http::{Method, Request, header};
use http_body_util::Full;
use serde_json::Value;

use super::{dialable, fetch, print};
use crate::config::Config;

/// How long the admin API may take to answer one call.
pub(super) const TIMEOUT: Duration = Duration::from_secs(30);

/// One call of an admin verb: where to, and how its answer is printed.
pub(super) struct AdminCall<'a> {
    config: &'a Config,
    admin_url: Option<&'a str>,
    /// Print the API's JSON as it is.
    json: bool,
}

impl<'a> AdminCall<'a> {
    pub(super) fn new(config: &'a Config, admin_url: Option<&'a str>, json: bool) -> Self {
        Self {
            config,
            admin_url,
            json,
        }
    }

    /// Calls `method path` and prints the answer: its JSON as it is with `--json`, the
    /// problem's line on stderr when the API refused, else what `render` makes of it. Exit 0
    /// only on a 2xx answer.
    pub(super) async fn show(
        &self,
        method: Method,
        path: &str,
        render: impl FnOnce(&Value) -> String,
    ) -> anyhow::Result<ExitCode> {
        let request = admin_request(self.config, self.admin_url, method, path)?;
        let (status, body) = fetch(request, TIMEOUT).await?;
        if self.json {
            print(String::from_utf8_lossy(&body).trim_end());
        } else if !status.is_success() {
            eprintln!("error: {}", problem_line(status, &body));
        } else {
            let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            print(&render(&answer));
        }
        Ok(if status.is_success() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}

/// `method path` on the admin listener (`admin_url`, else `http://{server.admin_listen}`) with
/// the admin token.
pub(super) fn admin_request(
    config: &Config,
    admin_url: Option<&str>,
    method: Method,
    path: &str,
) -> anyhow::Result<Request<Full<Bytes>>> {
    let token = admin_token(config)?;
    let base = admin_url.map_or_else(
        || format!("http://{}", dialable(config.server.admin_listen)),
        str::to_owned,
    );
    let url = format!("{}{path}", base.trim_end_matches('/'));
    Request::builder()
        .method(method)
        .uri(&url)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::ACCEPT, "application/json")
        .body(Full::new(Bytes::new()))
        .with_context(|| format!("bad URL {url}"))
}

/// The admin token, from wherever `[admin]` says (default `FLOWGATE_ADMIN_TOKEN`).
fn admin_token(config: &Config) -> anyhow::Result<String> {
    let values = config
        .admin_token()
        .and_then(|secret| secret.resolve(&config.source))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    values
        .into_iter()
        .next()
        .context("the admin token is empty")
}

/// `409 not-dead: Delivery … is not dead…` from a problem+json answer, or the bare status.
pub(super) fn problem_line(status: http::StatusCode, body: &[u8]) -> String {
    let problem: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let code = problem["code"].as_str();
    let detail = problem["detail"].as_str();
    match (code, detail) {
        (Some(code), Some(detail)) => format!("{} {code}: {detail}", status.as_u16()),
        _ => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_is_printed_with_its_code_and_detail() {
        let body = br#"{"code":"not-dead","detail":"Delivery x is not dead."}"#;
        assert_eq!(
            problem_line(http::StatusCode::CONFLICT, body),
            "409 not-dead: Delivery x is not dead."
        );
        assert_eq!(
            problem_line(http::StatusCode::BAD_GATEWAY, b"oops"),
            "502 Bad Gateway"
        );
    }
}
