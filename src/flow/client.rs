//! One pooled HTTP client for every tenant's Flow. An exchange, body included, is bounded by the
//! call's deadline, and at most [`MAX_BODY_BYTES`] of an answer is kept.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::time::Instant;

use super::connector::FlowConnector;
use super::{FlowError, FlowResponse, MAX_BODY_BYTES};

/// Idle connections are dropped after this; Flow's hosts keep theirs open about as long.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// One pooled HTTP client for every tenant: HTTP/1.1 and HTTP/2 (ALPN over TLS), rustls with the
/// system's roots, connect timeout.
#[derive(Clone)]
pub struct FlowClient {
    http: Client<FlowConnector, Full<Bytes>>,
}

impl FlowClient {
    pub fn new(connect_timeout: Duration) -> FlowClient {
        let http = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(FlowConnector::new(connect_timeout));
        FlowClient { http }
    }

    /// Sends `request` and reads its answer, all before `deadline`.
    pub(super) async fn exchange(
        &self,
        request: http::Request<Full<Bytes>>,
        deadline: Instant,
    ) -> Result<FlowResponse, FlowError> {
        let started = Instant::now();
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| unreachable(&e))?;
            let (parts, body) = response.into_parts();
            let body = read_capped(body).await?;
            Ok(FlowResponse {
                status: parts.status,
                headers: parts.headers,
                body,
                elapsed: started.elapsed(),
            })
        };
        tokio::time::timeout_at(deadline, exchange)
            .await
            .map_err(|_| FlowError::Timeout)?
    }
}

impl std::fmt::Debug for FlowClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowClient").finish_non_exhaustive()
    }
}

/// The body up to [`MAX_BODY_BYTES`]; the rest is not read (the connection is then not reused).
async fn read_capped(mut body: Incoming) -> Result<Bytes, FlowError> {
    let mut kept = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| unreachable(&e))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let room = MAX_BODY_BYTES - kept.len();
        if data.len() >= room {
            kept.extend_from_slice(&data[..room]);
            break;
        }
        kept.extend_from_slice(&data);
    }
    Ok(kept.freeze())
}

/// The error and its causes on one line ("client error (Connect): tcp connect error: ...").
/// hyper's messages name the failure, never a header or a body.
fn unreachable(error: &(dyn std::error::Error + 'static)) -> FlowError {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        cause = inner.source();
    }
    FlowError::Connect(message)
}
