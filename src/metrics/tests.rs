use std::time::Duration;

use chrono::{TimeDelta, Utc};

use super::*;

fn metrics() -> Metrics {
    Metrics::new(["photo", "print"], ["demo"])
}

/// The value of the series written exactly as `series` (name and labels), if exported.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().expect("a number"))
}

fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{{{}}}", inner.join(","))
}

#[test]
fn every_metric_has_help_and_type_lines() {
    let metrics = metrics();
    // Set from the configuration the gateway runs.
    metrics.set_config_hash("00112233aabbccdd");
    // Exported only while TLS is served.
    metrics.tls_cert_expiry().set(1.0);
    let text = metrics.render();
    for family in FAMILIES {
        let kind = match family.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let help = format!("# HELP {} {}\n", family.name, family.help);
        let type_line = format!("# TYPE {} {kind}\n", family.name);
        assert!(text.contains(&help), "{help}in\n{text}");
        assert!(text.contains(&type_line), "{type_line}in\n{text}");
    }
}

#[test]
fn the_config_info_series_names_only_the_running_hash() {
    let metrics = metrics();
    assert_eq!(value(&metrics.render(), "flowgate_config_info"), None);
    metrics.set_config_hash("00112233aabbccdd");
    metrics.set_config_hash("ffeeddccbbaa9988");
    let text = metrics.render();
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("flowgate_config_info"))
        .collect();
    assert_eq!(
        series,
        [r#"flowgate_config_info{hash="ffeeddccbbaa9988"} 1"#]
    );
}

#[test]
fn names_follow_the_convention() {
    for family in FAMILIES {
        assert!(
            family.name.starts_with("flowgate_") || family.name.starts_with("process_"),
            "{}",
            family.name
        );
        assert_eq!(
            family.kind == Kind::Counter,
            family.name.ends_with("_total"),
            "{}",
            family.name
        );
        assert_eq!(
            family.unit == Some(Unit::Seconds),
            family.name.ends_with("_seconds"),
            "{}",
            family.name
        );
        assert_eq!(
            family.kind == Kind::Histogram,
            !family.buckets.is_empty(),
            "{}: buckets exactly for histograms",
            family.name
        );
        assert!(family.buckets.is_sorted(), "{}", family.name);
    }
}

#[test]
fn every_configured_series_is_exported_at_zero_from_the_start() {
    let text = metrics().render();
    for vendor in ["photo", "print", UNKNOWN_VENDOR] {
        for outcome in Outcome::ALL {
            let series = labels(&[("vendor", vendor), ("outcome", outcome.as_str())]);
            let name = format!("flowgate_webhooks_received_total{series}");
            assert_eq!(value(&text, &name), Some(0.0), "{name}");
        }
        for reason in SignatureReason::ALL {
            let series = labels(&[("vendor", vendor), ("reason", reason.as_str())]);
            let name = format!("flowgate_signature_failures_total{series}");
            assert_eq!(value(&text, &name), Some(0.0), "{name}");
        }
        for field in TruncatedField::ALL {
            let series = labels(&[("vendor", vendor), ("field", field.as_str())]);
            let name = format!("flowgate_fields_truncated_total{series}");
            assert_eq!(value(&text, &name), Some(0.0), "{name}");
        }
        for result in DeliveryResult::ALL {
            let series = labels(&[("vendor", vendor), ("result", result.as_str())]);
            let name = format!("flowgate_deliveries_total{series}");
            assert_eq!(value(&text, &name), Some(0.0), "{name}");
        }
        for code in RejectedCode::ALL {
            let series = labels(&[("vendor", vendor), ("code", code.as_str())]);
            let name = format!("flowgate_rejections_stored_total{series}");
            assert_eq!(value(&text, &name), Some(0.0), "{name}");
        }
        for histogram in [
            "flowgate_webhook_duration_seconds",
            "flowgate_delivery_lag_seconds",
        ] {
            let name = format!("{histogram}_count{}", labels(&[("vendor", vendor)]));
            assert_eq!(value(&text, &name), Some(0.0), "{name}");
        }
    }
    for result in TokenResult::ALL {
        let series = labels(&[("tenant", "demo"), ("result", result.as_str())]);
        let name = format!("flowgate_token_verifications_total{series}");
        assert_eq!(value(&text, &name), Some(0.0), "{name}");
    }
    for operation in Operation::ALL {
        for class in StatusClass::ALL {
            let series = labels(&[
                ("tenant", "demo"),
                ("operation", operation.as_str()),
                ("status_class", class.as_str()),
            ]);
            let name = format!("flowgate_flow_requests_total{series}");
            assert_eq!(value(&text, &name), Some(0.0), "{name}");
        }
        let series = labels(&[("tenant", "demo"), ("operation", operation.as_str())]);
        let name = format!("flowgate_flow_request_duration_seconds_count{series}");
        assert_eq!(value(&text, &name), Some(0.0), "{name}");
    }
    for cause in ThrottleCause::ALL {
        let series = labels(&[("tenant", "demo"), ("cause", cause.as_str())]);
        let name = format!("flowgate_flow_throttled_total{series}");
        assert_eq!(value(&text, &name), Some(0.0), "{name}");
    }
    let circuit = format!("flowgate_circuit_open{}", labels(&[("tenant", "demo")]));
    assert_eq!(value(&text, &circuit), Some(0.0));
    for state in QueueState::ALL {
        let name = format!(
            "flowgate_queue_depth{}",
            labels(&[("state", state.as_str())])
        );
        assert_eq!(value(&text, &name), Some(0.0), "{name}");
    }
    for state in ["pending", "retrying"] {
        let name = format!(
            "flowgate_queue_oldest_age_seconds{}",
            labels(&[("state", state)])
        );
        assert_eq!(value(&text, &name), Some(0.0), "{name}");
    }
    assert_eq!(value(&text, "flowgate_ready"), Some(0.0));
    assert_eq!(value(&text, "flowgate_store_ready"), Some(0.0));
    assert_eq!(value(&text, "flowgate_rejections_dropped_total"), Some(0.0));
    let version = labels(&[("version", env!("CARGO_PKG_VERSION"))]);
    assert_eq!(
        value(&text, &format!("flowgate_build_info{version}")),
        Some(1.0)
    );
}

#[test]
fn an_unconfigured_vendor_is_counted_as_unknown() {
    let metrics = metrics();
    let stranger = metrics.vendor("no-such-vendor");
    assert_eq!(stranger.name(), UNKNOWN_VENDOR);
    stranger.received(Outcome::UnknownVendor, Duration::from_millis(1));
    metrics
        .vendor("photo")
        .received(Outcome::Accepted, Duration::from_millis(2));
    let text = metrics.render();
    let unknown = labels(&[("vendor", "unknown"), ("outcome", "unknown_vendor")]);
    let photo = labels(&[("vendor", "photo"), ("outcome", "accepted")]);
    assert_eq!(
        value(&text, &format!("flowgate_webhooks_received_total{unknown}")),
        Some(1.0)
    );
    assert_eq!(
        value(&text, &format!("flowgate_webhooks_received_total{photo}")),
        Some(1.0)
    );
    assert!(
        !text.contains("no-such-vendor"),
        "labels come from config only"
    );
    let bucket = labels(&[("vendor", "unknown"), ("le", "0.001")]);
    assert_eq!(
        value(
            &text,
            &format!("flowgate_webhook_duration_seconds_bucket{bucket}")
        ),
        Some(1.0)
    );
}

#[test]
fn handles_count_where_their_labels_say() {
    let metrics = metrics();
    let photo = metrics.vendor("photo");
    photo.signature_failure(SignatureReason::Expired);
    photo.truncated("action_text");
    photo.delivered(Duration::from_secs(7));
    photo.retried();
    photo.dead();
    photo.rejection_kept(RejectedCode::SchemaViolation);
    let demo = metrics.tenant("demo");
    demo.token_verified(TokenResult::Cached);
    demo.flow_request(
        Operation::AuthToken,
        StatusClass::Timeout,
        Duration::from_secs(1),
    );
    demo.throttled(ThrottleCause::Flow429);
    demo.set_circuit_open(true);
    metrics
        .tenant("not-configured")
        .throttled(ThrottleCause::Bucket);
    let text = metrics.render();
    let expect = [
        (
            "flowgate_signature_failures_total",
            vec![("vendor", "photo"), ("reason", "expired")],
        ),
        (
            "flowgate_fields_truncated_total",
            vec![("vendor", "photo"), ("field", "action_text")],
        ),
        (
            "flowgate_deliveries_total",
            vec![("vendor", "photo"), ("result", "delivered")],
        ),
        (
            "flowgate_deliveries_total",
            vec![("vendor", "photo"), ("result", "retried")],
        ),
        (
            "flowgate_deliveries_total",
            vec![("vendor", "photo"), ("result", "dead")],
        ),
        (
            "flowgate_delivery_lag_seconds_count",
            vec![("vendor", "photo")],
        ),
        (
            "flowgate_delivery_lag_seconds_bucket",
            vec![("vendor", "photo"), ("le", "15")],
        ),
        (
            "flowgate_token_verifications_total",
            vec![("tenant", "demo"), ("result", "cached")],
        ),
        (
            "flowgate_flow_requests_total",
            vec![
                ("tenant", "demo"),
                ("operation", "auth_token"),
                ("status_class", "timeout"),
            ],
        ),
        (
            "flowgate_flow_throttled_total",
            vec![("tenant", "demo"), ("cause", "flow_429")],
        ),
        ("flowgate_circuit_open", vec![("tenant", "demo")]),
        (
            "flowgate_rejections_stored_total",
            vec![("vendor", "photo"), ("code", "schema-violation")],
        ),
    ];
    for (name, pairs) in expect {
        let series = format!("{name}{}", labels(&pairs));
        assert_eq!(value(&text, &series), Some(1.0), "{series}");
    }
    let lag_le_5 = labels(&[("vendor", "photo"), ("le", "5")]);
    assert_eq!(
        value(
            &text,
            &format!("flowgate_delivery_lag_seconds_bucket{lag_le_5}")
        ),
        Some(0.0)
    );
    assert!(!text.contains("not-configured"));
}

#[test]
fn dropped_rejections_are_counted_as_one_series() {
    let metrics = metrics();
    metrics.rejections_dropped(3);
    metrics.rejections_dropped(2);
    let text = metrics.render();
    assert_eq!(value(&text, "flowgate_rejections_dropped_total"), Some(5.0));
}

#[test]
fn queue_gauges_describe_the_store_and_ready_follows_readiness() {
    let metrics = metrics();
    let now = Utc::now();
    let depth = QueueDepth {
        pending: 3,
        in_flight: 1,
        retrying: 2,
        dead: 5,
        oldest_pending: Some(now - TimeDelta::seconds(90)),
        oldest_retrying: None,
    };
    metrics.set_queue(&depth, now);
    metrics.set_ready(true);
    metrics.set_store_ready(true);
    let text = metrics.render();
    for (state, count) in [
        ("pending", 3.0),
        ("in_flight", 1.0),
        ("retrying", 2.0),
        ("dead", 5.0),
    ] {
        let name = format!("flowgate_queue_depth{}", labels(&[("state", state)]));
        assert_eq!(value(&text, &name), Some(count), "{name}");
    }
    let age = |state| {
        let name = format!(
            "flowgate_queue_oldest_age_seconds{}",
            labels(&[("state", state)])
        );
        value(&text, &name)
    };
    assert_eq!(age("pending"), Some(90.0));
    assert_eq!(age("retrying"), Some(0.0));
    assert_eq!(value(&text, "flowgate_ready"), Some(1.0));
    assert_eq!(value(&text, "flowgate_store_ready"), Some(1.0));
}

#[test]
fn the_tls_expiry_gauge_is_absent_until_a_certificate_is_served() {
    let metrics = metrics();
    let name = "flowgate_tls_cert_expiry_timestamp_seconds";
    assert!(!metrics.render().contains(name));
    metrics.tls_cert_expiry().set(1_800_000_000.0);
    assert_eq!(value(&metrics.render(), name), Some(1_800_000_000.0));
    metrics.tls_cert_expiry().set(1_900_000_000.0);
    assert_eq!(
        value(&metrics.render(), name),
        Some(1_900_000_000.0),
        "one series, set again"
    );
}

#[test]
fn gateways_in_one_process_count_apart() {
    let (one, two) = (metrics(), metrics());
    one.vendor("photo")
        .received(Outcome::Duplicate, Duration::ZERO);
    let series = format!(
        "flowgate_webhooks_received_total{}",
        labels(&[("vendor", "photo"), ("outcome", "duplicate")])
    );
    assert_eq!(value(&one.render(), &series), Some(1.0));
    assert_eq!(value(&two.render(), &series), Some(0.0));
}

#[test]
fn label_sets_are_the_contracts() {
    let strings = |all: &[&str]| all.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(
        Outcome::ALL.map(Outcome::as_str).to_vec(),
        strings(&[
            "accepted",
            "delivered",
            "duplicate",
            "unknown_vendor",
            "ip_not_allowed",
            "unsupported_media_type",
            "too_large",
            "timeout",
            "unauthenticated",
            "rate_limited",
            "invalid_json",
            "duplicate_conflict",
            "schema_invalid",
            "mapping_failed",
            "tenant_rejected",
            "tenant_unresolved",
            "token_rejected",
            "flow_rejected",
            "flow_timeout",
            "overloaded",
            "unavailable",
            "internal",
        ])
    );
    assert_eq!(
        StatusClass::ALL.map(StatusClass::as_str),
        ["2xx", "3xx", "4xx", "5xx", "timeout", "error"]
    );
    assert_eq!(
        Operation::ALL.map(Operation::as_str),
        ["auth_token", "verify_token", "patch", "updatestate"]
    );
    assert_eq!(
        TokenResult::ALL.map(TokenResult::as_str),
        ["valid", "cached", "invalid", "mismatch", "error"]
    );
}

/// The codes kept are the problem codes of section 17's refusals, spelled as the answers spell
/// them, and only those.
#[test]
fn rejected_codes_are_the_problem_codes_of_kept_refusals() {
    use crate::problem::Code;
    let kept = [
        Code::InvalidJson,
        Code::DuplicateConflict,
        Code::SchemaViolation,
        Code::MappingFailed,
        Code::TenantUnresolved,
        Code::TenantNotAllowed,
        Code::OrderNotAllowed,
        Code::FlowTokenMissing,
        Code::FlowTokenInvalid,
        Code::FlowTokenMismatch,
    ];
    assert_eq!(
        RejectedCode::ALL.map(RejectedCode::as_str),
        kept.map(Code::as_str)
    );
    for code in RejectedCode::ALL {
        assert_eq!(RejectedCode::parse(code.as_str()), Some(code));
    }
    for refused_unkept in [
        Code::SignatureInvalid,
        Code::PayloadTooLarge,
        Code::RateLimited,
    ] {
        assert_eq!(RejectedCode::parse(refused_unkept.as_str()), None);
    }
}

#[test]
fn flow_statuses_fall_in_their_class() {
    assert_eq!(
        StatusClass::of(http::StatusCode::TOO_MANY_REQUESTS),
        StatusClass::ClientError
    );
    assert_eq!(
        StatusClass::of(http::StatusCode::PERMANENT_REDIRECT),
        StatusClass::Redirection
    );
}
