//! The admin port's probes and metrics: `/readyz`, `/metrics` (`/healthz` is inline).

use super::App;
use crate::reason::Reason;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// `/readyz`: session stores answering, providers discovered.
pub async fn readyz(State(app): State<Arc<App>>) -> Response {
    let loaded = app.loaded();
    // A session store that does not answer makes every signed-in request a 503: take
    // the replica out of the Service until it answers again (checked on every probe, so
    // recovery needs nothing but Redis coming back).
    let mut stores_down = String::new();
    for store in loaded.redis_stores() {
        if let Err(e) = store.ping().await {
            stores_down.push_str(&format!("  {e}\n"));
        }
    }
    if !stores_down.is_empty() {
        let body = format!(
            "not ready: session store unreachable ({}):\n{stores_down}",
            Reason::SessionStoreUnavailable
        );
        return (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
    }
    let unready = loaded.unready_providers();
    let (status, mut body) = match (loaded.ready(), unready.is_empty()) {
        (true, true) => return (StatusCode::OK, "ready\n").into_response(),
        (true, false) => (
            StatusCode::OK,
            String::from("ready, degraded: these providers' routes answer idp_unreachable:\n"),
        ),
        (false, _) => (
            StatusCode::SERVICE_UNAVAILABLE,
            String::from("not ready: providers without discovery and JWKS:\n"),
        ),
    };
    for (key, error) in unready {
        body.push_str(&format!("  {key}: {error}\n"));
    }
    (status, body).into_response()
}

/// `/metrics`.
pub(crate) async fn metrics_text(State(app): State<Arc<App>>) -> Response {
    app.update_ready_gauge();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}
