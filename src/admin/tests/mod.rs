//! The admin API against the real SQLite store in a temporary directory, one request at a time
//! with `oneshot`; states are set up through the `Store` trait, as workers would.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use chrono::{Duration, Utc};
use http::{HeaderMap, Request};
use http_body_util::BodyExt;
use serde_json::Value;
use tempfile::TempDir;
use tower::ServiceExt;
use uuid::Uuid;

use super::reload::{Reload, Reloaded};
use super::{AdminState, router};
use crate::config::{CircuitConfig, Config, DeliveryMode, SyncMode};
use crate::config::{ConfigError, ConfigErrors, Origin};
use crate::deliver::Deliverer;
use crate::deliver::control::TenantControl;
use crate::flow::FlowClient;
use crate::health::Health;
use crate::ingress::{Dispatch, FlowPath, Vendors};
use crate::metrics::Metrics;
use crate::order::OrderUpdate;
use crate::queue::backlog::Backlog;
use crate::queue::readiness::StoreReadiness;
use crate::queue::sqlite::SqliteStore;
use crate::queue::{Attempt, DeliveryContent, DeliveryQueue, Enqueued, Finish, NewDelivery};
use crate::replay::Replayer;
use crate::route::Tenants;
use crate::telemetry::Captured;
use crate::verify::flow_token::FlowTokens;

mod cli;
mod deliveries;
mod orders;
mod overview;
mod reload;
mod tenants;

const TOKEN: &str = "admin-test-token";

/// How a test delivery ends up.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum End {
    Pending,
    Delivered,
    Dead,
}

pub(super) struct Admin {
    dir: TempDir,
    store: Arc<SqliteStore>,
    control: Arc<TenantControl>,
    metrics: Metrics,
    config_hash: String,
    started_at: chrono::DateTime<Utc>,
    router: Router,
}

/// The vendors of the admin's configuration.
const VENDORS: [&str; 2] = ["photo", "video"];

/// The default configuration with `vendors`, each verified by a bearer token.
fn config_with_vendors(vendors: &[&str]) -> Config {
    let mut config = Config::default();
    for vendor in vendors {
        let settings = toml::from_str("verify = { scheme = \"bearer\", tokens = [\"t\"] }");
        let settings = settings.expect("a vendor's settings");
        config.vendors.insert((*vendor).to_owned(), settings);
    }
    config
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

fn admin_with(token: Option<&str>) -> Admin {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("queue.db");
    let store = Arc::new(SqliteStore::open(&path, SyncMode::Normal).expect("store"));
    let tenants = ["acme".to_owned(), "beta".to_owned()];
    let control = Arc::new(TenantControl::new(&tenants, &CircuitConfig::default()));
    let readiness = Arc::new(StoreReadiness::new(store.clone(), Some(&path), 0));
    let replayer = replayer(store.clone(), control.clone(), readiness.clone());
    let config = config_with_vendors(&VENDORS);
    let metrics = Metrics::new(VENDORS, tenants.iter().map(String::as_str));
    let (config_hash, started_at) = (config.settings.hash(), Utc::now());
    let router = router(AdminState {
        store: store.clone(),
        control: control.clone(),
        token: token.map(str::to_owned),
        health: Health::default(),
        metrics: metrics.clone(),
        readiness,
        drift: Arc::default(),
        reload: Arc::new(InvalidFile),
        replayer,
        config: Arc::new(config),
        started_at,
        openapi: Arc::new(std::sync::LazyLock::new(Box::new(
            || serde_json::json!({"openapi": "3.1.0"}),
        ))),
    });
    Admin {
        dir,
        store,
        control,
        metrics,
        config_hash,
        started_at,
        router,
    }
}

/// Replays through a configuration with no vendors, on `store`.
fn replayer(
    store: Arc<SqliteStore>,
    control: Arc<TenantControl>,
    readiness: Arc<StoreReadiness>,
) -> Replayer {
    let config = Config::default();
    let metrics = Metrics::from_config(&config);
    let client = FlowClient::new(std::time::Duration::from_secs(1));
    let ttl = config.flow.token_cache_ttl;
    let flow = FlowPath {
        tenants: Arc::new(Tenants::build(&config, &metrics).expect("tenants")),
        tokens: Arc::new(FlowTokens::new(client.clone(), ttl, ttl)),
        drift: Arc::default(),
        dispatch: Dispatch {
            store: store.clone(),
            deliverer: Arc::new(Deliverer::new(client, store)),
            control,
            waker: Arc::default(),
            dedup_window: config.store.dedup_window,
            keep_bodies: false,
            backlog: Arc::new(Backlog::new(config.store.max_pending)),
            readiness,
        },
    };
    Replayer {
        vendors: Arc::new(Vendors::build(&config, &metrics, None).expect("vendors")),
        flow,
        max_json_depth: config.limits.max_json_depth,
    }
}

/// A gateway whose configuration file has two mistakes.
struct InvalidFile;

#[async_trait::async_trait]
impl Reload for InvalidFile {
    async fn reload(&self) -> Result<Reloaded, ConfigErrors> {
        let error = |key: &str, message: &str| ConfigError {
            key: key.to_owned(),
            origin: Origin::File("config.toml".into()),
            message: message.to_owned(),
        };
        Err(ConfigErrors(vec![
            error("vendors.acme.schema", "cannot read schemas/acme.json"),
            error("server.max_in_flight", "must be at least 1"),
        ]))
    }
}

fn admin() -> Admin {
    admin_with(Some(TOKEN))
}

impl Admin {
    async fn call(&self, method: &str, uri: &str) -> Reply {
        self.send(method, uri, Some(&format!("Bearer {TOKEN}")))
            .await
    }

    async fn send(&self, method: &str, uri: &str, authorization: Option<&str>) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let request = request.body(Body::empty()).expect("request");
        let response = self.router.clone().oneshot(request).await.expect("answer");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    }

    /// Commits a delivery created `minutes_ago` and takes it to `end` as a worker would.
    async fn delivery(
        &self,
        vendor: &str,
        tenant: &str,
        order: Uuid,
        minutes_ago: i64,
        end: End,
    ) -> Uuid {
        let id = Uuid::new_v4();
        let delivery = NewDelivery {
            content: DeliveryContent {
                id,
                vendor: vendor.to_owned(),
                tenant: tenant.to_owned(),
                order_id: order,
                event_id: format!("evt-{id}"),
                update: OrderUpdate {
                    state: Some("InProcess".to_owned()),
                    ..OrderUpdate::default()
                },
                state_default: Some("InProcess".to_owned()),
                traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
                created_at: Utc::now() - Duration::minutes(minutes_ago),
            },
            dedup: true,
            body_hash: [7; 32],
            mode: DeliveryMode::Queued,
            body: None,
        };
        let enqueued = self
            .store
            .enqueue(delivery, Utc::now() - Duration::days(1))
            .await;
        assert_eq!(enqueued.expect("enqueue"), Enqueued::Accepted);
        if end != End::Pending {
            self.settle(id, end).await;
        }
        id
    }

    async fn settle(&self, id: Uuid, end: End) {
        let now = Utc::now() + Duration::minutes(1);
        let claimed = self
            .store
            .claim(now, 100, now + Duration::minutes(1), &[])
            .await;
        let claimed = claimed.expect("claim");
        assert_eq!(
            claimed.iter().map(|c| c.content.id).collect::<Vec<_>>(),
            [id]
        );
        let attempt = Attempt {
            at: Utc::now(),
            operation: "updatestate".to_owned(),
            status: Some(if end == End::Dead { 400 } else { 200 }),
            duration_ms: 12,
            error: None,
        };
        let finish = match end {
            End::Dead => Finish::Dead {
                patched: false,
                flow_status: Some(400),
                flow_body: Some("no such state".to_owned()),
                error: "flow rejected".to_owned(),
            },
            _ => Finish::Delivered,
        };
        self.store
            .finish(id, vec![attempt], finish, None)
            .await
            .expect("finish");
    }
}

fn assert_problem(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.headers["content-type"], "application/problem+json");
    assert_eq!(reply.body["code"], code, "{}", reply.body);
    assert!(
        reply.body["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
}

fn ids(reply: &Reply) -> Vec<String> {
    let list = reply.body["deliveries"].as_array().expect("deliveries");
    list.iter()
        .map(|d| d["id"].as_str().expect("id").to_owned())
        .collect()
}

/// An unready answer is the gateway saying what it is, not a failure: a load balancer probing an
/// unready replica every second must not fill its log with errors.
#[tokio::test]
async fn an_unready_answer_logs_no_error() {
    let gw = admin_with(None);
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    assert_eq!(gw.send("GET", "/readyz", None).await.status, 503);
    let log = captured.text();
    assert!(!log.contains("ERROR"), "{log}");
}

#[tokio::test]
async fn without_a_configured_token_every_admin_route_is_forbidden() {
    let gw = admin_with(None);
    for uri in [
        "/admin/deliveries",
        "/admin/nothing-here",
        "/admin/tenants/acme/pause",
    ] {
        let reply = gw.send("GET", uri, Some("Bearer anything")).await;
        assert_problem(&reply, 403, "forbidden");
    }
    assert_eq!(gw.send("GET", "/healthz", None).await.status, 200);
    let unready = gw.send("GET", "/readyz", None).await;
    assert_eq!(unready.status, 503);
    assert_eq!(
        unready.body,
        serde_json::json!({"ready": false, "checks": {"gateway": "starting"}})
    );
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_unauthorized_and_the_right_one_passes() {
    let gw = admin();
    for authorization in [
        None,
        Some("Bearer wrong"),
        Some(TOKEN),
        Some("Basic YWRtaW46eA=="),
    ] {
        let reply = gw.send("GET", "/admin/deliveries", authorization).await;
        assert_problem(&reply, 401, "unauthorized");
        let challenge = reply.headers["www-authenticate"].to_str().expect("ascii");
        assert!(challenge.starts_with("Bearer"), "{challenge}");
    }
    let unknown = gw.send("GET", "/admin/nothing-here", None).await;
    assert_problem(&unknown, 401, "unauthorized");
    let reply = gw
        .send("GET", "/admin/deliveries", Some(&format!("bearer {TOKEN}")))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.headers.contains_key("x-request-id"));
    assert_eq!(reply.body["deliveries"], Value::Array(vec![]));
    assert_eq!(reply.body["next_cursor"], Value::Null);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_problems_after_authentication() {
    let gw = admin();
    assert_problem(
        &gw.call("GET", "/admin/nothing-here").await,
        404,
        "not-found",
    );
    assert_problem(
        &gw.call("PUT", "/admin/deliveries").await,
        405,
        "method-not-allowed",
    );
    assert_problem(
        &gw.call("GET", "/admin/tenants/acme/pause").await,
        405,
        "method-not-allowed",
    );
}

#[tokio::test]
async fn a_store_failure_is_503_unavailable_without_its_cause() {
    let gw = admin();
    let path = gw.dir.path().join("queue.db");
    let conn = rusqlite::Connection::open(path).expect("a second connection");
    conn.execute_batch("ALTER TABLE deliveries RENAME TO gone")
        .expect("break the store");
    let reply = gw.call("GET", "/admin/deliveries").await;
    assert_problem(&reply, 503, "unavailable");
    assert!(reply.headers.contains_key("retry-after"));
    let detail = reply.body["detail"].as_str().expect("a detail");
    assert!(
        !detail.contains("gone") && !detail.contains("table"),
        "{detail}"
    );
    let reply = gw.call("POST", "/admin/deliveries/redrive").await;
    assert_problem(&reply, 503, "unavailable");
}
