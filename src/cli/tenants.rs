//! `flowgate tenants list|pause|resume|close-circuit`: the tenants through the admin API
//! (contract section 9): each with its pause, its circuit and its deliveries owed and dead, and
//! the operator's switches. A compact table, or the API's JSON with `--json`; exit 0 only on a
//! 2xx answer.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use http::Method;
use serde_json::Value;

use super::admin_api::AdminCall;
use super::deliveries::{cell, table};
use crate::config::Config;

#[derive(Debug, Args)]
pub struct TenantsArgs {
    #[command(subcommand)]
    pub action: TenantsAction,
    /// Print the admin API's JSON answer as it is.
    #[arg(long, global = true)]
    pub json: bool,
    /// Base URL of the admin listener; default http://{server.admin_listen}.
    #[arg(long, global = true)]
    pub admin_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TenantsAction {
    /// List every configured tenant: paused or not, its circuit, its deliveries.
    List,
    /// Start no delivery to TENANT until it is resumed.
    Pause { tenant: String },
    /// Deliver to TENANT again.
    Resume { tenant: String },
    /// Close TENANT's circuit (once what opened it is fixed).
    CloseCircuit { tenant: String },
}

pub async fn tenants(config: &Config, args: &TenantsArgs) -> anyhow::Result<ExitCode> {
    let (method, path) = target(&args.action);
    let call = AdminCall::new(config, args.admin_url.as_deref(), args.json);
    call.show(method, &path, |answer| render(&args.action, answer))
        .await
}

/// The method and path for `action`; the tenant's name is percent-encoded as a path segment.
fn target(action: &TenantsAction) -> (Method, String) {
    let segment = |tenant: &str| percent_encoding::utf8_percent_encode(tenant, SEGMENT).to_string();
    match action {
        TenantsAction::List => (Method::GET, "/admin/tenants".to_owned()),
        TenantsAction::Pause { tenant } => {
            let path = format!("/admin/tenants/{}/pause", segment(tenant));
            (Method::POST, path)
        }
        TenantsAction::Resume { tenant } => {
            let path = format!("/admin/tenants/{}/resume", segment(tenant));
            (Method::POST, path)
        }
        TenantsAction::CloseCircuit { tenant } => {
            let path = format!("/admin/tenants/{}/circuit/close", segment(tenant));
            (Method::POST, path)
        }
    }
}

/// What a path segment may not carry as it is.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.');

const COLUMNS: [&str; 6] = ["TENANT", "PAUSED", "CIRCUIT", "PENDING", "RETRYING", "DEAD"];

fn render(action: &TenantsAction, answer: &Value) -> String {
    let tenant = cell(&answer["tenant"]);
    match action {
        TenantsAction::List => listing(answer),
        TenantsAction::Pause { .. } => format!("{tenant}: paused"),
        TenantsAction::Resume { .. } => format!("{tenant}: resumed"),
        TenantsAction::CloseCircuit { .. } => format!("{tenant}: circuit closed"),
    }
}

fn listing(answer: &Value) -> String {
    let tenants = answer["tenants"].as_array().map_or(&[][..], Vec::as_slice);
    if tenants.is_empty() {
        return "no tenants".to_owned();
    }
    let rows: Vec<Vec<String>> = tenants
        .iter()
        .map(|t| {
            let paused = if t["paused"] == true { "yes" } else { "no" };
            let counts = ["pending", "retrying", "dead"].map(|key| cell(&t[key]));
            let mut row = vec![cell(&t["tenant"]), paused.to_owned(), cell(&t["circuit"])];
            row.extend(counts);
            row
        })
        .collect();
    table(&COLUMNS, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use serde_json::json;

    #[test]
    fn close_circuit_posts_to_the_tenants_circuit() {
        let argv = ["flowgate", "tenants", "close-circuit", "acme", "--json"];
        let cli = crate::cli::Cli::try_parse_from(argv);
        let Ok(crate::cli::Cli {
            command: crate::cli::Command::Tenants(args),
            ..
        }) = cli
        else {
            panic!("not parsed: {cli:?}");
        };
        assert!(args.json);
        let (method, path) = target(&args.action);
        assert_eq!(method, Method::POST);
        assert_eq!(path, "/admin/tenants/acme/circuit/close");
    }

    #[test]
    fn the_list_is_a_table_of_switches_and_counts() {
        let answer = json!({"tenants": [
            {"tenant": "acme", "paused": true, "circuit": "half_open", "pending": 12, "retrying": 0, "dead": 3},
            {"tenant": "beta", "paused": false, "circuit": "closed", "pending": 0, "retrying": 1, "dead": 0},
        ]});
        assert_eq!(
            listing(&answer),
            "TENANT  PAUSED  CIRCUIT    PENDING  RETRYING  DEAD\n\
             acme    yes     half_open  12       0         3\n\
             beta    no      closed     0        1         0"
        );
    }
}
