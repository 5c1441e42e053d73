//! Hot reload without dropping a request, and refusing to start on an unusable config.

use crate::outpost_support;

use outpost_support::idp::TestIdp;
use outpost_support::{Browser, COOKIE_SECRET, Outpost, config, location};
use portcullis::outpost::server::source::FileSource;
use portcullis::outpost::server::{Options, start};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

const OTHER_ROUTE: &str = r#"
  - id: test/other
    hosts: [other.localhost]
    paths: [/]
    provider: test/idp
    authURL: http://other.localhost:PORT
    redirectURI: http://other.localhost:PORT/oauth2/callback
    policy: { allowAnyAuthenticated: true }
"#;

async fn until_status(b: &mut Browser, outpost: &Outpost, url: &str, status: u16) {
    for _ in 0..200 {
        if b.nginx_auth(outpost, url).await.status() == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} never answered {status}");
}

#[tokio::test]
async fn reload_swaps_routes_without_dropping_an_in_flight_login() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    let mut b = Browser::new();

    // Start a login and hold the IdP's token endpoint, so the callback is in flight.
    let start = b
        .get(
            &format!(
                "{}/oauth2/start?rd=http%3A%2F%2Fapp.localhost%2Fx",
                outpost.base
            ),
            &[],
        )
        .await;
    let authorize = location(&start);
    let callback = location(&b.get(&authorize, &[]).await);
    idp.state.hold_tokens.store(true, Ordering::SeqCst);
    let waiting = idp.state.token_waiting.notified();
    let cookie = b.cookie_header(&callback);
    let http = b.http.clone();
    let in_flight =
        tokio::spawn(async move { http.get(callback).header("cookie", cookie).send().await });
    waiting.await;

    // Swap the config: add a route. The new route starts answering...
    let mut other = Browser::new();
    assert_eq!(
        other
            .nginx_auth(&outpost, "http://other.localhost/")
            .await
            .status(),
        403
    );
    let text = config(
        &idp.base,
        outpost.port,
        &OTHER_ROUTE.replace("PORT", &outpost.port.to_string()),
    );
    std::fs::write(&outpost.config_path, text).unwrap();
    until_status(&mut other, &outpost, "http://other.localhost/", 401).await;

    // ...and the in-flight callback still completes with a session.
    idp.state.hold_tokens.store(false, Ordering::SeqCst);
    idp.state.release.notify_one();
    let r = in_flight.await.unwrap().unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), "http://app.localhost/x");
    b.absorb(&outpost.base, r.headers());
    assert_eq!(
        b.nginx_auth(&outpost, "http://app.localhost/")
            .await
            .status(),
        200
    );

    // An invalid file is refused and the served config kept.
    std::fs::write(&outpost.config_path, "routes: [ {").unwrap();
    let mut refused = false;
    for _ in 0..200 {
        let metrics = reqwest::get(format!("{}/metrics", outpost.admin))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains(r#"config_reloads_total{result="parse"} 1"#) {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "the broken file is seen and refused");
    assert_eq!(
        other
            .nginx_auth(&outpost, "http://other.localhost/")
            .await
            .status(),
        401
    );
    assert_eq!(
        b.nginx_auth(&outpost, "http://app.localhost/")
            .await
            .status(),
        200
    );

    // Removing the route takes effect too.
    std::fs::write(&outpost.config_path, config(&idp.base, outpost.port, "")).unwrap();
    until_status(&mut other, &outpost, "http://other.localhost/", 403).await;
}

fn write_config(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let path = dir.path().join("outpost.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn refuses_to_start_without_a_usable_external_url() {
    let dir = tempfile::tempdir().unwrap();
    let unspecified = config("https://idp.example.com", 4180, "")
        .replace("http://app.localhost:4180", "http://0.0.0.0:4180");
    let plain_http = config("https://idp.example.com", 4180, "")
        .replace("http://app.localhost:4180", "http://app.example.com");
    for (text, expect) in [
        (unspecified, "0.0.0.0"),
        (plain_http, "plain http on a non-loopback host"),
    ] {
        let source = Arc::new(FileSource {
            path: write_config(&dir, &text),
            cookie_secret_files: vec![],
            cookie_secrets: vec![COOKIE_SECRET.into()],
            ..Default::default()
        });
        let options = Options {
            allow_http_loopback: true,
            ..Options::default()
        };
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let err = start(source, &options, l, a).await.unwrap_err().to_string();
        assert!(err.contains("authURL") && err.contains(expect), "{err}");
    }
}

/// Runs `portcullis outpost --config path` with `args` (and the cookie secrets in the
/// environment, if any), which must exit unsuccessfully; its stderr.
fn refused_start(path: &std::path::Path, args: &[&str], cookie_secrets: Option<&str>) -> String {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"));
    cmd.args(["outpost", "--config"])
        .arg(path)
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("PORTCULLIS_COOKIE_SECRETS");
    if let Some(secrets) = cookie_secrets {
        cmd.env("PORTCULLIS_COOKIE_SECRETS", secrets);
    }
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "started: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_binary_explains_what_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(&dir, &config("https://idp.example.com", 4180, ""));
    let stderr = refused_start(&path, &[], Some(COOKIE_SECRET));
    assert!(stderr.contains("--allow-http-loopback"), "{stderr}");
    assert!(!stderr.contains(COOKIE_SECRET), "secrets never printed");
    let stderr = refused_start(&path, &[], None);
    assert!(stderr.contains("--cookie-secret-file"), "{stderr}");
}

#[tokio::test]
async fn a_reloaded_policy_applies_to_existing_sessions_with_a_named_rule() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    let mut b = Browser::new();
    b.login(&outpost, "http://app.localhost/").await;
    assert_eq!(
        b.nginx_auth(&outpost, "http://app.localhost/")
            .await
            .status(),
        200
    );
    let text = config(&idp.base, outpost.port, "").replace("groups: [staff]", "groups: [admins]");
    std::fs::write(&outpost.config_path, text).unwrap();
    until_status(&mut b, &outpost, "http://app.localhost/", 403).await;
    let r = b
        .get(
            &format!("{}/oauth2/auth", outpost.base),
            &[
                ("x-original-url", "http://app.localhost/"),
                ("x-request-id", "req-42"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["x-request-id"], "req-42");
    let html = r.text().await.unwrap();
    assert!(
        html.contains("&quot;admins&quot;") && html.contains("req-42"),
        "{html}"
    );
}

#[tokio::test]
async fn an_unreachable_idp_keeps_readyz_503_until_discovery_succeeds() {
    let idp = TestIdp::spawn().await;
    idp.state.down.store(true, Ordering::SeqCst);
    let outpost = Outpost::start_unready(&idp.base, "").await;
    let r = reqwest::get(format!("{}/readyz", outpost.admin))
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("test/idp"));
    let mut b = Browser::new();
    let r = b.get(&format!("{}/oauth2/start", outpost.base), &[]).await;
    assert_eq!(r.status(), 503, "no login before discovery");
    assert_eq!(r.headers()["retry-after"], "5");
    assert_eq!(
        b.nginx_auth(&outpost, "http://app.localhost/")
            .await
            .status(),
        401
    );

    idp.state.down.store(false, Ordering::SeqCst);
    outpost.wait_ready().await;
    let cb = b.login(&outpost, "http://app.localhost/").await;
    assert_eq!(cb.status(), 302);
    assert_eq!(
        b.nginx_auth(&outpost, "http://app.localhost/")
            .await
            .status(),
        200
    );

    // The periodic JWKS refresh runs and is counted.
    let mut seen = false;
    for _ in 0..100 {
        let m = outpost.metrics().await;
        if m.contains(r#"jwks_refreshes_total{provider="test/idp",result="success"}"#)
            && m.contains("portcullis_outpost_providers_ready 1")
        {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen, "{}", outpost.metrics().await);
}

/// The file is read at every reload interval but parsed only when its bytes change: a
/// 10,000-route file parsed every 2 s was 13% of the outpost's CPU under load.
#[tokio::test]
async fn an_unchanged_config_file_is_read_but_not_parsed_again() {
    let dir = tempfile::tempdir().unwrap();
    // No IdP answers here: discovery fails in the background, routes are still loaded.
    let idp = "http://127.0.0.1:9";
    let path = write_config(&dir, &config(idp, 4180, ""));
    let source = Arc::new(FileSource {
        path: path.clone(),
        cookie_secrets: vec![COOKIE_SECRET.into()],
        ..Default::default()
    });
    let options = Options {
        allow_http_loopback: true,
        reload_interval: Duration::from_millis(10),
        ..Options::default()
    };
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = start(source.clone(), &options, l, a).await.unwrap();
    assert_eq!(source.parsed.parses(), 1, "the start parses the file");
    // Twenty-odd reload ticks with the file unchanged.
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        source.parsed.parses(),
        1,
        "an unchanged file is not parsed again"
    );

    // A change is parsed and served (the reload loop is running: this proves it).
    let other = OTHER_ROUTE.replace("PORT", "4180");
    std::fs::write(&path, config(idp, 4180, &other)).unwrap();
    for _ in 0..400 {
        if running.app.loaded().routes.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        running.app.loaded().routes.len(),
        2,
        "the new route is served"
    );
    assert_eq!(source.parsed.parses(), 2);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(source.parsed.parses(), 2, "and then not parsed again");
}

/// The test configuration with its route's policy line removed: a route that does not
/// say who may pass.
fn without_policy(idp: &str, port: u16) -> String {
    let text = config(idp, port, "");
    let line = "    policy: { groups: [staff], publicPaths: [/health] }\n";
    assert!(
        text.contains(line),
        "the fixture's policy line moved: {text}"
    );
    text.replace(line, "")
}

#[test]
fn the_binary_refuses_to_start_with_a_route_that_does_not_say_who_may_pass() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(&dir, &without_policy("https://idp.example.com", 4180));
    let stderr = refused_start(&path, &["--allow-http-loopback"], Some(COOKIE_SECRET));
    for needle in [
        &format!("{}: routes[0].policy", path.display()),
        "route \"test/app\" (hosts app.localhost, app.localhost:4180)",
        "`policy: { allowAnyAuthenticated: true }`",
    ] {
        assert!(stderr.contains(needle), "{needle:?} in {stderr}");
    }
    // The same file with that line is served.
    let fixed = config("https://idp.example.com", 4180, "").replace(
        "policy: { groups: [staff], publicPaths: [/health] }",
        "policy: { allowAnyAuthenticated: true }",
    );
    portcullis::config::OutpostConfig::from_yaml(&fixed, "fixed").unwrap();
}

#[tokio::test]
async fn a_reloaded_route_without_a_policy_is_refused_and_the_last_good_config_served() {
    use crate::e2e::outpost::Outpost as Binary;
    let idp = TestIdp::spawn().await;
    let outpost = Binary::start_with_yaml(&config(&idp.base, 4180, ""))
        .await
        .unwrap();
    let auth = |host: &'static str| {
        let url = format!("http://{}/oauth2/auth", outpost.addr());
        async move {
            reqwest::Client::new()
                .get(url)
                .header("x-original-url", format!("http://{host}/"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(auth("app.localhost").await, 401, "the route is served");
    assert_eq!(auth("app.localhost").await, 401);

    // The policy-less file, with a second route: neither change may take effect.
    let other = OTHER_ROUTE.replace("PORT", "4180");
    let broken = format!("{}{other}", without_policy(&idp.base, 4180));
    outpost.write_config(&broken).unwrap();
    assert!(
        outpost
            .logged("new configuration refused; still serving the previous one")
            .await,
        "{}",
        outpost.log()
    );
    let log = outpost.log();
    assert!(
        log.contains("routes[0].policy: route \\\"test/app\\\"")
            && log.contains("policy: { allowAnyAuthenticated: true }"),
        "the log says which route and what to write: {log}"
    );
    let metrics = outpost.metrics().await.unwrap();
    assert!(
        metrics.contains(r#"config_reloads_total{result="invalid"} 1"#),
        "{metrics}"
    );
    assert_eq!(
        auth("app.localhost").await,
        401,
        "the old route still served"
    );
    assert_eq!(
        auth("other.localhost").await,
        403,
        "the new route not taken"
    );

    // With the line the refusal names, the same file is taken.
    let fixed = broken.replace(
        "    redirectURI: http://app.localhost:4180/oauth2/callback\n",
        "    redirectURI: http://app.localhost:4180/oauth2/callback\n    policy: { allowAnyAuthenticated: true }\n",
    );
    outpost.write_config(&fixed).unwrap();
    assert!(
        outpost.logged("configuration reloaded").await,
        "{}",
        outpost.log()
    );
    assert_eq!(auth("other.localhost").await, 401, "the new route served");
}
