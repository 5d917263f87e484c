//! A pipeline stage that either turns one typed webhook into the next (`Routed` → `Received` →
//! `Verified` → …) or answers with a [`Problem`], which carries what its input knew for the
//! outcome line. Typed hand-offs mean a later stage cannot be reached with input an earlier one
//! did not check.

use std::convert::Infallible;
use std::future::Future;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, Either, Ready, ready};
use tower::{Layer, Service};

use super::webhook::Known;
use crate::problem::Problem;

/// One synchronous check of the webhook pipeline. Its error says what is wrong; `problem.rs`
/// decides how that is answered.
pub trait Stage<In>: Clone {
    type Out;
    type Error: Into<Problem>;
    fn run(&self, input: In) -> Result<Self::Out, Self::Error>;
}

/// Wraps a [`Stage`] as a tower layer.
#[derive(Clone)]
pub struct StageLayer<T> {
    stage: T,
}

impl<T> StageLayer<T> {
    pub fn new(stage: T) -> Self {
        Self { stage }
    }
}

impl<T: Clone, S> Layer<S> for StageLayer<T> {
    type Service = StageService<T, S>;

    fn layer(&self, inner: S) -> Self::Service {
        StageService {
            stage: self.stage.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct StageService<T, S> {
    stage: T,
    inner: S,
}

// === impl StageService ===

impl<T, S, In> Service<In> for StageService<T, S>
where
    In: Known,
    T: Stage<In>,
    S: Service<T::Out, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, Ready<Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, input: In) -> Self::Future {
        let known = input.outcome_fields();
        match self.stage.run(input) {
            Ok(next) => Either::Left(self.inner.call(next)),
            Err(error) => Either::Right(ready(Ok(known.mark(error.into().into_response())))),
        }
    }
}

/// A stage that waits on something outside the process (the order book, Flow) before it can
/// hand the webhook on or answer.
pub trait AsyncStage<In>: Clone + Send + Sync + 'static {
    type Out: Send;
    /// An answer that ends the pipeline: a problem, or (dedup) the original delivery.
    type Error: IntoResponse + Send;
    fn run(&self, input: In) -> impl Future<Output = Result<Self::Out, Self::Error>> + Send;
}

/// Wraps an [`AsyncStage`] as a tower layer.
#[derive(Clone)]
pub struct AsyncStageLayer<T> {
    stage: T,
}

impl<T> AsyncStageLayer<T> {
    pub fn new(stage: T) -> Self {
        Self { stage }
    }
}

impl<T: Clone, S> Layer<S> for AsyncStageLayer<T> {
    type Service = AsyncStageService<T, S>;

    fn layer(&self, inner: S) -> Self::Service {
        AsyncStageService {
            stage: self.stage.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct AsyncStageService<T, S> {
    stage: T,
    inner: S,
}

// === impl AsyncStageService ===

impl<T, S, In> Service<In> for AsyncStageService<T, S>
where
    In: Known + Send + 'static,
    T: AsyncStage<In>,
    S: Service<T::Out, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, input: In) -> Self::Future {
        let stage = self.stage.clone();
        // The clone is not ready yet; the readied service goes with this call (tower's pattern).
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let known = input.outcome_fields();
        Box::pin(async move {
            match stage.run(input).await {
                Ok(next) => inner.call(next).await,
                Err(answer) => Ok(known.mark(answer.into_response())),
            }
        })
    }
}
