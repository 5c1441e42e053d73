//! Tests of the end-to-end harness itself, with a throwaway stand-in auth server in
//! place of the outpost. They prove that the IdP, nginx, Caddy, the user agent and the
//! Chromium driver really do what the outpost's end-to-end tests will rely on.

mod e2e;
#[path = "harness_smoke/stand_in.rs"]
mod stand_in;
#[path = "harness_smoke/units.rs"]
mod units;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use e2e::{
    Browser, BrowserOptions, Caddy, CaddyOptions, Idp, IdpAccount, IdpClient, IdpOptions, Nginx,
    NginxOptions, Tool, UpstreamApp, UserAgent, free_port, require,
};
use serde_json::Value;
use stand_in::StandIn;

const NODE_IDP: &[Tool] = &[Tool::Node, Tool::IdpPackages];

fn alice() -> IdpAccount {
    IdpAccount::new(
        "alice",
        "wonderland",
        "alice@example.test",
        &["admins", "devs"],
    )
}

fn jwt_part(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).expect("JWT part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idp_serves_discovery_and_jwks_for_rs256_and_es256() {
    if !require(NODE_IDP) {
        return;
    }
    let idp = Idp::start(IdpOptions {
        algorithms: vec!["RS256".into(), "ES256".into()],
        ..IdpOptions::default()
    })
    .expect("start idp");
    assert!(!idp.issuer().ends_with('/'));
    let disco = idp.discovery().await.expect("discovery");
    assert_eq!(disco["issuer"], idp.issuer());
    let algs: Vec<&str> = disco["id_token_signing_alg_values_supported"]
        .as_array()
        .expect("algs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        algs.contains(&"RS256") && algs.contains(&"ES256"),
        "{algs:?}"
    );
    assert!(
        disco["end_session_endpoint"].is_string(),
        "rp-initiated logout advertised"
    );
    let jwks = idp.jwks().await.expect("jwks");
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["alg"], "RS256");
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[1]["alg"], "ES256");
    assert_eq!(keys[1]["crv"], "P-256");
    assert!(
        keys.iter().all(|k| k.get("d").is_none()),
        "no private parts published"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idp_trailing_slash_issuer_is_advertised_exactly() {
    if !require(NODE_IDP) {
        return;
    }
    let idp = Idp::start(IdpOptions {
        trailing_slash: true,
        algorithms: vec!["PS256".into(), "EdDSA".into()],
        ..IdpOptions::default()
    })
    .expect("start idp");
    assert_eq!(idp.issuer(), format!("http://127.0.0.1:{}/", idp.port()));
    let disco = idp.discovery().await.expect("discovery");
    assert_eq!(disco["issuer"].as_str(), Some(idp.issuer()));
    let kinds: Vec<(String, String)> = idp.jwks().await.expect("jwks")["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            (
                k["kty"].as_str().unwrap_or("").into(),
                k["alg"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("RSA".into(), "PS256".into()),
            ("OKP".into(), "EdDSA".into())
        ]
    );
}

/// Log in at the IdP as a client whose redirect URI is the echo app, then exchange the
/// code and refresh; rotate keys and check new tokens use the new kid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_agent_completes_code_flow_and_key_rotation_changes_kid() {
    if !require(NODE_IDP) {
        return;
    }
    let catcher = UpstreamApp::start().await.expect("redirect catcher");
    let redirect_uri = format!("{}/cb", catcher.url());
    let idp = Idp::start(IdpOptions {
        algorithms: vec!["ES256".into()],
        clients: vec![IdpClient::new("app", "app-secret", &redirect_uri)],
        accounts: vec![alice()],
        consent_form: true,
        ..IdpOptions::default()
    })
    .expect("start idp");
    let disco = idp.discovery().await.expect("discovery");
    let client = stand_in::OidcClient::new(&disco, "app", "app-secret", &redirect_uri);

    // Wrong password: the form comes back with an error, no redirect happens.
    let mut ua = UserAgent::new();
    let page = ua
        .get(&client.authorize_url("st1"))
        .await
        .expect("authorize");
    assert_eq!(page.status, 200);
    let again = ua.login("alice", "wrong").await.expect("submit");
    assert!(
        again.body.contains("Invalid username or password"),
        "{}",
        again.body
    );
    assert!(catcher.requests().is_empty());

    // Right password, then the consent form, then the redirect to the catcher.
    let landed = ua.login("alice", "wonderland").await.expect("login");
    assert_eq!(landed.url.path(), "/cb", "hops: {:?}", landed.hops);
    let code = stand_in::query_param(&landed.url, "code").expect("code");
    assert_eq!(
        stand_in::query_param(&landed.url, "state").as_deref(),
        Some("st1")
    );
    let tokens = client.exchange(&code).await.expect("token exchange");
    let id_token = tokens["id_token"].as_str().expect("id_token");
    let claims = stand_in::verify_id_token(id_token, &idp.jwks().await.expect("jwks"));
    assert_eq!(claims["iss"], idp.issuer());
    assert_eq!(claims["aud"], "app");
    assert_eq!(claims["email"], "alice@example.test");
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["groups"], serde_json::json!(["admins", "devs"]));
    let first_kid = jwt_part(id_token, 0)["kid"]
        .as_str()
        .expect("kid")
        .to_owned();
    assert_eq!(
        idp.kids().await.expect("kids"),
        std::slice::from_ref(&first_kid)
    );
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh_token issued");
    let refreshed = client.refresh(refresh).await.expect("refresh grant");
    assert!(refreshed["access_token"].is_string());

    // Graceful rotation: new kid is current, old still published.
    let current = idp.rotate_keys(true).await.expect("rotate");
    assert_eq!(current.len(), 1);
    assert_ne!(current[0], first_kid);
    assert_eq!(
        idp.kids().await.expect("kids"),
        [current[0].clone(), first_kid.clone()]
    );
    // The IdP session survives rotation; a new authorization signs with the new key.
    let landed = ua
        .get(&client.authorize_url("st2"))
        .await
        .expect("re-authorize");
    assert_eq!(
        landed.url.path(),
        "/cb",
        "SSO session kept: {:?} {}",
        landed.hops,
        landed.body
    );
    let code = stand_in::query_param(&landed.url, "code").expect("code");
    let tokens = client
        .exchange(&code)
        .await
        .expect("exchange after rotation");
    let id_token = tokens["id_token"].as_str().expect("id_token");
    assert_eq!(jwt_part(id_token, 0)["kid"], current[0].as_str());
    stand_in::verify_id_token(id_token, &idp.jwks().await.expect("jwks"));

    // Hard rotation: the old keys vanish.
    let hard = idp.rotate_keys(false).await.expect("rotate hard");
    assert_eq!(idp.kids().await.expect("kids"), hard);
}

/// The IdP's other test levers: dynamic registration, RP-initiated logout through the
/// confirm form, a path issuer, disabling an account and shifting the clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idp_registration_logout_disable_and_clock() {
    if !require(NODE_IDP) {
        return;
    }
    let catcher = UpstreamApp::start().await.expect("catcher");
    let redirect_uri = format!("{}/cb", catcher.url());
    let mut client_cfg = IdpClient::new("app", "app-secret", &redirect_uri);
    client_cfg.post_logout_redirect_uris = vec![format!("{}/bye", catcher.url())];
    let idp = Idp::start(IdpOptions {
        issuer: Some("http://127.0.0.1:{port}/realms/test".into()),
        clients: vec![client_cfg],
        accounts: vec![alice()],
        registration_initial_access_token: Some("initial-token".into()),
        ..IdpOptions::default()
    })
    .expect("start idp");
    assert!(idp.issuer().ends_with("/realms/test"));
    let disco = idp
        .discovery()
        .await
        .expect("discovery under the issuer path");
    assert_eq!(disco["issuer"], idp.issuer());

    // RFC 7591 registration needs the initial access token.
    let reg = disco["registration_endpoint"]
        .as_str()
        .expect("registration_endpoint");
    let http = reqwest::Client::new();
    let body = serde_json::json!({ "redirect_uris": ["http://127.0.0.1:9/cb"] });
    let denied = http.post(reg).json(&body).send().await.expect("post");
    assert_eq!(denied.status(), 401);
    let created = http
        .post(reg)
        .bearer_auth("initial-token")
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.expect("json");
    assert!(created["client_id"].is_string() && created["client_secret"].is_string());
    let read = http
        .get(
            created["registration_client_uri"]
                .as_str()
                .expect("registration_client_uri"),
        )
        .bearer_auth(created["registration_access_token"].as_str().expect("rat"))
        .send()
        .await
        .expect("get");
    assert_eq!(read.status(), 200, "RFC 7592 read");

    // Log in, then sign out through the IdP's confirm form back to the app.
    let client = stand_in::OidcClient::new(&disco, "app", "app-secret", &redirect_uri);
    let mut ua = UserAgent::new();
    ua.get(&client.authorize_url("s")).await.expect("authorize");
    let landed = ua.login("alice", "wonderland").await.expect("login");
    let code = stand_in::query_param(&landed.url, "code").expect("code");
    let tokens = client.exchange(&code).await.expect("exchange");
    let id_token = tokens["id_token"].as_str().expect("id_token");
    let mut end =
        url::Url::parse(disco["end_session_endpoint"].as_str().expect("end_session")).expect("url");
    end.query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair(
            "post_logout_redirect_uri",
            &format!("{}/bye", catcher.url()),
        );
    let confirm = ua.get(end.as_str()).await.expect("end session");
    let form = confirm.forms().into_iter().next().expect("logout form");
    assert!(form.has_field("logout"));
    let bye = ua.submit(&confirm, &form).await.expect("confirm logout");
    assert_eq!(bye.url.path(), "/bye", "{:?}", bye.hops);
    let again = ua
        .get(&client.authorize_url("s2"))
        .await
        .expect("authorize");
    assert!(
        again.forms().iter().any(|f| f.has_field("password")),
        "session ended"
    );

    // A disabled account cannot refresh; the clock offset moves iat.
    let refresh = tokens["refresh_token"].as_str().expect("refresh_token");
    idp.set_account_enabled("alice", false)
        .await
        .expect("disable");
    let err = client.refresh(refresh).await.expect_err("refresh refused");
    assert!(err.contains("invalid_grant"), "{err}");
    idp.set_account_enabled("alice", true)
        .await
        .expect("enable");
    idp.set_clock_offset(3600).await.expect("clock");
    // The earlier login page's interaction expired with the jump; start over.
    ua.get(&client.authorize_url("s3"))
        .await
        .expect("authorize");
    let landed = ua.login("alice", "wonderland").await.expect("login again");
    let code = stand_in::query_param(&landed.url, "code").expect("code");
    let tokens = client.exchange(&code).await.expect("exchange");
    let iat = jwt_part(tokens["id_token"].as_str().expect("id_token"), 1)["iat"]
        .as_u64()
        .expect("iat");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert!(
        iat >= now + 3000,
        "iat {iat} is about an hour ahead of {now}"
    );
}

struct Stack {
    idp: Idp,
    app: UpstreamApp,
    stand_in: StandIn,
    front_port: u16,
}

async fn stack(front: &str) -> Stack {
    let app = UpstreamApp::start().await.expect("upstream app");
    let front_port = free_port();
    let front_url = format!("http://127.0.0.1:{front_port}");
    let idp = Idp::start(IdpOptions {
        clients: vec![IdpClient::new(
            "portcullis",
            "stand-in-secret",
            &format!("{front_url}/oauth2/callback"),
        )],
        accounts: vec![alice()],
        ..IdpOptions::default()
    })
    .expect("start idp");
    let disco = idp.discovery().await.expect("discovery");
    let stand_in = StandIn::start(&disco, "portcullis", "stand-in-secret", front)
        .await
        .expect("stand-in");
    Stack {
        idp,
        app,
        stand_in,
        front_port,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_auth_request_redirects_to_signin_and_passes_identity_headers() {
    if !require(&[Tool::Node, Tool::IdpPackages, Tool::Nginx]) {
        return;
    }
    let s = stack("nginx").await;
    let mut opts = NginxOptions::new(&s.stand_in.addr(), &format!("127.0.0.1:{}", s.app.port()));
    opts.port = Some(s.front_port);
    let nginx = Nginx::start(opts).expect("start nginx");
    let base = nginx.url();

    // Not logged in: 401 from the auth endpoint becomes a 302 to /oauth2/start with the
    // original URL escaped into rd, as ingress-nginx does.
    let mut ua = UserAgent::new();
    let first = ua
        .get_no_follow(&format!("{base}/private/page?x=1&y=2"))
        .await
        .expect("get");
    assert_eq!(first.status, 302, "{}", nginx.log());
    assert_eq!(
        first.location(),
        Some(format!("{base}/oauth2/start?rd={base}%2Fprivate%2Fpage%3Fx%3D1%26y%3D2").as_str())
    );
    assert!(
        s.app.requests().is_empty(),
        "app never reached without auth"
    );
    let sub = s.stand_in.last_auth_request().expect("auth subrequest");
    assert_eq!(sub.path, "/oauth2/auth");
    assert_eq!(
        sub.header("x-original-url"),
        Some(format!("{base}/private/page?x=1&y=2").as_str())
    );
    assert_eq!(sub.header("x-original-method"), Some("GET"));
    assert_eq!(sub.header("x-forwarded-uri"), Some("/private/page?x=1&y=2"));
    assert_eq!(
        sub.header("x-forwarded-host"),
        Some(&base["http://".len()..])
    );
    assert_eq!(sub.header("content-length"), None);

    // The whole browser-like flow: start -> IdP login -> callback -> original URL.
    let login_page = ua
        .get(&format!("{base}/private/page?x=1&y=2"))
        .await
        .expect("flow");
    assert!(
        login_page.url.as_str().starts_with(s.idp.base_url()),
        "{:?}",
        login_page.hops
    );
    let landed = ua.login("alice", "wonderland").await.expect("login");
    assert_eq!(landed.status, 200, "hops: {:?}", landed.hops);
    assert_eq!(landed.url.as_str(), format!("{base}/private/page?x=1&y=2"));
    assert!(landed.body.contains("<title>Upstream app</title>"));
    let seen = s.app.last_request().expect("app request");
    assert_eq!(seen.uri, "/private/page?x=1&y=2");
    assert_eq!(seen.header("x-auth-request-user"), Some("alice"));
    assert_eq!(
        seen.header("x-auth-request-email"),
        Some("alice@example.test")
    );
    assert_eq!(seen.header("x-auth-request-groups"), Some("admins,devs"));
    assert_eq!(
        seen.header("x-auth-request-preferred-username"),
        Some("alice")
    );

    // A client-sent identity header never survives: nginx overwrites it.
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-auth-request-user", "mallory".parse().expect("hv"));
    ua.request(
        reqwest::Method::GET,
        &format!("{base}/again"),
        headers,
        None,
        true,
    )
    .await
    .expect("spoof attempt");
    assert_eq!(
        s.app
            .last_request()
            .expect("req")
            .header_all("x-auth-request-user"),
        ["alice"]
    );

    // 403 from the auth endpoint reaches the client as 403; the app is not called.
    let before = s.app.requests().len();
    let url = url::Url::parse(&base).expect("url");
    ua.jar.store(&url, "stand_in=deny; Path=/").expect("cookie");
    let denied = ua.get(&format!("{base}/private")).await.expect("denied");
    assert_eq!(denied.status, 403);
    assert_eq!(s.app.requests().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_without_master_process_and_keepalive_still_works() {
    if !require(&[Tool::Nginx]) {
        return;
    }
    let app = UpstreamApp::start().await.expect("app");
    let stand_in = StandIn::start_offline("nginx").await.expect("stand-in");
    let mut opts = NginxOptions::new(&stand_in.addr(), &format!("127.0.0.1:{}", app.port()));
    opts.master_process = false;
    opts.keepalive = false;
    let nginx = Nginx::start(opts).expect("nginx");
    assert!(nginx.config().contains("master_process off;"));
    let mut ua = UserAgent::new();
    let url = url::Url::parse(&nginx.url()).expect("url");
    ua.jar.store(&url, "stand_in=ok").expect("cookie");
    let r = ua.get(&format!("{}/x", nginx.url())).await.expect("get");
    assert_eq!(r.status, 200);
    assert_eq!(
        app.last_request()
            .expect("req")
            .header("x-auth-request-user"),
        Some("alice")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caddy_forward_auth_redirects_browsers_and_passes_identity_headers() {
    if !require(&[Tool::Node, Tool::IdpPackages, Tool::Caddy]) {
        return;
    }
    let s = stack("caddy").await;
    let mut opts = CaddyOptions::new(&s.stand_in.addr(), &format!("127.0.0.1:{}", s.app.port()));
    opts.port = Some(s.front_port);
    let caddy = Caddy::start(opts).expect("start caddy");
    let base = caddy.url();

    // An API client gets the 401 itself.
    let mut api = UserAgent::new();
    api.set_default_header("accept", "application/json");
    let r = api.get(&format!("{base}/api/items")).await.expect("api");
    assert_eq!(r.status, 401, "{}", caddy.log());
    let sub = s.stand_in.last_auth_request().expect("auth subrequest");
    assert_eq!(sub.path, "/oauth2/auth/caddy");
    assert_eq!(sub.header("x-forwarded-method"), Some("GET"));
    assert_eq!(sub.header("x-forwarded-uri"), Some("/api/items"));

    // A browser is sent to log in, and comes back to where it started.
    let mut ua = UserAgent::new();
    let first = ua
        .get_no_follow(&format!("{base}/dash?tab=1"))
        .await
        .expect("get");
    assert_eq!(first.status, 302);
    assert!(
        first
            .location()
            .expect("location")
            .starts_with("/oauth2/start?rd=")
    );
    ua.get(&format!("{base}/dash?tab=1"))
        .await
        .expect("to login");
    let landed = ua.login("alice", "wonderland").await.expect("login");
    assert_eq!(landed.status, 200, "hops: {:?}", landed.hops);
    assert_eq!(landed.url.as_str(), format!("{base}/dash?tab=1"));
    let seen = s.app.last_request().expect("app request");
    assert_eq!(seen.header("x-auth-request-user"), Some("alice"));
    assert_eq!(seen.header("x-auth-request-groups"), Some("admins,devs"));
    assert_eq!(
        seen.header("x-auth-request-preferred-username"),
        Some("alice")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_logs_in_through_the_idp_form_and_takes_a_screenshot() {
    if !require(&[
        Tool::Node,
        Tool::IdpPackages,
        Tool::Nginx,
        Tool::Chromium,
        Tool::BrowserPackages,
    ]) {
        return;
    }
    let s = stack("nginx").await;
    let mut opts = NginxOptions::new(&s.stand_in.addr(), &format!("127.0.0.1:{}", s.app.port()));
    opts.port = Some(s.front_port);
    let nginx = Nginx::start(opts).expect("start nginx");

    let out_dir = tempfile::tempdir().expect("tempdir");
    let shot = std::env::var_os("E2E_ARTIFACTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| out_dir.path().to_path_buf())
        .join("harness-chromium-login.png");
    let result = Browser::run(BrowserOptions::login(
        &format!("{}/hello", nginx.url()),
        "alice",
        "wonderland",
        shot.clone(),
    ))
    .await
    .expect("browser run");
    assert!(result.logged_in);
    assert_eq!(result.final_url, format!("{}/hello", nginx.url()));
    assert_eq!(result.title, "Upstream app");
    assert!(
        result.text.contains("\"x-auth-request-user\": \"alice\""),
        "{}",
        result.text
    );
    assert!(
        result
            .navigations
            .iter()
            .any(|u| u.starts_with(s.idp.base_url())),
        "went through the IdP: {:?}",
        result.navigations
    );
    let png = std::fs::read(&shot).expect("screenshot");
    assert!(png.len() > 1000, "non-trivial PNG");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}
