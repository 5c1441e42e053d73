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
    jane.login(&outpost, "http://app.test/").await;
    idp.set_user(json!({"sub": "user-2", "preferred_username": "mallory",
        "email": "mallory@example.com", "groups": ["staff"]}));
    let mut mallory = Browser::new();
    mallory.login(&outpost, "http://app.test/").await;
    let both = format!("{}; {}", jane.cookie_header(), mallory.cookie_header());

    let mut b = Browser::new();
    let auth = format!("{}/oauth2/auth", outpost.base);
    for cookies in [
        both.clone(),
        format!("{}; {}", mallory.cookie_header(), jane.cookie_header()),
    ] {
        let r = b
            .get(
                &auth,
                &[
                    ("x-original-url", "http://app.test/x"),
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
    let start = format!("{}/oauth2/start?rd=http%3A%2F%2Fapp.test%2Fx", outpost.base);
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
    let html = r.text().await.unwrap();
    for words in [
        "session_cookie_duplicated",
        "portcullis",
        "two domains",
        "Sign out",
        "delete",
    ] {
        assert!(
            html.contains(words),
            "{words:?} missing from the page:\n{html}"
        );
    }
}
