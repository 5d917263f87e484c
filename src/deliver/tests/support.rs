//! A Flow simulator on loopback, a SQLite store in a temporary directory, and [`Workers`] over
//! them, with the calls to seed orders, inject faults, queue deliveries and wait for outcomes.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use chrono::{TimeDelta, Utc};
use http::Request;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt;
use uuid::Uuid;

use crate::config::{
    CircuitConfig, Config, DeliveryMode, RateLimitConfig, SyncMode, TenantAuthConfig,
    TenantAuthKind, TenantConfig,
};
use crate::deliver::control::TenantControl;
use crate::deliver::worker::WorkerConfig;
use crate::deliver::{Backoff, Deliverer, WorkerSettings, Workers};
use crate::flow::FlowClient;
use crate::metrics::Metrics;
use crate::order::OrderUpdate;
use crate::queue::sqlite::SqliteStore;
use crate::queue::{
    DeliveryAdmin, DeliveryContent, DeliveryQueue, DeliveryRecord, DeliveryState, Enqueued,
    NewDelivery,
};
use crate::route::Tenants;
use crate::simulator::{Simulator, SimulatorSettings};

pub const TENANT: &str = "demo";
const CLIENT_ID: &str = "worker-client";
const CLIENT_SECRET: &str = "worker-secret";

/// What a test may change about the workers.
pub struct Knobs {
    pub schedule: Vec<Duration>,
    pub circuit: (u32, Duration),
    pub workers: usize,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            schedule: vec![Duration::from_millis(100); 5],
            circuit: (50, Duration::from_secs(30)),
            workers: 4,
        }
    }
}

pub struct Harness {
    pub sim: Router,
    pub store: Arc<SqliteStore>,
    pub control: Arc<TenantControl>,
    pub deliverer: Arc<Deliverer>,
    pub tenants: Arc<Tenants>,
    pub metrics: Metrics,
    stop: watch::Sender<bool>,
    workers: Option<JoinHandle<()>>,
    _sim_close: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// Everything started, the workers running.
    pub async fn start(knobs: Knobs) -> Harness {
        let mut harness = Self::idle(&knobs).await;
        harness.spawn_workers(knobs);
        harness
    }

    /// Everything but the workers.
    pub async fn idle(knobs: &Knobs) -> Harness {
        let (sim, base_url, sim_close) = serve_simulator().await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("flowgate.db");
        let store = Arc::new(SqliteStore::open(&path, SyncMode::Normal).expect("the store"));
        let mut config = Config::default();
        config.tenants.insert(TENANT.to_owned(), tenant(&base_url));
        let metrics = Metrics::from_config(&config);
        let tenants = Arc::new(Tenants::build(&config, &metrics).expect("tenants"));
        let (failures, open_for) = knobs.circuit;
        let settings = CircuitConfig { failures, open_for };
        let control = Arc::new(TenantControl::new(config.tenants.keys(), &settings));
        let client = FlowClient::new(Duration::from_secs(2));
        let deliverer = Arc::new(Deliverer::new(client, store.clone()));
        let (stop, _) = watch::channel(false);
        Harness {
            sim,
            store,
            control,
            deliverer,
            tenants,
            metrics,
            stop,
            workers: None,
            _sim_close: sim_close,
            _dir: dir,
        }
    }

    fn spawn_workers(&mut self, knobs: Knobs) {
        let backoff = Backoff::try_new(
            knobs.schedule,
            0.0,
            Duration::from_secs(10),
            Duration::from_secs(3600),
        )
        .expect("a backoff");
        let settings = WorkerSettings {
            workers: knobs.workers,
            lease: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(10),
            backoff,
            poll: Duration::from_millis(50),
        };
        let config = WorkerConfig {
            tenants: self.tenants.clone(),
            control: self.control.clone(),
            settings,
        };
        let workers = Workers::new(
            self.store.clone(),
            self.deliverer.clone(),
            Arc::new(arc_swap::ArcSwap::from_pointee(config)),
            self.metrics.clone(),
        );
        let stop = self.stop.subscribe();
        self.workers = Some(tokio::spawn(workers.run(stop, GRACE)));
    }

    /// Asks the workers to stop; how long they took to return.
    pub async fn stop(&mut self) -> Duration {
        let started = tokio::time::Instant::now();
        self.stop.send_replace(true);
        if let Some(workers) = self.workers.take() {
            tokio::time::timeout(Duration::from_secs(10), workers)
                .await
                .expect("the workers return")
                .expect("the workers do not panic");
        }
        started.elapsed()
    }

    /// A new order in Flow.
    pub async fn order(&self) -> Uuid {
        let created = self.sim_call("POST", "/sim/orders", None).await;
        let guid = created["Guid"].as_str().expect("a Guid");
        Uuid::parse_str(guid).expect("a uuid")
    }

    pub async fn flow_order(&self, order: Uuid) -> Value {
        self.sim_call("GET", &format!("/sim/orders/{order}"), None)
            .await
    }

    pub async fn fault(&self, fault: Value) {
        self.sim_call("POST", "/sim/faults", Some(fault)).await;
    }

    pub async fn clear_faults(&self) {
        self.sim_call("DELETE", "/sim/faults", None).await;
    }

    /// The calls Flow received for `operation`, oldest first.
    pub async fn calls_of(&self, operation: &str) -> Vec<Value> {
        let calls = self.sim_call("GET", "/sim/calls", None).await;
        let calls = calls.as_array().expect("a list").clone();
        calls
            .into_iter()
            .filter(|call| call["operation"] == operation)
            .collect()
    }

    async fn sim_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(body)
            .expect("a request");
        let response = self.sim.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        assert!(status.is_success(), "{method} {path}: {status}");
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    /// Queues `update` for `order`, created `age` ago.
    pub async fn enqueue(&self, order: Uuid, update: OrderUpdate) -> Uuid {
        let id = Uuid::now_v7();
        let delivery = NewDelivery {
            content: DeliveryContent {
                id,
                vendor: "photo".to_owned(),
                tenant: TENANT.to_owned(),
                order_id: order,
                event_id: id.to_string(),
                update,
                state_default: None,
                traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
                created_at: Utc::now(),
            },
            dedup: true,
            body_hash: [0; 32],
            mode: DeliveryMode::Queued,
            body: None,
        };
        let since = Utc::now() - TimeDelta::hours(1);
        let enqueued = self.store.enqueue(delivery, since).await.expect("queued");
        assert_eq!(enqueued, Enqueued::Accepted);
        id
    }

    pub async fn record(&self, id: Uuid) -> DeliveryRecord {
        let record = self.store.get(id).await.expect("readable");
        record.expect("the delivery exists")
    }

    /// Waits until the delivery is `state`, or fails the test after `within`.
    pub async fn wait_for(
        &self,
        id: Uuid,
        state: DeliveryState,
        within: Duration,
    ) -> DeliveryRecord {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let record = self.record(id).await;
            if record.state == state {
                return record;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still {:?} after {within:?}: {record:?}",
                record.state
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// How long the harness's workers give running attempts when stopped.
pub const GRACE: Duration = Duration::from_millis(300);

/// A state and status update.
pub fn state(state: &str, status: &str) -> OrderUpdate {
    OrderUpdate {
        state: Some(state.to_owned()),
        status: Some(status.to_owned()),
        ..OrderUpdate::default()
    }
}

async fn serve_simulator() -> (Router, String, watch::Sender<bool>) {
    let settings = SimulatorSettings {
        client_id: CLIENT_ID.to_owned(),
        client_secret: CLIENT_SECRET.to_owned(),
        token_ttl: Duration::from_secs(1200),
    };
    let router = Simulator::new(settings).router();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("an address");
    let (close, closed) = watch::channel(false);
    let serving = crate::http::server::serve(
        listener,
        crate::http::server::Routes::new(router.clone()),
        crate::http::server::Accept::plain(Duration::from_secs(10)),
        closed,
    );
    tokio::spawn(serving);
    (router, format!("http://{address}/flow"), close)
}

fn tenant(base_url: &str) -> TenantConfig {
    TenantConfig {
        base_url: base_url.to_owned(),
        tenant_id: None,
        auth: TenantAuthConfig {
            kind: TenantAuthKind::ClientCredentials,
            client_id: Some(CLIENT_ID.to_owned()),
            client_secret: Some(CLIENT_SECRET.to_owned()),
            client_secret_env: None,
            client_secret_file: None,
            token: None,
            token_env: None,
            token_file: None,
        },
        rate_limit: RateLimitConfig {
            per_second: 1000.0,
            burst: 1000,
        },
    }
}
