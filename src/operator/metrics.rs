//! Operator metrics and the admin server (`/healthz`, `/readyz`, `/metrics`).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Labels naming a controller.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    /// `oidcprovider`, `oauthclient`, `forwardauthroute`, `writer`.
    pub controller: String,
}

/// Labels of an error.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The controller.
    pub controller: String,
    /// [`super::Error::metric_label`].
    pub reason: String,
}

/// Labels of a write.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WriteLabels {
    /// What was written (`secret`, `configmap`, `oauthclient_status`, ...).
    pub kind: String,
}

/// Counters and gauges of the operator.
pub struct Metrics {
    registry: Registry,
    /// Reconciles run, by controller.
    pub reconciles: Family<ControllerLabels, Counter>,
    /// Failed reconciles, by controller and reason.
    pub errors: Family<ErrorLabels, Counter>,
    /// API writes, by kind (a converged cluster keeps these flat).
    pub writes: Family<WriteLabels, Counter>,
    /// Objects in the caches, by controller (the work queue bound).
    pub objects: Family<ControllerLabels, Gauge>,
    /// 1 while this replica holds the leader lease.
    pub leader: Gauge,
    /// Set once the caches have synced (readiness).
    pub ready: AtomicBool,
    /// Why the last renewal of the leader lease failed (the API server is unreachable
    /// or refusing); `None` after a renewal succeeds. Shown by `/readyz`.
    pub api_error: std::sync::Mutex<Option<String>>,
}

impl Metrics {
    /// Records the outcome of a lease renewal: the API server's health as the leader
    /// sees it.
    pub(crate) fn api_reached(&self, outcome: Result<(), String>) {
        *self.api_error.lock().unwrap_or_else(|p| p.into_inner()) = outcome.err();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("portcullis_operator");
        let reconciles = Family::<ControllerLabels, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let writes = Family::<WriteLabels, Counter>::default();
        let objects = Family::<ControllerLabels, Gauge>::default();
        let leader = Gauge::default();
        registry.register("reconciles", "Reconciles run", reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Failed reconciles by reason",
            errors.clone(),
        );
        registry.register("writes", "Writes to the API server by kind", writes.clone());
        registry.register(
            "cached_objects",
            "Objects in the reflector caches",
            objects.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader lease",
            leader.clone(),
        );
        Self {
            registry,
            reconciles,
            errors,
            writes,
            objects,
            leader,
            ready: AtomicBool::new(false),
            api_error: std::sync::Mutex::new(None),
        }
    }
}

impl Metrics {
    /// Counts a reconcile.
    pub(crate) fn reconciled(&self, controller: &str) {
        self.reconciles
            .get_or_create(&ControllerLabels {
                controller: controller.into(),
            })
            .inc();
    }

    /// Counts a failed reconcile.
    pub(crate) fn failed(&self, controller: &str, reason: &str) {
        self.errors
            .get_or_create(&ErrorLabels {
                controller: controller.into(),
                reason: reason.into(),
            })
            .inc();
    }

    /// Counts a write.
    pub(crate) fn write(&self, kind: &str) {
        self.writes
            .get_or_create(&WriteLabels { kind: kind.into() })
            .inc();
    }

    /// Sets the number of cached objects of a controller's kind.
    pub(crate) fn set_objects(&self, controller: &str, count: usize) {
        self.objects
            .get_or_create(&ControllerLabels {
                controller: controller.into(),
            })
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// The number of writes of a kind so far (tests, and the convergence check).
    pub fn writes_of(&self, kind: &str) -> u64 {
        self.writes
            .get_or_create(&WriteLabels { kind: kind.into() })
            .get()
    }

    /// The text exposition.
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The admin router.
pub(crate) fn router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(m): State<Arc<Metrics>>| async move {
                let api_error = m.api_error.lock().unwrap_or_else(|p| p.into_inner()).clone();
                match (m.ready.load(Ordering::Relaxed), api_error) {
                    (true, None) => (StatusCode::OK, "ready".to_string()),
                    (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "caches not synced".into()),
                    (true, Some(e)) => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("API server unreachable (the caches are kept; writes resume when it answers): {e}"),
                    ),
                }
            }),
        )
        .route(
            "/metrics",
            get(|State(m): State<Arc<Metrics>>| async move {
                (
                    [(
                        "content-type",
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    m.encode(),
                )
            }),
        )
        .with_state(metrics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_show_in_the_exposition() {
        let m = Metrics::default();
        m.reconciled("oauthclient");
        m.failed("oauthclient", "conflict");
        m.write("secret");
        let text = m.encode();
        assert!(
            text.contains("portcullis_operator_reconciles_total{controller=\"oauthclient\"} 1"),
            "{text}"
        );
        assert!(text.contains("reason=\"conflict\""));
        assert_eq!(m.writes_of("secret"), 1);
    }
}

#[cfg(test)]
mod server_tests {
    use super::*;

    #[tokio::test]
    async fn admin_server_answers_health_readiness_and_metrics() {
        let metrics = Arc::new(Metrics::default());
        metrics.reconciled("oidcprovider");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = router(metrics.clone());
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let http = reqwest::Client::new();
        let get = |path: &str| http.get(format!("{base}{path}")).send();
        assert_eq!(get("/healthz").await.unwrap().status(), 200);
        assert_eq!(get("/readyz").await.unwrap().status(), 503);
        metrics.ready.store(true, Ordering::Relaxed);
        assert_eq!(get("/readyz").await.unwrap().status(), 200);
        // A failed lease renewal (API server down) shows in readiness with its cause,
        // and a later success clears it.
        metrics.api_reached(Err("connection refused".into()));
        let r = get("/readyz").await.unwrap();
        assert_eq!(r.status(), 503);
        assert!(r.text().await.unwrap().contains("connection refused"));
        metrics.api_reached(Ok(()));
        assert_eq!(get("/readyz").await.unwrap().status(), 200);
        let text = get("/metrics").await.unwrap().text().await.unwrap();
        assert!(
            text.contains("portcullis_operator_reconciles_total{controller=\"oidcprovider\"} 1")
        );
        server.abort();
    }
}
