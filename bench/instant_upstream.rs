//! An instant Flow for load runs: answers `/flow/authtoken` with a long-lived access token and
//! every other request with a fixed order model, at once, without checking anything. It is the
//! upstream of `bench/load.sh`, so a run measures the gateway and not Flow's rate limit.
//! Usage: `cargo run --release --example instant-upstream -- 127.0.0.1:PORT`.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

const TOKEN: &str = r#"{"access_token":"bench-token","token_type":"bearer","expires_in":86400}"#;
const ORDER: &str = r#"{"Id":1,"Guid":"9f0c8f0e-3c1b-4d59-a7b5-2b0b6c1d2e3f","Title":"Photo package M","ActionText":"Open","CaseBaseId":10351,"MarketingIntegratorId":1,"CreatedDate":"2026-11-28T13:00:39.1234567+01:00","ModifiedDate":"2026-11-28T12:00:39.123Z","Metadata":"[]","OrderStatuses":[{"Id":1,"Status":"Photos delivered","OrderStateType":"Completed","CreatedDate":"2026-11-28T13:00:39+01:00"}]}"#;

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = if request.uri().path().ends_with("/authtoken") {
        TOKEN
    } else {
        ORDER
    };
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    Ok(response)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8082".to_owned())
        .parse()
        .map_err(std::io::Error::other)?;
    let listener = tokio::net::TcpListener::bind(address).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let connection =
                http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(answer));
            let _ = connection.await;
        });
    }
}
