//! What a candidate configuration changes, per vendor: how many webhooks were replayed, how many
//! pass under the running configuration and under the candidate, which would now pass, which
//! would now be refused and why, and a unified diff of the Flow calls that differ. Printed as
//! text, or as JSON with `--json`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};
use similar::TextDiff;

use super::ReplaySource;
use crate::cli::deliveries::cell;
use crate::problem::Problem;

/// What the comparison cannot know, or takes from the running gateway: printed with it.
const ASSUMED: [&str; 4] = [
    "the candidate is not running: each stored body went through its stages here, from the body cap and parsing to routing, the FlowToken policy and the Flow calls (authentication was proven when the webhook arrived)",
    "dedup is the running gateway's: a webhook its dry run answers as a duplicate (or a duplicate-conflict) is one under the candidate too",
    "bindings and the values Flow last accepted are the running gateway's, as GET /admin/orders shows them now: both sides' Flow calls are built on them",
    "FlowTokens are not checked against Flow, on either side",
];

/// The problem code of a webhook whose vendor the candidate does not have.
const VENDOR_MISSING: &str = "unknown-vendor";

/// What one side answers a webhook: its outcome, why it refuses it, and the Flow calls.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Verdict {
    /// `accepted`, `duplicate` or `rejected`.
    pub outcome: String,
    pub code: Option<String>,
    pub detail: Option<String>,
    /// The schema's violations (`pointer`, `message`), or null.
    pub errors: Value,
    /// `{"operation", "body"}` per Flow call, in the order they are made.
    pub calls: Vec<Value>,
}

/// One stored webhook, as the running configuration and the candidate answer it.
#[derive(Clone, Debug)]
pub(super) struct Comparison {
    pub id: String,
    pub vendor: String,
    pub event_id: Value,
    pub order_id: Value,
    pub running: Verdict,
    /// The candidate's answer, or why the webhook could not be replayed.
    pub candidate: Result<Verdict, String>,
}

impl Verdict {
    /// The running gateway's `after`, as its dry run answers it.
    pub fn from_json(after: &Value) -> Verdict {
        let calls = after["calls"].as_array().into_iter().flatten();
        Verdict {
            outcome: cell(&after["outcome"]),
            code: after["code"].as_str().map(str::to_owned),
            detail: after["detail"].as_str().map(str::to_owned),
            errors: after["errors"].clone(),
            calls: calls.map(call).collect(),
        }
    }

    /// The candidate refuses the webhook with `problem`.
    pub fn refused(problem: &Problem) -> Verdict {
        Verdict {
            outcome: "rejected".to_owned(),
            code: Some(problem.code.as_str().to_owned()),
            detail: Some(problem.detail.clone()),
            errors: problem.errors.to_json(),
            calls: Vec::new(),
        }
    }

    /// The candidate has no such vendor: it refuses every webhook of theirs.
    pub fn vendor_missing(vendor: &str) -> Verdict {
        Verdict {
            outcome: "rejected".to_owned(),
            code: Some(VENDOR_MISSING.to_owned()),
            detail: Some(format!("The candidate has no vendor `{vendor}`.")),
            errors: Value::Null,
            calls: Vec::new(),
        }
    }

    /// The candidate's stages pass the webhook with `calls`.
    pub fn passed(calls: &[Value]) -> Verdict {
        Verdict {
            outcome: "accepted".to_owned(),
            code: None,
            detail: None,
            errors: Value::Null,
            calls: calls.iter().map(call).collect(),
        }
    }

    /// Whether dedup decided it: a duplicate (answered as the delivery its event id names, with
    /// no call of its own) or a duplicate-conflict.
    pub fn is_dedup_answer(&self) -> bool {
        self.outcome == "duplicate" || self.code.as_deref() == Some("duplicate-conflict")
    }

    pub fn passes(&self) -> bool {
        self.outcome != "rejected"
    }
}

/// A Flow call as both sides are compared: its operation and its body.
fn call(call: &Value) -> Value {
    json!({"operation": call["operation"], "body": call["body"]})
}

/// One vendor's share of the comparison.
#[derive(Debug, Default)]
struct VendorReport<'a> {
    in_candidate: bool,
    replayed: usize,
    passing_running: usize,
    passing_candidate: usize,
    now_passing: Vec<&'a Comparison>,
    now_refused: Vec<&'a Comparison>,
    changed: Vec<&'a Comparison>,
    not_replayed: Vec<(&'a Comparison, &'a str)>,
}

impl<'a> VendorReport<'a> {
    fn add(&mut self, compared: &'a Comparison) {
        let candidate = match &compared.candidate {
            Ok(candidate) => candidate,
            Err(why) => return self.not_replayed.push((compared, why)),
        };
        self.replayed += 1;
        self.in_candidate &= candidate.code.as_deref() != Some(VENDOR_MISSING);
        let running = &compared.running;
        self.passing_running += usize::from(running.passes());
        self.passing_candidate += usize::from(candidate.passes());
        match (running.passes(), candidate.passes()) {
            (false, true) => self.now_passing.push(compared),
            (true, false) => self.now_refused.push(compared),
            (true, true) if running.calls != candidate.calls => self.changed.push(compared),
            _ => {}
        }
    }
}

/// The comparison of a candidate with the running configuration, per vendor (by name).
pub(super) struct CandidateReport<'a> {
    file: &'a Path,
    source: ReplaySource,
    total: usize,
    vendors: BTreeMap<&'a str, VendorReport<'a>>,
}

impl<'a> CandidateReport<'a> {
    pub fn new(file: &'a Path, source: ReplaySource, compared: &'a [Comparison]) -> Self {
        let mut vendors: BTreeMap<&str, VendorReport<'_>> = BTreeMap::new();
        for one in compared {
            let report = vendors.entry(&one.vendor).or_insert_with(|| VendorReport {
                in_candidate: true,
                ..VendorReport::default()
            });
            report.add(one);
        }
        Self {
            file,
            source,
            total: compared.len(),
            vendors,
        }
    }

    pub fn to_json(&self) -> Value {
        let vendors: Vec<Value> = self
            .vendors
            .iter()
            .map(|(vendor, report)| vendor_json(vendor, report))
            .collect();
        json!({
            "candidate": self.file.display().to_string(),
            "source": self.source.as_str(),
            "dry_run": true,
            "assumed": ASSUMED,
            "vendors": vendors,
        })
    }

    pub fn to_text(&self) -> String {
        let mut lines = vec![
            format!(
                "candidate {} (not running) against the running configuration: {} {} webhook(s), dry run",
                self.file.display(),
                self.total,
                match self.source {
                    ReplaySource::Rejections => "refused",
                    ReplaySource::Accepted => "accepted",
                },
            ),
            "assumed:".to_owned(),
        ];
        lines.extend(ASSUMED.iter().map(|line| format!("  - {line}")));
        for (vendor, report) in &self.vendors {
            lines.push(String::new());
            lines.extend(vendor_text(vendor, report));
        }
        lines.join("\n")
    }
}

fn vendor_json(vendor: &str, report: &VendorReport<'_>) -> Value {
    let webhook =
        |c: &Comparison| json!({"id": c.id, "event_id": c.event_id, "order_id": c.order_id});
    let refused = |c: &&Comparison| {
        let mut line = webhook(c);
        if let Ok(candidate) = &c.candidate {
            line["code"] = json!(candidate.code);
            line["detail"] = json!(candidate.detail);
            line["errors"] = candidate.errors.clone();
        }
        line
    };
    let passing = |c: &&Comparison| {
        let mut line = webhook(c);
        line["calls"] = json!(c.candidate.as_ref().map(|v| &v.calls).ok());
        line
    };
    let changed = |c: &&Comparison| {
        let mut line = webhook(c);
        line["running"] = json!(c.running.calls);
        line["candidate"] = json!(c.candidate.as_ref().map(|v| &v.calls).ok());
        line
    };
    let not_replayed = |(c, why): &(&Comparison, &str)| json!({"id": c.id, "why": why});
    json!({
        "vendor": vendor,
        "in_candidate": report.in_candidate,
        "replayed": report.replayed,
        "passing": {"running": report.passing_running, "candidate": report.passing_candidate},
        "now_passing": report.now_passing.iter().map(passing).collect::<Vec<_>>(),
        "now_refused": report.now_refused.iter().map(refused).collect::<Vec<_>>(),
        "changed": report.changed.iter().map(changed).collect::<Vec<_>>(),
        "not_replayed": report.not_replayed.iter().map(not_replayed).collect::<Vec<_>>(),
    })
}

/// One vendor: its counts, then each webhook that now passes, is now refused (why, and each
/// schema violation), or causes other Flow calls (their diff).
fn vendor_text(vendor: &str, report: &VendorReport<'_>) -> Vec<String> {
    let mut lines = vec![format!(
        "vendor {vendor}: {} replayed; passing: {} running, {} candidate; now passing: {}, now refused: {}, calls changed: {}",
        report.replayed,
        report.passing_running,
        report.passing_candidate,
        report.now_passing.len(),
        report.now_refused.len(),
        report.changed.len(),
    )];
    if !report.in_candidate {
        lines.push(format!(
            "  not in the candidate: every webhook of `{vendor}` is refused ({VENDOR_MISSING})"
        ));
    }
    section(&mut lines, "now passing", &report.now_passing, now_passing);
    section(&mut lines, "now refused", &report.now_refused, refusal);
    section(
        &mut lines,
        "Flow calls changed",
        &report.changed,
        calls_changed,
    );
    if !report.not_replayed.is_empty() {
        lines.push("  not replayed:".to_owned());
        for (compared, why) in &report.not_replayed {
            lines.push(format!("    {}  {why}", compared.id));
        }
    }
    lines
}

/// `title:` and each webhook's lines, when there is any.
fn section(
    lines: &mut Vec<String>,
    title: &str,
    webhooks: &[&Comparison],
    render: fn(&Comparison) -> Vec<String>,
) {
    if !webhooks.is_empty() {
        lines.push(format!("  {title}:"));
        lines.extend(webhooks.iter().flat_map(|compared| render(compared)));
    }
}

/// A webhook the candidate now passes: its heading, then each Flow call it would make.
fn now_passing(compared: &Comparison) -> Vec<String> {
    let mut lines = vec![format!("    {}", heading(compared))];
    let calls = compared.candidate.as_ref().map_or(&[][..], |v| &v.calls);
    for call in calls {
        let body = serde_json::to_string(&call["body"]).unwrap_or_default();
        lines.push(format!("      {}: {body}", cell(&call["operation"])));
    }
    lines
}

/// A webhook whose Flow calls the candidate changes: its heading, then the diff.
fn calls_changed(compared: &Comparison) -> Vec<String> {
    let mut lines = vec![format!("    {}", heading(compared))];
    let candidate = compared.candidate.as_ref().map_or(&[][..], |v| &v.calls);
    let diff = call_diff(&compared.running.calls, candidate);
    lines.extend(diff.iter().map(|line| format!("      {line}")));
    lines
}

/// `ID  event EVENT  order ORDER`.
fn heading(compared: &Comparison) -> String {
    format!(
        "{}  event {}  order {}",
        compared.id,
        cell(&compared.event_id),
        cell(&compared.order_id)
    )
}

/// A webhook the candidate refuses: its heading, the code and detail, each schema violation.
fn refusal(compared: &Comparison) -> Vec<String> {
    let mut lines = vec![format!("    {}", heading(compared))];
    let Ok(candidate) = &compared.candidate else {
        return lines;
    };
    lines.push(format!(
        "      {}: {}",
        candidate.code.as_deref().unwrap_or("-"),
        candidate.detail.as_deref().unwrap_or("-")
    ));
    for error in candidate.errors.as_array().into_iter().flatten() {
        let at = error["pointer"].as_str().or(error["key"].as_str());
        lines.push(format!(
            "        {}: {}",
            at.unwrap_or_default(),
            cell(&error["message"])
        ));
    }
    lines
}

/// The unified diff of two call lists, per operation, of their bodies as pretty-printed JSON;
/// empty when every body is the same.
pub(super) fn call_diff(running: &[Value], candidate: &[Value]) -> Vec<String> {
    let mut operations: Vec<&str> = Vec::new();
    for call in running.iter().chain(candidate) {
        let operation = call["operation"].as_str().unwrap_or_default();
        if !operations.contains(&operation) {
            operations.push(operation);
        }
    }
    let mut lines = Vec::new();
    for operation in operations {
        let (old, new) = (body(running, operation), body(candidate, operation));
        if old == new {
            continue;
        }
        let side = |name: &str, text: &Option<String>| match text {
            Some(_) => format!("{name} {operation}"),
            None => format!("{name} {operation} (no such call)"),
        };
        let (old_text, new_text) = (old.as_deref().unwrap_or(""), new.as_deref().unwrap_or(""));
        let diff = TextDiff::from_lines(old_text, new_text);
        let mut unified = diff.unified_diff();
        unified.header(&side("running", &old), &side("candidate", &new));
        lines.extend(unified.to_string().lines().map(str::to_owned));
    }
    lines
}

/// The body of the `operation` call as pretty-printed JSON lines, `None` when there is none.
fn body(calls: &[Value], operation: &str) -> Option<String> {
    let call = calls.iter().find(|c| c["operation"] == operation)?;
    let pretty = serde_json::to_string_pretty(&call["body"]).unwrap_or_default();
    Some(format!("{pretty}\n"))
}

#[cfg(test)]
mod tests;
