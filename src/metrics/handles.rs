//! The handles components count with: one vendor's or one tenant's series, registered once at
//! start-up, each counted by indexing an array with a closed label value.

use std::sync::Arc;
use std::time::Duration;

use ::metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::PrometheusRecorder;

use super::last_hour::{HourCounts, LastHour};
use super::{
    CIRCUIT_OPEN, DELIVERIES, DELIVERY_LAG, DeliveryResult, FIELDS_TRUNCATED,
    FLOW_REQUEST_DURATION, FLOW_REQUESTS, FLOW_THROTTLED, Family, Kind, Operation, Outcome,
    PAYLOAD_UNKNOWN_FIELDS, REJECTIONS_STORED, RejectedCode, SHADOW_VIOLATIONS, SIGNATURE_FAILURES,
    SignatureReason, StatusClass, TENANT_PAUSED, TOKEN_VERIFICATIONS, ThrottleCause, TokenResult,
    TruncatedField, WEBHOOK_DURATION, WEBHOOKS_RECEIVED,
};

/// Registers series on one recorder.
pub(super) struct Series<'a>(pub(super) &'a PrometheusRecorder);

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

impl Series<'_> {
    fn key(family: &Family, labels: &[(&'static str, &str)]) -> Key {
        debug_assert_eq!(
            labels.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
            family.labels,
            "{} takes exactly its declared labels",
            family.name
        );
        let labels: Vec<Label> = labels
            .iter()
            .map(|(name, value)| Label::new(*name, (*value).to_owned()))
            .collect();
        Key::from_parts(family.name, labels)
    }

    pub(super) fn counter(&self, family: &Family, labels: &[(&'static str, &str)]) -> Counter {
        debug_assert_eq!(family.kind, Kind::Counter);
        self.0
            .register_counter(&Self::key(family, labels), &METADATA)
    }

    pub(super) fn gauge(&self, family: &Family, labels: &[(&'static str, &str)]) -> Gauge {
        debug_assert_eq!(family.kind, Kind::Gauge);
        self.0.register_gauge(&Self::key(family, labels), &METADATA)
    }

    fn histogram(&self, family: &Family, labels: &[(&'static str, &str)]) -> Histogram {
        debug_assert_eq!(family.kind, Kind::Histogram);
        self.0
            .register_histogram(&Self::key(family, labels), &METADATA)
    }
}

/// One vendor's series (or `unknown`'s). Cheap to clone.
#[derive(Clone)]
pub struct VendorMetrics {
    series: Arc<VendorSeries>,
}

struct VendorSeries {
    name: String,
    received: [Counter; Outcome::COUNT],
    duration: Histogram,
    signature_failures: [Counter; SignatureReason::COUNT],
    truncated: [Counter; TruncatedField::COUNT],
    deliveries: [Counter; DeliveryResult::COUNT],
    lag: Histogram,
    rejections: [Counter; RejectedCode::COUNT],
    shadow_violations: Counter,
    unknown_fields: Counter,
    last_hour: LastHour,
}

impl VendorMetrics {
    pub(super) fn register(series: &Series<'_>, vendor: &str) -> VendorMetrics {
        let by =
            |name: &'static str| move |value: &'static str| [("vendor", vendor), (name, value)];
        let (outcome, reason) = (by("outcome"), by("reason"));
        let (field, result, code) = (by("field"), by("result"), by("code"));
        let vendor_only = [("vendor", vendor)];
        let series = VendorSeries {
            name: vendor.to_owned(),
            received: Outcome::ALL
                .map(|o| series.counter(&WEBHOOKS_RECEIVED, &outcome(o.as_str()))),
            duration: series.histogram(&WEBHOOK_DURATION, &vendor_only),
            signature_failures: SignatureReason::ALL
                .map(|r| series.counter(&SIGNATURE_FAILURES, &reason(r.as_str()))),
            truncated: TruncatedField::ALL
                .map(|f| series.counter(&FIELDS_TRUNCATED, &field(f.as_str()))),
            deliveries: DeliveryResult::ALL
                .map(|r| series.counter(&DELIVERIES, &result(r.as_str()))),
            lag: series.histogram(&DELIVERY_LAG, &vendor_only),
            rejections: RejectedCode::ALL
                .map(|c| series.counter(&REJECTIONS_STORED, &code(c.as_str()))),
            shadow_violations: series.counter(&SHADOW_VIOLATIONS, &vendor_only),
            unknown_fields: series.counter(&PAYLOAD_UNKNOWN_FIELDS, &vendor_only),
            last_hour: LastHour::new(),
        };
        VendorMetrics {
            series: Arc::new(series),
        }
    }

    /// The vendor label: the configured name, or `unknown`.
    pub fn name(&self) -> &str {
        &self.series.name
    }

    /// One webhook answered with `outcome`, `took` after it arrived.
    pub fn received(&self, outcome: Outcome, took: Duration) {
        self.series.received[outcome as usize].increment(1);
        self.series.duration.record(took.as_secs_f64());
        self.series.last_hour.record(outcome);
    }

    /// The webhooks this process answered for the vendor in the last hour (not a series: the
    /// admin overview's figures).
    pub fn last_hour(&self) -> HourCounts {
        self.series.last_hour.counts()
    }

    pub fn signature_failure(&self, reason: SignatureReason) {
        self.series.signature_failures[reason as usize].increment(1);
    }

    /// A field the mapping cut, by its canonical name (`Mapped::truncated`).
    pub fn truncated(&self, field: &str) {
        match TruncatedField::ALL.iter().find(|f| f.as_str() == field) {
            Some(field) => self.series.truncated[*field as usize].increment(1),
            None => debug_assert!(false, "`{field}` is not a field the mapping cuts"),
        }
    }

    /// A delivery's last operation reached Flow, `lag` after the webhook was accepted.
    pub fn delivered(&self, lag: Duration) {
        self.series.deliveries[DeliveryResult::Delivered as usize].increment(1);
        self.series.lag.record(lag.as_secs_f64());
    }

    /// A delivery turn ended with the delivery rescheduled.
    pub fn retried(&self) {
        self.series.deliveries[DeliveryResult::Retried as usize].increment(1);
    }

    /// A delivery went dead.
    pub fn dead(&self) {
        self.series.deliveries[DeliveryResult::Dead as usize].increment(1);
    }

    /// A refused webhook was kept as a rejection.
    pub fn rejection_kept(&self, code: RejectedCode) {
        self.series.rejections[code as usize].increment(1);
    }

    /// A webhook its live schema accepted broke its shadow schema.
    pub fn shadow_violated(&self) {
        self.series.shadow_violations.increment(1);
    }

    /// A webhook its schema accepted carried properties the schema does not declare.
    pub fn unknown_fields(&self) {
        self.series.unknown_fields.increment(1);
    }
}

/// One tenant's series. Cheap to clone.
#[derive(Clone)]
pub struct TenantMetrics {
    series: Arc<TenantSeries>,
}

struct TenantSeries {
    tokens: [Counter; TokenResult::COUNT],
    requests: [[Counter; StatusClass::COUNT]; Operation::COUNT],
    durations: [Histogram; Operation::COUNT],
    throttled: [Counter; ThrottleCause::COUNT],
    circuit_open: Gauge,
    paused: Gauge,
}

impl TenantMetrics {
    pub(super) fn register(series: &Series<'_>, tenant: &str) -> TenantMetrics {
        let by =
            |name: &'static str| move |value: &'static str| [("tenant", tenant), (name, value)];
        let (result, cause) = (by("result"), by("cause"));
        let requests = |operation: Operation| {
            StatusClass::ALL.map(|class| {
                let labels = [
                    ("tenant", tenant),
                    ("operation", operation.as_str()),
                    ("status_class", class.as_str()),
                ];
                series.counter(&FLOW_REQUESTS, &labels)
            })
        };
        let duration = |operation: Operation| {
            let labels = [("tenant", tenant), ("operation", operation.as_str())];
            series.histogram(&FLOW_REQUEST_DURATION, &labels)
        };
        let tenant_series = TenantSeries {
            tokens: TokenResult::ALL
                .map(|r| series.counter(&TOKEN_VERIFICATIONS, &result(r.as_str()))),
            requests: Operation::ALL.map(requests),
            durations: Operation::ALL.map(duration),
            throttled: ThrottleCause::ALL
                .map(|c| series.counter(&FLOW_THROTTLED, &cause(c.as_str()))),
            circuit_open: series.gauge(&CIRCUIT_OPEN, &[("tenant", tenant)]),
            paused: series.gauge(&TENANT_PAUSED, &[("tenant", tenant)]),
        };
        TenantMetrics {
            series: Arc::new(tenant_series),
        }
    }

    /// Handles that count nowhere.
    pub fn detached() -> TenantMetrics {
        TenantMetrics {
            series: Arc::new(TenantSeries {
                tokens: std::array::from_fn(|_| Counter::noop()),
                requests: std::array::from_fn(|_| std::array::from_fn(|_| Counter::noop())),
                durations: std::array::from_fn(|_| Histogram::noop()),
                throttled: std::array::from_fn(|_| Counter::noop()),
                circuit_open: Gauge::noop(),
                paused: Gauge::noop(),
            }),
        }
    }

    pub fn token_verified(&self, result: TokenResult) {
        self.series.tokens[result as usize].increment(1);
    }

    /// One HTTP request to Flow, answered or not, that took `took`.
    pub fn flow_request(&self, operation: Operation, class: StatusClass, took: Duration) {
        let operation = operation as usize;
        self.series.requests[operation][class as usize].increment(1);
        self.series.durations[operation].record(took.as_secs_f64());
    }

    pub fn throttled(&self, cause: ThrottleCause) {
        self.series.throttled[cause as usize].increment(1);
    }

    pub fn set_circuit_open(&self, open: bool) {
        self.series.circuit_open.set(if open { 1.0 } else { 0.0 });
    }

    pub fn set_paused(&self, paused: bool) {
        self.series.paused.set(if paused { 1.0 } else { 0.0 });
    }
}
