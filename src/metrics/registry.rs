//! One gateway's metrics: its own recorder (never installed globally, so several gateways can
//! share a process), every metric described, and every series of the configured vendors and
//! tenants registered at start-up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};

use ::metrics::{Gauge, KeyName, Recorder, SharedString};
use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};

use super::handles::Series;
use super::process::ProcessSeries;
use super::{
    BUILD_INFO, CONFIG_INFO, CONFIG_RELOADS, FAMILIES, Kind, QUEUE_DEPTH, QUEUE_OLDEST_AGE,
    QueueState, READY, REJECTIONS_DROPPED, ReloadResult, STORE_READY, TLS_CERT_EXPIRY,
    TenantMetrics, UNKNOWN_VENDOR, VendorMetrics,
};
use crate::config::Config;

/// The states whose oldest delivery's age is exported.
const AGED_STATES: [QueueState; 2] = [QueueState::Pending, QueueState::Retrying];

/// The queue as metrics and back-pressure see it: what the store counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueueDepth {
    pub pending: u64,
    pub in_flight: u64,
    pub retrying: u64,
    pub dead: u64,
    pub oldest_pending: Option<DateTime<Utc>>,
    pub oldest_retrying: Option<DateTime<Utc>>,
}

/// One gateway's metrics: its own recorder, and the handles of every configured vendor and
/// tenant. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
}

struct Registry {
    recorder: PrometheusRecorder,
    /// Replaced whole when a reload adds a vendor or tenant: read on every count, written
    /// once per reload.
    vendors: ArcSwap<HashMap<String, VendorMetrics>>,
    unknown_vendor: VendorMetrics,
    tenants: ArcSwap<HashMap<String, TenantMetrics>>,
    /// Serialises registrations, so two reloads cannot lose each other's series.
    registering: Mutex<()>,
    reloads: [::metrics::Counter; ReloadResult::COUNT],
    /// The running configuration's hash: one series, rendered by hand so the old hash's
    /// series goes when the hash changes.
    config_hash: ArcSwap<String>,
    queue_depth: [Gauge; QueueState::COUNT],
    oldest_age: [Gauge; AGED_STATES.len()],
    /// The queue as the gauges were last set from, for the admin overview.
    queue: ArcSwapOption<QueueDepth>,
    ready: Gauge,
    store_ready: Gauge,
    rejections_dropped: ::metrics::Counter,
    process: ProcessSeries,
}

impl Metrics {
    /// Every series for the configured vendors and tenants, and the configuration's hash.
    pub fn from_config(config: &Config) -> Metrics {
        let metrics = Metrics::new(
            config.vendors.keys().map(String::as_str),
            config.tenants.keys().map(String::as_str),
        );
        metrics.set_config_hash(&config.settings.hash());
        metrics
    }

    /// Every series for `vendors` (and `unknown`) and `tenants`, counters at 0, gauges at 0
    /// but build info.
    pub fn new<'a>(
        vendors: impl IntoIterator<Item = &'a str>,
        tenants: impl IntoIterator<Item = &'a str>,
    ) -> Metrics {
        let recorder = recorder();
        let series = Series(&recorder);
        let vendors = vendors
            .into_iter()
            .map(|name| (name.to_owned(), VendorMetrics::register(&series, name)))
            .collect();
        let tenants = tenants
            .into_iter()
            .map(|name| (name.to_owned(), TenantMetrics::register(&series, name)))
            .collect();
        let unknown_vendor = VendorMetrics::register(&series, UNKNOWN_VENDOR);
        let reloads =
            ReloadResult::ALL.map(|r| series.counter(&CONFIG_RELOADS, &[("result", r.as_str())]));
        let state = |state: QueueState| [("state", state.as_str())];
        let queue_depth = QueueState::ALL.map(|s| series.gauge(&QUEUE_DEPTH, &state(s)));
        let oldest_age = AGED_STATES.map(|s| series.gauge(&QUEUE_OLDEST_AGE, &state(s)));
        let ready = series.gauge(&READY, &[]);
        let store_ready = series.gauge(&STORE_READY, &[]);
        let rejections_dropped = series.counter(&REJECTIONS_DROPPED, &[]);
        let process = ProcessSeries::register(&series);
        let version = [("version", env!("CARGO_PKG_VERSION"))];
        series.gauge(&BUILD_INFO, &version).set(1.0);
        Metrics {
            registry: Arc::new(Registry {
                recorder,
                vendors: ArcSwap::from_pointee(vendors),
                unknown_vendor,
                tenants: ArcSwap::from_pointee(tenants),
                registering: Mutex::new(()),
                reloads,
                config_hash: ArcSwap::from_pointee(String::new()),
                queue_depth,
                oldest_age,
                queue: ArcSwapOption::empty(),
                ready,
                store_ready,
                rejections_dropped,
                process,
            }),
        }
    }

    /// The handles of vendor `name`, or of `unknown` when no such vendor is configured.
    pub fn vendor(&self, name: &str) -> VendorMetrics {
        let registry = &self.registry;
        registry
            .vendors
            .load()
            .get(name)
            .unwrap_or(&registry.unknown_vendor)
            .clone()
    }

    /// The handles of `unknown`: webhooks for a path that names no vendor.
    pub fn unknown_vendor(&self) -> VendorMetrics {
        self.registry.unknown_vendor.clone()
    }

    /// The handles of tenant `name`; detached (counting nowhere) when it is not configured,
    /// since only configured tenants are ever called.
    pub fn tenant(&self, name: &str) -> TenantMetrics {
        self.registry
            .tenants
            .load()
            .get(name)
            .cloned()
            .unwrap_or_else(TenantMetrics::detached)
    }

    /// The handles of vendor `name`, registered now when a reload added it.
    pub fn register_vendor(&self, name: &str) -> VendorMetrics {
        let registry = &self.registry;
        register(&registry.vendors, &registry.registering, name, || {
            VendorMetrics::register(&Series(&registry.recorder), name)
        })
    }

    /// The handles of tenant `name`, registered now when a reload added it.
    pub fn register_tenant(&self, name: &str) -> TenantMetrics {
        let registry = &self.registry;
        register(&registry.tenants, &registry.registering, name, || {
            TenantMetrics::register(&Series(&registry.recorder), name)
        })
    }

    /// Counts a reload by how it ended.
    pub fn reloaded(&self, result: ReloadResult) {
        self.registry.reloads[result as usize].increment(1);
    }

    /// `flowgate_config_info`: the running configuration's hash.
    pub fn set_config_hash(&self, hash: &str) {
        self.registry.config_hash.store(Arc::new(hash.to_owned()));
    }

    /// The queue gauges, from the store's count at `now`.
    pub fn set_queue(&self, depth: &QueueDepth, now: DateTime<Utc>) {
        let registry = &self.registry;
        let counts = [depth.pending, depth.in_flight, depth.retrying, depth.dead];
        for (gauge, count) in registry.queue_depth.iter().zip(counts) {
            gauge.set(count as f64);
        }
        let age = |oldest: Option<DateTime<Utc>>| {
            oldest.map_or(0.0, |at| {
                (now - at).to_std().unwrap_or(Duration::ZERO).as_secs_f64()
            })
        };
        let oldest = [depth.oldest_pending, depth.oldest_retrying];
        for (gauge, at) in registry.oldest_age.iter().zip(oldest) {
            gauge.set(age(at));
        }
        registry.queue.store(Some(Arc::new(depth.clone())));
    }

    /// The queue as the gauges were last set from (counted every second); `None` before the
    /// first count.
    pub fn queue(&self) -> Option<QueueDepth> {
        self.registry.queue.load().as_deref().cloned()
    }

    /// Counts the kept rejections the trim dropped to stay within `store.max_rejections`.
    pub fn rejections_dropped(&self, dropped: u64) {
        self.registry.rejections_dropped.increment(dropped);
    }

    pub fn set_ready(&self, ready: bool) {
        self.registry.ready.set(if ready { 1.0 } else { 0.0 });
    }

    /// `flowgate_store_ready`: whether the store accepts new deliveries.
    pub fn set_store_ready(&self, ready: bool) {
        self.registry.store_ready.set(if ready { 1.0 } else { 0.0 });
    }

    /// `flowgate_tls_cert_expiry_timestamp_seconds`, registered when first asked for: a gateway
    /// without TLS never asks, so it exports no such series rather than a misleading 0.
    pub fn tls_cert_expiry(&self) -> Gauge {
        Series(&self.registry.recorder).gauge(&TLS_CERT_EXPIRY, &[])
    }

    /// The `process_*` series, read from the OS now: call it when `/metrics` is scraped.
    pub fn collect_process(&self) {
        self.registry.process.collect();
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> String {
        let mut text = self.registry.recorder.handle().render();
        let hash = self.registry.config_hash.load();
        if !hash.is_empty() {
            let (name, help) = (CONFIG_INFO.name, CONFIG_INFO.help);
            text.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{{hash=\"{hash}\"}} 1\n\n"
            ));
        }
        text
    }

    /// Folds recorded histogram samples into their buckets, so they do not pile up between
    /// scrapes; call it every few seconds.
    pub fn run_upkeep(&self) {
        self.registry.recorder.handle().run_upkeep();
    }
}

/// A recorder with every metric described and every histogram's buckets set.
fn recorder() -> PrometheusRecorder {
    let mut builder = PrometheusBuilder::new();
    for family in FAMILIES.iter().filter(|f| !f.buckets.is_empty()) {
        builder = builder
            .set_buckets_for_metric(Matcher::Full(family.name.to_owned()), family.buckets)
            // Only an empty list is refused, and the filter above keeps those out.
            .unwrap_or_else(|_| unreachable!("the bucket list of {} is empty", family.name));
    }
    let recorder = builder.build_recorder();
    // `flowgate_config_info` is rendered by hand (`Metrics::render`).
    for family in FAMILIES.iter().filter(|f| f.name != CONFIG_INFO.name) {
        let (name, help) = (
            KeyName::from_const_str(family.name),
            SharedString::const_str(family.help),
        );
        match family.kind {
            Kind::Counter => recorder.describe_counter(name, family.unit, help),
            Kind::Gauge => recorder.describe_gauge(name, family.unit, help),
            Kind::Histogram => recorder.describe_histogram(name, family.unit, help),
        }
    }
    recorder
}

/// The handles of `name` in `map`, registered with `make` when absent.
fn register<T: Clone>(
    map: &ArcSwap<HashMap<String, T>>,
    registering: &Mutex<()>,
    name: &str,
    make: impl FnOnce() -> T,
) -> T {
    let _one_at_a_time = registering.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(handles) = map.load().get(name) {
        return handles.clone();
    }
    let handles = make();
    let mut grown = HashMap::clone(&map.load());
    grown.insert(name.to_owned(), handles.clone());
    map.store(Arc::new(grown));
    handles
}
