//! The one place a request is logged: [`DecisionLayer`] wraps every deciding endpoint.
//! Before the handler it assigns the request id (into the request's extensions, where
//! [`Ctx::new`](super::decision::Ctx::new) finds it); after, it takes the [`Decision`]
//! the handler attached to its response, writes the decision line, counts it in the
//! metrics and sets the common response headers (`Cache-Control: no-store`,
//! `X-Request-Id`).
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
    type Future = Decided<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let started = Instant::now();
        let id = RequestId::of(request.headers());
        request.extensions_mut().insert(id);
        Decided {
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
    pub struct Decided<F> {
        #[pin]
        inner: F,
        app: Arc<App>,
        endpoint: &'static str,
        id: RequestId,
        started: Instant,
    }
}

impl<F> Future for Decided<F>
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
