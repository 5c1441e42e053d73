//! A user's own sessions page end to end (issue 12 item 3): two browsers signed in as
//! alice through nginx, Redis sessions. The page lists both with device and "this
//! browser"; a forged or cross-site form ends nothing; "end all others" ends the other
//! browser's session at once (`session_revoked`) and keeps this one.

use crate::e2e::UserAgent;
use crate::session_store::{stack_with, tools};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_lists_and_ends_their_own_sessions() {
    if !tools() {
        return;
    }
    let s = stack_with(false, 1, None, false).await;
    let base = s.nginx.url();
    let mut laptop = s.login().await;
    let mut phone = UserAgent::new();
    phone.set_default_header("user-agent", "PhoneBrowser/1.0 <b>");
    phone
        .get(&format!("{base}/private"))
        .await
        .expect("to the IdP");
    let landed = phone.login("alice", "wonderland").await.expect("login");
    assert_eq!(landed.status, 200, "{}", s.logs());
    let phone_cookie = s.cookie_header(&phone);
    let laptop_cookie = s.cookie_header(&laptop);

    let page = laptop
        .get(&format!("{base}/oauth2/sessions"))
        .await
        .unwrap();
    assert_eq!(page.status, 200, "{}\n{}", page.body, s.logs());
    assert!(page.body.contains("2 session(s)"), "{}", page.body);
    assert_eq!(page.body.matches("(this browser)").count(), 1);
    assert!(
        page.body.contains("PhoneBrowser/1.0 &lt;b&gt;"),
        "the device, escaped: {}",
        page.body
    );
    assert!(page.body.contains("from 127.0.0.1"), "{}", page.body);
    let forms = page.forms();
    let others = forms
        .iter()
        .find(|f| {
            f.pairs(None)
                .iter()
                .any(|(k, v)| k == "end" && v == "others")
        })
        .expect("an end-all-others form")
        .clone();
    let token = others
        .pairs(None)
        .into_iter()
        .find(|(k, _)| k == "token")
        .unwrap()
        .1;

    // Forged: no token, a wrong token, the right token from another site.
    let post = |cookie: String, body: String, origin: Option<&'static str>| {
        let url = format!("{base}/oauth2/sessions");
        async move {
            let mut r = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .post(url)
                .header("cookie", cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
            if let Some(o) = origin {
                r = r.header("origin", o).header("sec-fetch-site", "cross-site");
            }
            r.send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(
        post(laptop_cookie.clone(), "end=others".into(), None).await,
        403
    );
    assert_eq!(
        post(laptop_cookie.clone(), "end=others&token=AAAA".into(), None).await,
        403
    );
    // The phone's own page token does not work with the laptop's cookie, and back.
    assert_eq!(
        post(
            phone_cookie.clone(),
            format!("end=others&token={token}"),
            None
        )
        .await,
        403
    );
    assert_eq!(
        post(
            laptop_cookie.clone(),
            format!("end=others&token={token}"),
            Some("https://evil.example")
        )
        .await,
        403
    );
    assert!(
        s.outposts[0]
            .logged("\"reason\":\"cross_site_request\"")
            .await
    );
    assert!(
        s.outposts[0]
            .logged("\"reason\":\"form_token_invalid\"")
            .await
    );
    assert_eq!(
        s.auth_on(0, &phone_cookie).await.status(),
        200,
        "nothing ended"
    );

    // The real form, from the page: the phone is signed out, the laptop stays.
    let after = laptop.submit(&page, &others).await.unwrap();
    assert_eq!(after.status, 200, "{}", after.body);
    assert!(after.body.contains("1 session(s)"), "{}", after.body);
    let r = s.auth_on(0, &phone_cookie).await;
    assert_eq!(r.status(), 401, "{}", s.logs());
    assert!(s.outposts[0].logged("\"reason\":\"session_revoked\"").await);
    assert!(
        s.outposts[0].logged("\"by\":\"user\"").await,
        "{}",
        s.logs()
    );
    assert_eq!(s.auth_on(0, &laptop_cookie).await.status(), 200);

    // "End all": this browser too, and it is sent away without its cookie.
    let page = laptop
        .get(&format!("{base}/oauth2/sessions"))
        .await
        .unwrap();
    let all = page
        .forms()
        .into_iter()
        .find(|f| f.pairs(None).iter().any(|(k, v)| k == "end" && v == "all"))
        .unwrap();
    laptop.submit(&page, &all).await.unwrap();
    assert_eq!(s.auth_on(0, &laptop_cookie).await.status(), 401);
    // Sent to the site's start, the browser signs in again at the IdP (its session there
    // is still open): a new session, not the ended one.
    assert_ne!(s.cookie_header(&laptop), laptop_cookie);
    assert_eq!(s.keys("portcullis:s:*").len(), 1);
}
