//! The layer is the only place a decision is logged, counted and stamped: these drive
//! it through a router as the outpost does, with handlers that decide and one that
//! does not.

use super::DecisionLayer;
use crate::outpost::server::App;
use crate::outpost::server::auth::tests::app;
use crate::outpost::server::decision::Decided;
use crate::outpost::server::handlers::text;
use crate::outpost::server::request::RequestId;
use crate::reason::Reason;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use std::sync::Arc;
use tower::ServiceExt;

/// A handler that denies and echoes the request id it was given.
async fn denies(State(app): State<Arc<App>>, id: RequestId) -> Decided {
    let loaded = app.loaded();
    let r = text(StatusCode::FORBIDDEN, &id);
    Decided::denied(loaded.route_by_id("t/app"), Reason::PolicyDeniedGroup, r).by("jane")
}

/// A handler that makes no decision.
async fn undecided() -> Response {
    text(StatusCode::OK, "plain\n")
}

fn router(app: &Arc<App>) -> Router {
    Router::new()
        .route(
            "/decides",
            get(denies).layer(DecisionLayer::new(app, "auth")),
        )
        .route(
            "/plain",
            get(undecided).layer(DecisionLayer::new(app, "userinfo")),
        )
        .with_state(app.clone())
}

async fn call(app: &Arc<App>, path: &str, id: Option<&str>) -> (Response, String) {
    let mut req = Request::get(path);
    if let Some(id) = id {
        req = req.header("x-request-id", id);
    }
    let r = router(app)
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = r.into_parts();
    let body = to_bytes(body, 1 << 16).await.unwrap();
    let body = String::from_utf8(body.to_vec()).unwrap();
    (Response::from_parts(parts, Body::empty()), body)
}

#[tokio::test]
async fn a_decision_is_counted_and_stamped_with_the_id_the_handler_saw() {
    let app = Arc::new(app());
    let (r, body) = call(&app, "/decides", Some("abc-123")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(body, "abc-123", "the handler got the layer's id");
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(
        r.extensions().get::<super::Decision>().is_none(),
        "the decision does not leave the layer"
    );
    let metrics = app.metrics.render();
    assert!(
        metrics.contains("portcullis_outpost_decisions_total{route=\"t/app\",endpoint=\"auth\",result=\"denied\",reason=\"policy_denied_group\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("portcullis_outpost_request_duration_seconds_count{endpoint=\"auth\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_generated_id_reaches_the_handler_and_the_response_alike() {
    let app = Arc::new(app());
    let (first, body) = call(&app, "/decides", None).await;
    let id = first.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(body, id);
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    let (second, _) = call(&app, "/decides", Some("a b<script>")).await;
    let other = second.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(other, id, "each request its own id");
    assert_eq!(other.len(), 32, "an unsafe client id is replaced");
}

#[tokio::test]
async fn a_response_without_a_decision_passes_unlogged_and_unstamped() {
    let app = Arc::new(app());
    let (r, body) = call(&app, "/plain", Some("abc-123")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body, "plain\n");
    assert!(r.headers().get("x-request-id").is_none());
    assert!(r.headers().get("cache-control").is_none());
    let metrics = app.metrics.render();
    assert!(
        !metrics.contains("endpoint=\"userinfo\""),
        "nothing counted: {metrics}"
    );
}
