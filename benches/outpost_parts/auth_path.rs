//! The auth subrequest through the outpost's own router, in process (no sockets): a
//! valid session cookie (200 with identity headers), no cookie (401), and the admin
//! port's `/healthz` as the null handler to compare with. It covers what the
//! micro-benchmarks leave out: extractors, the decision layer, the decision line and
//! metrics, the response.

use crate::support;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use criterion::Criterion;
use portcullis::outpost::server::source::FileSource;
use portcullis::outpost::server::{Options, start};
use std::sync::Arc;
use tower::ServiceExt;

/// One route on `app.bench`, allowing anyone signed in, with identity headers. The
/// issuer is never reached: a cookie check needs no provider round trip.
const CONFIG: &str = r#"
providers:
  bench/idp:
    issuerURL: http://127.0.0.1:9
    clientID: bench
    clientSecret: { value: bench-secret }
    scopes: [openid]
    claims: { username: [preferred_username, email], email: email, groups: groups, permissions: permissions }
    clockSkewSeconds: 30
routes:
  - id: bench/app
    hosts: [app.bench]
    paths: [/]
    provider: bench/idp
    authURL: https://app.bench
    redirectURI: https://app.bench/oauth2/callback
    policy: { allowAnyAuthenticated: true }
    headers:
      map: { X-Auth-Request-User: user, X-Auth-Request-Email: email, X-Auth-Request-Groups: groups }
"#;

fn request(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut r = Request::get(path)
        .header("host", "app.bench")
        .header("x-original-url", "https://app.bench/reports/42?q=1")
        .header("accept", "text/html");
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    r.body(Body::empty()).expect("request")
}

fn call(rt: &tokio::runtime::Runtime, router: &Router, req: Request<Body>) -> StatusCode {
    rt.block_on(router.clone().oneshot(req))
        .expect("infallible")
        .status()
}

/// `auth_path/{cookie_200,no_cookie_401,null_healthz}`.
pub fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("outpost.yaml");
    std::fs::write(&path, CONFIG).expect("config");
    let source = Arc::new(FileSource {
        path,
        cookie_secrets: vec![crate::SECRET.into()],
        ..Default::default()
    });
    let options = Options {
        allow_http_loopback: true,
        ..Options::default()
    };
    let running = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        Ok::<_, std::io::Error>(start(source, &options, listener, admin).await)
    });
    let running = running.expect("listen").expect("outpost starts");
    let (router, admin) = (running.app.router(), running.app.admin_router());
    let cookie = {
        let loaded = running.app.loaded();
        let route = loaded.route_by_id("bench/app").expect("route");
        support::cookie_header(
            &route.sessions,
            support::session_data("bench/idp"),
            crate::now(),
        )
    };
    // The bench must measure the answers it names: check each once up front.
    let auth = "/oauth2/auth";
    assert_eq!(call(&rt, &router, request(auth, Some(&cookie))), 200);
    assert_eq!(call(&rt, &router, request(auth, None)), 401);
    assert_eq!(call(&rt, &admin, request("/healthz", None)), 200);

    let mut g = c.benchmark_group("auth_path");
    g.bench_function("cookie_200", |b| {
        b.iter(|| call(&rt, &router, request(auth, Some(&cookie))));
    });
    g.bench_function("no_cookie_401", |b| {
        b.iter(|| call(&rt, &router, request(auth, None)));
    });
    g.bench_function("null_healthz", |b| {
        b.iter(|| call(&rt, &admin, request("/healthz", None)));
    });
    g.finish();
    running.stop();
}
