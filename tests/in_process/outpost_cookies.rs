//! Session cookies a browser mishandles: sent twice with different values (issue 13
//! item 3).

use crate::outpost_support;

use outpost_support::idp::TestIdp;
use outpost_support::{Browser, Outpost, header};
use serde_json::json;

#[tokio::test]
async fn two_session_cookies_of_one_name_get_401_then_a_page_saying_how_to_clear() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    let mut jane = Browser::new();
    jane.login(&outpost, "http://app.localhost/").await;
    idp.set_user(json!({"sub": "user-2", "preferred_username": "mallory",
        "email": "mallory@example.com", "groups": ["staff"]}));
    let mut mallory = Browser::new();
    mallory.login(&outpost, "http://app.localhost/").await;
    let both = format!(
        "{}; {}",
        jane.cookie_header(&outpost.base),
        mallory.cookie_header(&outpost.base)
    );

    let mut b = Browser::new();
    let auth = format!("{}/oauth2/auth", outpost.base);
    for cookies in [
        both.clone(),
        format!(
            "{}; {}",
            mallory.cookie_header(&outpost.base),
            jane.cookie_header(&outpost.base)
        ),
    ] {
        let r = b
            .get(
                &auth,
                &[
                    ("x-original-url", "http://app.localhost/x"),
                    ("cookie", &cookies),
                ],
            )
            .await;
        assert_eq!(r.status(), 401, "neither identity is used");
        assert_eq!(header(&r, "x-auth-request-user"), "");
    }
    let metrics = outpost.metrics().await;
    assert!(
        metrics.contains("reason=\"session_cookie_duplicated\""),
        "{metrics}"
    );

    // nginx sends the browser to /oauth2/start: a page, not another login (which would
    // overwrite one cookie and loop).
    let start = format!(
        "{}/oauth2/start?rd=http%3A%2F%2Fapp.localhost%2Fx",
        outpost.base
    );
    let r = b.get(&start, &[("cookie", &both)]).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    let expiries: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        expiries
            .iter()
            .any(|c| c.starts_with("portcullis=") && c.contains("Max-Age=0")),
        "the copy the outpost can name is expired: {expiries:?}"
    );
    page_names(
        r,
        &[
            "session_cookie_duplicated",
            "portcullis",
            "two domains",
            "Sign out",
            "delete",
        ],
    )
    .await;
}

/// Asserts the page's HTML holds every one of `words`.
async fn page_names(r: reqwest::Response, words: &[&str]) {
    let html = r.text().await.unwrap();
    for w in words {
        assert!(html.contains(w), "{w:?} missing from the page:\n{html}");
    }
}

/// Forgets the session cookie (and its chunks) as a browser that does not keep it
/// would, keeping every other cookie.
fn drop_session_cookie(b: &mut Browser) {
    for name in b.cookie_names() {
        if name == "portcullis"
            || name.starts_with("portcullis_") && name[11..].bytes().all(|c| c.is_ascii_digit())
        {
            b.jar.remove(&name);
        }
    }
}

#[tokio::test]
async fn a_browser_that_drops_the_session_cookie_gets_a_page_not_a_loop() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    let target = "http://app.localhost/dash";

    // A browser that keeps its cookies may sign in twice in a row: no false alarm.
    let reached = target.to_string();
    let mut keeps = Browser::new();
    for _ in 0..2 {
        let cb = keeps.login(&outpost, &reached).await;
        assert_eq!(cb.status(), 302);
        assert_eq!(outpost_support::location(&cb), reached);
    }

    // Signing out and straight back in is not a loop either.
    keeps
        .get(&format!("{}/oauth2/sign_out", outpost.base), &[])
        .await;
    assert!(keeps.cookie("portcullis").is_none());
    assert_eq!(keeps.login(&outpost, &reached).await.status(), 302);

    // One that drops the session cookie: the first login completes, the app answers 401
    // again, and the second completed login for the same target ends on a page.
    let mut drops = Browser::new();
    let first = drops.login(&outpost, target).await;
    assert_eq!(first.status(), 302);
    drop_session_cookie(&mut drops);
    assert_eq!(drops.nginx_auth(&outpost, target).await.status(), 401);
    let second = drops.login(&outpost, target).await;
    assert_eq!(second.status(), 400, "a page, not another redirect");
    assert!(second.headers().get("location").is_none());
    page_names(
        second,
        &[
            "login_loop",
            "portcullis",
            "Path=/",
            "SameSite=Lax",
            "Secure",
            "bytes",
            "Domain",
            "http",
        ],
    )
    .await;
    let metrics = outpost.metrics().await;
    assert!(metrics.contains("reason=\"login_loop\""), "{metrics}");
}

/// The record of recent sign-ins is bound to who signed in: copied into another
/// browser (cookie tossing from a sibling host), it cannot make that browser's user
/// see the loop page on a first sign-in; the same user's real loop is still caught.
#[tokio::test]
async fn a_copied_sign_in_record_does_not_fake_a_loop_for_someone_else() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    let target = "http://app.localhost/dash";
    idp.set_user(serde_json::json!({
        "sub": "mallory-1", "preferred_username": "mallory", "email": "mallory@example.com",
        "groups": ["staff"]
    }));
    let mut attacker = Browser::new();
    assert_eq!(attacker.login(&outpost, target).await.status(), 302);
    let record = attacker
        .cookie("portcullis_logins")
        .expect("the sign-in was recorded");

    idp.set_user(serde_json::json!({
        "sub": "user-1", "preferred_username": "jane", "email": "jane@example.com",
        "groups": ["staff"]
    }));
    let mut victim = Browser::new();
    victim.put_cookie(&outpost.base, "portcullis_logins", &record);
    let first = victim.login(&outpost, target).await;
    assert_eq!(first.status(), 302, "a first sign-in is not a loop");
    assert_eq!(outpost_support::location(&first), target);

    // The attacker's own browser, dropping its session, is still caught.
    idp.set_user(serde_json::json!({
        "sub": "mallory-1", "preferred_username": "mallory", "email": "mallory@example.com",
        "groups": ["staff"]
    }));
    drop_session_cookie(&mut attacker);
    assert_eq!(attacker.login(&outpost, target).await.status(), 400);
}
