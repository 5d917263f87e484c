//! Tests of the whole simulator through `Simulator::router()` with `oneshot`, no sockets.

mod faults;
mod flow_api;
mod inspect;
mod rate;

use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{Simulator, SimulatorSettings};

const CLIENT_ID: &str = "flowgate-test";
const CLIENT_SECRET: &str = "s3cret-value";
const TTL: Duration = Duration::from_secs(1200);

/// A simulator router with the test credentials and a 1200 s token lifetime.
fn router() -> Router {
    router_with_ttl(TTL)
}

fn router_with_ttl(token_ttl: Duration) -> Router {
    Simulator::new(SimulatorSettings {
        client_id: CLIENT_ID.to_owned(),
        client_secret: CLIENT_SECRET.to_owned(),
        token_ttl,
    })
    .router()
}

/// A finished response: status, headers and the body, parsed as JSON when it is JSON.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn form_request(form: &str) -> Request<Body> {
    Request::post("/flow/authtoken")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .expect("request")
}

fn token_form(client_id: &str, secret: &str) -> String {
    format!("grant_type=client_credentials&client_id={client_id}&client_secret={secret}")
}

/// A fresh access token for the test client.
async fn access_token(router: &Router) -> String {
    let answer = send(router, form_request(&token_form(CLIENT_ID, CLIENT_SECRET))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// A Flow API request with JSON `body` (sent as its text) and an optional bearer token.
fn api(method: Method, path: &str, token: Option<&str>, body: &str) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8");
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Body::from(body.to_owned())).expect("request")
}

fn updatestate_path(guid: &str) -> String {
    format!("/flow/api/marketingintegrators/orders/{guid}/updatestate")
}

fn order_path(guid: &str) -> String {
    format!("/flow/api/marketingintegrators/orders/{guid}")
}

async fn update_state(router: &Router, token: &str, guid: &str, body: Value) -> Answer {
    let path = updatestate_path(guid);
    send(
        router,
        api(Method::POST, &path, Some(token), &body.to_string()),
    )
    .await
}

async fn sim_post(router: &Router, path: &str, body: Value) -> Answer {
    send(router, api(Method::POST, path, None, &body.to_string())).await
}

async fn sim_get(router: &Router, path: &str) -> Answer {
    let request = Request::get(path).body(Body::empty()).expect("request");
    send(router, request).await
}

/// Seeds an order through `/sim/orders`; answers its GUID and FlowToken.
async fn seed_order(router: &Router, case_id: i64) -> (String, String) {
    let answer = sim_post(router, "/sim/orders", json!({ "caseId": case_id })).await;
    assert_eq!(answer.status, StatusCode::OK);
    let guid = answer.body["Guid"].as_str().expect("Guid").to_owned();
    let token = answer.body["FlowToken"]
        .as_str()
        .expect("FlowToken")
        .to_owned();
    (guid, token)
}
