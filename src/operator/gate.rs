//! The leader's write gate: a layer on the operator's Kubernetes client that lets a
//! write (anything but GET) through only while this replica has confirmed its Lease
//! within [`RENEW_DEADLINE`] — well inside the Lease's duration, after which another
//! replica may take over.
//!
//! With it the leader need not exit when the API server is unreachable: its caches and
//! watches stay, writes wait (failing with [`GateClosed`], which the controllers retry
//! with backoff) until a renewal confirms the Lease again, and a replica that lost the
//! Lease meanwhile never writes. Reads are never gated.

use http::{Method, Request};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tower::{Layer, Service};

/// How long a confirmed Lease lets writes go: the leader stops writing when renewal has
/// failed this long, before another replica can take the Lease
/// (`lease::LEASE_DURATION`, 15 s). The Lease logic uses the same deadline.
pub const RENEW_DEADLINE: Duration = Duration::from_secs(10);

/// When this replica last confirmed that it holds the Lease.
#[derive(Clone, Debug, Default)]
pub(crate) struct WriteGate(Arc<Mutex<Option<Instant>>>);

impl WriteGate {
    /// A renewal succeeded: writes may go for the next [`RENEW_DEADLINE`].
    pub(crate) fn confirm(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    /// Whether a write may go now.
    pub(crate) fn open(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|at| at.elapsed() < RENEW_DEADLINE)
    }
}

/// Why a write did not go.
#[derive(Debug, thiserror::Error)]
#[error(
    "not writing: the leader Lease has not been confirmed within {}s (API server unreachable?); retried once it is",
    RENEW_DEADLINE.as_secs()
)]
pub struct GateClosed;

impl<S> Layer<S> for WriteGate {
    type Service = Gated<S>;

    fn layer(&self, inner: S) -> Gated<S> {
        Gated {
            inner,
            gate: self.clone(),
        }
    }
}

/// The gated client service.
#[derive(Clone, Debug)]
pub(crate) struct Gated<S> {
    inner: S,
    gate: WriteGate,
}

impl<S, B> Service<Request<B>> for Gated<S>
where
    S: Service<Request<B>>,
    S::Response: Send + 'static,
    S::Error: Into<tower::BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = tower::BoxError;
    type Future = futures::future::BoxFuture<'static, Result<S::Response, tower::BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if request.method() != Method::GET && !self.gate.open() {
            return Box::pin(futures::future::ready(Err(GateClosed.into())));
        }
        let future = self.inner.call(request);
        Box::pin(async move { future.await.map_err(Into::into) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_pass_only_after_a_recent_confirmation_and_reads_always() {
        let gate = WriteGate::default();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = calls.clone();
        let inner = tower::service_fn(move |r: Request<()>| {
            seen.lock().unwrap().push(r.method().clone());
            async { Ok::<_, std::convert::Infallible>(()) }
        });
        let mut service = gate.layer(inner);
        let request = |m: Method| Request::builder().method(m).body(()).unwrap();

        assert!(service.call(request(Method::GET)).await.is_ok());
        let refused = service.call(request(Method::PATCH)).await.unwrap_err();
        assert!(refused.to_string().contains("Lease"), "{refused}");
        gate.confirm();
        assert!(service.call(request(Method::PATCH)).await.is_ok());
        assert!(service.call(request(Method::DELETE)).await.is_ok());
        assert_eq!(
            *calls.lock().unwrap(),
            vec![Method::GET, Method::PATCH, Method::DELETE]
        );

        // A confirmation older than the renew deadline closes the gate again.
        *gate.0.lock().unwrap() = Some(Instant::now() - RENEW_DEADLINE);
        assert!(!gate.open());
    }
}
