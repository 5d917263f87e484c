//! `POST /admin/reload` as the admin API answers it: the gateway's reload itself is tested end to
//! end in `tests/it/reload.rs`.

use super::admin;

#[tokio::test]
async fn a_configuration_that_does_not_load_is_422_with_every_error() {
    let gw = admin();
    let reply = gw.call("POST", "/admin/reload").await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.body["code"], "config-invalid");
    let errors = reply.body["errors"].as_array().expect("errors");
    let keys: Vec<&str> = errors.iter().filter_map(|e| e["key"].as_str()).collect();
    assert_eq!(keys, ["vendors.acme.schema", "server.max_in_flight"]);
    assert!(errors[0]["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn a_reload_needs_the_token() {
    let gw = admin();
    let reply = gw.send("POST", "/admin/reload", None).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
}
