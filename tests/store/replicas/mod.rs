//! The binary's queue on PostgreSQL (DESIGN section 8), on the server `crate::server` found
//! (without one these tests are ignored), each test in a schema of its own:
//! the binary commits a queued webhook there and delivers it; two binaries on one schema share
//! the queue and keep each order in line; a database out of reach is 503 until it is back.
//! `fleet.rs`: three replicas at once, and one killed mid-attempt.

mod fleet;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;

use libtest_mimic::Trial;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Child;
use tokio::sync::watch;
use tokio_postgres::NoTls;

use crate::server;
use crate::support::admin::{admin_at, until_state, until_state_at};
use crate::support::client::{Reply, exchange};
use crate::support::flow::FlowSim;
use crate::support::queued::{accepted, post, post_to, queued_config, statuses};
use crate::support::{Gateway, flowgate_command, free_port, until_up};

pub fn trials() -> Vec<Trial> {
    let mut trials = trials! {
        postgres:
            the_binary_commits_a_queued_webhook_to_postgres_and_delivers_it,
            two_replicas_on_one_schema_share_the_queue_and_keep_each_order_in_line,
            while_the_database_is_out_of_reach_webhooks_are_503_and_it_recovers_by_itself,
            a_refused_webhook_is_kept_in_postgres_and_shown_by_every_replica;
    };
    trials.extend(fleet::trials());
    trials
}

/// A schema of the test's own, named for it; its connections carry the name as their application
/// name. At the end they are ended and the schema is dropped.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    fn new() -> Schema {
        Schema {
            url: server::url().to_owned(),
            name: format!("flowgate_it_{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// `store.url` (through `server` when given, else the test server itself) and
    /// `store.schema`, as a `[store]` table.
    fn store_table(&self, server: Option<SocketAddr>) -> String {
        let url = match server {
            Some(address) => with_address(&self.url, address),
            None => self.url.clone(),
        };
        let separator = if url.contains('?') { '&' } else { '?' };
        format!(
            "[store]\nurl = \"{url}{separator}application_name={name}\"\nschema = \"{name}\"\n",
            name = self.name
        )
    }

    /// The state of delivery `id` as the database holds it.
    async fn state(&self, id: &str) -> Option<String> {
        let client = connect(&self.url).await;
        let id: uuid::Uuid = id.parse().expect("a delivery id");
        let sql = format!(
            "SELECT state FROM \"{}\".deliveries WHERE id = $1",
            self.name
        );
        let row = client.query_opt(&sql, &[&id]).await.expect("read");
        row.map(|row| row.get(0))
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let client = connect(&url).await;
                let end = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                           WHERE application_name = $1 AND pid <> pg_backend_pid()";
                client.execute(end, &[&name]).await?;
                let drop =
                    format!("SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
                client.batch_execute(&drop).await
            })
        });
        if !matches!(dropped.join(), Ok(Ok(()))) {
            eprintln!("the test schema {} was left behind", self.name);
        }
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("the server {url} does not answer: {e}"));
    tokio::spawn(connection);
    client
}

/// `url` with its host and port replaced by `address`.
fn with_address(url: &str, address: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let credentials = authority.rsplit_once('@').map(|(c, _)| format!("{c}@"));
    format!(
        "{scheme}://{}{address}{path}",
        credentials.unwrap_or_default()
    )
}

/// One replica: the binary with `config` (its listeners at `public` and `admin`).
struct Replica {
    public: String,
    admin: String,
    process: Child,
}

async fn replica(dir: &Path, name: &str, sim: &FlowSim, store: &str) -> Replica {
    start_replica(dir, name, &sim.tenant("sim", Some(14)), store).await
}

/// One replica whose only tenant is `tenant` (a `[tenants.sim]` table).
async fn start_replica(dir: &Path, name: &str, tenant: &str, store: &str) -> Replica {
    let (public, admin) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let config = format!(
        "[server]\nlisten = \"{public}\"\nadmin_listen = \"{admin}\"\n\
         [log]\nlevel = \"warn\"\n{tenant}\n{}\n{store}",
        queued_config()
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, config).expect("write the config");
    let mut command = flowgate_command();
    command
        .arg("--config")
        .arg(&path)
        .arg("serve")
        .stderr(Stdio::null());
    let process = command.spawn().expect("the gateway starts");
    until_up(&format!("http://{admin}/readyz")).await;
    Replica {
        public,
        admin,
        process,
    }
}

impl Replica {
    /// Ends the process with SIGKILL: no drain, no goodbye to the database.
    fn kill(&mut self) {
        self.process.start_kill().expect("SIGKILL the replica");
    }

    async fn post(&self, order: &str, members: Value) -> Reply {
        post_to(&self.public, order, members).await
    }

    /// Waits until delivery `id` is in `state`, as this replica's admin API shows it.
    async fn until_state(&self, id: &str, state: &str) -> Value {
        until_state_at(&self.admin, id, state).await
    }
}

async fn the_binary_commits_a_queued_webhook_to_postgres_and_delivers_it() {
    let schema = Schema::new();
    let sim = FlowSim::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let gateway = replica(dir.path(), "one", &sim, &schema.store_table(None)).await;
    let order = uuid::Uuid::new_v4().to_string();
    let body = json!({"state": "Completed", "status": "Done", "title": "Photos"});
    let id = accepted(&gateway.post(&order, body).await);
    let record = gateway.until_state(&id, "delivered").await;
    assert_eq!(record["operations"], json!(["patch", "updatestate"]));
    assert_eq!(schema.state(&id).await.as_deref(), Some("delivered"));
    let flow_order = sim.order(&order).await.expect("delivered to Flow");
    assert_eq!(statuses(&flow_order), ["Done"]);
    assert_eq!(flow_order["Title"], "Photos");
}

async fn a_refused_webhook_is_kept_in_postgres_and_shown_by_every_replica() {
    let schema = Schema::new();
    let sim = FlowSim::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = schema.store_table(None);
    let replicas = [
        replica(dir.path(), "one", &sim, &store).await,
        replica(dir.path(), "two", &sim, &store).await,
    ];
    // The canonical envelope wants a known state.
    let order = uuid::Uuid::new_v4().to_string();
    let reply = replicas[0].post(&order, json!({"state": "Shipped"})).await;
    assert_eq!(reply.status, 422, "{reply:?}");
    let (status, page) = admin_at(&replicas[1].admin, "GET", "/admin/rejections").await;
    assert_eq!(status, 200, "{page}");
    let listed = page["rejections"].as_array().expect("a list");
    assert_eq!(listed.len(), 1, "{page}");
    assert_eq!(listed[0]["code"], "schema-violation");
    let id = listed[0]["id"].as_str().expect("an id");
    let (_, shown) = admin_at(
        &replicas[1].admin,
        "GET",
        &format!("/admin/rejections/{id}"),
    )
    .await;
    let body: Value = serde_json::from_str(shown["body"].as_str().expect("a body")).expect("JSON");
    assert_eq!(body["orderId"], order.as_str());
    assert_eq!(body["state"], "Shipped");
    assert!(sim.calls_of("updatestate").await.is_empty());
}

async fn two_replicas_on_one_schema_share_the_queue_and_keep_each_order_in_line() {
    let schema = Schema::new();
    let sim = FlowSim::start().await;
    sim.fault(json!({"op": "updatestate", "status": 503})).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = schema.store_table(None);
    let replicas = [
        replica(dir.path(), "one", &sim, &store).await,
        replica(dir.path(), "two", &sim, &store).await,
    ];
    let orders: Vec<String> = (0..3).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let mut ids = Vec::new();
    // Each order's updates arrive at both replicas in turn, while Flow refuses.
    for step in 0..4 {
        for (n, order) in orders.iter().enumerate() {
            let body = json!({"state": "InProcess", "status": format!("step {step}")});
            ids.push(accepted(&replicas[(n + step) % 2].post(order, body).await));
        }
    }
    sim.clear_faults().await;
    for (n, id) in ids.iter().enumerate() {
        replicas[n % 2].until_state(id, "delivered").await;
    }
    for order in &orders {
        let flow_order = sim.order(order).await.expect("the order");
        assert_eq!(
            statuses(&flow_order),
            ["step 0", "step 1", "step 2", "step 3"]
        );
    }
}

/// A TCP relay to the database that can be cut (every connection closed, new ones refused)
/// and restored, as a network outage would.
struct Relay {
    address: SocketAddr,
    cut: watch::Sender<bool>,
}

impl Relay {
    async fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (cut, is_cut) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let mut is_cut = is_cut.clone();
                if *is_cut.borrow_and_update() {
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    let mut inbound = inbound;
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = is_cut.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Relay { address, cut }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

/// The test server's address, for the relay.
fn server_address(url: &str) -> SocketAddr {
    let config: tokio_postgres::Config = url.parse().expect("a PostgreSQL URL");
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let host = if host == "localhost" {
        "127.0.0.1".to_owned()
    } else {
        host
    };
    format!("{host}:{port}")
        .parse()
        .expect("a loopback address")
}

async fn while_the_database_is_out_of_reach_webhooks_are_503_and_it_recovers_by_itself() {
    let schema = Schema::new();
    let relay = Relay::start(server_address(&schema.url)).await;
    let extra = format!(
        "{}\n{}",
        queued_config(),
        schema.store_table(Some(relay.address))
    );
    let gw: Gateway = crate::support::fixtures::gateway("", &extra).await;
    let order = uuid::Uuid::new_v4().to_string();
    let first = accepted(&post(&gw, &order, json!({"state": "InProcess"})).await);
    until_state(&gw, &first, "delivered").await;
    // One more is accepted while Flow refuses it, so it waits in the database through the cut.
    gw.sim()
        .fault(json!({"op": "updatestate", "status": 503}))
        .await;
    let waiting = accepted(&post(&gw, &order, json!({"state": "MissingInfo"})).await);
    until_state(&gw, &waiting, "retrying").await;

    relay.set_cut(true);
    let reply = post(&gw, &order, json!({"state": "Completed"})).await;
    crate::support::assert_problem(&reply, 503, "unavailable");
    let ready = exchange(crate::support::client::bare(
        http::Method::GET,
        &gw.admin_url("/readyz"),
    ))
    .await;
    assert_eq!(ready.status, 503, "not ready without the database");
    let cause = ready.json()["checks"]["store"].clone();
    assert!(
        cause
            .as_str()
            .is_some_and(|c| c.starts_with("unreachable: ")),
        "{cause}"
    );

    relay.set_cut(false);
    gw.sim().clear_faults().await;
    let id = accepted(&post(&gw, &order, json!({"state": "Completed"})).await);
    until_state(&gw, &id, "delivered").await;
    assert_eq!(
        until_state(&gw, &waiting, "delivered").await["state"],
        "delivered",
        "the webhook accepted before the cut is not lost"
    );
    let flow_order = gw.sim().order(&order).await.expect("the order");
    // A state without a status is sent with the state's name as its status.
    assert_eq!(
        statuses(&flow_order),
        ["InProcess", "MissingInfo", "Completed"]
    );
}
