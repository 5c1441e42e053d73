//! The IdP decides, against the real `oidc-provider` and nginx: short-lived access
//! tokens refreshed before they expire; an IdP outage (5xx, reset connections) ridden
//! out for the configured grace and survived when it comes back; a disabled account
//! losing access at the next refresh, with a page saying so.

use crate::e2e;

use e2e::{
    Idp, IdpAccount, IdpClient, IdpOptions, Nginx, NginxOptions, Outpost, OutpostOptions, Tool,
    UpstreamApp, UserAgent, free_port, require,
};
use std::time::{Duration, Instant};

const CLIENT_ID: &str = "portcullis";
const CLIENT_SECRET: &str = "e2e-refresh-client-secret";
/// The IdP's access-token lifetime: the outpost refreshes at half of it.
const ACCESS_TTL: u64 = 4;
/// The route's refresh grace.
const GRACE: u64 = 6;

struct Stack {
    idp: Idp,
    _app: UpstreamApp,
    outpost: Outpost,
    nginx: Nginx,
}

async fn stack() -> Stack {
    stack_with_ttl(&[]).await
}

/// The stack with more IdP token lifetimes (e.g. a short `IdToken`).
async fn stack_with_ttl(ttl: &[(&str, u64)]) -> Stack {
    let front_port = free_port();
    let front = format!("http://127.0.0.1:{front_port}");
    let mut client = IdpClient::new(
        CLIENT_ID,
        CLIENT_SECRET,
        &format!("{front}/oauth2/callback"),
    );
    client.post_logout_redirect_uris = vec![format!("{front}/bye")];
    let mut ttl: std::collections::BTreeMap<String, u64> =
        ttl.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    ttl.insert("AccessToken".to_string(), ACCESS_TTL);
    let idp = Idp::start(IdpOptions {
        clients: vec![client],
        accounts: vec![IdpAccount::new(
            "alice",
            "wonderland",
            "alice@example.test",
            &["admins"],
        )],
        ttl,
        ..IdpOptions::default()
    })
    .expect("start the IdP");
    let app = UpstreamApp::start().await.expect("start the app");
    let yaml = e2e::outpost::config_yaml_with_session(
        &OutpostOptions::dashboard(idp.issuer(), CLIENT_ID, CLIENT_SECRET, &front),
        &format!(
            "{{ cookieName: portcullis, lifetimeSeconds: 3600, idleTimeoutSeconds: 0, refreshGraceSeconds: {GRACE} }}"
        ),
    );
    assert!(yaml.contains("refreshGraceSeconds"), "{yaml}");
    let outpost = Outpost::start_with_yaml(&yaml)
        .await
        .expect("start the outpost");
    let mut opts = NginxOptions::new(&outpost.addr(), &format!("127.0.0.1:{}", app.port()));
    opts.port = Some(front_port);
    let nginx = Nginx::start(opts).expect("start nginx");
    Stack {
        idp,
        _app: app,
        outpost,
        nginx,
    }
}

async fn signed_in(s: &Stack) -> UserAgent {
    let mut ua = UserAgent::new();
    ua.get(&format!("{}/private", s.nginx.url()))
        .await
        .expect("to the IdP");
    let landed = ua.login("alice", "wonderland").await.expect("login");
    assert_eq!(landed.status, 200, "{}", s.outpost.log());
    ua
}

async fn metric(s: &Stack, needle: &str) -> u64 {
    let text = reqwest::get(format!("{}/metrics", s.outpost.admin_url()))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find(|l| l.starts_with(needle))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

const REFRESHED: &str =
    r#"portcullis_outpost_token_refreshes_total{route="apps/dashboard",result="success"}"#;
const WARNING: &str = "cannot be reached to renew the session";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idp_outage_is_ridden_out_for_the_grace_and_survived() {
    if !require(&[Tool::Node, Tool::IdpPackages, Tool::Nginx]) {
        return;
    }
    let s = stack().await;
    let mut ua = signed_in(&s).await;
    let private = format!("{}/private", s.nginx.url());

    // Refreshed before expiry at the real IdP, with a real refresh token.
    tokio::time::sleep(Duration::from_millis(ACCESS_TTL * 1000 / 2 + 300)).await;
    let before: Vec<String> = ua
        .jar
        .all()
        .iter()
        .map(|c| format!("{}={}", c.name, c.value.len()))
        .collect();
    let r = ua.get(&private).await.expect("private");
    let after: Vec<String> = ua
        .jar
        .all()
        .iter()
        .map(|c| format!("{}={}", c.name, c.value.len()))
        .collect();
    eprintln!(
        "DEBUG before {before:?} after {after:?} set-cookie {:?}",
        r.header("set-cookie")
    );
    assert_eq!(r.status, 200, "{}", s.outpost.log());
    assert_eq!(
        metric(&s, REFRESHED).await,
        1,
        "{}",
        reqwest::get(format!("{}/metrics", s.outpost.admin_url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    );

    // The IdP answers 503 past the tokens' expiry: still served, one warning.
    s.idp.set_outage(Some(503)).await.expect("outage");
    tokio::time::sleep(Duration::from_secs(ACCESS_TTL + 1)).await;
    for _ in 0..5 {
        let r = ua.get(&private).await.expect("private");
        assert_eq!(r.status, 200, "hops {:?}\n{}", r.hops, s.outpost.log());
    }
    assert!(s.outpost.logged(WARNING).await, "{}", s.outpost.log());
    let log = s.outpost.log();
    assert_eq!(log.matches(WARNING).count(), 1, "{log}");
    assert!(
        log.contains("user=alice") || log.contains("\"user\":\"alice\""),
        "{log}"
    );
    assert!(
        metric(
            &s,
            r#"portcullis_outpost_served_in_refresh_grace_total{route="apps/dashboard"}"#
        )
        .await
            >= 5
    );

    // It comes back: the session refreshes (after the backoff) without a new login.
    s.idp.set_outage(None).await.expect("back");
    let deadline = Instant::now() + Duration::from_secs(5);
    while metric(&s, REFRESHED).await < 2 {
        assert!(Instant::now() < deadline, "{}", s.outpost.log());
        let r = ua.get(&private).await.expect("private");
        assert_eq!(r.status, 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Connections reset, this time past the grace: the session ends with a page that
    // says the IdP cannot be reached, not a login at an IdP that is down.
    s.idp.set_outage(Some(0)).await.expect("drop");
    tokio::time::sleep(Duration::from_secs(ACCESS_TTL + GRACE + 1)).await;
    let r = ua.get(&private).await.expect("private");
    assert_eq!(r.status, 503, "hops {:?}\n{}", r.hops, s.outpost.log());
    assert!(r.body.contains("refresh_grace_expired"), "{}", r.body);
    assert!(r.body.contains("Your identity provider cannot be reached"));
    assert!(
        r.hops.iter().all(|h| !h
            .location
            .as_deref()
            .unwrap_or_default()
            .starts_with(s.idp.base_url())),
        "sent to the IdP that is down: {:?}",
        r.hops
    );
    s.idp.set_outage(None).await.expect("back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_account_loses_access_at_the_next_refresh() {
    if !require(&[Tool::Node, Tool::IdpPackages, Tool::Nginx]) {
        return;
    }
    let s = stack().await;
    let mut ua = signed_in(&s).await;
    let private = format!("{}/private", s.nginx.url());
    s.idp
        .set_account_enabled("alice", false)
        .await
        .expect("disable");
    // Before the refresh is due the session still stands (nothing asks the IdP)...
    let r = ua.get(&private).await.expect("private");
    assert_eq!(r.status, 200);
    // ...at the next refresh the IdP refuses and the session ends at once.
    tokio::time::sleep(Duration::from_millis(ACCESS_TTL * 1000 / 2 + 300)).await;
    let r = ua.get(&private).await.expect("private");
    assert_eq!(r.status, 401, "hops {:?}\n{}", r.hops, s.outpost.log());
    assert!(
        r.body.contains("Your identity provider ended your session"),
        "{}",
        r.body
    );
    assert!(r.body.contains("refresh_refused"));
    assert!(r.body.contains("invalid_grant"));
    assert!(s.outpost.logged("refused to renew the session").await);
    let log = s.outpost.log();
    let line = log
        .lines()
        .find(|l| l.contains("refused to renew the session"))
        .unwrap_or_else(|| panic!("no refusal line:\n{log}"));
    assert!(line.contains("alice"), "{line}");
    assert!(line.contains("invalid_grant"), "{line}");
    assert!(!log.contains(e2e::outpost::COOKIE_SECRET));
    assert!(!log.contains(CLIENT_SECRET));
    // The cookie is gone: the next visit is a plain sign-in, which the IdP refuses too.
    let r = ua.get(&private).await.expect("private");
    assert!(
        r.url.as_str().starts_with(s.idp.base_url()),
        "not sent to sign in: {} {:?}",
        r.url,
        r.hops
    );
}

/// The `exp` of a JWT (unverified: the test only reads what it was given).
fn jwt_exp(token: &str) -> u64 {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    let claims: serde_json::Value = serde_json::from_slice(&json).expect("JSON claims");
    claims["exp"].as_u64().expect("exp")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_after_a_refresh_sends_the_first_id_token_and_the_idp_accepts_it() {
    if !require(&[Tool::Node, Tool::IdpPackages, Tool::Nginx]) {
        return;
    }
    // ID tokens live 3 s: by sign-out, the one the hint cookie kept has expired.
    let s = stack_with_ttl(&[("IdToken", 3)]).await;
    let mut ua = signed_in(&s).await;
    let private = format!("{}/private", s.nginx.url());
    tokio::time::sleep(Duration::from_millis(ACCESS_TTL * 1000 / 2 + 300)).await;
    let r = ua.get(&private).await.expect("private");
    assert_eq!(r.status, 200, "{}", s.outpost.log());
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&s, REFRESHED).await == 0 {
        assert!(Instant::now() < deadline, "no refresh: {}", s.outpost.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let bye = ua
        .get(&format!(
            "{}/oauth2/sign_out?rd={}/bye",
            s.nginx.url(),
            s.nginx.url()
        ))
        .await
        .expect("sign out");
    let hint = bye
        .hops
        .iter()
        .filter_map(|h| url::Url::parse(&h.url).ok())
        .find_map(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "id_token_hint")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_else(|| panic!("no id_token_hint: {:?}", bye.hops));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        jwt_exp(&hint) <= now,
        "the hint sent has expired (the point of the test)"
    );
    // The IdP takes it (RP-Initiated Logout: a previously issued ID token is a valid
    // hint even expired) and asks to confirm, instead of an error page.
    let form = bye
        .forms()
        .into_iter()
        .find(|f| f.pairs(None).iter().any(|(k, _)| k == "logout"))
        .unwrap_or_else(|| panic!("the IdP's sign-out confirmation: {}", bye.body));
    let landed = ua.submit(&bye, &form).await.expect("confirm");
    assert!(
        s.idp.log().contains("end_session success"),
        "{}",
        s.idp.log()
    );
    assert!(
        landed.forms().iter().any(|f| f.has_field("password")),
        "the IdP session ended, so it asks for the password: {} {}",
        landed.url,
        landed.body
    );
}
