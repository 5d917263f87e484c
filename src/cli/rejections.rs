//! `flowgate rejections list|show`: the webhooks that authenticated but were refused, through the
//! admin API (contract section 17). A compact table, or the API's JSON with `--json`; exit 0 only
//! on a 2xx answer.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use http::Method;
use serde_json::Value;
use uuid::Uuid;

use super::admin_api::AdminCall;
use super::deliveries::{cell, query, table, time};
use crate::config::Config;

#[derive(Debug, Args)]
pub struct RejectionsArgs {
    #[command(subcommand)]
    pub action: RejectionsAction,
    /// Print the admin API's JSON answer as it is.
    #[arg(long, global = true)]
    pub json: bool,
    /// Base URL of the admin listener; default http://{server.admin_listen}.
    #[arg(long, global = true)]
    pub admin_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RejectionsAction {
    /// List kept rejections, newest first.
    List {
        /// Only this vendor's.
        #[arg(long)]
        vendor: Option<String>,
        /// Only refusals with this problem code (e.g. schema-violation).
        #[arg(long)]
        code: Option<String>,
        /// Only rejections received at or after this RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// At most this many (1 to 500; default 50).
        #[arg(long)]
        limit: Option<u32>,
        /// The next page, as the previous one named it.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show one rejection with its body.
    Show { id: Uuid },
}

pub async fn rejections(config: &Config, args: &RejectionsArgs) -> anyhow::Result<ExitCode> {
    let path = match &args.action {
        RejectionsAction::List {
            vendor,
            code,
            since,
            limit,
            cursor,
        } => {
            let limit = limit.map(|n| n.to_string());
            let query = query(&[
                ("vendor", vendor.as_deref()),
                ("code", code.as_deref()),
                ("since", since.as_deref()),
                ("limit", limit.as_deref()),
                ("cursor", cursor.as_deref()),
            ]);
            format!("/admin/rejections{query}")
        }
        RejectionsAction::Show { id } => format!("/admin/rejections/{id}"),
    };
    let call = AdminCall::new(config, args.admin_url.as_deref(), args.json);
    call.show(Method::GET, &path, |answer| match args.action {
        RejectionsAction::List { .. } => listing(answer),
        RejectionsAction::Show { .. } => detail(answer),
    })
    .await
}

const COLUMNS: [&str; 5] = ["ID", "RECEIVED", "VENDOR", "CODE", "EVENT_ID"];

fn row(rejection: &Value) -> Vec<String> {
    vec![
        cell(&rejection["id"]),
        time(&rejection["received_at"]),
        cell(&rejection["vendor"]),
        cell(&rejection["code"]),
        cell(&rejection["event_id"]),
    ]
}

/// One row per rejection, and how to ask for the next page.
fn listing(answer: &Value) -> String {
    let rejections = answer["rejections"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    if rejections.is_empty() {
        return "no rejections".to_owned();
    }
    let rows: Vec<Vec<String>> = rejections.iter().map(row).collect();
    let mut text = table(&COLUMNS, &rows);
    if let Some(cursor) = answer["next_cursor"].as_str() {
        text.push_str(&format!("\nmore: --cursor {cursor}"));
    }
    text
}

/// One rejection: its row, why it was refused (each schema violation on a line), then its body.
fn detail(rejection: &Value) -> String {
    let mut lines = vec![table(&COLUMNS, &[row(rejection)]), String::new()];
    lines.push(format!("status       {}", cell(&rejection["status"])));
    lines.push(format!("detail       {}", cell(&rejection["detail"])));
    for error in rejection["errors"].as_array().into_iter().flatten() {
        let at = error["pointer"].as_str().or(error["key"].as_str());
        lines.push(format!(
            "  {}: {}",
            at.unwrap_or_default(),
            cell(&error["message"])
        ));
    }
    lines.push(format!("request id   {}", cell(&rejection["request_id"])));
    lines.push(format!("content type {}", cell(&rejection["content_type"])));
    lines.push(format!("delivery     {}", cell(&rejection["delivery_id"])));
    lines.push(format!("body ({})", cell(&rejection["body_encoding"])));
    lines.push(cell(&rejection["body"]));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_rejection_shows_why_and_its_body() {
        let rejection = json!({"id": "01a2", "received_at": "2026-12-07T10:00:00.5Z", "vendor": "photo", "code": "schema-violation", "event_id": "evt-1", "status": 422, "detail": "The payload breaks 1 rule.", "errors": [{"pointer": "/data/orderId", "message": "is not a uuid"}], "request_id": "r1", "content_type": "application/json", "delivery_id": null, "body": "{\"id\":\"evt-1\"}", "body_encoding": "utf-8"});
        let text = detail(&rejection);
        assert!(text.contains("2026-12-07T10:00:00Z"), "{text}");
        assert!(text.contains("  /data/orderId: is not a uuid"), "{text}");
        assert!(text.contains("delivery     -"), "{text}");
        assert!(text.ends_with("body (utf-8)\n{\"id\":\"evt-1\"}"), "{text}");
    }

    #[test]
    fn an_empty_listing_says_so() {
        assert_eq!(
            listing(&json!({"rejections": [], "next_cursor": null})),
            "no rejections"
        );
    }
}
