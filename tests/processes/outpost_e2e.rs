//! The outpost end to end, on loopback: a real OpenID Provider (`oidc-provider`), nginx
//! configured like ingress-nginx, Caddy's `forward_auth`, a scripted user agent with a
//! cookie jar, and headless Chromium through the IdP's real login form.

use crate::e2e;

use e2e::{
    Browser, BrowserOptions, BrowserResult, Caddy, CaddyOptions, Idp, IdpAccount, IdpClient,
    IdpOptions, Nginx, NginxOptions, Outpost, OutpostOptions, OutpostRoute, Tool, UpstreamApp,
    UserAgent, free_port, require,
};

const CLIENT_ID: &str = "portcullis";
const CLIENT_SECRET: &str = "e2e-client-secret";

fn accounts() -> Vec<IdpAccount> {
    vec![
        IdpAccount::new(
            "alice",
            "wonderland",
            "alice@example.test",
            &["admins", "devs"],
        ),
        IdpAccount::new("bob", "builder", "bob@example.test", &["visitors"]),
    ]
}

/// IdP + app + outpost + a front proxy port chosen up front (the redirect URI needs it).
pub(crate) struct Stack {
    idp: Idp,
    pub(crate) app: UpstreamApp,
    pub(crate) outpost: Outpost,
    pub(crate) front_port: u16,
}

pub(crate) async fn stack(algorithm: &str) -> Stack {
    let front_port = free_port();
    let front = format!("http://127.0.0.1:{front_port}");
    let mut client = IdpClient::new(
        CLIENT_ID,
        CLIENT_SECRET,
        &format!("{front}/oauth2/callback"),
    );
    client.post_logout_redirect_uris = vec![format!("{front}/"), format!("{front}/bye")];
    client.id_token_signed_response_alg = Some(algorithm.to_string());
    let idp = Idp::start(IdpOptions {
        algorithms: vec![algorithm.to_string()],
        clients: vec![client],
        accounts: accounts(),
        ..IdpOptions::default()
    })
    .expect("start the IdP");
    let app = UpstreamApp::start().await.expect("start the app");
    let outpost = Outpost::start(&OutpostOptions {
        issuer: idp.issuer().to_string(),
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        routes: vec![OutpostRoute {
            id: "apps/dashboard".into(),
            auth_url: front.clone(),
            groups: vec!["admins".into()],
            public_paths: vec!["/healthz".into()],
            bearer: true,
            // The same nginx as `localhost`: the session cookie, host-only on 127.0.0.1,
            // is never sent there (the login-loop test).
            also_hosts: vec![format!("localhost:{front_port}")],
        }],
    })
    .await
    .expect("start the outpost");
    Stack {
        idp,
        app,
        outpost,
        front_port,
    }
}

pub(crate) fn nginx_for(s: &Stack) -> Nginx {
    let mut opts = NginxOptions::new(&s.outpost.addr(), &format!("127.0.0.1:{}", s.app.port()));
    opts.port = Some(s.front_port);
    Nginx::start(opts).expect("start nginx")
}

async fn login_through_nginx(algorithm: &str) {
    let s = stack(algorithm).await;
    let nginx = nginx_for(&s);
    let base = nginx.url();
    let mut ua = UserAgent::new();

    // Public paths need no login.
    let public = ua.get(&format!("{base}/healthz")).await.expect("public");
    assert_eq!(public.status, 200, "{}", s.outpost.log());

    // Not logged in: nginx turns the 401 into the sign-in redirect, which reaches the IdP.
    let page = ua
        .get(&format!("{base}/private?x=1"))
        .await
        .expect("to the IdP");
    assert!(
        page.url.as_str().starts_with(s.idp.base_url()),
        "hops: {:?}\n{}",
        page.hops,
        s.outpost.log()
    );
    let landed = ua.login("alice", "wonderland").await.expect("login");
    assert_eq!(
        landed.status,
        200,
        "hops: {:?}\n{}",
        landed.hops,
        s.outpost.log()
    );
    assert_eq!(landed.url.as_str(), format!("{base}/private?x=1"));
    let seen = s.app.last_request().expect("the app saw the request");
    assert_eq!(seen.header("x-auth-request-user"), Some("alice"));
    assert_eq!(
        seen.header("x-auth-request-email"),
        Some("alice@example.test")
    );
    // The groups header carries all the user's groups, not only those the policy
    // names: the app may map roles from groups the route does not check.
    assert_eq!(seen.header("x-auth-request-groups"), Some("admins,devs"));

    // userinfo shows the session's identity.
    let info = ua
        .get(&format!("{base}/oauth2/userinfo"))
        .await
        .expect("userinfo");
    assert_eq!(info.status, 200);
    assert!(info.body.contains("alice@example.test"), "{}", info.body);

    // A tampered cookie is refused (and sends the browser to log in again, not to the app).
    let url = url::Url::parse(&base).expect("url");
    let mut tampered = UserAgent::new();
    let ours: Vec<(String, String)> = ua
        .jar
        .matching(&url)
        .into_iter()
        .filter(|c| c.name.starts_with("portcullis"))
        .map(|c| (c.name.clone(), c.value.clone()))
        .collect();
    assert!(!ours.is_empty(), "a session cookie was set");
    let session_values = ours.clone();
    for (name, value) in ours {
        let mut v = value;
        let last = v
            .pop()
            .map(|c| if c == 'A' { 'B' } else { 'A' })
            .unwrap_or('A');
        v.push(last);
        tampered
            .jar
            .store(&url, &format!("{name}={v}; Path=/"))
            .expect("cookie");
    }
    let before = s.app.requests().len();
    let r = tampered
        .get_no_follow(&format!("{base}/private"))
        .await
        .expect("tampered");
    assert_eq!(r.status, 302, "a tampered cookie must not pass");
    assert!(r.location().unwrap_or_default().contains("/oauth2/start"));
    assert_eq!(s.app.requests().len(), before, "the app was not reached");

    // The ID token is not in the session cookie the app's requests (and so the auth
    // subrequest, which nginx gives the same headers) carry: it waits in the sign-out
    // hint cookie, which the browser sends to /oauth2/sign_out only.
    let sent = seen.header("cookie").unwrap_or_default();
    let session_bytes: usize = sent
        .split("; ")
        .filter(|c| c.starts_with("portcullis="))
        .map(str::len)
        .sum();
    assert!(
        session_bytes > 0,
        "the app's request carried the session: {sent}"
    );
    assert!(!sent.contains("_idt"), "the hint reached the app: {sent}");
    let hint = ua
        .jar
        .matching(&url.join("/oauth2/sign_out").expect("url"))
        .into_iter()
        .find(|c| c.name.ends_with("_idt"))
        .map(|c| c.value.len())
        .expect("the sign-out hint cookie");
    eprintln!("{algorithm}: session cookie {session_bytes} bytes as sent, hint value {hint} bytes");

    // Sign out ends access here and, with the ID token as id_token_hint, at the IdP: its
    // page asks to confirm, and after that the IdP asks for the password again.
    let bye = ua
        .get(&format!("{base}/oauth2/sign_out?rd={base}/bye"))
        .await
        .expect("sign out");
    let end = bye
        .hops
        .iter()
        .find(|h| h.url.starts_with(s.idp.base_url()))
        .map(|h| url::Url::parse(&h.url).expect("url"))
        .unwrap_or_else(|| panic!("RP-initiated logout at the IdP: {:?}", bye.hops));
    let hint_sent = end
        .query_pairs()
        .find(|(k, _)| k == "id_token_hint")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("id_token_hint on {end}"));
    assert!(hint_sent.starts_with("ey"), "{hint_sent}");
    assert!(
        !ua.jar
            .all()
            .iter()
            .any(|c| c.name.ends_with("_idt") && ua.jar.get(&c.name).is_some()),
        "sign-out expires the hint cookie"
    );
    let form = bye
        .forms()
        .into_iter()
        .find(|f| f.pairs(None).iter().any(|(k, _)| k == "logout"))
        .unwrap_or_else(|| panic!("the IdP's sign-out confirmation: {}", bye.body));
    let landed = ua.submit(&bye, &form).await.expect("confirm the sign-out");
    assert!(
        s.idp.log().contains("end_session success"),
        "{}",
        s.idp.log()
    );
    // Back at rd, which needs a session: through sign-in to the IdP, which no longer
    // knows the user and shows its login form instead of signing them straight in.
    assert!(
        landed.url.as_str().starts_with(s.idp.base_url())
            && landed.forms().iter().any(|f| f.has_field("password")),
        "the IdP session ended: {} {:?}\n{}",
        landed.url,
        landed.hops,
        landed.body
    );
    let after = ua
        .get_no_follow(&format!("{base}/private"))
        .await
        .expect("after sign out");
    assert_eq!(after.status, 302, "signed out users are sent to log in");

    // No secret, token or cookie value ever reaches the log: check the whole run's log
    // for the client secret, the cookie secret, every session cookie value and any JWT.
    assert!(
        s.outpost.logged("\"reason\":\"authenticated\"").await,
        "decisions are logged: {}",
        s.outpost.log()
    );
    let log = s.outpost.log();
    assert!(!log.contains(CLIENT_SECRET), "client secret in the log");
    assert!(
        !log.contains(e2e::outpost::COOKIE_SECRET),
        "cookie secret in the log"
    );
    for (name, value) in session_values {
        assert!(!log.contains(&value), "cookie {name} in the log");
    }
    assert!(!log.contains("eyJ"), "a JWT in the log: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_login_through_nginx_auth_request() {
    if require(&[Tool::Node, Tool::IdpPackages, Tool::Nginx]) {
        login_through_nginx("RS256").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn es256_login_through_nginx_auth_request() {
    if require(&[Tool::Node, Tool::IdpPackages, Tool::Nginx]) {
        login_through_nginx("ES256").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_the_group_gets_403_naming_the_rule_and_no_loop() {
    if !require(&[Tool::Node, Tool::IdpPackages, Tool::Nginx]) {
        return;
    }
    let s = stack("RS256").await;
    let nginx = nginx_for(&s);
    let base = nginx.url();
    let mut ua = UserAgent::new();
    ua.get(&format!("{base}/private"))
        .await
        .expect("to the IdP");
    let denied = ua
        .login("bob", "builder")
        .await
        .expect("login completes without a loop");
    assert_eq!(denied.status, 403, "hops: {:?}", denied.hops);
    assert!(
        denied.body.contains("admins"),
        "the page names the rule: {}",
        denied.body
    );
    assert!(
        s.app
            .requests()
            .iter()
            .all(|r| r.header("x-auth-request-user") != Some("bob"))
    );
    // Every later visit lands on the page naming the rule too (nginx's auth_request
    // cannot pass a body, so a browser is sent to /oauth2/start, which renders it), with
    // no IdP round trip and no loop.
    for _ in 0..2 {
        let again = ua.get(&format!("{base}/private")).await.expect("again");
        assert_eq!(again.status, 403, "hops: {:?}", again.hops);
        assert!(again.body.contains("admins"), "{}", again.body);
        assert!(again.hops.len() <= 2, "hops: {:?}", again.hops);
        assert!(
            again
                .hops
                .iter()
                .all(|h| !h.url.starts_with(s.idp.base_url())),
            "no IdP round trip: {:?}",
            again.hops
        );
    }
    // An API client still gets nginx's plain 403.
    ua.set_default_header("accept", "application/json");
    let api = ua
        .get_no_follow(&format!("{base}/private"))
        .await
        .expect("api");
    assert_eq!(api.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idp_rotating_its_signing_key_mid_session_is_survived() {
    if !require(&[Tool::Node, Tool::IdpPackages, Tool::Nginx]) {
        return;
    }
    let s = stack("RS256").await;
    let nginx = nginx_for(&s);
    let base = nginx.url();
    let mut ua = UserAgent::new();
    ua.get(&format!("{base}/private"))
        .await
        .expect("to the IdP");
    ua.login("alice", "wonderland").await.expect("login");
    let old = s.idp.kids().await.expect("kids");
    let new = s.idp.rotate_keys(false).await.expect("rotate");
    assert_ne!(old, new);
    // The session goes on...
    let r = ua.get(&format!("{base}/private")).await.expect("still in");
    assert_eq!(r.status, 200, "{}", s.outpost.log());
    // ...and a fresh login, whose ID token carries the unknown kid, works too.
    let mut second = UserAgent::new();
    second
        .get(&format!("{base}/private"))
        .await
        .expect("to the IdP");
    let landed = second
        .login("alice", "wonderland")
        .await
        .expect("login after rotation");
    assert_eq!(
        landed.status,
        200,
        "hops: {:?}\n{}",
        landed.hops,
        s.outpost.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caddy_forward_auth_redirects_browsers_and_answers_apis_with_401() {
    if !require(&[Tool::Node, Tool::IdpPackages, Tool::Caddy]) {
        return;
    }
    let s = stack("ES256").await;
    let mut opts = CaddyOptions::new(&s.outpost.addr(), &format!("127.0.0.1:{}", s.app.port()));
    opts.port = Some(s.front_port);
    let caddy = Caddy::start(opts).expect("start caddy");
    let base = caddy.url();

    let mut api = UserAgent::new();
    api.set_default_header("accept", "application/json");
    let r = api
        .get_no_follow(&format!("{base}/api/things"))
        .await
        .expect("api");
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").is_some());

    let mut ua = UserAgent::new();
    let first = ua
        .get_no_follow(&format!("{base}/page"))
        .await
        .expect("browser");
    assert_eq!(first.status, 302);
    ua.get(&format!("{base}/page")).await.expect("to the IdP");
    let landed = ua.login("alice", "wonderland").await.expect("login");
    assert_eq!(
        landed.status,
        200,
        "hops: {:?}\n{}",
        landed.hops,
        s.outpost.log()
    );
    assert_eq!(
        s.app
            .last_request()
            .expect("seen")
            .header("x-auth-request-user"),
        Some("alice")
    );
}

/// Where a screenshot goes: `$E2E_ARTIFACTS/<png>` when set (to be looked at), else the
/// test's temporary folder.
fn screenshot_path(png: &str, dir: &tempfile::TempDir) -> std::path::PathBuf {
    std::env::var_os("E2E_ARTIFACTS")
        .map(|d| std::path::PathBuf::from(d).join(png))
        .unwrap_or_else(|| dir.path().join(png))
}

/// What a Chromium test through nginx starts with: the stack (IdP, app, outpost), nginx
/// in front of it, and where its screenshot goes.
struct ChromiumStack {
    s: Stack,
    nginx: Nginx,
    /// `$E2E_ARTIFACTS/<png>` when set, else in `_dir`.
    screenshot: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// The [`ChromiumStack`] for a test whose screenshot is `png`; `None` (the test skips)
/// when a tool is missing.
async fn chromium_stack(png: &str) -> Option<ChromiumStack> {
    if !require(&[
        Tool::Node,
        Tool::IdpPackages,
        Tool::Nginx,
        Tool::Chromium,
        Tool::BrowserPackages,
    ]) {
        return None;
    }
    let s = stack("RS256").await;
    let nginx = nginx_for(&s);
    let dir = tempfile::tempdir().expect("dir");
    let screenshot = screenshot_path(png, &dir);
    Some(ChromiumStack {
        s,
        nginx,
        screenshot,
        _dir: dir,
    })
}

/// Chromium through nginx to `/private`, signing in with the IdP's real form; the
/// result and the screenshot's bytes (kept as `$E2E_ARTIFACTS/<png>` when set, to be
/// looked at). `None` when a tool is missing.
async fn chromium_signs_in(
    user: &str,
    password: &str,
    png: &str,
) -> Option<(Stack, Nginx, BrowserResult, Vec<u8>)> {
    let ChromiumStack {
        s,
        nginx,
        screenshot: path,
        _dir,
    } = chromium_stack(png).await?;
    let url = format!("{}/private", nginx.url());
    let result = Browser::run(BrowserOptions::login(&url, user, password, path.clone()))
        .await
        .expect("browser run");
    let bytes = std::fs::read(&path).expect("screenshot written");
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 5_000,
        "a real PNG"
    );
    Some((s, nginx, result, bytes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_logs_in_through_the_real_form_and_sees_the_protected_page() {
    let Some((s, nginx, result, bytes)) =
        chromium_signs_in("alice", "wonderland", "outpost-login.png").await
    else {
        return;
    };
    assert!(
        result.final_url.starts_with(&nginx.url()),
        "{result:?}\n{}",
        s.outpost.log()
    );
    assert!(
        result.text.contains("alice@example.test"),
        "the protected page shows the identity headers: {}",
        result.text
    );
    // The PNG's width and height (IHDR) are those of a real viewport.
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert!(width >= 640 && height >= 400, "{width}x{height}");
}

/// The denied page as a person sees it: Chromium signs in as bob (not in `admins`);
/// the page must say what happened, what to do and the request id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_sees_a_denied_page_a_person_can_act_on() {
    let Some((_s, _nginx, result, _)) =
        chromium_signs_in("bob", "builder", "outpost-denied.png").await
    else {
        return;
    };
    for words in [
        "Access denied",
        "admins",
        "Signed in as",
        "bob",
        "Start again",
        "Sign in as someone else",
        "Request id",
    ] {
        assert!(
            result.text.contains(words),
            "{words:?} missing: {}",
            result.text
        );
    }
}

/// `X_Auth_Request_User` is not overwritten by the proxy (it copies the auth response
/// over the hyphenated name only), and CGI-style apps read it as the user. nginx drops
/// underscore headers by default; where it is told to pass them, the outpost refuses the
/// request. Either way no client-chosen user reaches the app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn underscore_spellings_of_identity_headers_never_name_the_user() {
    if !require(&[Tool::Node, Tool::IdpPackages, Tool::Nginx]) {
        return;
    }
    let s = stack("RS256").await;
    for underscores_in_headers in [false, true] {
        let mut opts = NginxOptions::new(&s.outpost.addr(), &format!("127.0.0.1:{}", s.app.port()));
        opts.port = Some(s.front_port);
        if underscores_in_headers {
            opts.extra_server = "underscores_in_headers on;\n".into();
        }
        let nginx = Nginx::start(opts).expect("start nginx");
        let base = nginx.url();
        let mut ua = UserAgent::new();
        ua.get(&format!("{base}/private"))
            .await
            .expect("to the IdP");
        let landed = ua.login("alice", "wonderland").await.expect("login");
        assert_eq!(landed.status, 200, "hops: {:?}", landed.hops);

        ua.set_default_header("x_auth_request_user", "mallory");
        ua.set_default_header("x_auth_request_groups", "root");
        let before = s.app.requests().len();
        let r = ua.get(&format!("{base}/private")).await.expect("spoofed");
        let reached: Vec<_> = s.app.requests().into_iter().skip(before).collect();
        assert!(
            reached
                .iter()
                .all(|q| q.header("x_auth_request_user").is_none()
                    && q.header("x-auth-request-user") != Some("mallory")),
            "a client-chosen user reached the app: {reached:?}"
        );
        if underscores_in_headers {
            assert_eq!(r.status, 403, "hops: {:?}\n{}", r.hops, r.body);
            assert!(r.body.contains("identity_header_spoofed"), "{}", r.body);
            assert!(
                r.body.contains("X-Auth-Request-"),
                "names our header: {}",
                r.body
            );
            assert!(reached.is_empty(), "the app was reached: {reached:?}");
            assert!(
                s.outpost
                    .logged("\"reason\":\"identity_header_spoofed\"")
                    .await,
                "{}",
                s.outpost.log()
            );
        } else {
            assert_eq!(r.status, 200, "nginx dropped the header: {:?}", r.hops);
            let seen = reached.last().expect("the app saw the request");
            assert_eq!(seen.header("x-auth-request-user"), Some("alice"));
            assert_eq!(seen.header("x-auth-request-groups"), Some("admins,devs"));
        }
        drop(nginx);
    }
}

/// A real browser in a real loop: the app is opened as `localhost`, the session cookie
/// is host-only on `127.0.0.1` (the auth URL), so Chromium never sends it to the app.
/// The second completed sign-in ends on the page naming the cookie, not another round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_in_a_cookie_loop_ends_on_a_page_naming_the_cookie() {
    // Bound by name, not `..`: nginx and the folder must live until the test ends.
    let Some(ChromiumStack {
        s,
        nginx: _nginx,
        screenshot: path,
        _dir,
    }) = chromium_stack("outpost-login-loop.png").await
    else {
        return;
    };
    let url = format!("http://localhost:{}/private", s.front_port);
    let result = Browser::run(BrowserOptions::login(&url, "alice", "wonderland", path))
        .await
        .expect("browser run");
    for words in [
        "Sign-in keeps repeating",
        "did not send back the session cookie",
        "host-only on 127.0.0.1",
        "The app is at localhost",
        "What to do",
        "login_loop",
        "Request id",
    ] {
        assert!(
            result.text.contains(words),
            "{words:?} missing: {}\n{}",
            result.text,
            s.outpost.log()
        );
    }
    let completed = s
        .outpost
        .log()
        .lines()
        .filter(|l| l.contains("\"endpoint\":\"callback\"") && l.contains("\"authenticated\""))
        .count();
    assert!(
        completed <= 1,
        "one completed round, then the page: {completed}"
    );
}

/// The sessions page (`/oauth2/sessions`) as a person sees it, rendered with two
/// sessions and opened in Chromium: the screenshot is kept under `$E2E_ARTIFACTS` to be
/// looked at; the text must name both devices, mark this browser and offer the endings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_shows_the_sessions_page_a_person_can_act_on() {
    use portcullis::outpost::sessions_page::{Row, SessionsPage, render};
    if !require(&[Tool::Node, Tool::Chromium, Tool::BrowserPackages]) {
        return;
    }
    let now = 1_780_000_000;
    let html = render(&SessionsPage {
        user: "alice",
        rows: vec![
            Row {
                handle: "h1",
                started: now - 7_200,
                last_seen: now - 60,
                expires: now + 21_600,
                device: Some("Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"),
                client_ip: Some("203.0.113.7"),
                current: true,
            },
            Row {
                handle: "h2",
                started: now - 86_000,
                last_seen: now - 3_600,
                expires: now + 400,
                device: Some("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1) Safari/604.1"),
                client_ip: Some("198.51.100.20"),
                current: false,
            },
        ],
        form_token: "t0ken",
        action: "/oauth2/sessions",
    });
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("sessions.html");
    std::fs::write(&file, html).expect("write the page");
    let path = screenshot_path("outpost-sessions.png", &dir);
    let result = Browser::run(BrowserOptions {
        url: format!("file://{}", file.display()),
        username: None,
        password: None,
        screenshot: path,
        timeout: std::time::Duration::from_secs(20),
    })
    .await
    .expect("browser run");
    for words in [
        "alice",
        "Chrome",
        "iPhone",
        "203.0.113.7",
        "this browser",
        "End",
    ] {
        assert!(
            result.text.contains(words),
            "{words:?} missing: {}",
            result.text
        );
    }
}

/// The sign-in callback's failure page (a `LoginError`), as a person meets it: a
/// callback reached without the sign-in state cookie — an old tab, or a browser that did
/// not keep the cookie. Chromium shows the page that says so and how to go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_shows_the_failed_sign_in_page_a_person_can_act_on() {
    let Some(ChromiumStack {
        s,
        nginx,
        screenshot: path,
        _dir,
    }) = chromium_stack("outpost-callback-failed.png").await
    else {
        return;
    };
    // A code no request id (hex) can contain by chance: "abc" once matched one.
    let url = format!(
        "{}/oauth2/callback?code=never-echoed-code&state=not-ours",
        nginx.url()
    );
    let result = Browser::run(BrowserOptions {
        url,
        username: None,
        password: None,
        screenshot: path.clone(),
        timeout: std::time::Duration::from_secs(20),
    })
    .await
    .expect("browser run");
    assert_eq!(result.status, Some(400), "{result:?}");
    for words in [
        "the sign-in state cookie was not sent back",
        "state_invalid",
        "Request id",
    ] {
        assert!(
            result.text.contains(words),
            "{words:?} missing: {}\n{}",
            result.text,
            s.outpost.log()
        );
    }
    assert!(
        !result.text.contains("never-echoed-code"),
        "the code is never echoed: {}",
        result.text
    );
    let bytes = std::fs::read(&path).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 5_000);
}
