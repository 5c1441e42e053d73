//! The one place a request is logged: [`DecisionLayer`] wraps every deciding endpoint
//! (see [`App::router`](super::App::router)).
//!
//! Before the handler it assigns the request id and puts it in the request's extensions,
//! where the handler's [`RequestId`] extractor finds it (pages and other log lines quote
//! it). The handler returns a [`Decided`](super::decision::Decided), whose response
//! carries the [`Decision`] in its extensions. After the handler the layer takes the
//! decision out, writes the decision line ([`Decision::log`]), counts it in the metrics
//! and sets the common response headers (`Cache-Control: no-store`, `X-Request-Id`).
//! The decision never leaves the outpost.
//!
//! A hand-written service and future rather than `axum::middleware::from_fn`: that one
//! boxes a future per request, and the auth subrequest is the hot path.

use super::App;
use super::decision::{Decision, stamp};
use super::request::RequestId;
use axum::extract::Request;
use axum::response::Response;
use pin_project_lite::pin_project;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;
use tower::{Layer, Service};

/// Logs, counts and stamps the decisions of one endpoint (`endpoint` is its label in
/// the line and the metrics).
#[derive(Clone)]
pub struct DecisionLayer {
    app: Arc<App>,
    endpoint: &'static str,
}

impl DecisionLayer {
    /// The layer for the endpoint labelled `endpoint`.
    pub fn new(app: &Arc<App>, endpoint: &'static str) -> Self {
        Self {
            app: app.clone(),
            endpoint,
        }
    }
}

impl<S> Layer<S> for DecisionLayer {
    type Service = DecisionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DecisionService {
            inner,
            app: self.app.clone(),
            endpoint: self.endpoint,
        }
    }
}

/// The service [`DecisionLayer`] makes.
#[derive(Clone)]
pub struct DecisionService<S> {
    inner: S,
    app: Arc<App>,
    endpoint: &'static str,
}

impl<S> Service<Request> for DecisionService<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = DecisionFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let started = Instant::now();
        let id = RequestId::of(request.headers());
        request.extensions_mut().insert(id);
        DecisionFuture {
            inner: self.inner.call(request),
            app: self.app.clone(),
            endpoint: self.endpoint,
            id,
            started,
        }
    }
}

pin_project! {
    /// The handler's future; on completion, logs the decision its response carries.
    pub struct DecisionFuture<F> {
        #[pin]
        inner: F,
        app: Arc<App>,
        endpoint: &'static str,
        id: RequestId,
        started: Instant,
    }
}

impl<F> Future for DecisionFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = ready!(this.inner.poll(cx));
        // A response without a decision is one the handler never made (axum's own 405,
        // say): it passes as it is, unlogged, as before the layer existed.
        if let Some(decision) = response.extensions_mut().remove::<Decision>() {
            let status = response.status().as_u16();
            decision.log(this.app, this.endpoint, this.id, *this.started, status);
            stamp(&mut response, this.id);
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
#[path = "decision_layer_tests.rs"]
mod tests;
