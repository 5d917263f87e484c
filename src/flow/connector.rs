//! The connector under the Flow client: TLS with the system's roots, ALPN choosing HTTP/2 or
//! HTTP/1.1. When no roots can be loaded, plain HTTP keeps working and https fails clearly.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use http::uri::Scheme;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Stream = MaybeHttpsStream<TokioIo<TcpStream>>;

/// `https` asked for while the system offered no root certificate.
#[derive(Debug, thiserror::Error)]
#[error("no TLS root certificates could be loaded from the system: https is unavailable")]
struct NoRoots;

#[derive(Clone)]
pub(super) enum FlowConnector {
    Tls(HttpsConnector<HttpConnector>),
    PlainOnly(HttpConnector),
}

impl FlowConnector {
    pub(super) fn new(connect_timeout: Duration) -> FlowConnector {
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(connect_timeout));
        // Requests are small and latency matters more than packet count.
        tcp.set_nodelay(true);
        match HttpsConnectorBuilder::new().with_native_roots() {
            Ok(builder) => FlowConnector::Tls(
                builder
                    .https_or_http()
                    .enable_http1()
                    .enable_http2()
                    .wrap_connector(tcp),
            ),
            Err(error) => {
                tracing::warn!(%error, "no TLS root certificates could be loaded; calls to https Flow URLs will fail");
                FlowConnector::PlainOnly(tcp)
            }
        }
    }
}

impl tower::Service<Uri> for FlowConnector {
    type Response = Stream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            FlowConnector::Tls(tls) => tls.poll_ready(cx),
            FlowConnector::PlainOnly(tcp) => tcp.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        match self {
            FlowConnector::Tls(tls) => tls.call(uri),
            FlowConnector::PlainOnly(_) if uri.scheme() == Some(&Scheme::HTTPS) => {
                Box::pin(async { Err(NoRoots.into()) })
            }
            FlowConnector::PlainOnly(tcp) => {
                let connecting = tcp.call(uri);
                Box::pin(async move { Ok(MaybeHttpsStream::Http(connecting.await?)) })
            }
        }
    }
}
