//! The extractors' rejections are the responses the handlers used to write out by
//! hand, logged through the layer; driven through a router as the outpost does.

use super::{HostRoute, LoginTarget, OriginalHost, Refusal};
use crate::outpost::server::App;
use crate::outpost::server::auth::tests::app;
use crate::outpost::server::decision_layer::DecisionLayer;
use crate::reason::Reason;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::Arc;
use tower::ServiceExt;

fn router(app: &Arc<App>) -> Router {
    Router::new()
        .route(
            "/host",
            get(|OriginalHost(h): OriginalHost| async move { h })
                .layer(DecisionLayer::new(app, "host")),
        )
        .route(
            "/login",
            get(|t: LoginTarget| async move {
                format!("{} {} {}", t.route().config.id, t.host, t.rd)
            })
            .layer(DecisionLayer::new(app, "start")),
        )
        .route(
            "/userinfo",
            get(|t: HostRoute| async move { format!("{} {}", t.route().config.id, t.host) })
                .layer(DecisionLayer::new(app, "userinfo")),
        )
        .with_state(app.clone())
}

async fn get_with(app: &Arc<App>, uri: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let mut req = Request::get(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = router(app)
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = r.status();
    let body = to_bytes(r.into_body(), 1 << 16).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn the_host_and_the_login_target_are_found_from_the_request() {
    let app = Arc::new(app());
    let host = [("host", "APP.example.com")];
    assert_eq!(
        get_with(&app, "/host", &host).await,
        (StatusCode::OK, "app.example.com".into())
    );
    assert_eq!(
        get_with(&app, "/login?rd=/admin/x", &host).await,
        (StatusCode::OK, "t/admin app.example.com /admin/x".into()),
        "the rd picks the route on a shared host"
    );
    assert_eq!(
        get_with(&app, "/login?rd=/y", &host).await,
        (StatusCode::OK, "t/app app.example.com /y".into())
    );
    assert_eq!(get_with(&app, "/userinfo", &host).await.0, StatusCode::OK);
}

#[tokio::test]
async fn no_route_and_malformed_headers_are_answered_and_counted_once() {
    let app = Arc::new(app());
    let elsewhere = [("host", "nowhere.example.com")];
    for uri in ["/login?rd=/", "/userinfo"] {
        assert_eq!(
            get_with(&app, uri, &elsewhere).await,
            (
                StatusCode::FORBIDDEN,
                "no route is configured for this host\n".into()
            ),
            "{uri}"
        );
    }
    let bad_host = [("host", "a b")];
    for uri in ["/host", "/login", "/userinfo"] {
        let (status, body) = get_with(&app, uri, &bad_host).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(body, "malformed request headers\n");
    }
    let metrics = app.metrics.render();
    for want in [
        "endpoint=\"start\",result=\"denied\",reason=\"route_not_found\"} 1",
        "endpoint=\"userinfo\",result=\"denied\",reason=\"route_not_found\"} 1",
        "endpoint=\"host\",result=\"bad_request\"",
    ] {
        assert!(metrics.contains(want), "{want} in\n{metrics}");
    }
}

#[tokio::test]
async fn an_untrusted_peers_forwarded_for_is_not_believed() {
    let app = Arc::new(app());
    // No trusted proxies in the test app: the peer's address, whatever it forwards.
    let (parts, ()) = Request::get("/")
        .header("x-forwarded-for", "203.0.113.9")
        .body(())
        .unwrap()
        .into_parts();
    let peer = std::net::IpAddr::from([192, 0, 2, 1]);
    assert_eq!(super::super::decision::client_ip(&app, &parts, peer), peer);
}

#[test]
fn each_refusal_is_its_response_with_its_decision() {
    for (refusal, status, reason) in [
        (
            Refusal::MalformedHeaders(Reason::MalformedForwardedHeaders),
            StatusCode::BAD_REQUEST,
            Reason::MalformedForwardedHeaders,
        ),
        (
            Refusal::MalformedForwardedHeaders(Reason::MalformedForwardedHeaders),
            StatusCode::BAD_REQUEST,
            Reason::MalformedForwardedHeaders,
        ),
        (
            Refusal::NoRoute,
            StatusCode::FORBIDDEN,
            Reason::RouteNotFound,
        ),
    ] {
        let r = refusal.into_response();
        assert_eq!(r.status(), status);
        let decision = r
            .extensions()
            .get::<crate::outpost::server::decision::Decision>()
            .expect("a decision for the layer");
        assert_eq!(decision.reason, reason);
        assert!(decision.route.is_none());
    }
}
