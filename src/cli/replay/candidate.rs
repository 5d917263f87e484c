//! `flowgate replay --candidate FILE`: the running gateway's dry run says what it makes of every
//! selected webhook now; each body is then fetched through the admin API and walked through FILE,
//! a configuration that is not running, with the walk `flowgate map` uses, on the same basis as
//! the gateway's (the order's binding and the values Flow last accepted, as the admin API shows
//! them). Nothing is queued and no secret of FILE is read.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

use base64::Engine;
use chrono::{DateTime, Utc};
use http::{Method, StatusCode};
use jsonschema::Validator;
use serde_json::Value;
use uuid::Uuid;

use super::report::{CandidateReport, Comparison, Verdict};
use super::{ReplayArgs, ReplaySource, TIMEOUT, replay_all};
use crate::cli::admin_api::{admin_request, problem_line};
use crate::cli::dry_run::{DryRun, OrderHistory, Walk, canonical_envelope};
use crate::cli::{fetch, print};
use crate::config::Config;
use crate::order::{Binding, LastSent};
use crate::problem::{Code, Problem};

/// Compares the candidate FILE with the running configuration on the selected webhooks and
/// prints the comparison per vendor.
pub(super) async fn replay(
    config: &Config,
    args: &ReplayArgs,
    file: &Path,
) -> anyhow::Result<ExitCode> {
    let candidate = Config::load(file).map_err(|errors| {
        let lines: Vec<String> = errors.0.iter().map(|e| format!("error: {e}")).collect();
        anyhow::anyhow!(
            "the candidate {} does not load:\n{}",
            file.display(),
            lines.join("\n")
        )
    })?;
    let canonical = canonical_envelope()?;
    let stages = stages(&candidate, &canonical)
        .map_err(|e| anyhow::anyhow!("the candidate {} does not build: {e}", file.display()))?;
    let running = replay_all(config, args, true).await?;
    let mut admin = AdminReader {
        config,
        admin_url: args.admin_url.as_deref(),
        orders: HashMap::new(),
    };
    let mut compared = Vec::with_capacity(running.results.len());
    for result in &running.results {
        compared.push(admin.compare(&stages, args.source, result).await?);
    }
    let report = CandidateReport::new(file, args.source, &compared);
    print(&if args.json {
        serde_json::to_string_pretty(&report.to_json()).unwrap_or_default()
    } else {
        report.to_text()
    });
    Ok(ExitCode::SUCCESS)
}

/// Every vendor's stages, as the candidate would build them.
fn stages<'a>(
    candidate: &'a Config,
    canonical: &std::sync::Arc<Validator>,
) -> anyhow::Result<HashMap<&'a str, DryRun<'a>>> {
    candidate
        .vendors
        .iter()
        .map(|(name, settings)| {
            let stages = DryRun::new(candidate, name, settings, canonical)?;
            Ok((name.as_str(), stages))
        })
        .collect()
}

/// Reads the stored bodies and the orders through the admin API, each order once.
struct AdminReader<'a> {
    config: &'a Config,
    admin_url: Option<&'a str>,
    orders: HashMap<Uuid, OrderHistory>,
}

impl AdminReader<'_> {
    /// One webhook of the dry run, walked through the candidate.
    async fn compare(
        &mut self,
        stages: &HashMap<&str, DryRun<'_>>,
        source: ReplaySource,
        result: &Value,
    ) -> anyhow::Result<Comparison> {
        let id = result["id"].as_str().unwrap_or_default().to_owned();
        let vendor = result["vendor"].as_str().unwrap_or_default().to_owned();
        let running = Verdict::from_json(&result["after"]);
        let mut order_id = result["order_id"].clone();
        let candidate = match self.body(source, &id).await? {
            Ok(body) => {
                let stages = stages.get(vendor.as_str());
                let (verdict, mapped) = self.judge(stages, &vendor, &body, &running).await?;
                // A webhook the running gateway refused before mapping has its order from the
                // candidate's map.
                if let (Value::Null, Some(mapped)) = (&order_id, mapped) {
                    order_id = Value::String(mapped.to_string());
                }
                Ok(verdict)
            }
            Err(why) => Err(why),
        };
        Ok(Comparison {
            id,
            vendor,
            event_id: result["event_id"].clone(),
            order_id,
            running,
            candidate,
        })
    }

    /// What the candidate answers `body`, and the order its map names: every stage from the
    /// body cap to the Flow calls, with the order as the running gateway knows it; dedup is the
    /// running gateway's.
    async fn judge(
        &mut self,
        stages: Option<&DryRun<'_>>,
        vendor: &str,
        body: &[u8],
        running: &Verdict,
    ) -> anyhow::Result<(Verdict, Option<Uuid>)> {
        let Some(stages) = stages else {
            return Ok((Verdict::vendor_missing(vendor), None));
        };
        let mut walk = Walk::default();
        let admitted = stages.admit(body, &mut walk);
        let order = walk.mapped.as_ref().map(|mapped| mapped.order_id);
        // The gateway looks the event id up right after parsing: what dedup answered stays its
        // answer, unless the candidate cannot parse the body.
        let verdict = match admitted {
            Err(problem) if running.is_dedup_answer() && !is_parse_refusal(&problem) => {
                running.clone()
            }
            Err(problem) => Verdict::refused(&problem),
            Ok(()) if running.is_dedup_answer() => running.clone(),
            Ok(()) => {
                let history = match order {
                    Some(order) => self.order(order).await?,
                    None => OrderHistory::default(),
                };
                match stages.route(&history, &mut walk) {
                    Ok(()) => Verdict::passed(&walk.calls),
                    Err(problem) => Verdict::refused(&problem),
                }
            }
        };
        Ok((verdict, order))
    }

    /// The stored body of webhook `id`, or why there is none to replay.
    async fn body(
        &self,
        source: ReplaySource,
        id: &str,
    ) -> anyhow::Result<Result<Vec<u8>, String>> {
        let path = match source {
            ReplaySource::Rejections => format!("/admin/rejections/{id}"),
            ReplaySource::Accepted => format!("/admin/deliveries/{id}"),
        };
        Ok(match self.get(&path).await? {
            Some(record) => stored_body(&record),
            None => Err("gone: it was deleted after the dry run".to_owned()),
        })
    }

    /// What the running gateway knows of `order`, asked once per order.
    async fn order(&mut self, order: Uuid) -> anyhow::Result<OrderHistory> {
        if let Some(known) = self.orders.get(&order) {
            return Ok(known.clone());
        }
        let known = self
            .get(&format!("/admin/orders/{order}"))
            .await?
            .map(|answer| order_history(&answer))
            .unwrap_or_default();
        self.orders.insert(order, known.clone());
        Ok(known)
    }

    /// `GET path` on the admin API: its JSON, `None` on 404, an error on any other refusal.
    async fn get(&self, path: &str) -> anyhow::Result<Option<Value>> {
        let request = admin_request(self.config, self.admin_url, Method::GET, path)?;
        let (status, body) = fetch(request, TIMEOUT).await?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            _ if status.is_success() => Ok(Some(serde_json::from_slice(&body)?)),
            _ => anyhow::bail!("GET {path}: {}", problem_line(status, &body)),
        }
    }
}

/// A refusal of the stages before dedup: the body cap and parsing.
fn is_parse_refusal(problem: &Problem) -> bool {
    matches!(problem.code, Code::InvalidJson | Code::PayloadTooLarge)
}

/// A stored body as the admin API shows it (`body`, `body_encoding`), as the gateway received it.
fn stored_body(record: &Value) -> Result<Vec<u8>, String> {
    let Some(body) = record["body"].as_str() else {
        return Err("its body is not kept".to_owned());
    };
    match record["body_encoding"].as_str() {
        Some("base64") => base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| format!("its kept body is not base64: {e}")),
        _ => Ok(body.as_bytes().to_vec()),
    }
}

/// An order as `GET /admin/orders/{order}` shows it: its binding and what Flow last accepted.
fn order_history(answer: &Value) -> OrderHistory {
    let last = &answer["last_sent"];
    let text = |value: &Value| value.as_str().map(str::to_owned);
    let metadata = last["metadata"].as_array().into_iter().flatten();
    OrderHistory {
        binding: binding(&answer["binding"]),
        last_sent: LastSent {
            title: text(&last["title"]),
            action_text: text(&last["action_text"]),
            metadata: metadata.filter_map(metadata_line).collect(),
            state: text(&last["state"]),
        },
    }
}

/// A metadata line as `["key", "value"]` or `{"key", "value"}`.
fn metadata_line(line: &Value) -> Option<(String, String)> {
    let (key, value) = match line {
        Value::Array(pair) => (pair.first()?, pair.get(1)?),
        _ => (&line["key"], &line["value"]),
    };
    Some((key.as_str()?.to_owned(), value.as_str()?.to_owned()))
}

fn binding(view: &Value) -> Option<Binding> {
    let bound_at = view["bound_at"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or(DateTime::UNIX_EPOCH, |t| t.with_timezone(&Utc));
    Some(Binding {
        tenant: view["tenant"].as_str()?.to_owned(),
        vendor: view["vendor"].as_str()?.to_owned(),
        case_id: view["case_id"].as_i64(),
        broker: serde_json::from_value(view["broker"].clone()).unwrap_or_default(),
        // The admin API never shows it; it only spares a token verification, which a dry run
        // does not make.
        token_hash: [0; 32],
        bound_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_order_is_read_as_the_admin_api_shows_it() {
        let answer = json!({"order_id": "o", "binding": {"tenant": "sim", "vendor": "photo",
            "case_id": 7, "broker": {"user_id": 1}, "bound_at": "2026-12-07T10:00:00Z"},
            "last_sent": {"title": "Shoot", "action_text": null,
                          "metadata": [["Photographer", "Ann"], {"key": "Rooms", "value": "4"}],
                          "state": "InProcess"},
            "deliveries": []});
        let history = order_history(&answer);
        let binding = history.binding.expect("a binding");
        assert_eq!(
            (binding.tenant.as_str(), binding.vendor.as_str()),
            ("sim", "photo")
        );
        assert_eq!(binding.broker.user_id, Some(1));
        let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            history.last_sent,
            LastSent {
                title: Some("Shoot".into()),
                action_text: None,
                metadata: pairs(&[("Photographer", "Ann"), ("Rooms", "4")]),
                state: Some("InProcess".into()),
            }
        );
        assert!(order_history(&json!({"binding": null})).binding.is_none());
    }

    #[test]
    fn a_kept_body_is_decoded_and_a_missing_one_says_so() {
        let utf8 = json!({"body": "{\"a\":1}", "body_encoding": "utf-8"});
        assert_eq!(stored_body(&utf8), Ok(b"{\"a\":1}".to_vec()));
        let base64 = json!({"body": "/w==", "body_encoding": "base64"});
        assert_eq!(stored_body(&base64), Ok(vec![0xff]));
        let missing = json!({"body": null, "body_encoding": null});
        assert_eq!(
            stored_body(&missing),
            Err("its body is not kept".to_owned())
        );
    }
}
