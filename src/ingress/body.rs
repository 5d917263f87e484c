//! Reads a webhook's body whole, enforcing `server.max_body_bytes` while streaming (whatever
//! Content-Length says) and `server.max_buffered_bytes` across all bodies held at once.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use futures_util::future::BoxFuture;
use http::header;
use http_body_util::BodyExt;
use tokio::sync::Semaphore;
use tower::{Layer, Service};

use super::webhook::{BufferPermit, Received, Routed};
use crate::problem::Problem;
use crate::validate::BodyError;

#[derive(Clone)]
pub struct ReadBodyLayer {
    max_body: u64,
    budget: Arc<Semaphore>,
}

impl ReadBodyLayer {
    /// `budget`: one permit per byte of body held in memory.
    pub fn new(max_body: u64, budget: Arc<Semaphore>) -> Self {
        Self { max_body, budget }
    }
}

impl<S> Layer<S> for ReadBodyLayer {
    type Service = ReadBody<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ReadBody {
            inner,
            max_body: self.max_body,
            budget: self.budget.clone(),
        }
    }
}

#[derive(Clone)]
pub struct ReadBody<S> {
    inner: S,
    max_body: u64,
    budget: Arc<Semaphore>,
}

// === impl ReadBody ===

impl<S> Service<Routed> for ReadBody<S>
where
    S: Service<Received, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, routed: Routed) -> Self::Future {
        // The clone that was driven to ready is the one that is called.
        let inner = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, inner);
        let (max_body, budget) = (self.max_body, self.budget.clone());
        Box::pin(async move {
            match read(routed, max_body, budget).await {
                Ok(received) => inner.call(received).await,
                Err(error) => Ok(Problem::from(error).into_response()),
            }
        })
    }
}

async fn read(
    routed: Routed,
    max_body: u64,
    budget: Arc<Semaphore>,
) -> Result<Received, BodyError> {
    let Routed {
        vendor,
        parts,
        mut body,
    } = routed;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max_body) {
        return Err(BodyError::TooLarge(max_body));
    }
    let mut bytes = BytesMut::with_capacity(declared.unwrap_or(0) as usize);
    let mut held: BufferPermit = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Unreadable)?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        if (bytes.len() + chunk.len()) as u64 > max_body {
            return Err(BodyError::TooLarge(max_body));
        }
        let more = u32::try_from(chunk.len()).map_err(|_| BodyError::TooLarge(max_body))?;
        let permit = budget
            .clone()
            .try_acquire_many_owned(more)
            .map_err(|_| BodyError::BuffersFull)?;
        match &mut held {
            Some(held) => held.merge(permit),
            None => held = Some(permit),
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Received {
        vendor,
        parts,
        body: bytes.freeze(),
        budget: held,
    })
}
