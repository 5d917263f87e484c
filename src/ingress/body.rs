//! Reads a webhook's body whole, enforcing `server.max_body_bytes` while streaming (whatever
//! Content-Length says) and `server.max_buffered_bytes` across all bodies held at once.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use http::header;
use http_body_util::BodyExt;
use tokio::sync::Semaphore;
use tower::Layer;

use super::stage::Link;
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

pub struct ReadBody<S> {
    inner: S,
    max_body: u64,
    budget: Arc<Semaphore>,
}

// === impl ReadBody ===

impl<S: Link<Received>> Link<Routed> for ReadBody<S> {
    async fn answer(&self, routed: Routed) -> Response {
        match read(routed, self.max_body, &self.budget).await {
            // Boxed: the stages after the body are made only once it is read, so the state held
            // (and moved) while a body streams in stays small.
            Ok(received) => Box::pin(self.inner.answer(received)).await,
            Err(error) => Problem::from(error).into_response(),
        }
    }
}

async fn read(
    routed: Routed,
    max_body: u64,
    budget: &Arc<Semaphore>,
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
