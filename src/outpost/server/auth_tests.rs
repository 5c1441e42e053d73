use super::*;
use crate::config::OutpostConfig;
use crate::config::fixture::{config_yaml, provider, route};
use crate::outpost::forwarded::TrustedProxies;
use crate::outpost::server::login::validated_rd;
use crate::outpost::server::metrics::Metrics;
use crate::outpost::server::request::SessionData;
use crate::outpost::server::signer::Signer;
use crate::outpost::server::source::Snapshot;
use crate::outpost::server::state::Loaded;
use axum::http::{HeaderValue, Method};
use std::collections::BTreeMap;
use std::sync::RwLock;

/// Two routes on one host: `t/app` for staff with identity headers and bearer tokens,
/// `t/admin` under `/admin` of another provider, for anyone who signs in.
fn config() -> String {
    config_yaml(
        &[
            provider("t/idp", "https://idp.example.com").scopes("[openid]"),
            provider("t/other", "https://other.example.com")
                .scopes("[openid]")
                .username("[preferred_username]"),
        ],
        &[
            route(
                "t/app",
                "t/idp",
                "{ groups: [staff], publicPaths: [/public] }",
            )
            .extra(
                r#"    headers:
      map: { X-User: user, X-Email: email, X-Tenant: "claim:tenant" }
      accessToken: X-Token
      identityJwt: { header: X-Identity, audience: app, lifetimeSeconds: 60 }
    bearer: { enabled: true }
"#,
            ),
            route("t/admin", "t/other", "{ allowAnyAuthenticated: true }").paths("[/admin]"),
        ],
    )
}

pub(in crate::outpost::server) fn app() -> App {
    let snapshot = Snapshot {
        config: OutpostConfig::from_yaml(&config(), "t").unwrap().into(),
        secrets: BTreeMap::new(),
        cookie_secrets: vec![b"0123456789abcdef0123456789".to_vec()],
        store_secrets: Default::default(),
        fingerprint: [0; 32],
    };
    App {
        current: RwLock::new(Arc::new(Loaded::build(snapshot, None, false).unwrap())),
        trusted: TrustedProxies::parse::<&str>(&[]).unwrap(),
        signer: Signer::generate().unwrap(),
        metrics: Metrics::new(),
        allow_http_loopback: false,
        refreshes: Default::default(),
        untrusted_peers: Default::default(),
        login_limiter: Default::default(),
    }
}

fn original(host: &str, uri: &str) -> OriginalRequest {
    OriginalRequest {
        method: Method::GET,
        scheme: "https".into(),
        host: host.into(),
        uri: uri.into(),
    }
}

fn identity(groups: &[&str]) -> Identity {
    Identity {
        sub: "u1".into(),
        username: "jane".into(),
        email: Some("jane@example.com".into()),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        ..Identity::default()
    }
}

/// A `Cookie` header holding a session for `route` from `provider`.
fn cookie(
    app: &App,
    route: &str,
    provider: &str,
    expires: Option<u64>,
    groups: &[&str],
) -> HeaderMap {
    let loaded = app.loaded();
    let route = loaded.route_by_id(route).unwrap();
    let data = SessionData {
        provider: provider.into(),
        identity: identity(groups),
        token_expires_at: expires,
        tokens_obtained_at: None,
        refresh_token: None,
        access_token: Some("at-123".into()),
        id_token: None,
        idp_session: None,
        device: None,
        client_ip: None,
    };
    let now = now();
    let session = route.sessions.start(data, now);
    let set = route.sessions.store(&session, &[], now).unwrap();
    let pair = set[0].split(';').next().unwrap().to_string();
    let mut h = HeaderMap::new();
    h.insert("cookie", HeaderValue::from_str(&pair).unwrap());
    h
}

fn header<'a>(verdict: &'a Verdict, name: &str) -> Option<&'a HeaderValue> {
    match verdict {
        Verdict::Allow { headers, .. } => headers.iter().find(|(n, _)| n == name).map(|(_, v)| v),
        _ => None,
    }
}

#[tokio::test]
async fn decisions_without_network() {
    let app = app();
    let loaded = app.loaded();
    let none = HeaderMap::new();
    let (route, v) = decide(&app, &loaded, &original("evil.example.com", "/"), &none).await;
    assert!(route.is_none() && matches!(v, Verdict::NoRoute));
    assert_eq!(v.reason(), Reason::RouteNotFound);

    let (_, v) = decide(&app, &loaded, &original("app.example.com", "/x"), &none).await;
    assert_eq!(
        (v.result(), v.reason()),
        (Outcome::Unauthenticated, Reason::NoSession)
    );

    // An underscore spelling of an identity header is refused, on a public path too.
    let mut spoof = HeaderMap::new();
    spoof.insert("x_user", HeaderValue::from_static("admin"));
    for path in ["/x", "/public/a"] {
        let (_, v) = decide(&app, &loaded, &original("app.example.com", path), &spoof).await;
        assert_eq!(
            (v.result(), v.reason()),
            (Outcome::Denied, Reason::IdentityHeaderSpoofed),
            "{path}"
        );
    }

    // Public path: allowed, and every configured header is present but empty.
    let (_, v) = decide(
        &app,
        &loaded,
        &original("APP.example.com", "/public/a?b"),
        &none,
    )
    .await;
    assert_eq!(v.reason(), Reason::PublicPath);
    for name in ["x-user", "x-email", "x-tenant", "x-token", "x-identity"] {
        assert_eq!(header(&v, name).unwrap(), "", "{name}");
    }
    // `..` is resolved before matching, so it cannot escape into a public path.
    let (_, v) = decide(
        &app,
        &loaded,
        &original("app.example.com", "/public/../x"),
        &none,
    )
    .await;
    assert_eq!(v.reason(), Reason::NoSession);

    // A valid session passes with identity headers, the access token and a signed JWT.
    let staff = cookie(&app, "t/app", "t/idp", None, &["staff"]);
    let (_, v) = decide(&app, &loaded, &original("app.example.com", "/x"), &staff).await;
    assert_eq!(v.reason(), Reason::Authenticated);
    assert_eq!(header(&v, "x-user").unwrap(), "jane");
    assert_eq!(header(&v, "x-token").unwrap(), "at-123");
    assert_eq!(header(&v, "x-tenant").unwrap(), "");
    assert!(
        header(&v, "x-identity")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("ey")
    );

    // Same cookie name and host, other provider's route: not honoured.
    let (route, v) = decide(
        &app,
        &loaded,
        &original("app.example.com", "/admin/x"),
        &staff,
    )
    .await;
    assert_eq!(route.unwrap().config.id, "t/admin");
    assert_eq!(v.reason(), Reason::SessionInvalid);

    let guest = cookie(&app, "t/app", "t/idp", None, &["guests"]);
    let (_, v) = decide(&app, &loaded, &original("app.example.com", "/x"), &guest).await;
    assert!(matches!(&v, Verdict::Denied { rule, .. } if rule.contains("staff")));
    assert_eq!(v.reason(), Reason::PolicyDeniedGroup);

    // A public path shows who is signed in, but not from a session whose tokens expired.
    let (_, v) = decide(
        &app,
        &loaded,
        &original("app.example.com", "/public"),
        &staff,
    )
    .await;
    assert_eq!(header(&v, "x-user").unwrap(), "jane");
    let stale = cookie(&app, "t/app", "t/idp", Some(1), &["staff"]);
    let (_, v) = decide(
        &app,
        &loaded,
        &original("app.example.com", "/public"),
        &stale,
    )
    .await;
    assert_eq!(v.reason(), Reason::PublicPath);
    assert_eq!(header(&v, "x-user").unwrap(), "");

    // Tokens expired and no refresh token: the session is over.
    let expired = cookie(&app, "t/app", "t/idp", Some(1), &["staff"]);
    let (_, v) = decide(&app, &loaded, &original("app.example.com", "/x"), &expired).await;
    assert_eq!(v.reason(), Reason::SessionExpired);
}

#[tokio::test]
async fn bearer_failures_are_unauthenticated_with_a_reason() {
    let app = app();
    let loaded = app.loaded();
    let mut h = HeaderMap::new();
    h.insert("authorization", HeaderValue::from_static("Bearer a b"));
    let (_, v) = decide(&app, &loaded, &original("app.example.com", "/"), &h).await;
    assert!(matches!(
        v,
        Verdict::Unauthenticated {
            bearer: Some(_),
            reason: Reason::MalformedToken
        }
    ));
    h.insert("authorization", HeaderValue::from_static("Bearer eyJ.x.y"));
    let (_, v) = decide(&app, &loaded, &original("app.example.com", "/"), &h).await;
    assert!(matches!(
        v,
        Verdict::Unauthenticated {
            bearer: Some(_),
            reason: Reason::ProviderNotReady
        }
    ));
    // Bearer is off on the admin route: the header is ignored and the cookie decides.
    let (_, v) = decide(&app, &loaded, &original("app.example.com", "/admin"), &h).await;
    assert!(matches!(v, Verdict::Unauthenticated { bearer: None, .. }));
}

#[test]
fn route_paths_are_normalised_when_possible() {
    assert_eq!(route_path("/api/../admin?x=1"), "/admin");
    assert_eq!(route_path("/a//b/./c#f"), "/a/b/c");
    assert_eq!(route_path("/a%2Fb?q"), "/a%2Fb");
}

#[test]
fn redirect_targets_never_loop_or_leave_the_route() {
    let app = app();
    let loaded = app.loaded();
    let route = loaded.route_by_id("t/app").unwrap();
    let root = "https://app.example.com/";
    assert_eq!(
        validated_rd(route, "/x?y=1").0.as_str(),
        "https://app.example.com/x?y=1"
    );
    assert_eq!(validated_rd(route, "/oauth2/start?rd=/").0.as_str(), root);
    assert_eq!(validated_rd(route, "/oauth2/start").1, Some("oauth2_path"));
    assert_eq!(
        validated_rd(route, "https://evil.example.com/").0.as_str(),
        root
    );
    assert_eq!(
        validated_rd(route, "http://app.example.com/").0.as_str(),
        root
    );
    let long = format!("/{}", "a".repeat(3000));
    assert_eq!(validated_rd(route, &long).1, Some("too_long"));
}

#[test]
fn only_nginx_never_redirects() {
    assert!(!Flavor::Nginx.redirects());
    assert!(Flavor::Traefik.redirects() && Flavor::Caddy.redirects() && Flavor::Envoy.redirects());
}
