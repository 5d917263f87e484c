//! A pipeline stage that either turns one typed webhook into the next (`Routed` → `Received` →
//! `Verified` → …) or answers with a [`Problem`], which carries what its input knew for the
//! outcome line. Typed hand-offs mean a later stage cannot be reached with input an earlier one
//! did not check. The stages are chained as [`Link`]s, which answer through a shared reference.

use std::future::Future;

use axum::response::{IntoResponse, Response};
use tower::Layer;

use super::webhook::Known;
use crate::problem::Problem;

/// One link of the webhook pipeline: a stage with the rest of the chain inside it. Links keep
/// no state per request and are always ready, so they answer through a shared reference: a
/// webhook neither clones the chain nor boxes a future at each link, as tower services would.
pub trait Link<In>: Send + Sync + 'static {
    fn answer(&self, input: In) -> impl Future<Output = Response> + Send;
}

/// The chain with an optional layer (`ServiceBuilder::option_layer`): with it or without it.
impl<A, B, In> Link<In> for tower::util::Either<A, B>
where
    A: Link<In>,
    B: Link<In>,
    In: Send,
{
    async fn answer(&self, input: In) -> Response {
        match self {
            tower::util::Either::Left(with) => with.answer(input).await,
            tower::util::Either::Right(without) => without.answer(input).await,
        }
    }
}

/// One synchronous check of the webhook pipeline. Its error says what is wrong; `problem.rs`
/// decides how that is answered.
pub trait Stage<In>: Clone {
    type Out;
    type Error: Into<Problem>;
    fn run(&self, input: In) -> Result<Self::Out, Self::Error>;
}

/// Wraps a [`Stage`] as a layer of the pipeline.
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

pub struct StageService<T, S> {
    stage: T,
    inner: S,
}

// === impl StageService ===

impl<T, S, In> Link<In> for StageService<T, S>
where
    In: Known + Send,
    T: Stage<In> + Send + Sync + 'static,
    T::Out: Send,
    T::Error: Send,
    S: Link<T::Out>,
{
    async fn answer(&self, input: In) -> Response {
        let known = input.outcome_fields();
        match self.stage.run(input) {
            Ok(next) => self.inner.answer(next).await,
            Err(error) => known.mark(error.into().into_response()),
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

/// Wraps an [`AsyncStage`] as a layer of the pipeline.
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

pub struct AsyncStageService<T, S> {
    stage: T,
    inner: S,
}

// === impl AsyncStageService ===

impl<T, S, In> Link<In> for AsyncStageService<T, S>
where
    In: Known + Send,
    T: AsyncStage<In>,
    S: Link<T::Out>,
{
    async fn answer(&self, input: In) -> Response {
        let known = input.outcome_fields();
        match self.stage.run(input).await {
            // Boxed: the rest of the chain is made only when reached, so a webhook refused
            // earlier never makes (nor moves) the state of the stages it did not reach.
            Ok(next) => Box::pin(self.inner.answer(next)).await,
            Err(answer) => known.mark(answer.into_response()),
        }
    }
}
