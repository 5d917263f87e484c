//! Tenants: the list, pause, resume and closing the circuit by hand.

use serde_json::json;
use tokio::time::Instant;

use super::{End, admin, assert_problem};
use crate::config::CircuitConfig;
use crate::deliver::circuit::CallResult;

#[tokio::test]
async fn pause_and_resume_switch_the_tenant() {
    let gw = admin();
    let reply = gw.call("POST", "/admin/tenants/acme/pause").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, json!({"tenant": "acme", "paused": true}));
    assert!(gw.control.is_paused("acme"));
    assert!(!gw.control.is_paused("beta"));
    let reply = gw.call("POST", "/admin/tenants/acme/resume").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, json!({"tenant": "acme", "paused": false}));
    assert!(!gw.control.is_paused("acme"));
}

#[tokio::test]
async fn closing_an_open_circuit_lets_calls_through_again() {
    let gw = admin();
    let circuit = gw.control.circuit("beta").expect("a circuit");
    for _ in 0..CircuitConfig::default().failures {
        circuit.record(Instant::now(), CallResult::Failure);
    }
    assert!(circuit.is_open(Instant::now()));
    let reply = gw.call("POST", "/admin/tenants/beta/circuit/close").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, json!({"tenant": "beta", "circuit": "closed"}));
    assert!(!circuit.is_open(Instant::now()));
}

#[tokio::test]
async fn an_unknown_tenant_is_404() {
    let gw = admin();
    for uri in [
        "/admin/tenants/nobody/pause",
        "/admin/tenants/nobody/resume",
        "/admin/tenants/nobody/circuit/close",
    ] {
        assert_problem(&gw.call("POST", uri).await, 404, "not-found");
    }
}

#[tokio::test]
async fn the_list_shows_every_tenant_with_its_switches_and_deliveries() {
    let gw = admin();
    let order = uuid::Uuid::new_v4;
    gw.delivery("photo", "acme", order(), 5, End::Dead).await;
    gw.delivery("photo", "acme", order(), 5, End::Delivered)
        .await;
    gw.delivery("photo", "acme", order(), 3, End::Pending).await;
    gw.delivery("photo", "acme", order(), 1, End::Pending).await;
    gw.delivery("photo", "gone", order(), 1, End::Pending).await;
    gw.control.set_paused("acme", true);
    let circuit = gw.control.circuit("beta").expect("a circuit");
    for _ in 0..CircuitConfig::default().failures {
        circuit.record(Instant::now(), CallResult::Failure);
    }
    let reply = gw.call("GET", "/admin/tenants").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let expected = json!({"tenants": [
        {"tenant": "acme", "paused": true, "circuit": "closed", "pending": 2, "retrying": 0, "dead": 1},
        {"tenant": "beta", "paused": false, "circuit": "open", "pending": 0, "retrying": 0, "dead": 0},
    ]});
    assert_eq!(reply.body, expected, "only configured tenants, by name");
}
