//! Harness pieces that need no external tool: cookie jar, form parser, redirect loops.

use crate::e2e::{self, UserAgent};

#[test]
fn cookie_jar_follows_browser_rules() {
    let http = url::Url::parse("http://app.example.test/a/b").expect("url");
    let https = url::Url::parse("https://app.example.test/a/b").expect("url");
    let mut jar = e2e::CookieJar::new();
    jar.store(&http, "plain=1").expect("plain");
    assert!(
        jar.store(&http, "sec=1; Secure").is_err(),
        "Secure over http is refused"
    );
    assert!(
        jar.store(&https, "__Host-x=1; Secure; Path=/; Domain=example.test")
            .is_err()
    );
    jar.store(&https, "__Host-ok=1; Secure; Path=/")
        .expect("__Host- ok");
    assert!(jar.store(&http, "other=1; Domain=other.test").is_err());
    jar.store(&http, "wide=1; Domain=example.test; Path=/")
        .expect("domain cookie");
    jar.store(&http, "gone=1; Max-Age=0").expect("max-age 0");
    jar.store(&http, "old=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
        .expect("expired");
    jar.store(&http, "short=1; Max-Age=60").expect("short");
    // Default path of /a/b is /a.
    assert_eq!(jar.get("plain").expect("plain").path, "/a");
    let sub = url::Url::parse("http://x.example.test/").expect("url");
    assert_eq!(jar.header_for(&sub).as_deref(), Some("wide=1"));
    let names = |u: &url::Url, jar: &e2e::CookieJar| -> Vec<String> {
        jar.matching(u).iter().map(|c| c.name.clone()).collect()
    };
    assert_eq!(names(&http, &jar), ["plain", "wide", "short"]);
    assert_eq!(names(&https, &jar), ["plain", "__Host-ok", "wide", "short"]);
    assert!(
        names(
            &url::Url::parse("http://app.example.test/ab").expect("u"),
            &jar
        )
        .iter()
        .all(|n| n != "plain")
    );
    jar.advance(std::time::Duration::from_secs(61));
    assert!(jar.get("short").is_none());
    assert_eq!(
        e2e::cookies::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
        Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(784_111_777))
    );
}

#[test]
fn form_parser_reads_fields_and_builds_submissions() {
    let html = r#"<html><script>var s = "<form action='/fake'>";</script>
      <!-- <form action="/commented"> -->
      <form method="post" action="/interaction/abc/login?x=1&amp;y=2" id="f">
        <input type="hidden" name="csrf" value="t&#39;k">
        <input name="username"><input type=password name=password>
        <input type="checkbox" name="remember" value="on">
        <button type="submit" name="go" value="yes">Sign in</button>
        <button type="submit" name="other" value="no">No</button>
      </form><form action="/s"><input name="q" value="a b"></form>"#;
    let forms = e2e::parse_forms(html);
    assert_eq!(forms.len(), 2);
    let mut f = forms[0].clone();
    assert_eq!(f.method, "POST");
    assert_eq!(f.action, "/interaction/abc/login?x=1&y=2");
    assert!(f.set("username", "alice") && f.set("password", "pw"));
    assert!(!f.set("missing", "x"));
    let pairs: Vec<(String, String)> = f.pairs(None);
    let expect: Vec<(String, String)> = [
        ("csrf", "t'k"),
        ("username", "alice"),
        ("password", "pw"),
        ("go", "yes"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(pairs, expect);
    assert_eq!(forms[1].method, "GET");
    assert_eq!(forms[1].pairs(None), [("q".to_owned(), "a b".to_owned())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_agent_detects_redirect_loops_and_endless_chains() {
    use axum::extract::Path;
    use axum::response::Redirect;
    let app = axum::Router::new()
        .route("/a", axum::routing::get(|| async { Redirect::to("/b") }))
        .route("/b", axum::routing::get(|| async { Redirect::to("/a") }))
        .route(
            "/n/{i}",
            axum::routing::get(|Path(i): Path<u32>| async move {
                Redirect::to(&format!("/n/{}", i + 1))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut ua = UserAgent::new();
    match ua.get(&format!("{base}/a")).await {
        Err(e2e::HarnessError::RedirectLoop(chain)) => {
            assert!(
                chain.contains("/a -> 303") && chain.contains("/b -> 303"),
                "{chain}"
            );
        }
        other => panic!("expected a loop, got {other:?}"),
    }
    ua.max_hops = 5;
    match ua.get(&format!("{base}/n/0")).await {
        Err(e2e::HarnessError::RedirectLoop(chain)) => {
            assert_eq!(chain.matches(" | ").count(), 5, "{chain}");
        }
        other => panic!("expected too many hops, got {other:?}"),
    }
    let one = ua
        .get_no_follow(&format!("{base}/a"))
        .await
        .expect("one hop");
    assert_eq!((one.status, one.location()), (303, Some("/b")));
    server.abort();
}
