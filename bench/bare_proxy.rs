//! The baseline of `bench/load.sh`: a bare hyper reverse proxy that forwards every request to
//! one upstream through a pooled client, doing nothing else. What flowgate costs beyond a plain
//! forward is measured against it.
//! Usage: `cargo run --release --example bare-proxy -- LISTEN UPSTREAM` (both `127.0.0.1:PORT`).

use std::convert::Infallible;
use std::net::SocketAddr;

use http::{Request, Response, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

type Upstream = Client<HttpConnector, Incoming>;
type Answer = Response<BoxBody<Bytes, hyper::Error>>;

async fn forward(
    client: Upstream,
    upstream: SocketAddr,
    mut request: Request<Incoming>,
) -> Result<Answer, Infallible> {
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let uri: Result<Uri, _> = format!("http://{upstream}{path}").parse();
    let Ok(uri) = uri else {
        return Ok(bad_gateway());
    };
    *request.uri_mut() = uri;
    request.headers_mut().remove(http::header::HOST);
    match client.request(request).await {
        Ok(response) => Ok(response.map(BodyExt::boxed)),
        Err(_) => Ok(bad_gateway()),
    }
}

fn bad_gateway() -> Answer {
    let mut response = Response::new(Empty::new().map_err(|never| match never {}).boxed());
    *response.status_mut() = http::StatusCode::BAD_GATEWAY;
    response
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut address = || -> std::io::Result<SocketAddr> {
        args.next()
            .ok_or_else(|| std::io::Error::other("usage: bare-proxy LISTEN UPSTREAM"))?
            .parse()
            .map_err(std::io::Error::other)
    };
    let (listen, upstream) = (address()?, address()?);
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Upstream = Client::builder(TokioExecutor::new()).build(connector);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let client = client.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| forward(client.clone(), upstream, request));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
