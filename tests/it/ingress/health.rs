//! Health: `/ping` on the public listener and the admin endpoints `/healthz` and `/readyz`.

use super::gateway;
use crate::support::assert_problem;
use crate::support::client::{get, head};

#[tokio::test]
async fn ping_answers_200_to_get_and_head_while_running() {
    let gw = gateway().await;
    assert_eq!(get(&gw.url("/ping")).await.status, 200);
    let reply = head(&gw.url("/ping")).await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.is_empty());
}

#[tokio::test]
async fn admin_healthz_and_readyz_answer_200_while_running() {
    let gw = gateway().await;
    assert_eq!(get(&gw.admin_url("/healthz")).await.status, 200);
    let ready = get(&gw.admin_url("/readyz")).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json(), serde_json::json!({"ready": true}));
}

#[tokio::test]
async fn an_unknown_admin_path_is_404_not_found() {
    let gw = gateway().await;
    assert_problem(&get(&gw.admin_url("/nope")).await, 404, "not-found");
    assert_problem(&get(&gw.admin_url("/ping")).await, 404, "not-found");
}
