//! The monitoring that ships in `deploy/` stays true to the binary: Prometheus's own checker and
//! unit tests pass on the alerting rules, every alert links its runbook in `docs/operations.md`,
//! the Grafana dashboard fits Grafana's dashboard model (no Grafana runs here) and follows its job
//! and instance menus, and every metric either of them names is one the gateway exports.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::client::get;
use crate::support::fixtures;
use crate::support::tls::{self, TestCa};

const DASHBOARD: &str = "deploy/grafana/flowgate.json";
const RULES: &str = "deploy/prometheus/alerts.yml";
const RULE_TESTS: &str = "deploy/prometheus/alerts.test.yml";

/// Set (to anything but empty or `0`) where a missing promtool must fail the tests: in CI.
const REQUIRE_PROMTOOL: &str = "FLOWGATE_REQUIRE_PROMTOOL";

fn path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(path(name)).unwrap_or_else(|e| panic!("cannot read {name}: {e}"))
}

// === the alerting rules ===

/// Runs `promtool <args> <file>` and fails the test unless it succeeds. Without promtool the
/// test is skipped, or fails when [`REQUIRE_PROMTOOL`] says it must not be.
fn promtool(args: &[&str], file: &str) {
    let output = match Command::new("promtool").args(args).arg(path(file)).output() {
        Ok(output) => output,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let required = std::env::var(REQUIRE_PROMTOOL).is_ok_and(|v| !v.is_empty() && v != "0");
            assert!(
                !required,
                "promtool is not on PATH and {REQUIRE_PROMTOOL} is set: install it with \
                 `apt-get install --no-install-recommends prometheus` (Debian, Ubuntu) or from \
                 https://prometheus.io/download/"
            );
            eprintln!(
                "skipped `promtool {} {file}`: promtool is not on PATH (Debian's `prometheus` \
                 package has it; set {REQUIRE_PROMTOOL}=1 to fail instead)",
                args.join(" ")
            );
            return;
        }
        Err(e) => panic!("cannot run promtool: {e}"),
    };
    assert!(
        output.status.success(),
        "`promtool {} {file}` failed ({}):\n{}{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_alerting_rules_pass_promtools_check() {
    promtool(&["check", "rules"], RULES);
}

#[test]
fn the_alerting_rules_pass_their_unit_tests() {
    promtool(&["test", "rules"], RULE_TESTS);
}

// === the dashboard ===

fn dashboard() -> Value {
    serde_json::from_str(&read(DASHBOARD)).unwrap_or_else(|e| panic!("{DASHBOARD}: {e}"))
}

/// Every panel: the top-level ones and those inside collapsed rows.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let top = dashboard["panels"].as_array().expect("`panels` is a list");
    top.iter()
        .flat_map(|panel| {
            let nested = panel["panels"].as_array().into_iter().flatten();
            std::iter::once(panel).chain(nested)
        })
        .collect()
}

fn text<'a>(value: &'a Value, key: &str, what: &str) -> &'a str {
    value[key]
        .as_str()
        .filter(|text| !text.trim().is_empty())
        .unwrap_or_else(|| panic!("{what} has no `{key}`: {value}"))
}

/// The checks Grafana's dashboard model asks of one panel.
fn check_panel(panel: &Value) {
    let title = text(panel, "title", "a panel");
    let kind = text(panel, "type", title);
    let grid = &panel["gridPos"];
    for key in ["h", "w", "x", "y"] {
        assert!(grid[key].is_u64(), "{title}: gridPos.{key} is not a number");
    }
    let (x, w) = (grid["x"].as_u64(), grid["w"].as_u64());
    assert!(
        x.zip(w).is_some_and(|(x, w)| w > 0 && x + w <= 24),
        "{title}: gridPos leaves the 24 columns"
    );
    if kind == "row" {
        return;
    }
    text(panel, "description", title);
    assert_eq!(
        panel["datasource"]["uid"], "${datasource}",
        "{title}: the panel's data source is the `datasource` variable"
    );
    let targets = panel["targets"].as_array().filter(|t| !t.is_empty());
    let targets = targets.unwrap_or_else(|| panic!("{title}: no targets"));
    for target in targets {
        text(target, "expr", title);
        text(target, "refId", title);
    }
    assert!(
        panel["fieldConfig"]["defaults"]["unit"].is_string(),
        "{title}: no unit in fieldConfig.defaults"
    );
}

#[test]
fn the_dashboard_fits_grafanas_dashboard_model() {
    let dashboard = dashboard();
    text(&dashboard, "uid", DASHBOARD);
    text(&dashboard, "title", DASHBOARD);
    assert!(dashboard["schemaVersion"].is_u64(), "no schemaVersion");
    let panels = panels(&dashboard);
    let mut ids = BTreeSet::new();
    for panel in &panels {
        check_panel(panel);
        let id = panel["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("no id: {panel}"));
        assert!(ids.insert(id), "panel id {id} is used twice");
    }
    assert!(panels.iter().any(|p| p["type"] != "row"), "no panels");
}

/// The query of a template variable: a string, or an object holding it (newer Grafana).
fn variable_query(variable: &Value) -> &str {
    let query = &variable["query"];
    query
        .as_str()
        .or(query["query"].as_str())
        .unwrap_or_default()
}

#[test]
fn the_dashboard_filters_by_job_instance_vendor_and_tenant_on_a_chosen_data_source() {
    let dashboard = dashboard();
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("templating.list");
    let variable = |name: &str| {
        variables
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no template variable `{name}`"))
    };
    let source = variable("datasource");
    assert_eq!(source["type"], "datasource");
    assert_eq!(source["query"], "prometheus");
    for (name, metric) in [
        ("job", "flowgate_build_info"),
        ("instance", "flowgate_build_info{job=~\"$job\"}"),
        ("vendor", "flowgate_webhooks_received_total"),
        ("tenant", "flowgate_flow_requests_total"),
    ] {
        let filter = variable(name);
        assert_eq!(filter["type"], "query", "{name}");
        assert_eq!(
            variable_query(filter).replace(' ', ""),
            format!("label_values({metric},{name})"),
            "{name}"
        );
        assert_eq!(filter["multi"], true, "{name}");
        assert_eq!(filter["includeAll"], true, "{name}");
        assert_eq!(filter["allValue"], ".*", "{name}");
    }
}

/// Every series selector of a PromQL expression, `(metric, matchers)`, for the metrics a replica
/// exports (`flowgate_…`) and Prometheus's `up`; the matchers are empty without braces.
fn selectors(expr: &str) -> Vec<(String, String)> {
    let is_name = |c: &char| c.is_ascii_alphanumeric() || *c == '_' || *c == ':';
    let chars: Vec<char> = expr.chars().collect();
    let (mut found, mut at, mut quoted) = (Vec::new(), 0, false);
    while at < chars.len() {
        let c = chars[at];
        if c == '"' {
            quoted = !quoted;
        }
        if quoted || !(c.is_ascii_alphabetic() || c == '_') {
            at += 1;
            continue;
        }
        let start = at;
        while chars.get(at).is_some_and(is_name) {
            at += 1;
        }
        let name: String = chars[start..at].iter().collect();
        if !(name.starts_with("flowgate_") || name == "up") {
            continue;
        }
        let mut matchers = String::new();
        if chars.get(at) == Some(&'{') {
            let end = chars[at..].iter().position(|c| *c == '}');
            let end = at + end.unwrap_or_else(|| panic!("unclosed braces in {expr}"));
            matchers = chars[at + 1..end].iter().collect();
            at = end + 1;
        }
        found.push((name, matchers));
    }
    found
}

#[test]
fn every_panel_follows_the_job_and_instance_menus_and_shows_unscraped_replicas() {
    let dashboard = dashboard();
    for panel in panels(&dashboard) {
        let title = panel["title"].as_str().unwrap_or_default();
        let targets = panel["targets"].as_array().into_iter().flatten();
        let exprs: Vec<&str> = targets.filter_map(|t| t["expr"].as_str()).collect();
        for expr in &exprs {
            let found = selectors(expr);
            assert!(!found.is_empty(), "{title}: no series in `{expr}`");
            for (metric, matchers) in found {
                assert!(
                    matchers.contains(r#"job=~"$job""#)
                        && matchers.contains(r#"instance=~"$instance""#),
                    "{title}: {metric} in `{expr}` is not filtered by the job and instance menus"
                );
            }
        }
        // A replica that is no longer scraped has no flowgate_ready: only `up` still speaks for it.
        let readiness = exprs.iter().any(|e| e.contains("flowgate_ready"));
        let scraped = exprs
            .iter()
            .any(|e| selectors(e).iter().any(|(metric, _)| metric == "up"));
        assert!(
            !readiness || scraped,
            "{title}: shows flowgate_ready without `up`, so a replica that is no longer scraped \
             disappears from it"
        );
    }
}

// === the runbooks ===

const RUNBOOKS: &str = "docs/operations.md";

/// `(alert, runbook_url)` of every alerting rule. The rules keep one key a line (promtool checks
/// the YAML itself), so the file is read line by line.
fn alert_runbooks(rules: &str) -> Vec<(String, Option<String>)> {
    let mut alerts: Vec<(String, Option<String>)> = Vec::new();
    for line in rules.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("- alert:") {
            alerts.push((name.trim().to_owned(), None));
        } else if let Some(url) = line.strip_prefix("runbook_url:") {
            let (alert, runbook) = alerts.last_mut().expect("a runbook_url outside any alert");
            assert!(runbook.is_none(), "{alert} has two runbook_url");
            *runbook = Some(url.trim().trim_matches(['"', '\'']).to_owned());
        }
    }
    alerts
}

/// The anchors GitHub gives a Markdown file's headings: lower case, spaces as hyphens, other
/// punctuation dropped. Lines in code blocks are not headings.
fn heading_anchors(markdown: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut anchors = BTreeSet::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        let Some(heading) = line.strip_prefix('#').filter(|_| !in_code) else {
            continue;
        };
        let text = heading.trim_start_matches('#').trim().to_lowercase();
        let anchor: String = text
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        anchors.insert(anchor);
    }
    anchors
}

#[test]
fn every_alert_links_its_runbook_in_the_operations_guide() {
    let alerts = alert_runbooks(&read(RULES));
    assert!(!alerts.is_empty(), "no alert in {RULES}");
    let anchors = heading_anchors(&read(RUNBOOKS));
    for (alert, runbook) in alerts {
        let runbook = runbook.unwrap_or_else(|| panic!("{alert} has no runbook_url annotation"));
        let (file, anchor) = runbook
            .split_once('#')
            .unwrap_or_else(|| panic!("{alert}: runbook_url {runbook} names no section"));
        assert_eq!(
            file, RUNBOOKS,
            "{alert}: runbook_url {runbook} is not in {RUNBOOKS}"
        );
        assert_eq!(
            anchor,
            alert.to_lowercase(),
            "{alert}: its runbook is the section named after it"
        );
        assert!(
            anchors.contains(anchor),
            "{alert}: {RUNBOOKS} has no heading with the anchor #{anchor}"
        );
    }
}

// === the metrics they use ===

/// Every `flowgate_…` name in `text`, as written (histogram series with their suffix). Whole
/// files are read, so descriptions and comments must name real metrics too.
fn metric_names(text: &str) -> BTreeSet<String> {
    const PREFIX: &str = "flowgate_";
    let is_name = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    text.match_indices(PREFIX)
        .filter(|(at, _)| {
            let before = text[..*at].chars().next_back();
            !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        })
        .map(|(at, _)| {
            let rest = &text[at..];
            let end = rest.find(|c: char| !is_name(c)).unwrap_or(rest.len());
            rest[..end].to_owned()
        })
        .collect()
}

/// `name → type` of every `# TYPE name type` line of a Prometheus exposition.
fn exported_types(exposition: &str) -> BTreeMap<String, String> {
    exposition
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| {
            let mut words = rest.split_whitespace();
            Some((words.next()?.to_owned(), words.next()?.to_owned()))
        })
        .collect()
}

/// Whether a query's `name` is a series of an exported metric: the metric itself, or a
/// histogram's `_bucket`, `_sum` or `_count`.
fn is_exported(name: &str, types: &BTreeMap<String, String>) -> bool {
    types.contains_key(name)
        || ["_bucket", "_sum", "_count"].iter().any(|suffix| {
            name.strip_suffix(suffix)
                .and_then(|base| types.get(base))
                .is_some_and(|kind| kind == "histogram")
        })
}

#[tokio::test]
async fn every_metric_the_dashboard_and_rules_use_is_exported_from_start_up() {
    let mut used = metric_names(&read(DASHBOARD));
    used.extend(metric_names(&read(RULES)));
    assert!(
        !used.is_empty(),
        "no flowgate metric found in {DASHBOARD} or {RULES}"
    );

    // Vendors and a tenant configured, TLS served (its expiry is exported only then), nothing
    // sent: every metric must be there already.
    let certificate = TestCa::new("deploy CA").server();
    let files = tls::server_files(&certificate);
    let gw = fixtures::gateway_with_files(&tls::server_table("", ""), "", &files).await;
    let reply = get(&gw.admin_url("/metrics")).await;
    let exposition = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, 200, "GET /metrics: {exposition}");
    let types = exported_types(&exposition);

    let missing: Vec<&String> = used.iter().filter(|n| !is_exported(n, &types)).collect();
    assert!(
        missing.is_empty(),
        "used in {DASHBOARD} or {RULES} but not exported (no `# TYPE` line): {missing:?}\n\
         exported: {:?}",
        types.keys().collect::<Vec<_>>()
    );
}
