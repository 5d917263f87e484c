//! `flowgate orders show ORDER`: everything the gateway knows of one order through the admin API
//! (contract section 9): its binding, the values Flow last accepted, and its deliveries. A
//! compact summary, or the API's JSON with `--json`; exit 0 only on a 2xx answer.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use http::Method;
use serde_json::Value;
use uuid::Uuid;

use super::admin_api::AdminCall;
use super::deliveries::{cell, deliveries_table, time};
use crate::config::Config;

#[derive(Debug, Args)]
pub struct OrdersArgs {
    #[command(subcommand)]
    pub action: OrdersAction,
    /// Print the admin API's JSON answer as it is.
    #[arg(long, global = true)]
    pub json: bool,
    /// Base URL of the admin listener; default http://{server.admin_listen}.
    #[arg(long, global = true)]
    pub admin_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum OrdersAction {
    /// Show an order: its binding, the values last sent to Flow, its deliveries (newest first).
    Show { order: Uuid },
}

pub async fn orders(config: &Config, args: &OrdersArgs) -> anyhow::Result<ExitCode> {
    let OrdersAction::Show { order } = args.action;
    let call = AdminCall::new(config, args.admin_url.as_deref(), args.json);
    call.show(Method::GET, &format!("/admin/orders/{order}"), detail)
        .await
}

/// The order's binding and last values, one per line, then its deliveries' table.
fn detail(order: &Value) -> String {
    let binding = &order["binding"];
    let sent = &order["last_sent"];
    let mut lines = vec![format!("order        {}", cell(&order["order_id"]))];
    if binding.is_null() {
        lines.push("binding      -".to_owned());
    } else {
        lines.push(format!(
            "binding      tenant {}, vendor {}, case {}, bound {}",
            cell(&binding["tenant"]),
            cell(&binding["vendor"]),
            cell(&binding["case_id"]),
            time(&binding["bound_at"]),
        ));
        let broker = &binding["broker"];
        if broker
            .as_object()
            .is_some_and(|b| b.values().any(|v| !v.is_null()))
        {
            lines.push(format!(
                "broker       {} <{}>, {}",
                cell(&broker["full_name"]),
                cell(&broker["email"]),
                cell(&broker["office_name"]),
            ));
        }
    }
    lines.push(format!("state        {}", cell(&sent["state"])));
    lines.push(format!("title        {}", cell(&sent["title"])));
    lines.push(format!("action text  {}", cell(&sent["action_text"])));
    for pair in sent["metadata"].as_array().into_iter().flatten() {
        lines.push(format!(
            "metadata     {} = {}",
            cell(&pair[0]),
            cell(&pair[1])
        ));
    }
    let deliveries = order["deliveries"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    lines.push(String::new());
    lines.push(if deliveries.is_empty() {
        "no deliveries".to_owned()
    } else {
        deliveries_table(deliveries)
    });
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_order_shows_its_binding_values_and_deliveries() {
        let order = json!({
            "order_id": "o1",
            "binding": {"tenant": "acme", "vendor": "photo", "case_id": 42, "broker": {"full_name": null}, "bound_at": "2026-12-07T10:00:00.5Z"},
            "last_sent": {"title": "Shoot", "action_text": null, "metadata": [["Photographer", "Ann"]], "state": "InProcess"},
            "deliveries": [{"id": "d1", "state": "delivered", "vendor": "photo", "tenant": "acme", "order_id": "o1", "created_at": "2026-12-07T10:00:01Z", "attempts": [{}], "flow_status": null}],
        });
        let text = detail(&order);
        assert!(
            text.starts_with("order        o1\nbinding      tenant acme, vendor photo, case 42, bound 2026-12-07T10:00:00Z\nstate        InProcess\n"),
            "{text}"
        );
        assert!(
            text.contains("action text  -\nmetadata     Photographer = Ann\n"),
            "{text}"
        );
        assert!(text.contains("\nID  STATE      VENDOR"), "{text}");
    }

    #[test]
    fn an_unbound_order_without_deliveries_says_so() {
        let order = json!({"order_id": "o1", "binding": null, "last_sent": {"metadata": []}, "deliveries": []});
        let text = detail(&order);
        assert!(text.contains("binding      -\n"), "{text}");
        assert!(text.ends_with("\nno deliveries"), "{text}");
    }
}
