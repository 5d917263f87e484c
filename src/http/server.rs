//! The accept loop of both listeners: HTTP/1.1, and HTTP/2 with prior knowledge (h2c) for a
//! client whose first bytes are HTTP/2's preface; optionally behind a PROXY protocol header (v1
//! or v2) that names the client. With TLS (the public listener's `[server.tls]`), the handshake
//! follows the PROXY header and ALPN chooses HTTP/2 or HTTP/1.1. The PROXY header, the handshake
//! (or first bytes) and every HTTP/1.1 request head must each arrive within a deadline, and an
//! HTTP/2 connection may not idle longer (a slow or silent client cannot hold a connection
//! forever); connections close gracefully when shutdown
//! closes the listeners.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::Router;
use axum::body::Body;
use axum::response::Response;
use futures_util::future::BoxFuture;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use ppp::{HeaderResult, PartialResult, v1, v2};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::server::TlsStream;
use tower::ServiceExt;

use super::client_addr::Peer;
use crate::tls::LiveTls;

/// How long to pause accepting after an accept error (out of file descriptors, say), so the
/// loop does not spin while the condition lasts.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// How long to wait before looking again at a preface that arrived in parts.
const PREFACE_PAUSE: Duration = Duration::from_millis(5);

/// What an HTTP/2 client with prior knowledge sends first (RFC 9113, section 3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The largest PROXY header read: v1's is at most 107 bytes, v2's 16 plus its addresses and
/// whatever TLVs the balancer adds.
const MAX_PROXY_HEADER: usize = 4096;

/// How a listener takes its connections.
#[derive(Clone, Debug)]
pub struct Accept {
    /// How long a connection may take to send its first bytes (or complete its TLS handshake),
    /// and each HTTP/1.1 request its head (and its PROXY header, when one is expected).
    pub header_timeout: Duration,
    /// Every connection opens with a PROXY protocol header, whose source is the peer; one
    /// without a valid header is closed.
    pub proxy_protocol: bool,
    /// Every connection is TLS, accepted with the configuration current when it arrives.
    pub tls: Option<LiveTls>,
}

impl Accept {
    /// Plain connections, with `header_timeout`.
    pub fn plain(header_timeout: Duration) -> Accept {
        Accept {
            header_timeout,
            proxy_protocol: false,
            tls: None,
        }
    }
}

/// What answers a listener's requests: an axum [`Router`] (the admin listener), or routes that
/// answer through a shared reference (the public listener's, `ingress`), so a request clones no
/// router.
pub trait Serve: Send + Sync + 'static {
    fn serve(&self, request: http::Request<Body>) -> BoxFuture<'static, Response>;
}

impl Serve for Router {
    fn serve(&self, request: http::Request<Body>) -> BoxFuture<'static, Response> {
        let answer = self.clone().oneshot(request);
        Box::pin(async move {
            match answer.await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        })
    }
}

/// A listener's routes. A reload replaces them; each request runs to its end on the routes it
/// started with, so a connection kept alive across a reload serves its next request on the new
/// ones. Reading them costs an atomic load, not a lock.
#[derive(Clone)]
pub struct Routes(Arc<ArcSwap<Box<dyn Serve>>>);

impl Routes {
    pub fn new(routes: impl Serve) -> Routes {
        let routes: Box<dyn Serve> = Box::new(routes);
        Routes(Arc::new(ArcSwap::from_pointee(routes)))
    }

    /// The routes for requests that start from now on.
    pub fn replace(&self, routes: impl Serve) {
        let routes: Box<dyn Serve> = Box::new(routes);
        self.0.store(Arc::new(routes));
    }

    fn serve(&self, request: http::Request<Body>) -> BoxFuture<'static, Response> {
        self.0.load().serve(request)
    }
}

/// Serves `routes` on `listener` until `closed` turns true, then stops accepting, asks every
/// connection to finish its request in flight and close, and waits for them.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    accept: Accept,
    closed: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let header_timeout = accept.header_timeout;
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
        let served = Served {
            routes: routes.clone(),
            http1: http1.clone(),
            http2: http2.clone(),
            watcher: connections.watcher(),
        };
        tokio::spawn(connection(stream, peer, accept.clone(), served));
    }
    drop(listener);
    connections.shutdown().await;
    Ok(())
}

/// What serves one connection: the routes, both protocols, and the shutdown it obeys.
struct Served {
    routes: Routes,
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
    watcher: Watcher,
}

/// One connection: its PROXY header when one is expected, its TLS handshake when the listener
/// serves TLS, then HTTP/1.1 or HTTP/2 as ALPN or its first bytes say, served until it closes or
/// shutdown asks it to finish. Each step has its own deadline.
async fn connection(mut stream: TcpStream, mut peer: SocketAddr, accept: Accept, served: Served) {
    let header_timeout = accept.header_timeout;
    if accept.proxy_protocol {
        match tokio::time::timeout(header_timeout, proxied(&mut stream)).await {
            Ok(Ok(source)) => peer = source.unwrap_or(peer),
            Ok(Err(error)) => {
                tracing::debug!(%error, %peer, "closed a connection without a valid PROXY header");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "closed a connection that sent no PROXY header in time");
                return;
            }
        }
    }
    let ended = match &accept.tls {
        Some(tls) => match handshake(stream, peer, tls, header_timeout).await {
            Some((stream, protocol)) => {
                serve_as(stream, protocol, peer, served, header_timeout).await
            }
            None => return,
        },
        None => match tokio::time::timeout(header_timeout, protocol(&stream)).await {
            Ok(Ok(protocol)) => serve_as(stream, protocol, peer, served, header_timeout).await,
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("no request began within the deadline".to_owned()),
        },
    };
    if let Err(error) = ended {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// The TLS handshake, within `timeout`, and the protocol ALPN chose (HTTP/1.1 when the client
/// offered none); `None` when the connection is closed instead.
async fn handshake(
    stream: TcpStream,
    peer: SocketAddr,
    tls: &LiveTls,
    timeout: Duration,
) -> Option<(TlsStream<TcpStream>, Protocol)> {
    match tokio::time::timeout(timeout, tls.acceptor().accept(stream)).await {
        Ok(Ok(stream)) => {
            let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
            let protocol = if h2 { Protocol::Http2 } else { Protocol::Http1 };
            Some((stream, protocol))
        }
        Ok(Err(error)) => {
            tracing::debug!(%error, %peer, "closed a connection whose TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "closed a connection that did not complete its TLS handshake in time");
            None
        }
    }
}

/// Serves `protocol` on `io` (plain TCP or TLS) with the routes, the peer in every request, under
/// the shutdown watch. An HTTP/2 connection with no request running or begun for `idle` is
/// closed, as HTTP/1.1's header deadline closes an idle HTTP/1.1 connection.
async fn serve_as<I>(
    io: I,
    protocol: Protocol,
    peer: SocketAddr,
    served: Served,
    idle: Duration,
) -> Result<(), String>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let routes = served.routes;
    let activity = Activity::default();
    let counted = activity.clone();
    let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
        // The peer, for the client address (`client_addr.rs`).
        request.extensions_mut().insert(Peer(peer));
        let running = counted.begin();
        let answer = routes.serve(request.map(Body::new));
        async move {
            let answered = answer.await;
            drop(running);
            Ok::<_, std::convert::Infallible>(answered)
        }
    });
    let (io, watcher) = (TokioIo::new(io), served.watcher);
    match protocol {
        Protocol::Http2 => {
            let connection = served.http2.serve_connection(io, service);
            tokio::select! {
                ended = watcher.watch(connection) => ended.map_err(|e| e.to_string()),
                () = activity.idle_for(idle) => Err("idle past the deadline".to_owned()),
            }
        }
        Protocol::Http1 => {
            let connection = served.http1.serve_connection(io, service);
            watcher.watch(connection).await.map_err(|e| e.to_string())
        }
    }
}

/// Whether a connection is in use: requests running, and whether one began since last asked.
#[derive(Clone, Default)]
struct Activity(Arc<(AtomicUsize, AtomicBool)>);

/// One request running; dropped when it is answered.
struct Answering(Activity);

impl Activity {
    fn begin(&self) -> Answering {
        self.0.0.fetch_add(1, Ordering::Relaxed);
        self.0.1.store(true, Ordering::Relaxed);
        Answering(self.clone())
    }

    /// Completes once a whole `period` passes with no request running and none begun.
    async fn idle_for(&self, period: Duration) {
        let mut every = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            every.tick().await;
            let began = self.0.1.swap(false, Ordering::Relaxed);
            if !began && self.0.0.load(Ordering::Relaxed) == 0 {
                return;
            }
        }
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.0.0.fetch_sub(1, Ordering::Relaxed);
    }
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

/// Reads a connection's PROXY header (v1 or v2) and nothing after it: the client it names, or
/// none when the balancer speaks for itself (v2 `LOCAL`, v1 `UNKNOWN`, a Unix socket).
async fn proxied(stream: &mut TcpStream) -> std::io::Result<Option<SocketAddr>> {
    let mut first = vec![0u8; MAX_PROXY_HEADER];
    loop {
        let read = stream.peek(&mut first).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let (length, source) = match HeaderResult::parse(&first[..read]) {
            HeaderResult::V1(Ok(header)) => (header.header.len(), v1_source(&header.addresses)),
            HeaderResult::V2(Ok(header)) => (header.len(), v2_source(&header)),
            incomplete if incomplete.is_incomplete() && read < first.len() => {
                tokio::time::sleep(PREFACE_PAUSE).await;
                continue;
            }
            _ => return Err(std::io::Error::other("not a PROXY protocol header")),
        };
        stream.read_exact(&mut first[..length]).await?;
        return Ok(source);
    }
}

fn v1_source(addresses: &v1::Addresses) -> Option<SocketAddr> {
    match addresses {
        v1::Addresses::Tcp4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v1::Addresses::Tcp6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v1::Addresses::Unknown => None,
    }
}

fn v2_source(header: &v2::Header<'_>) -> Option<SocketAddr> {
    if header.command == v2::Command::Local {
        return None;
    }
    match &header.addresses {
        v2::Addresses::IPv4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v2::Addresses::IPv6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v2::Addresses::Unspecified | v2::Addresses::Unix(_) => None,
    }
}
