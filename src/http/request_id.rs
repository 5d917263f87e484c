//! `x-request-id`: the caller's value when it is safe to echo, otherwise a fresh one; set on the
//! request for every later layer and on every response. Problems are rendered here because this
//! is the one layer that knows the id of every answer.

use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use futures_util::future::BoxFuture;
use http::{HeaderName, HeaderValue, Request};
use tower::{Layer, Service};

use crate::problem::Problem;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const MAX_LEN: usize = 128;

/// The request's id, in the request's extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub HeaderValue);

impl RequestId {
    /// Keeps the caller's id when it matches `[A-Za-z0-9._-]{1,128}`, else makes one.
    pub fn from_header(value: Option<&HeaderValue>) -> Self {
        let safe = |v: &&HeaderValue| {
            let bytes = v.as_bytes();
            (1..=MAX_LEN).contains(&bytes.len())
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        };
        match value.filter(safe) {
            Some(value) => Self(value.clone()),
            None => Self::fresh(),
        }
    }

    fn fresh() -> Self {
        // Formatted on the stack: the header value is the only copy made.
        let mut text = [0; uuid::fmt::Simple::LENGTH];
        let id = uuid::Uuid::now_v7().simple().encode_lower(&mut text);
        Self(HeaderValue::from_str(id).unwrap_or(HeaderValue::from_static("unknown")))
    }

    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

#[derive(Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = SetRequestId<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SetRequestId { inner }
    }
}

#[derive(Clone)]
pub struct SetRequestId<S> {
    inner: S,
}

// === impl SetRequestId ===

impl<S, B> Service<Request<Body>> for SetRequestId<S>
where
    S: Service<Request<Body>, Response = http::Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let id = RequestId::from_header(request.headers().get(REQUEST_ID));
        request.headers_mut().insert(REQUEST_ID, id.0.clone());
        request.extensions_mut().insert(id.clone());
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut response = Problem::render(response.await?.map(Body::new), id.as_str());
            response.headers_mut().insert(REQUEST_ID, id.0);
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_ids_are_kept_and_unsafe_ones_replaced() {
        let keep = HeaderValue::from_static("abc-123_X.y");
        assert_eq!(RequestId::from_header(Some(&keep)).0, keep);
        for bad in ["", "has space", "semi;colon", &"x".repeat(129)] {
            let value = HeaderValue::from_str(bad).expect("header");
            let id = RequestId::from_header(Some(&value));
            assert_ne!(id.0, value, "{bad:?} must be replaced");
            assert_eq!(id.as_str().len(), 32);
        }
        assert_eq!(RequestId::from_header(None).as_str().len(), 32);
    }
}
