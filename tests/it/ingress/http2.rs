//! HTTP/2 with prior knowledge (h2c) beside HTTP/1.1 on both listeners (DESIGN section 15): a
//! client that opens with HTTP/2's preface is served HTTP/2, through the same pipeline.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Method, Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use super::assert_cut_after_request_timeout;
use crate::support::fixtures::{self, ORDER_ID, canonical, canonical_body};
use crate::support::sign;

/// Sends `request` over HTTP/2 with prior knowledge; the status, version and body of the answer.
async fn h2c(request: Request<Full<Bytes>>) -> (StatusCode, Version, Value) {
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let response = client.request(request).await.expect("an HTTP/2 answer");
    let (status, version) = (response.status(), response.version());
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, version, body)
}

fn get(address: SocketAddr, path: &str) -> Request<Full<Bytes>> {
    Request::get(format!("http://{address}{path}"))
        .body(Full::default())
        .expect("a request")
}

#[tokio::test]
async fn a_signed_webhook_over_h2c_is_accepted_and_delivered() {
    let gw = fixtures::gateway("", "").await;
    let body = canonical_body(ORDER_ID, json!({"state": "Completed"}));
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}/webhooks/canonical", gw.public))
        .header("content-type", "application/json");
    for (name, value) in sign::sign(&canonical(), body.as_bytes()) {
        request = request.header(name, value);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .expect("a request");
    let (status, version, answer) = h2c(request).await;
    assert_eq!(version, Version::HTTP_2);
    assert_eq!(
        status,
        StatusCode::OK,
        "a sync vendor is answered with Flow's result: {answer}"
    );
    let calls = gw.sim().calls_of("updatestate").await;
    assert_eq!(calls.len(), 1, "delivered once: {calls:?}");
}

#[tokio::test]
async fn refusals_over_h2c_are_the_same_problem_documents() {
    let gw = fixtures::gateway("", "").await;
    let request = Request::post(format!("http://{}/webhooks/canonical", gw.public))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{}")))
        .expect("a request");
    let (status, version, problem) = h2c(request).await;
    assert_eq!(
        (status, version),
        (StatusCode::UNAUTHORIZED, Version::HTTP_2)
    );
    assert_eq!(problem["code"], "signature-invalid");
}

#[tokio::test]
async fn both_listeners_answer_http2_and_http1_on_one_port() {
    let gw = fixtures::gateway("", "").await;
    let (status, version, _) = h2c(get(gw.public, "/ping")).await;
    assert_eq!((status, version), (StatusCode::OK, Version::HTTP_2));
    let (status, version, ready) = h2c(get(gw.admin, "/readyz")).await;
    assert_eq!(
        (status, version),
        (StatusCode::OK, Version::HTTP_2),
        "{ready}"
    );
    let reply = gw.webhook("canonical", "{}").send().await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "HTTP/1.1 still served"
    );
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_request_timeout() {
    assert_cut_after_request_timeout(|_| Vec::new()).await;
}

#[tokio::test]
async fn a_preface_cut_short_is_closed_after_request_timeout() {
    assert_cut_after_request_timeout(|_| b"PRI * HTTP/2.0\r\n".to_vec()).await;
}

#[tokio::test]
async fn a_connection_idle_after_its_preface_is_closed_after_request_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = fixtures::gateway(r#"request_timeout = "1s""#, "").await;
    let started = std::time::Instant::now();
    let mut idle = tokio::net::TcpStream::connect(gw.public)
        .await
        .expect("connect");
    // The preface and an empty SETTINGS frame: a valid HTTP/2 connection with no request.
    let mut opening = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    opening.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    idle.write_all(&opening).await.expect("send the preface");
    let mut frames = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        idle.read_to_end(&mut frames),
    )
    .await;
    assert!(closed.is_ok(), "an idle HTTP/2 connection is kept open");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "closed too early"
    );
}
