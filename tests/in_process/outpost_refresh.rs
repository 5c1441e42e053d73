//! Refresh before expiry, an IdP that refuses, an IdP that cannot be reached: against
//! the scripted IdP, through the outpost's real HTTP endpoints.

use crate::outpost_support::idp::TestIdp;
use crate::outpost_support::{Browser, Outpost, header};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A second route whose session rides out an IdP outage for `grace` seconds and lasts
/// `lifetime` seconds at most.
fn grace_route(grace: u64, lifetime: u64) -> String {
    format!(
        r#"  - id: test/grace
    hosts: [grace.localhost]
    paths: [/]
    provider: test/idp
    authURL: http://grace.localhost:PORT
    redirectURI: http://grace.localhost:PORT/oauth2/callback
    policy: {{ groups: [staff] }}
    session: {{ cookieName: grace, lifetimeSeconds: {lifetime}, idleTimeoutSeconds: 0, refreshGraceSeconds: {grace} }}
"#
    )
}

fn metric(text: &str, needle: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(needle))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn clears(r: &reqwest::Response, cookie: &str) -> bool {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with(&format!("{cookie}=")) && v.contains("Max-Age=0"))
}

#[tokio::test]
async fn a_refused_refresh_ends_the_session_at_once_and_says_so() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    idp.state.expires_in.store(0, Ordering::SeqCst);
    let mut b = Browser::new();
    b.login(&outpost, "http://app.localhost/").await;
    let stolen = b.cookie_header("http://app.localhost/");
    // The admin disables the account: the IdP refuses every refresh from now on.
    idp.revoke_refresh_tokens();
    let r = b.nginx_auth(&outpost, "http://app.localhost/").await;
    assert_eq!(r.status(), 401);
    // Kept for /oauth2/start (nginx would pass the clearing on to its redirect there).
    assert!(!clears(&r, "portcullis"));
    let text = outpost.metrics().await;
    assert_eq!(
        metric(
            &text,
            r#"portcullis_outpost_decisions_total{route="test/app",endpoint="auth",result="unauthenticated",reason="refresh_refused"}"#
        ),
        1,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            r#"portcullis_outpost_token_refreshes_total{route="test/app",result="refused"}"#
        ),
        1
    );

    // nginx sends the browser to /oauth2/start: a page saying the IdP ended the
    // session, not another trip to the IdP; the refusal is not asked again, and the
    // cookie is cleared there.
    let calls = idp.state.token_calls.load(Ordering::SeqCst);
    let r = b
        .http
        .get(format!(
            "{}/oauth2/start?rd=http%3A%2F%2Fapp.localhost%2F",
            outpost.base
        ))
        .header("cookie", &stolen)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(clears(&r, "portcullis"));
    assert!(header(&r, "location").is_empty(), "no redirect to the IdP");
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Your identity provider ended your session"),
        "{page}"
    );
    assert!(page.contains("refresh_refused"));
    assert!(page.contains("invalid_grant: grant request is invalid"));
    assert!(page.contains("Start again"));
    assert_eq!(idp.state.token_calls.load(Ordering::SeqCst), calls);

    // Traefik shows our answer to the browser: the page itself, the cookie cleared.
    let r = b
        .http
        .get(format!("{}/oauth2/auth/traefik", outpost.base))
        .header("cookie", &stolen)
        .header("x-forwarded-host", "app.localhost")
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(clears(&r, "portcullis"));
    assert!(r.text().await.unwrap().contains("refresh_refused"));

    // Signing in again works (the account is fine at the IdP's login in this script).
    let mut b = Browser::new();
    b.login(&outpost, "http://app.localhost/").await;
    idp.state.expires_in.store(300, Ordering::SeqCst);
}

#[tokio::test]
async fn an_unreachable_idp_is_ridden_out_within_the_grace_with_backoff() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, &grace_route(30, 3600)).await;
    idp.state.expires_in.store(0, Ordering::SeqCst);
    let mut b = Browser::new();
    b.login(&outpost, "http://grace.localhost/").await;
    idp.state.token_status.store(503, Ordering::SeqCst);
    let before = b.cookie("grace");
    for _ in 0..10 {
        let r = b.nginx_auth(&outpost, "http://grace.localhost/").await;
        assert_eq!(r.status(), 200, "served on the last identity");
        assert_eq!(
            header(&r, "x-auth-request-user"),
            "jane",
            "on its last identity"
        );
        assert!(r.headers().get("set-cookie").is_none());
    }
    let calls = idp.state.token_calls.load(Ordering::SeqCst);
    // Login (1 code exchange) + the first attempt; the backoff holds off the rest.
    assert!(
        calls <= 3,
        "{calls} token calls for 10 requests: no backoff"
    );
    let text = outpost.metrics().await;
    assert_eq!(
        metric(
            &text,
            r#"portcullis_outpost_served_in_refresh_grace_total{route="test/grace"}"#
        ),
        10,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            r#"portcullis_outpost_decisions_total{route="test/grace",endpoint="auth",result="allow",reason="idp_unreachable_grace"}"#
        ),
        10,
        "{text}"
    );
    assert!(
        metric(
            &text,
            r#"portcullis_outpost_token_refreshes_total{route="test/grace",result="unreachable"}"#
        ) >= 1
    );

    // The IdP comes back: after the backoff the next request refreshes.
    idp.state.token_status.store(0, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = b.nginx_auth(&outpost, "http://grace.localhost/").await;
        assert_eq!(r.status(), 200);
        if idp.state.refresh_grants.load(Ordering::SeqCst) == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never refreshed after the outage"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_ne!(
        b.cookie("grace"),
        before,
        "the refreshed session is written back"
    );
}

#[tokio::test]
async fn past_the_grace_the_session_ends_with_its_own_reason() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, &grace_route(1, 3600)).await;
    idp.state.expires_in.store(0, Ordering::SeqCst);
    let mut b = Browser::new();
    b.login(&outpost, "http://grace.localhost/").await;
    let cookie = b.cookie_header("http://grace.localhost/");
    idp.state.token_status.store(502, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let r = b
        .http
        .get(format!("{}/oauth2/auth/traefik", outpost.base))
        .header("cookie", &cookie)
        .header("x-forwarded-host", "grace.localhost")
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "not a login at an IdP that is down");
    assert_eq!(header(&r, "retry-after"), "30");
    assert!(clears(&r, "grace"));
    let page = r.text().await.unwrap();
    assert!(page.contains("refresh_grace_expired"), "{page}");
    assert!(page.contains("Your identity provider cannot be reached"));
    let r = b.nginx_auth(&outpost, "http://grace.localhost/").await;
    assert_eq!(r.status(), 401, "nginx understands 401 only");
    let text = outpost.metrics().await;
    assert!(text.contains(r#"reason="refresh_grace_expired""#), "{text}");
}

#[tokio::test]
async fn a_hanging_idp_does_not_hang_a_session_it_can_do_without() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, &grace_route(60, 3600)).await;
    idp.state.expires_in.store(0, Ordering::SeqCst);
    let mut b = Browser::new();
    b.login(&outpost, "http://grace.localhost/").await;
    idp.state.hold_tokens.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let r = b.nginx_auth(&outpost, "http://grace.localhost/").await;
    let waited = started.elapsed();
    assert_eq!(r.status(), 200);
    assert!(
        waited < Duration::from_secs(5),
        "waited {waited:?} for a hanging IdP"
    );
    assert!(
        waited >= Duration::from_secs(2),
        "it did wait for an answer first"
    );
    // The refresh finishes in the background; the next request gets its result.
    idp.state.hold_tokens.store(false, Ordering::SeqCst);
    idp.state.release.notify_one();
    let deadline = Instant::now() + Duration::from_secs(5);
    while idp.state.refresh_grants.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = b.nginx_auth(&outpost, "http://grace.localhost/").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers().get("set-cookie").is_some(),
        "the background result is written back"
    );
    assert_eq!(idp.state.refresh_grants.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    // 4 s tokens: the 60 s default lead is capped at half the lifetime (2 s).
    idp.state.expires_in.store(4, Ordering::SeqCst);
    let mut b = Browser::new();
    b.login(&outpost, "http://app.localhost/").await;
    let r = b.nginx_auth(&outpost, "http://app.localhost/").await;
    assert_eq!(r.status(), 200);
    assert_eq!(idp.state.refresh_grants.load(Ordering::SeqCst), 0);
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    // Early (the tokens are still valid): refreshed now, not at expiry.
    let r = b.nginx_auth(&outpost, "http://app.localhost/").await;
    assert_eq!(r.status(), 200);
    assert_eq!(idp.state.refresh_grants.load(Ordering::SeqCst), 1);
    assert!(r.headers().get("set-cookie").is_some());
    // An outage during the lead costs nothing: the tokens are still valid.
    idp.state.token_status.store(503, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let r = b.nginx_auth(&outpost, "http://app.localhost/").await;
    assert_eq!(r.status(), 200);
    assert_eq!(idp.state.refresh_grants.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn no_session_outlives_its_maximum_lifetime_refresh_token_or_not() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, &grace_route(600, 2)).await;
    // With a refresh token and tokens that expire at once: refreshes keep it going...
    idp.state.expires_in.store(0, Ordering::SeqCst);
    let mut with_refresh = Browser::new();
    with_refresh
        .login(&outpost, "http://grace.localhost/")
        .await;
    // ...without one, and tokens that outlast the session.
    idp.state.expires_in.store(300, Ordering::SeqCst);
    idp.state.issue_refresh.store(false, Ordering::SeqCst);
    let mut without = Browser::new();
    without.login(&outpost, "http://grace.localhost/").await;
    for b in [&mut with_refresh, &mut without] {
        assert_eq!(
            b.nginx_auth(&outpost, "http://grace.localhost/")
                .await
                .status(),
            200
        );
    }
    // Even an IdP outage (and its grace) does not stretch the absolute lifetime. The
    // browsers' jars drop the cookies at Max-Age; copies kept past it (a client that
    // ignores Max-Age, or a thief) are refused by the server.
    let cookies = [
        with_refresh.cookie_header("http://grace.localhost/"),
        without.cookie_header("http://grace.localhost/"),
    ];
    idp.state.token_status.store(503, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    assert!(
        with_refresh.cookie("grace").is_none() && without.cookie("grace").is_none(),
        "the cookie's Max-Age is the session's lifetime"
    );
    for cookie in cookies {
        let r = crate::outpost_support::browser::http()
            .get(format!("{}/oauth2/auth", outpost.base))
            .header("cookie", cookie)
            .header("x-original-url", "http://grace.localhost/")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let text = outpost.metrics().await;
    assert_eq!(
        metric(
            &text,
            r#"portcullis_outpost_decisions_total{route="test/grace",endpoint="auth",result="unauthenticated",reason="session_expired"}"#
        ),
        2,
        "{text}"
    );
}

#[tokio::test]
async fn tokens_expired_without_a_refresh_token_still_just_send_a_browser_to_sign_in() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    idp.state.expires_in.store(0, Ordering::SeqCst);
    idp.state.issue_refresh.store(false, Ordering::SeqCst);
    let mut b = Browser::new();
    b.login(&outpost, "http://app.localhost/").await;
    let r = b
        .get(
            &format!("{}/oauth2/auth/traefik", outpost.base),
            &[
                ("x-forwarded-host", "app.localhost"),
                ("accept", "text/html"),
            ],
        )
        .await;
    assert_eq!(r.status(), 302, "a plain sign-in, not a page");
    assert!(header(&r, "location").contains("/oauth2/start?rd="));
    // /oauth2/start goes to the IdP too.
    let r = b
        .get(
            &format!(
                "{}/oauth2/start?rd=http%3A%2F%2Fapp.localhost%2F",
                outpost.base
            ),
            &[],
        )
        .await;
    assert_eq!(r.status(), 302);
    assert!(header(&r, "location").starts_with(&idp.base));
}
