//! `flowgate replay`: stored webhooks run again (contract section 17). Without `--candidate`, the
//! running gateway replays them (`POST /admin/replay`, a dry run unless `--apply`) and the
//! answer is printed as a table, or as the API's JSON with `--json`. With `--candidate FILE`, the
//! stored bodies go through FILE, a configuration that is not running, here (`candidate.rs`), and
//! what FILE changes is printed per vendor (`report.rs`).

mod candidate;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, ValueEnum};
use http::{Method, header};
use http_body_util::Full;
use serde_json::{Map, Value, json};

use super::admin_api::{admin_request, problem_line};
use super::deliveries::{cell, table};
use super::{fetch, print};
use crate::config::Config;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// What to replay: the kept rejections, or the accepted webhooks whose bodies are kept.
    #[arg(long, value_enum, default_value_t = ReplaySource::Rejections)]
    pub source: ReplaySource,
    /// Only this vendor's.
    #[arg(long)]
    pub vendor: Option<String>,
    /// Only rejections with this problem code (e.g. schema-violation).
    #[arg(long)]
    pub code: Option<String>,
    /// Only webhooks received at or after this RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Only webhooks received before this RFC 3339 time.
    #[arg(long)]
    pub until: Option<String>,
    /// Queue what is now accepted, under its original event id (dedup keeps anything from being
    /// delivered twice). Without it, nothing is queued.
    #[arg(long)]
    pub apply: bool,
    /// Run the stored bodies through FILE, a configuration that is not running, and print what
    /// it changes per vendor (a dry run: never with --apply).
    #[arg(long, value_name = "FILE", conflicts_with = "apply")]
    pub candidate: Option<PathBuf>,
    /// Print JSON: the API's answer, or the candidate's comparison.
    #[arg(long)]
    pub json: bool,
    /// Base URL of the admin listener; default http://{server.admin_listen}.
    #[arg(long)]
    pub admin_url: Option<String>,
}

/// Where the bodies to replay are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReplaySource {
    Rejections,
    Accepted,
}

impl ReplaySource {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplaySource::Rejections => "rejections",
            ReplaySource::Accepted => "accepted",
        }
    }
}

/// How long the admin API may take to answer one call (a page replays up to 1000 webhooks).
const TIMEOUT: Duration = Duration::from_secs(120);

/// Exit 0 when everything was replayed (and, with `--candidate`, compared); an `Err` when the
/// admin API refused (its problem line) or could not be reached.
pub async fn replay(config: &Config, args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    if let Some(file) = &args.candidate {
        return candidate::replay(config, args, file).await;
    }
    let replayed = replay_all(config, args, !args.apply).await?;
    if args.json {
        print(&serde_json::to_string_pretty(&replayed.to_json()).unwrap_or_default());
    } else {
        print(&listing(&replayed, args.apply));
    }
    Ok(ExitCode::SUCCESS)
}

/// Every page of one replay: the results in the order answered, the summaries summed.
#[derive(Debug, Default)]
struct Replayed {
    results: Vec<Value>,
    summary: Map<String, Value>,
}

impl Replayed {
    fn add(&mut self, page: Value) {
        let Value::Object(mut page) = page else {
            return;
        };
        if let Some(Value::Array(results)) = page.remove("results") {
            self.results.extend(results);
        }
        let summary = page.remove("summary");
        for (key, value) in summary
            .as_ref()
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let before = self.summary.get(key).and_then(Value::as_u64).unwrap_or(0);
            let sum = before.saturating_add(value.as_u64().unwrap_or(0));
            self.summary.insert(key.clone(), json!(sum));
        }
    }

    /// The API's answer, as if one page held everything.
    fn to_json(&self) -> Value {
        json!({"results": self.results, "summary": self.summary, "next": null})
    }
}

/// `POST /admin/replay` page after page until the answer names no `next`.
async fn replay_all(config: &Config, args: &ReplayArgs, dry_run: bool) -> anyhow::Result<Replayed> {
    let mut replayed = Replayed::default();
    let mut next: Option<String> = None;
    loop {
        let body = request_body(args, dry_run, next.as_deref());
        let mut request = admin_request(
            config,
            args.admin_url.as_deref(),
            Method::POST,
            "/admin/replay",
        )?;
        request.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        *request.body_mut() = Full::new(Bytes::from(body.to_string()));
        let (status, answer) = fetch(request, TIMEOUT).await?;
        if !status.is_success() {
            anyhow::bail!("{}", problem_line(status, &answer));
        }
        let page: Value = serde_json::from_slice(&answer)?;
        let following = page["next"].as_str().map(str::to_owned);
        replayed.add(page);
        match following {
            // A cursor answered twice would page forever.
            Some(cursor) if next.as_deref() != Some(cursor.as_str()) => next = Some(cursor),
            Some(cursor) => anyhow::bail!("the admin API answered the same page twice ({cursor})"),
            None => return Ok(replayed),
        }
    }
}

/// The replay request: the filters given, and where to continue.
fn request_body(args: &ReplayArgs, dry_run: bool, next: Option<&str>) -> Value {
    let mut body = json!({"source": args.source.as_str(), "dry_run": dry_run});
    let filters = [
        ("vendor", &args.vendor),
        ("code", &args.code),
        ("since", &args.since),
        ("until", &args.until),
    ];
    for (key, value) in filters {
        if let Some(value) = value {
            body[key] = json!(value);
        }
    }
    if let Some(next) = next {
        body["next"] = json!(next);
    }
    body
}

const COLUMNS: [&str; 6] = ["ID", "VENDOR", "EVENT_ID", "BEFORE", "AFTER", "CHANGED"];

/// One row per webhook, then the summary and whether anything was queued.
fn listing(replayed: &Replayed, applied: bool) -> String {
    let mut lines = Vec::new();
    if replayed.results.is_empty() {
        lines.push("nothing to replay".to_owned());
    } else {
        let rows: Vec<Vec<String>> = replayed.results.iter().map(|r| row(r, applied)).collect();
        let mut columns = COLUMNS.to_vec();
        if applied {
            columns.push("DELIVERY");
        }
        lines.push(table(&columns, &rows));
    }
    let count = |key: &str| cell(replayed.summary.get(key).unwrap_or(&Value::Null));
    lines.push(format!(
        "now accepted: {}, still rejected: {}, changed: {}, unchanged: {}",
        count("now_accepted"),
        count("still_rejected"),
        count("changed"),
        count("unchanged"),
    ));
    lines.push(if applied {
        "applied: what is now accepted is queued under its original event id".to_owned()
    } else {
        "dry run: nothing was queued (--apply queues what is now accepted)".to_owned()
    });
    lines.join("\n")
}

fn row(result: &Value, applied: bool) -> Vec<String> {
    let changed = if result["changed"] == json!(true) {
        "yes"
    } else {
        "no"
    };
    let mut row = vec![
        cell(&result["id"]),
        cell(&result["vendor"]),
        cell(&result["event_id"]),
        outcome(&result["before"]),
        outcome(&result["after"]),
        changed.to_owned(),
    ];
    if applied {
        row.push(cell(&result["after"]["delivery_id"]));
    }
    row
}

/// `rejected schema-violation`, `accepted`.
fn outcome(side: &Value) -> String {
    match side["code"].as_str() {
        Some(code) => format!("{} {code}", cell(&side["outcome"])),
        None => cell(&side["outcome"]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<crate::cli::Cli, clap::Error> {
        crate::cli::Cli::try_parse_from(["flowgate", "replay"].iter().chain(args))
    }

    #[test]
    fn apply_with_a_candidate_is_a_usage_error() {
        let refused = parse(&["--apply", "--candidate", "next.toml"]);
        let error = refused.err().map(|e| e.kind());
        assert_eq!(error, Some(clap::error::ErrorKind::ArgumentConflict));
        assert!(parse(&["--candidate", "next.toml"]).is_ok());
        assert!(parse(&["--apply"]).is_ok());
    }

    #[test]
    fn the_request_carries_the_filters_given_and_the_page_to_continue() {
        let Ok(crate::cli::Cli {
            command: crate::cli::Command::Replay(args),
            ..
        }) = parse(&[
            "--source",
            "accepted",
            "--vendor",
            "photo",
            "--since",
            "2026-12-07T00:00:00Z",
        ])
        else {
            panic!("not parsed");
        };
        assert_eq!(
            request_body(&args, true, Some("c2")),
            json!({"source": "accepted", "dry_run": true, "vendor": "photo",
                   "since": "2026-12-07T00:00:00Z", "next": "c2"})
        );
    }

    #[test]
    fn pages_are_concatenated_and_their_summaries_summed() {
        let mut replayed = Replayed::default();
        let page = |id: &str, changed: u64| {
            json!({"results": [{"id": id, "vendor": "photo", "event_id": "ph-1",
                "before": {"outcome": "rejected", "code": "schema-violation"},
                "after": {"outcome": "accepted", "calls": []}, "changed": changed == 1}],
              "summary": {"now_accepted": 1, "still_rejected": 0, "changed": changed,
                          "unchanged": 1 - changed}, "next": null})
        };
        replayed.add(page("a", 1));
        replayed.add(page("b", 0));
        let answer = replayed.to_json();
        assert_eq!(answer["results"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            answer["summary"],
            json!({"now_accepted": 2, "still_rejected": 0, "changed": 1, "unchanged": 1})
        );
        let text = listing(&replayed, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "ID  VENDOR  EVENT_ID  BEFORE                     AFTER     CHANGED"
        );
        assert_eq!(
            lines[1],
            "a   photo   ph-1      rejected schema-violation  accepted  yes"
        );
        assert_eq!(
            lines[3],
            "now accepted: 2, still rejected: 0, changed: 1, unchanged: 1"
        );
        assert!(
            lines[4].starts_with("dry run: nothing was queued"),
            "{text}"
        );
    }
}
