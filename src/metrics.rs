//! THE one list of metric names, help texts, units and closed label sets (contract section 11).
//! Components count through typed handles (`handles.rs`) that [`Metrics`] (`registry.rs`) builds
//! once per gateway, so every series of every configured vendor and tenant is exported at 0 from
//! start-up, and the hot path indexes an array: it never formats or allocates.

use ::metrics::Unit;

/// What a metric counts, and how it is exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One metric: its name (`flowgate_<name>_<unit>[_total]`), type, help text, unit, labels and,
/// for a histogram, its buckets.
#[derive(Clone, Copy, Debug)]
pub struct Family {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    pub unit: Option<Unit>,
    pub labels: &'static [&'static str],
    pub buckets: &'static [f64],
}

const fn family(
    name: &'static str,
    kind: Kind,
    help: &'static str,
    labels: &'static [&'static str],
) -> Family {
    Family {
        name,
        kind,
        help,
        unit: None,
        labels,
        buckets: &[],
    }
}

const fn seconds(
    name: &'static str,
    kind: Kind,
    help: &'static str,
    labels: &'static [&'static str],
    buckets: &'static [f64],
) -> Family {
    Family {
        name,
        kind,
        help,
        unit: Some(Unit::Seconds),
        labels,
        buckets,
    }
}

pub const WEBHOOKS_RECEIVED: Family = family(
    "flowgate_webhooks_received_total",
    Kind::Counter,
    "Webhooks answered, by vendor (unknown for an unconfigured one) and outcome.",
    &["vendor", "outcome"],
);
pub const WEBHOOK_DURATION: Family = seconds(
    "flowgate_webhook_duration_seconds",
    Kind::Histogram,
    "Time from a webhook's arrival to its answer, by vendor.",
    &["vendor"],
    // A queued webhook answers in about a millisecond; a sync one waits for Flow, up to the
    // request's deadline.
    &[
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ],
);
pub const SIGNATURE_FAILURES: Family = family(
    "flowgate_signature_failures_total",
    Kind::Counter,
    "Webhooks that failed vendor authentication, by vendor and reason.",
    &["vendor", "reason"],
);
pub const FIELDS_TRUNCATED: Family = family(
    "flowgate_fields_truncated_total",
    Kind::Counter,
    "Mapped fields cut to limits.max_field_chars, by vendor and canonical field.",
    &["vendor", "field"],
);
pub const TOKEN_VERIFICATIONS: Family = family(
    "flowgate_token_verifications_total",
    Kind::Counter,
    "FlowToken verifications, by tenant and result (cached: valid from the cache).",
    &["tenant", "result"],
);
pub const FLOW_REQUESTS: Family = family(
    "flowgate_flow_requests_total",
    Kind::Counter,
    "HTTP requests sent to Flow, by tenant, operation and status class (timeout and error: no answer).",
    &["tenant", "operation", "status_class"],
);
pub const FLOW_REQUEST_DURATION: Family = seconds(
    "flowgate_flow_request_duration_seconds",
    Kind::Histogram,
    "Time one HTTP request to Flow took, answered or not, by tenant and operation.",
    &["tenant", "operation"],
    &[
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0,
    ],
);
pub const DELIVERIES: Family = family(
    "flowgate_deliveries_total",
    Kind::Counter,
    "Delivery turns by how they ended: delivered and dead once per delivery, retried each time one is rescheduled.",
    &["vendor", "result"],
);
pub const DELIVERY_LAG: Family = seconds(
    "flowgate_delivery_lag_seconds",
    Kind::Histogram,
    "Time from a webhook's acceptance to Flow's 2xx for its delivery's last operation, by vendor.",
    &["vendor"],
    // From an immediate delivery to one that waited out a long outage (delivery.max_age is 48h).
    &[
        0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0,
        43200.0, 86400.0, 172800.0,
    ],
);
pub const QUEUE_DEPTH: Family = family(
    "flowgate_queue_depth",
    Kind::Gauge,
    "Deliveries in the store, by state (the store's count: aggregate replicas with max).",
    &["state"],
);
pub const QUEUE_OLDEST_AGE: Family = seconds(
    "flowgate_queue_oldest_age_seconds",
    Kind::Gauge,
    "Age of the oldest delivery in the state, 0 when there is none.",
    &["state"],
    &[],
);
pub const CIRCUIT_OPEN: Family = family(
    "flowgate_circuit_open",
    Kind::Gauge,
    "1 while the tenant's circuit breaker is open or half-open, else 0.",
    &["tenant"],
);
pub const TENANT_PAUSED: Family = family(
    "flowgate_tenant_paused",
    Kind::Gauge,
    "1 while an operator has paused deliveries to the tenant on this replica, else 0.",
    &["tenant"],
);
pub const FLOW_THROTTLED: Family = family(
    "flowgate_flow_throttled_total",
    Kind::Counter,
    "Flow calls held back, by tenant and cause (bucket: our token bucket; flow_429: Flow's).",
    &["tenant", "cause"],
);
pub const REJECTIONS_STORED: Family = family(
    "flowgate_rejections_stored_total",
    Kind::Counter,
    "Refused webhooks kept as rejections, by vendor and problem code.",
    &["vendor", "code"],
);
pub const REJECTIONS_DROPPED: Family = family(
    "flowgate_rejections_dropped_total",
    Kind::Counter,
    "Kept rejections dropped, the oldest first, to stay within store.max_rejections.",
    &[],
);
pub const SHADOW_VIOLATIONS: Family = family(
    "flowgate_shadow_violations_total",
    Kind::Counter,
    "Webhooks that passed their vendor's live schema but not its shadow_schema, by vendor; the answer is unchanged.",
    &["vendor"],
);
pub const PAYLOAD_UNKNOWN_FIELDS: Family = family(
    "flowgate_payload_unknown_fields_total",
    Kind::Counter,
    "Webhooks that passed their vendor's schema carrying properties it does not declare, by vendor (once per webhook).",
    &["vendor"],
);
pub const READY: Family = family(
    "flowgate_ready",
    Kind::Gauge,
    "1 while the gateway is ready for traffic, 0 while starting or draining.",
    &[],
);
pub const STORE_READY: Family = family(
    "flowgate_store_ready",
    Kind::Gauge,
    "1 while the store accepts new deliveries, 0 while it does not (low disk, database file gone or replaced, write errors, database unreachable).",
    &[],
);
pub const CONFIG_RELOADS: Family = family(
    "flowgate_config_reloads_total",
    Kind::Counter,
    "Configuration reloads, by result (ok: the new configuration runs; error: it did not load and the old one still runs).",
    &["result"],
);
pub const CONFIG_INFO: Family = family(
    "flowgate_config_info",
    Kind::Gauge,
    "Always 1; the hash label names the running configuration (its settings, not the files they name).",
    &["hash"],
);
pub const TLS_CERT_EXPIRY: Family = seconds(
    "flowgate_tls_cert_expiry_timestamp_seconds",
    Kind::Gauge,
    "When the public listener's TLS certificate expires (its notAfter), in seconds since the Unix epoch; absent without TLS.",
    &[],
    &[],
);
pub const BUILD_INFO: Family = family(
    "flowgate_build_info",
    Kind::Gauge,
    "Always 1; the version label names the running build.",
    &["version"],
);

// The standard process collector's series, under their usual names and help texts, read from
// the OS at each scrape (`metrics/process.rs`).
pub const PROCESS_CPU: Family = family(
    "process_cpu_seconds_total",
    Kind::Counter,
    "Total user and system CPU time spent in seconds (whole seconds).",
    &[],
);
pub const PROCESS_OPEN_FDS: Family = family(
    "process_open_fds",
    Kind::Gauge,
    "Number of open file descriptors.",
    &[],
);
pub const PROCESS_MAX_FDS: Family = family(
    "process_max_fds",
    Kind::Gauge,
    "Maximum number of open file descriptors.",
    &[],
);
pub const PROCESS_VIRTUAL_MEMORY: Family = family(
    "process_virtual_memory_bytes",
    Kind::Gauge,
    "Virtual memory size in bytes.",
    &[],
);
pub const PROCESS_VIRTUAL_MEMORY_MAX: Family = family(
    "process_virtual_memory_max_bytes",
    Kind::Gauge,
    "Maximum amount of virtual memory available in bytes (0: unlimited).",
    &[],
);
pub const PROCESS_RESIDENT_MEMORY: Family = family(
    "process_resident_memory_bytes",
    Kind::Gauge,
    "Resident memory size in bytes.",
    &[],
);
pub const PROCESS_START_TIME: Family = seconds(
    "process_start_time_seconds",
    Kind::Gauge,
    "Start time of the process since unix epoch in seconds.",
    &[],
    &[],
);
pub const PROCESS_THREADS: Family = family(
    "process_threads",
    Kind::Gauge,
    "Number of OS threads in the process.",
    &[],
);

/// Every metric the gateway exports.
pub const FAMILIES: [Family; 32] = [
    WEBHOOKS_RECEIVED,
    WEBHOOK_DURATION,
    SIGNATURE_FAILURES,
    FIELDS_TRUNCATED,
    TOKEN_VERIFICATIONS,
    FLOW_REQUESTS,
    FLOW_REQUEST_DURATION,
    DELIVERIES,
    DELIVERY_LAG,
    QUEUE_DEPTH,
    QUEUE_OLDEST_AGE,
    CIRCUIT_OPEN,
    TENANT_PAUSED,
    FLOW_THROTTLED,
    REJECTIONS_STORED,
    REJECTIONS_DROPPED,
    SHADOW_VIOLATIONS,
    PAYLOAD_UNKNOWN_FIELDS,
    READY,
    STORE_READY,
    TLS_CERT_EXPIRY,
    BUILD_INFO,
    CONFIG_RELOADS,
    CONFIG_INFO,
    PROCESS_CPU,
    PROCESS_OPEN_FDS,
    PROCESS_MAX_FDS,
    PROCESS_VIRTUAL_MEMORY,
    PROCESS_VIRTUAL_MEMORY_MAX,
    PROCESS_RESIDENT_MEMORY,
    PROCESS_START_TIME,
    PROCESS_THREADS,
];

/// The vendor label of a webhook for no configured vendor.
pub const UNKNOWN_VENDOR: &str = "unknown";

mod handles;
mod labels;
mod last_hour;
mod process;
mod registry;
#[cfg(test)]
mod tests;

pub use handles::{TenantMetrics, VendorMetrics};
pub use labels::{
    DeliveryResult, Operation, Outcome, QueueState, RejectedCode, ReloadResult, SignatureReason,
    StatusClass, ThrottleCause, TokenResult, TruncatedField,
};
pub use last_hour::HourCounts;
pub use registry::{Metrics, QueueDepth};
