//! `flowgate deliveries list|show|retry|cancel|redrive`: a client of the admin API (contract
//! section 9) for operators. Prints a compact table, or the API's JSON as it is with `--json`;
//! exit 0 only on a 2xx answer. It needs the admin token and the admin address, nothing else.

use std::process::ExitCode;

use chrono::{DateTime, SecondsFormat, Utc};
use clap::{Args, Subcommand};
use http::Method;
use serde_json::Value;
use uuid::Uuid;

use super::admin_api::AdminCall;
use crate::config::Config;

#[derive(Debug, Args)]
pub struct DeliveriesArgs {
    #[command(subcommand)]
    pub action: DeliveriesAction,
    /// Print the admin API's JSON answer as it is.
    #[arg(long, global = true)]
    pub json: bool,
    /// Base URL of the admin listener; default http://{server.admin_listen}.
    #[arg(long, global = true)]
    pub admin_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DeliveriesAction {
    /// List deliveries, newest first.
    List {
        /// pending, in_flight, retrying, delivered or dead.
        #[arg(long)]
        state: Option<String>,
        /// Only this vendor's.
        #[arg(long)]
        vendor: Option<String>,
        /// Only this tenant's.
        #[arg(long)]
        tenant: Option<String>,
        /// Only this order's (a UUID).
        #[arg(long)]
        order_id: Option<String>,
        /// Only deliveries created at or after this RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// At most this many (1 to 500; default 50).
        #[arg(long)]
        limit: Option<u32>,
        /// The next page, as the previous one named it.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show one delivery with its attempts.
    Show { id: Uuid },
    /// Queue a dead delivery again.
    Retry {
        id: Uuid,
        /// Retry even when the order has a newer delivered update.
        #[arg(long)]
        force: bool,
    },
    /// Stop an open delivery: it becomes dead with error `cancelled`.
    Cancel { id: Uuid },
    /// Retry every matching dead delivery that is not superseded.
    Redrive {
        /// Only this vendor's.
        #[arg(long)]
        vendor: Option<String>,
        /// Only this tenant's.
        #[arg(long)]
        tenant: Option<String>,
        /// Only deliveries created at or after this RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
    },
}

pub async fn deliveries(config: &Config, args: &DeliveriesArgs) -> anyhow::Result<ExitCode> {
    let (method, path) = target(&args.action);
    let call = AdminCall::new(config, args.admin_url.as_deref(), args.json);
    call.show(method, &path, |answer| render(&args.action, answer))
        .await
}

/// The method and the path with its query for `action`.
fn target(action: &DeliveriesAction) -> (Method, String) {
    use DeliveriesAction::*;
    match action {
        List {
            state,
            vendor,
            tenant,
            order_id,
            since,
            limit,
            cursor,
        } => {
            let limit = limit.map(|n| n.to_string());
            let query = query(&[
                ("state", state.as_deref()),
                ("vendor", vendor.as_deref()),
                ("tenant", tenant.as_deref()),
                ("order_id", order_id.as_deref()),
                ("since", since.as_deref()),
                ("limit", limit.as_deref()),
                ("cursor", cursor.as_deref()),
            ]);
            (Method::GET, format!("/admin/deliveries{query}"))
        }
        Show { id } => (Method::GET, format!("/admin/deliveries/{id}")),
        Retry { id, force } => {
            let query = query(&[("force", force.then_some("true"))]);
            (Method::POST, format!("/admin/deliveries/{id}/retry{query}"))
        }
        Cancel { id } => (Method::POST, format!("/admin/deliveries/{id}/cancel")),
        Redrive {
            vendor,
            tenant,
            since,
        } => {
            let query = query(&[
                ("vendor", vendor.as_deref()),
                ("tenant", tenant.as_deref()),
                ("since", since.as_deref()),
            ]);
            (Method::POST, format!("/admin/deliveries/redrive{query}"))
        }
    }
}

/// `?a=1&b=2` of the given pairs, percent-encoded (a `+` in a time zone must survive); empty
/// when none is given.
pub(super) fn query(pairs: &[(&str, Option<&str>)]) -> String {
    let mut encoder = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        if let Some(value) = value {
            encoder.append_pair(name, value);
        }
    }
    let encoded = encoder.finish();
    if encoded.is_empty() {
        encoded
    } else {
        format!("?{encoded}")
    }
}

fn render(action: &DeliveriesAction, answer: &Value) -> String {
    match action {
        DeliveriesAction::List { .. } => {
            let deliveries = answer["deliveries"]
                .as_array()
                .map_or(&[][..], Vec::as_slice);
            if deliveries.is_empty() {
                return "no deliveries".to_owned();
            }
            let table = deliveries_table(deliveries);
            match answer["next_cursor"].as_str() {
                Some(cursor) => format!("{table}\nmore: --cursor {cursor}"),
                None => table,
            }
        }
        DeliveriesAction::Redrive { .. } => format!(
            "redriven: {}, superseded: {}",
            cell(&answer["redriven"]),
            cell(&answer["superseded"])
        ),
        _ => detail(answer),
    }
}

const COLUMNS: [&str; 8] = [
    "ID",
    "STATE",
    "VENDOR",
    "TENANT",
    "ORDER",
    "CREATED",
    "ATTEMPTS",
    "FLOW_STATUS",
];

pub(super) fn deliveries_table(deliveries: &[Value]) -> String {
    let rows: Vec<Vec<String>> = deliveries.iter().map(|d| row(d).to_vec()).collect();
    table(&COLUMNS, &rows)
}

/// `rows` under a header of `columns`, each column as wide as its widest cell.
pub(super) fn table(columns: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| {
            let cells = rows.iter().map(|r| r[i].chars().count());
            cells.chain([columns[i].len()]).max().unwrap_or_default()
        })
        .collect();
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let padded: Vec<String> = cells
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut lines = vec![line(&mut columns.iter().copied())];
    lines.extend(rows.iter().map(|r| line(&mut r.iter().map(String::as_str))));
    lines.join("\n")
}

fn row(delivery: &Value) -> [String; 8] {
    let attempts = delivery["attempts"].as_array().map_or(0, Vec::len);
    [
        cell(&delivery["id"]),
        cell(&delivery["state"]),
        cell(&delivery["vendor"]),
        cell(&delivery["tenant"]),
        cell(&delivery["order_id"]),
        time(&delivery["created_at"]),
        attempts.to_string(),
        cell(&delivery["flow_status"]),
    ]
}

/// One delivery: its row, then what the row leaves out, then one line per attempt.
fn detail(delivery: &Value) -> String {
    let mut lines = vec![
        deliveries_table(std::slice::from_ref(delivery)),
        String::new(),
    ];
    for (label, key) in [
        ("event id", "event_id"),
        ("mode", "mode"),
        ("updated", "updated_at"),
        ("next attempt", "next_attempt_at"),
        ("operations", "operations"),
        ("error", "error"),
        ("flow body", "flow_body"),
    ] {
        let value = &delivery[key];
        let text = match value {
            Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
            _ if key.ends_with("_at") => time(value),
            _ => cell(value),
        };
        lines.push(format!("{label:<13}{text}"));
    }
    for attempt in delivery["attempts"].as_array().into_iter().flatten() {
        lines.push(format!(
            "attempt      {}  {}  status {}  {} ms  {}",
            time(&attempt["at"]),
            cell(&attempt["operation"]),
            cell(&attempt["status"]),
            cell(&attempt["duration_ms"]),
            cell(&attempt["error"]),
        ));
    }
    lines.join("\n")
}

/// A JSON value as a table cell: strings bare, null as `-`.
pub(super) fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// An RFC 3339 time to the second, in UTC: enough to read, short enough for a table.
pub(super) fn time(value: &Value) -> String {
    value
        .as_str()
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map_or_else(
            || cell(value),
            |t| {
                t.with_timezone(&Utc)
                    .to_rfc3339_opts(SecondsFormat::Secs, true)
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use serde_json::json;

    #[test]
    fn json_and_admin_url_are_taken_after_the_action_too() {
        let argv = [
            "flowgate",
            "deliveries",
            "retry",
            &Uuid::nil().to_string(),
            "--force",
        ];
        let cli = crate::cli::Cli::try_parse_from(argv.into_iter().chain(["--json"]));
        let Ok(crate::cli::Cli {
            command: crate::cli::Command::Deliveries(args),
            ..
        }) = cli
        else {
            panic!("not parsed: {cli:?}");
        };
        assert!(args.json);
        let (method, path) = target(&args.action);
        assert_eq!(method, Method::POST);
        assert_eq!(
            path,
            format!("/admin/deliveries/{}/retry?force=true", Uuid::nil())
        );
    }

    #[test]
    fn queries_are_encoded_and_skip_absent_values() {
        let since = Some("2025-01-31T12:00:00+02:00");
        assert_eq!(
            query(&[("vendor", Some("a b")), ("tenant", None), ("since", since)]),
            "?vendor=a+b&since=2025-01-31T12%3A00%3A00%2B02%3A00"
        );
        assert_eq!(query(&[("force", None)]), "");
    }

    #[test]
    fn the_table_aligns_columns_and_shows_null_as_a_dash() {
        let delivery = json!({
            "id": "d1", "state": "dead", "vendor": "photo", "tenant": "acme",
            "order_id": "o1", "created_at": "2025-01-31T12:00:00.123456Z",
            "attempts": [{}, {}], "flow_status": null
        });
        let text = deliveries_table(&[delivery]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("ID  STATE  VENDOR  TENANT  ORDER"),
            "{text}"
        );
        assert!(lines[1].contains("2025-01-31T12:00:00Z"), "{text}");
        assert!(lines[1].ends_with("2         -"), "{text}");
    }
}
