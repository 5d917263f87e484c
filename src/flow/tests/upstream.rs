//! A recording upstream for the Flow client's tests: a loopback HTTP/1.1 server that records
//! every request (method, path, headers, body) and answers as the test scripts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use http::HeaderMap;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// One request as the upstream received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query, exactly as sent.
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn is_auth(&self) -> bool {
        self.path.ends_with("/authtoken")
    }
}

/// How the upstream answers one request.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "application/json".to_owned())],
            body: Bytes::from(body.to_owned()),
            delay: Duration::ZERO,
        }
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

type Script = dyn Fn(&Recorded) -> Reply + Send + Sync;

pub struct Upstream {
    /// `http://127.0.0.1:<port>/flow`, no trailing slash.
    pub base: String,
    calls: Arc<Mutex<Vec<Recorded>>>,
}

impl Upstream {
    pub async fn start(script: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Upstream {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let recorder = calls.clone();
        let router = Router::new().fallback(move |request: Request| {
            let (calls, script) = (recorder.clone(), script.clone());
            async move { answer(request, &calls, &*script).await }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}/flow", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let service = TowerToHyperService::new(router.clone());
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        Upstream { base, calls }
    }

    pub fn calls(&self) -> Vec<Recorded> {
        self.calls.lock().expect("calls").clone()
    }

    pub fn auth_calls(&self) -> usize {
        self.calls().iter().filter(|c| c.is_auth()).count()
    }

    pub fn api_calls(&self) -> Vec<Recorded> {
        self.calls().into_iter().filter(|c| !c.is_auth()).collect()
    }
}

async fn answer(request: Request, calls: &Mutex<Vec<Recorded>>, script: &Script) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.expect("body");
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.to_string(),
        headers: parts.headers,
        body,
    };
    let reply = script(&recorded);
    calls.lock().expect("calls").push(recorded);
    tokio::time::sleep(reply.delay).await;
    let mut response = Response::builder().status(reply.status);
    for (name, value) in reply.headers {
        response = response.header(name, value);
    }
    response.body(Body::from(reply.body)).expect("response")
}

/// Flow as the tests usually want it: `/authtoken` issues `token-1`, `token-2`, ... valid for
/// `expires_in` seconds; `api` answers every other request, knowing its bearer.
pub fn flow(
    expires_in: u64,
    api: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
) -> impl Fn(&Recorded) -> Reply + Send + Sync + 'static {
    let issued = AtomicUsize::new(0);
    move |request: &Recorded| {
        if request.is_auth() {
            let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
            let body = format!(
                r#"{{"access_token":"token-{n}","token_type":"bearer","expires_in":{expires_in}}}"#
            );
            Reply::json(200, &body)
        } else {
            api(request)
        }
    }
}

/// An order model, the usual 200 answer.
pub fn ok(_: &Recorded) -> Reply {
    Reply::json(200, r#"{"Id":7,"Title":"Photos"}"#)
}

/// A listener that accepts connections and never answers.
pub async fn silent() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}/flow", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    base
}

/// A base URL where nothing listens.
pub async fn refused() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}/flow")
}
