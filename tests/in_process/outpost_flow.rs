//! The outpost end to end, in-process: a scripted browser, the nginx/Traefik/Caddy auth
//! subrequests and a scripted IdP.

use crate::outpost_support;

use outpost_support::idp::{CLIENT_ID, TestIdp};
use outpost_support::{Browser, Outpost, header, location};
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

#[tokio::test]
async fn full_login_gives_identity_headers_then_sign_out_ends_access() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    let mut b = Browser::new();

    let r = b
        .nginx_auth(&outpost, "http://app.localhost/dashboard")
        .await;
    assert_eq!(r.status(), 401, "not signed in: 401, never a redirect");
    assert!(r.headers().get("location").is_none());

    let cb = b
        .login(&outpost, "http://app.localhost/dashboard?tab=1")
        .await;
    assert_eq!(cb.status(), 302);
    assert_eq!(location(&cb), "http://app.localhost/dashboard?tab=1");
    assert!(
        b.cookie("portcullis").is_some(),
        "session cookie set: {:?} (refused: {:?})",
        b.cookie_names(),
        b.refused
    );
    assert!(
        !b.cookie_names().iter().any(|k| k.contains("_csrf_")),
        "the state cookie is cleared after the callback"
    );

    let r = b
        .nginx_auth(&outpost, "http://app.localhost/dashboard")
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-auth-request-user"), "jane");
    assert_eq!(header(&r, "x-auth-request-email"), "jane@example.com");
    // A header forwards groups, so the session keeps them all (the app may map roles
    // from groups the policy does not name); they fit, so none is narrowed.
    assert_eq!(header(&r, "x-auth-request-groups"), "staff,dev");
    assert!(
        r.headers().contains_key("x-team"),
        "configured headers are always sent"
    );
    assert_eq!(header(&r, "x-team"), "");
    assert!(header(&r, "x-access-token").starts_with("ey"));
    // The identity JWT verifies against the outpost's published key.
    let jwt = header(&r, "x-identity");
    let jwks: Value = b
        .http
        .get(format!("{}/.well-known/jwks.json", outpost.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = &jwks["keys"][0];
    let key = jsonwebtoken::DecodingKey::from_ec_components(
        jwk["x"].as_str().unwrap(),
        jwk["y"].as_str().unwrap(),
    )
    .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_audience(&["app"]);
    let claims = jsonwebtoken::decode::<Value>(&jwt, &key, &v)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], "user-1");
    assert_eq!(claims["iss"], outpost.base);

    let info: Value = b
        .get(&format!("{}/oauth2/userinfo", outpost.base), &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["user"], "jane");
    assert_eq!(
        info["groups"],
        json!(["staff", "dev"]),
        "every group, as a header forwards them"
    );

    // Sign-out: RP-initiated logout at the IdP, back to the validated rd.
    let r = b
        .get(
            &format!(
                "{}/oauth2/sign_out?rd=http%3A%2F%2Fapp.localhost%2Fbye",
                outpost.base
            ),
            &[],
        )
        .await;
    assert_eq!(r.status(), 302);
    let logout = url::Url::parse(&location(&r)).unwrap();
    assert_eq!(logout.path(), "/logout");
    let q: std::collections::HashMap<_, _> = logout.query_pairs().into_owned().collect();
    assert_eq!(q["post_logout_redirect_uri"], "http://app.localhost/bye");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert!(q["id_token_hint"].starts_with("ey"));
    assert!(
        b.cookie_names().is_empty(),
        "sign-out expires every cookie: {:?}",
        b.cookie_names()
    );
    let r = b
        .nginx_auth(&outpost, "http://app.localhost/dashboard")
        .await;
    assert_eq!(r.status(), 401);
    let r = b
        .get(&format!("{}/oauth2/userinfo", outpost.base), &[])
        .await;
    assert_eq!(r.status(), 401);

    let metrics = reqwest::get(format!("{}/metrics", outpost.admin))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains(r#"route="test/app",endpoint="auth",result="allow",reason="authenticated""#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"reason="no_session""#));
}

#[tokio::test]
async fn denied_user_sees_the_rule_without_a_redirect_loop() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    idp.set_user(json!({"sub": "u2", "preferred_username": "mallory", "email": "m@example.com", "groups": ["guests"]}));
    let mut b = Browser::new();
    let cb = b.login(&outpost, "http://app.localhost/").await;
    assert_eq!(cb.status(), 403);
    assert!(
        cb.headers().get("location").is_none(),
        "a page, not a redirect"
    );
    let request_id = header(&cb, "x-request-id");
    let html = cb.text().await.unwrap();
    assert!(html.contains("policy_denied_group"), "{html}");
    assert!(
        html.contains("&quot;staff&quot;"),
        "the rule names the group: {html}"
    );
    assert!(html.contains("mallory"));
    assert!(html.contains(&request_id));
    // The user did log in: the session stays, so the next auth subrequest answers 403
    // at once rather than sending them through the IdP again.
    assert!(
        b.cookie("portcullis").is_some(),
        "a denied user keeps the session"
    );
    let again = b.nginx_auth(&outpost, "http://app.localhost/").await;
    assert_eq!(again.status(), 403);
    assert!(again.headers().get("location").is_none());
}

#[tokio::test]
async fn tampered_and_garbage_cookies_are_401_never_200() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    let mut b = Browser::new();
    b.login(&outpost, "http://app.localhost/").await;
    let good = b.cookie("portcullis").expect("a session");
    let mut bytes = good.into_bytes();
    let mid = bytes.len() / 2;
    bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
    for value in [
        String::from_utf8(bytes).unwrap(),
        "garbage".into(),
        String::new(),
        "%%%".into(),
        "A".repeat(70_000),
    ] {
        b.put_cookie(&outpost.base, "portcullis", &value);
        let r = b.nginx_auth(&outpost, "http://app.localhost/").await;
        assert_eq!(r.status(), 401);
    }
    // Malformed forwarded headers from the trusted proxy: 400.
    let r = b
        .get(
            &format!("{}/oauth2/auth", outpost.base),
            &[("x-original-url", "javascript:alert(1)")],
        )
        .await;
    assert_eq!(r.status(), 400);
    // No route for the host: 403 route_not_found, never 200.
    let r = b.nginx_auth(&outpost, "http://other.localhost/").await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn traefik_and_caddy_redirect_browsers_and_401_everything_else() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    let mut b = Browser::new();
    for flavor in ["traefik", "caddy"] {
        let url = format!("{}/oauth2/auth/{flavor}", outpost.base);
        let fwd = [
            ("x-forwarded-proto", "http"),
            ("x-forwarded-host", "app.localhost"),
            ("x-forwarded-uri", "/reports?q=1"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut h = fwd.to_vec();
            h.extend_from_slice(extra);
            h
        };
        let r = b.get(&url, &with(&[("accept", "text/html,*/*")])).await;
        assert_eq!(r.status(), 302, "{flavor}: browser navigation");
        assert_eq!(
            location(&r),
            format!(
                "{}/oauth2/start?rd=http%3A%2F%2Fapp.localhost%2Freports%3Fq%3D1",
                outpost.base
            )
        );
        for extra in [
            vec![("accept", "application/json")],
            vec![
                ("accept", "text/html"),
                ("x-requested-with", "XMLHttpRequest"),
            ],
            vec![("accept", "text/html"), ("x-forwarded-method", "POST")],
            vec![
                ("accept", "text/html"),
                ("x-forwarded-method", "OPTIONS"),
                ("origin", "http://app.localhost"),
                ("access-control-request-method", "GET"),
            ],
        ] {
            let r = b.get(&url, &with(&extra)).await;
            assert_eq!(r.status(), 401, "{flavor}: {extra:?}");
            assert!(header(&r, "www-authenticate").starts_with("Bearer realm="));
        }
        // Public path: 200 without a session, identity headers present but empty.
        let r = b
            .get(
                &url,
                &[
                    ("x-forwarded-host", "app.localhost"),
                    ("x-forwarded-uri", "/health"),
                ],
            )
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-auth-request-user"), "");
    }
    b.login(&outpost, "http://app.localhost/").await;
    let r = b
        .get(
            &format!("{}/oauth2/auth/caddy", outpost.base),
            &[
                ("x-forwarded-host", "app.localhost"),
                ("x-forwarded-uri", "/"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-auth-request-user"), "jane");
    // Envoy appends the original path to the auth path.
    let r = b
        .get(
            &format!("{}/oauth2/auth/envoy/some/page", outpost.base),
            &[("host", "app.localhost")],
        )
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn unsafe_rd_falls_back_to_the_route_root() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    let root = format!("{}/", outpost.base);
    for rd in [
        "https://evil.example/".to_string(),
        "//evil.example/x".into(),
        "javascript:alert(1)".into(),
        "http://app.localhost@evil.example/".into(),
        format!("{}/oauth2/start?rd=/", outpost.base),
    ] {
        let mut b = Browser::new();
        let cb = b.login(&outpost, &rd).await;
        assert_eq!(cb.status(), 302);
        assert_eq!(location(&cb), root, "rd {rd:?}");
    }
}

#[tokio::test]
async fn bearer_tokens_are_verified_and_cached() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    let mut b = Browser::new();
    let user = idp.state.user.lock().unwrap().clone();
    let good = idp.state.access_token(&user, "api");
    for _ in 0..2 {
        let r = b
            .bearer_auth(&outpost, "http://app.localhost/api", &good)
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-auth-request-user"), "jane");
        assert_eq!(header(&r, "x-access-token"), good);
    }
    let wrong = format!("Bearer {}", idp.state.access_token(&user, "someone-else"));
    let r = b
        .get(
            &format!("{}/oauth2/auth/traefik", outpost.base),
            &[
                ("x-forwarded-host", "app.localhost"),
                ("accept", "text/html"),
                ("authorization", &wrong),
            ],
        )
        .await;
    assert_eq!(r.status(), 401, "a refused bearer token never redirects");
    assert!(header(&r, "www-authenticate").contains("invalid_token"));
    let r = b
        .get(
            &format!("{}/oauth2/auth", outpost.base),
            &[
                ("x-original-url", "http://app.localhost/"),
                ("authorization", "Bearer not.a.jwt"),
            ],
        )
        .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn expired_tokens_are_refreshed_or_the_session_ends() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    idp.state.expires_in.store(0, Ordering::SeqCst);
    let mut b = Browser::new();
    b.login(&outpost, "http://app.localhost/").await;
    let before = b.cookie("portcullis");
    let r = b.nginx_auth(&outpost, "http://app.localhost/").await;
    assert_eq!(r.status(), 200);
    assert_eq!(idp.state.refresh_grants.load(Ordering::SeqCst), 1);
    assert_ne!(
        b.cookie("portcullis"),
        before,
        "the refreshed session is written back"
    );
    let r = b.nginx_auth(&outpost, "http://app.localhost/").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        idp.state.refresh_grants.load(Ordering::SeqCst),
        1,
        "no refresh while valid"
    );

    // Without a refresh token an expired session is over.
    idp.state.issue_refresh.store(false, Ordering::SeqCst);
    let mut b = Browser::new();
    b.login(&outpost, "http://app.localhost/").await;
    let r = b.nginx_auth(&outpost, "http://app.localhost/").await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn callback_failures_explain_themselves_and_never_set_a_session() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    let mut b = Browser::new();
    let start = b
        .get(&format!("{}/oauth2/start?rd=%2F", outpost.base), &[])
        .await;
    let authorize = url::Url::parse(&location(&start)).unwrap();
    let q: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(
        q["redirect_uri"],
        format!("{}/oauth2/callback", outpost.base)
    );
    let state = &q["state"];
    let callback = |query: String| format!("{}/oauth2/callback?{query}", outpost.base);

    // The IdP refused: its error is shown, escaped.
    let r = b
        .get(
            &callback(format!(
                "state={state}&error=access_denied&error_description=%3Cb%3Enope"
            )),
            &[],
        )
        .await;
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("idp_error") && html.contains("access_denied"),
        "{html}"
    );
    assert!(!html.contains("<b>nope"), "IdP text is escaped");

    // The state cookie was cleared by that answer: replaying the state fails closed.
    let r = b.get(&callback(format!("state={state}&code=x")), &[]).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("state_invalid"));

    // RFC 9207: an authorization response from another issuer is refused.
    let start = b.get(&format!("{}/oauth2/start", outpost.base), &[]).await;
    let authorize = url::Url::parse(&location(&start)).unwrap();
    let state = authorize
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let r = b
        .get(
            &callback(format!(
                "state={state}&code=x&iss=https%3A%2F%2Fevil.example"
            )),
            &[],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("callback_iss_mismatch"));
    assert!(b.cookie("portcullis").is_none());

    // No state at all.
    let r = b.get(&callback("code=x".into()), &[]).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn sign_out_without_idp_logout_goes_to_the_validated_rd() {
    let idp = TestIdp::spawn().await;
    idp.state.offer_logout.store(false, Ordering::SeqCst);
    let outpost = Outpost::start(&idp.base, "").await;
    let mut b = Browser::new();
    b.login(&outpost, "http://app.localhost/").await;
    assert_eq!(
        b.nginx_auth(&outpost, "http://app.localhost/")
            .await
            .status(),
        200
    );
    let r = b
        .get(
            &format!(
                "{}/oauth2/sign_out?rd=https%3A%2F%2Fevil.example%2F",
                outpost.base
            ),
            &[],
        )
        .await;
    assert_eq!(r.status(), 302);
    assert_eq!(
        location(&r),
        format!("{}/", outpost.base),
        "evil rd refused"
    );
    assert_eq!(
        b.nginx_auth(&outpost, "http://app.localhost/")
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn start_on_the_app_host_moves_to_the_external_url_first() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    let mut b = Browser::new();
    let r = b
        .get(
            &format!("{}/oauth2/start?rd=%2Fdash", outpost.base),
            &[("host", "app.localhost")],
        )
        .await;
    assert_eq!(r.status(), 302);
    assert_eq!(
        location(&r),
        format!(
            "{}/oauth2/start?rd=http%3A%2F%2Fapp.localhost%2Fdash",
            outpost.base
        ),
        "a relative rd means the app host the browser was on"
    );
    assert!(
        b.cookie_names().is_empty(),
        "no state cookie on the wrong host"
    );
}

#[tokio::test]
async fn sign_out_on_the_app_host_moves_to_the_external_url() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    let mut b = Browser::new();
    let r = b
        .get(
            &format!("{}/oauth2/sign_out?rd=%2Fbye", outpost.base),
            &[("host", "app.localhost")],
        )
        .await;
    assert_eq!(r.status(), 302);
    assert_eq!(
        location(&r),
        format!(
            "{}/oauth2/sign_out?rd=http%3A%2F%2Fapp.localhost%2Fbye",
            outpost.base
        )
    );
}

#[tokio::test]
async fn concurrent_requests_share_one_refresh_of_a_rotating_token() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    idp.state.expires_in.store(0, Ordering::SeqCst);
    let mut b = Browser::new();
    b.login(&outpost, "http://app.localhost/").await;
    let cookie = b.cookie_header("http://app.localhost/");
    let url = format!("{}/oauth2/auth", outpost.base);
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let request = b
                .http
                .get(&url)
                .header("cookie", &cookie)
                .header("x-original-url", "http://app.localhost/")
                .send();
            tokio::spawn(request)
        })
        .collect();
    for h in handles {
        assert_eq!(h.await.unwrap().unwrap().status(), 200);
    }
    assert_eq!(idp.state.refresh_grants.load(Ordering::SeqCst), 1);
    // A straggler still carrying the old cookie gets the refreshed session too.
    let r = b.nginx_auth(&outpost, "http://app.localhost/").await;
    assert_eq!(r.status(), 200);
    assert_eq!(idp.state.refresh_grants.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn hostile_input_fails_closed_without_a_panic() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    let http = crate::outpost_support::browser::http();
    let base = &outpost.base;
    let latin1 = reqwest::header::HeaderValue::from_bytes(b"portcullis=\xff\xfe").unwrap();
    let huge = "A".repeat(20_000);
    let cases: Vec<(String, Vec<(&str, reqwest::header::HeaderValue)>)> = vec![
        (
            format!("{base}/oauth2/auth"),
            vec![
                ("x-original-url", "http://app.localhost/".parse().unwrap()),
                ("cookie", latin1.clone()),
            ],
        ),
        (
            format!("{base}/oauth2/auth"),
            vec![(
                "x-original-url",
                reqwest::header::HeaderValue::from_bytes(b"http://app.localhost/\xff").unwrap(),
            )],
        ),
        (
            format!("{base}/oauth2/auth"),
            vec![(
                "x-original-url",
                format!("http://app.localhost/{huge}").parse().unwrap(),
            )],
        ),
        (
            format!("{base}/oauth2/auth"),
            vec![
                (
                    "x-forwarded-host",
                    "app.localhost, evil.localhost".parse().unwrap(),
                ),
                ("x-forwarded-proto", "gopher".parse().unwrap()),
            ],
        ),
        (
            format!("{base}/oauth2/auth"),
            vec![
                ("x-original-url", "http://app.localhost/".parse().unwrap()),
                (
                    "authorization",
                    reqwest::header::HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
                ),
            ],
        ),
        (
            format!("{base}/oauth2/auth/traefik"),
            vec![
                ("x-forwarded-host", "app.localhost".parse().unwrap()),
                ("x-forwarded-uri", "no-slash".parse().unwrap()),
            ],
        ),
        (
            format!("{base}/oauth2/auth/traefik"),
            vec![
                ("x-forwarded-host", "app.localhost".parse().unwrap()),
                ("x-forwarded-method", "G E T".parse().unwrap()),
            ],
        ),
        (
            format!("{base}/oauth2/auth/envoy/%ff%00/../x"),
            vec![("host", "app.localhost".parse().unwrap())],
        ),
        (
            format!("{base}/oauth2/callback?state=%ff%fe%00&code=%"),
            vec![("cookie", latin1.clone())],
        ),
        (
            format!("{base}/oauth2/callback?state={huge}&code=x"),
            vec![],
        ),
        (format!("{base}/oauth2/callback?state=short&code=x"), vec![]),
        (
            format!("{base}/oauth2/userinfo"),
            vec![("cookie", latin1.clone())],
        ),
        (
            format!("{base}/oauth2/userinfo"),
            vec![(
                "cookie",
                format!("portcullis_0={huge}; portcullis_1=x")
                    .parse()
                    .unwrap(),
            )],
        ),
        (
            format!("{base}/oauth2/start?rd=%ff%fe"),
            vec![("host", "evil.localhost".parse().unwrap())],
        ),
        (
            format!("{base}/oauth2/sign_out?rd=javascript:alert(1)"),
            vec![("cookie", latin1)],
        ),
    ];
    for (url, headers) in cases {
        let mut req = http.get(&url);
        for (k, v) in &headers {
            req = req.header(*k, v.clone());
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        assert!(
            matches!(status, 302 | 400 | 401 | 403 | 431),
            "{url} {headers:?} -> {status}"
        );
        if status == 302 {
            let to = location(&r);
            let safe = to.starts_with(base.as_str())
                || to.starts_with(&format!("{}/logout?", idp.base)) && !to.contains("javascript");
            assert!(safe, "{url} redirected to {to}");
        }
    }
    // Still serving.
    assert_eq!(
        reqwest::get(format!("{}/healthz", outpost.admin))
            .await
            .unwrap()
            .status(),
        200
    );
}
