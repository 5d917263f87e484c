//! The admin bearer token (contract section 9): every `/admin` request must present the
//! configured token. No token configured is 403 for everyone, so an unset variable never opens
//! the admin API; a missing or wrong token is 401. The check answers with a response.

use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures_util::future::{Either, Ready, ready};
use http::{HeaderMap, HeaderValue, Request, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tower::{Layer, Service};

use crate::problem::{Code, Problem};

/// Why a request was refused; one variant per failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("No admin token is configured; the admin API is closed.")]
    NotConfigured,
    #[error("An `Authorization: Bearer <token>` header is required.")]
    Missing,
    #[error("The admin token is not valid.")]
    Wrong,
}

impl From<AuthError> for Problem {
    fn from(error: AuthError) -> Self {
        let code = match error {
            AuthError::NotConfigured => Code::Forbidden,
            AuthError::Missing | AuthError::Wrong => Code::Unauthorized,
        };
        Problem::new(code, error.to_string())
    }
}

/// Requires the admin token. Only its SHA-256 is kept: comparing fixed-size digests in constant
/// time leaks neither the token's bytes nor its length.
#[derive(Clone, Copy)]
pub struct RequireBearerLayer {
    expected: Option<[u8; 32]>,
}

impl RequireBearerLayer {
    /// `None` (or an empty token) closes the admin API.
    pub fn new(token: Option<&str>) -> Self {
        let expected = token
            .filter(|t| !t.is_empty())
            .map(|t| Sha256::digest(t.as_bytes()).into());
        Self { expected }
    }

    /// Whether `headers` carry the configured token.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        let expected = self.expected.ok_or(AuthError::NotConfigured)?;
        let presented = bearer(headers).ok_or(AuthError::Missing)?;
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        if bool::from(digest.ct_eq(&expected)) {
            Ok(())
        } else {
            Err(AuthError::Wrong)
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// 401 and 403 as the contract has them; a 401 names the scheme to use (RFC 6750).
fn refuse(error: AuthError) -> Response {
    let mut response = Problem::from(error).into_response();
    let challenge = match error {
        AuthError::NotConfigured => return response,
        AuthError::Missing => r#"Bearer realm="flowgate-admin""#,
        AuthError::Wrong => r#"Bearer realm="flowgate-admin", error="invalid_token""#,
    };
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

impl<S> Layer<S> for RequireBearerLayer {
    type Service = RequireBearer<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireBearer { inner, auth: *self }
    }
}

#[derive(Clone)]
pub struct RequireBearer<S> {
    inner: S,
    auth: RequireBearerLayer,
}

// === impl RequireBearer ===

impl<S> Service<Request<Body>> for RequireBearer<S>
where
    S: Service<Request<Body>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        match self.auth.check(request.headers()) {
            Ok(()) => Either::Right(self.inner.call(request)),
            Err(error) => Either::Left(ready(Ok(refuse(error)))),
        }
    }
}
