//! The Flow simulator on a loopback port, as the tests' customer Flow, and the calls to read
//! what it saw and to inject faults (`/sim/*`).

use std::net::SocketAddr;
use std::time::Duration;

use flowgate::simulator::{Simulator, SimulatorSettings};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::client::{exchange, request};

pub const SIM_CLIENT_ID: &str = "it-client";
pub const SIM_CLIENT_SECRET: &str = "it-client-secret";

/// One simulated Flow. Dropping it stops it.
pub struct FlowSim {
    pub address: SocketAddr,
    _close: watch::Sender<bool>,
}

impl FlowSim {
    pub async fn start() -> FlowSim {
        Self::start_with_ttl(Duration::from_secs(1200)).await
    }

    pub async fn start_with_ttl(token_ttl: Duration) -> FlowSim {
        let settings = SimulatorSettings {
            client_id: SIM_CLIENT_ID.to_owned(),
            client_secret: SIM_CLIENT_SECRET.to_owned(),
            token_ttl,
        };
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the simulator");
        let address = listener.local_addr().expect("the simulator's address");
        let (close, closed) = watch::channel(false);
        let router = Simulator::new(settings).router();
        tokio::spawn(flowgate::http::server::serve(
            listener,
            flowgate::http::server::Routes::new(router),
            flowgate::http::server::Accept::plain(Duration::from_secs(10)),
            closed,
        ));
        FlowSim {
            address,
            _close: close,
        }
    }

    /// The base URL a tenant configures for this Flow.
    pub fn base_url(&self) -> String {
        format!("http://{}/flow", self.address)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// `[tenants.<name>]` pointing at this Flow with client credentials.
    pub fn tenant(&self, name: &str, tenant_id: Option<i64>) -> String {
        let id = tenant_id.map_or(String::new(), |id| format!("tenant_id = {id}\n"));
        format!(
            "[tenants.{name}]\nbase_url = \"{}\"\n{id}auth = {{ kind = \"client_credentials\", client_id = \"{SIM_CLIENT_ID}\", client_secret = \"{SIM_CLIENT_SECRET}\" }}\nrate_limit = {{ per_second = 1000, burst = 1000 }}\n",
            self.base_url()
        )
    }

    /// Every call Flow received, oldest first.
    pub async fn calls(&self) -> Vec<Value> {
        let reply = request("GET", &self.url("/sim/calls"), None).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        reply.json().as_array().expect("a list of calls").clone()
    }

    /// The calls of one operation (`auth_token`, `verify_token`, `patch`, `updatestate`).
    pub async fn calls_of(&self, operation: &str) -> Vec<Value> {
        let calls = self.calls().await;
        calls
            .into_iter()
            .filter(|call| call["operation"] == operation)
            .collect()
    }

    /// A new order and a FlowToken naming it: `(guid, token)`.
    pub async fn create_order(&self, case_id: i64) -> (String, String) {
        let body = json!({"caseId": case_id}).to_string();
        let reply = request("POST", &self.url("/sim/orders"), Some(body)).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        let created = reply.json();
        let guid = created["Guid"].as_str().expect("Guid").to_owned();
        let token = created["FlowToken"].as_str().expect("FlowToken").to_owned();
        (guid, token)
    }

    /// The order as Flow holds it, or `None` when Flow does not know it.
    pub async fn order(&self, guid: &str) -> Option<Value> {
        let reply = request("GET", &self.url(&format!("/sim/orders/{guid}")), None).await;
        match reply.status.as_u16() {
            200 => Some(reply.json()),
            404 => None,
            other => panic!("GET /sim/orders answered {other}: {reply:?}"),
        }
    }

    pub async fn fault(&self, fault: Value) {
        let reply = request("POST", &self.url("/sim/faults"), Some(fault.to_string())).await;
        assert_eq!(reply.status, 204, "{reply:?}");
    }

    pub async fn clear_faults(&self) {
        let reply = request("DELETE", &self.url("/sim/faults"), None).await;
        assert_eq!(reply.status, 204, "{reply:?}");
    }

    /// A fresh access token for the tests' client, as Flow's `/authtoken` issues it (for a
    /// tenant configured with `kind = "bearer"`).
    pub async fn access_token(&self) -> String {
        let form = format!(
            "grant_type=client_credentials&client_id={SIM_CLIENT_ID}&client_secret={SIM_CLIENT_SECRET}"
        );
        let request = http::Request::post(format!("{}/authtoken", self.base_url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(http_body_util::Full::new(bytes::Bytes::from(form)))
            .expect("a request");
        let reply = exchange(request).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        let token = reply.json()["access_token"].as_str().map(str::to_owned);
        token.expect("an access_token")
    }

    pub async fn expire_tokens(&self) {
        let reply = request("POST", &self.url("/sim/tokens/expire"), None).await;
        assert_eq!(reply.status, 204, "{reply:?}");
    }
}
