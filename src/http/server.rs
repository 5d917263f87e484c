//! The accept loop of both listeners: HTTP/1.1, and HTTP/2 with prior knowledge (h2c) for a
//! client whose first bytes are HTTP/2's preface. The first bytes and every HTTP/1.1 request
//! head must arrive within a deadline (a slow or silent client cannot hold a connection
//! forever); connections close gracefully when shutdown closes the listeners.

use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use super::client_addr::Peer;

/// How long to pause accepting after an accept error (out of file descriptors, say), so the
/// loop does not spin while the condition lasts.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// How long to wait before looking again at a preface that arrived in parts.
const PREFACE_PAUSE: Duration = Duration::from_millis(5);

/// What an HTTP/2 client with prior knowledge sends first (RFC 9113, section 3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Serves `router` on `listener` until `closed` turns true, then stops accepting, asks every
/// connection to finish its request in flight and close, and waits for them.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    closed: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut http1 = http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let mut http2 = http2::Builder::new(TokioExecutor::new());
    http2.timer(TokioTimer::new());
    let connections = GracefulShutdown::new();
    let closed = wait_for(closed);
    tokio::pin!(closed);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            () = &mut closed => break,
        };
        // Answers are small and latency matters more than packet count.
        let _ = stream.set_nodelay(true);
        // The peer, for the client address (`client_addr.rs`).
        let service = TowerToHyperService::new(router.clone().map_request(
            move |mut request: http::Request<Incoming>| {
                request.extensions_mut().insert(Peer(peer));
                request
            },
        ));
        let (http1, http2) = (http1.clone(), http2.clone());
        let watcher = connections.watcher();
        tokio::spawn(async move {
            let ended = match tokio::time::timeout(header_timeout, protocol(&stream)).await {
                Ok(Ok(Protocol::Http2)) => {
                    let connection = http2.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(connection).await.map_err(|e| e.to_string())
                }
                Ok(Ok(Protocol::Http1)) => {
                    let connection = http1.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(connection).await.map_err(|e| e.to_string())
                }
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err("no request began within the deadline".to_owned()),
            };
            if let Err(error) = ended {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
    Ok(())
}

async fn wait_for(mut closed: watch::Receiver<bool>) {
    let _ = closed.wait_for(|closed| *closed).await;
}

/// Which protocol a connection speaks.
enum Protocol {
    Http1,
    Http2,
}

/// Reads (without taking) a new connection's first bytes until they either are HTTP/2's preface
/// or cannot be: the choice is made on what the client sent, never on a guess.
async fn protocol(stream: &TcpStream) -> std::io::Result<Protocol> {
    let mut first = [0u8; H2_PREFACE.len()];
    loop {
        let read = stream.peek(&mut first).await?;
        if read == 0 || first[..read] != H2_PREFACE[..read] {
            return Ok(Protocol::Http1);
        }
        if read == H2_PREFACE.len() {
            return Ok(Protocol::Http2);
        }
        // A prefix of the preface so far: look again shortly (the data already there keeps the
        // stream readable, so waiting for readiness would spin).
        tokio::time::sleep(PREFACE_PAUSE).await;
    }
}
