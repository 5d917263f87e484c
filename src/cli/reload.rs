//! `flowgate reload`: asks the running gateway to load its configuration again, through
//! `POST /admin/reload` (contract section 16). Prints what changed and what needs a restart, or
//! every error of a configuration that does not load (the gateway keeps serving the old one);
//! exit 0 only when the new configuration runs.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use http::Method;
use serde_json::Value;

use super::admin_api::{admin_request, problem_line};
use super::{fetch, print};
use crate::config::Config;

#[derive(Debug, Args)]
pub struct ReloadArgs {
    /// Print the admin API's JSON answer as it is.
    #[arg(long)]
    pub json: bool,
    /// Base URL of the admin listener; default http://{server.admin_listen}.
    #[arg(long)]
    pub admin_url: Option<String>,
}

/// A reload builds every schema and resolves every secret before it answers.
const TIMEOUT: Duration = Duration::from_secs(60);

pub async fn reload(config: &Config, args: &ReloadArgs) -> anyhow::Result<ExitCode> {
    let request = admin_request(
        config,
        args.admin_url.as_deref(),
        Method::POST,
        "/admin/reload",
    )?;
    let (status, body) = fetch(request, TIMEOUT).await?;
    let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if args.json {
        print(String::from_utf8_lossy(&body).trim_end());
    } else if status.is_success() {
        for line in summary(&answer) {
            print(&line);
        }
    } else {
        eprintln!("error: {}", problem_line(status, &body));
        for error in answer["errors"].as_array().into_iter().flatten() {
            let key = error["key"].as_str().unwrap_or_default();
            let message = error["message"].as_str().unwrap_or_default();
            eprintln!("  {key}: {message}");
        }
    }
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `reloaded: config 1a2b…`, then what changed and what waits for a restart.
fn summary(answer: &Value) -> Vec<String> {
    let list = |name: &str| -> Vec<&str> {
        let values = answer[name].as_array().into_iter().flatten();
        values.filter_map(Value::as_str).collect()
    };
    let hash = answer["config_hash"].as_str().unwrap_or_default();
    let mut lines = vec![format!("reloaded: config {hash}")];
    let changed = list("changed");
    lines.push(match changed.is_empty() {
        true => "changed: nothing".to_owned(),
        false => format!("changed: {}", changed.join(", ")),
    });
    let restart = list("restart_required");
    if !restart.is_empty() {
        lines.push(format!(
            "restart required (running values kept): {}",
            restart.join(", ")
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_summary_names_changes_and_start_only_keys() {
        let answer = json!({"reloaded": true, "config_hash": "00ff", "changed": ["vendors.a", "server.max_in_flight"], "restart_required": ["server.listen"]});
        assert_eq!(
            summary(&answer),
            [
                "reloaded: config 00ff",
                "changed: vendors.a, server.max_in_flight",
                "restart required (running values kept): server.listen",
            ]
        );
        let quiet = json!({"config_hash": "00ff", "changed": [], "restart_required": []});
        assert_eq!(summary(&quiet)[1], "changed: nothing");
        assert_eq!(summary(&quiet).len(), 2);
    }
}
