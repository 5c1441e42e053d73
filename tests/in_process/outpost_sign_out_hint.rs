//! The ID token out of the session cookie (issue 11 item 3, issue 13 item 9): it lives
//! in a sealed cookie the browser sends to sign-out only, so the app's requests and the
//! auth subrequest carry a session a fraction of the size; sign-out still sends
//! `id_token_hint`, also for a session cookie minted before the change.

use crate::outpost_support;

use outpost_support::idp::TestIdp;
use outpost_support::{Browser, COOKIE_SECRET, Outpost, header, location};
use portcullis::outpost::session::KeyRing;
use serde_json::Value;

const APP: &str = "http://app.localhost/dashboard";

fn keys() -> KeyRing {
    KeyRing::from_secrets(&[COOKIE_SECRET]).unwrap()
}

/// The JSON sealed in cookie `name`.
fn open(name: &str, value: &str) -> Value {
    serde_json::from_slice(&keys().open(name, value).expect("opens")).unwrap()
}

/// The `id_token_hint` a sign-out sends the browser to the IdP with.
async fn sign_out_hint(b: &mut Browser, outpost: &Outpost) -> Option<String> {
    let r = b
        .get(&format!("{}/oauth2/sign_out", outpost.base), &[])
        .await;
    assert_eq!(r.status(), 302);
    let logout = url::Url::parse(&location(&r)).unwrap();
    assert_eq!(logout.path(), "/logout", "RP-initiated logout at the IdP");
    logout
        .query_pairs()
        .find(|(k, _)| k == "id_token_hint")
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn the_id_token_rides_only_to_sign_out() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    let mut b = Browser::new();
    b.login(&outpost, APP).await;

    let session = b.cookie("portcullis").expect("a session cookie");
    let hint = b.stored("portcullis_idt").expect("a hint cookie").clone();
    assert_eq!(hint.path, "/oauth2/sign_out");
    assert!(hint.http_only && hint.host_only && hint.expires.is_some());
    // The session holds no ID token; the hint does.
    let data = open("portcullis", &session);
    assert!(data["d"].get("h").is_none(), "no ID token in the session");
    let id_token = open("portcullis_idt", &hint.value)["d"]["h"]
        .as_str()
        .expect("the ID token in the hint")
        .to_string();
    assert!(id_token.starts_with("ey"));
    // What the session would weigh with the ID token inside (the cookie before).
    let mut old = data.clone();
    old["d"]["h"] = Value::String(id_token.clone());
    let old_len = keys()
        .seal("portcullis", &serde_json::to_vec(&old).unwrap())
        .unwrap()
        .len();
    eprintln!(
        "session cookie value: {} bytes (with the ID token: {old_len}); hint cookie value: {} bytes",
        session.len(),
        hint.value.len()
    );
    assert!(session.len() + id_token.len() <= old_len);

    // The app's requests (which the ingress copies into the auth subrequest) carry the
    // session but not the hint; sign-out gets both.
    let to_app = b.cookie_header(APP);
    assert!(to_app.contains("portcullis=") && !to_app.contains("portcullis_idt"));
    let to_sign_out = b.cookie_header(&format!("{}/oauth2/sign_out", outpost.base));
    assert!(to_sign_out.contains("portcullis_idt="), "{to_sign_out}");
    let r = b.nginx_auth(&outpost, APP).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-auth-request-user"), "jane");

    // Sign-out sends the hint and expires it with the session.
    assert_eq!(sign_out_hint(&mut b, &outpost).await, Some(id_token));
    assert!(b.cookie_names().is_empty(), "{:?}", b.cookie_names());
}

#[tokio::test]
async fn a_session_minted_before_the_hint_cookie_still_sends_its_id_token() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    let mut b = Browser::new();
    b.login(&outpost, APP).await;
    let hint = b.cookie("portcullis_idt").expect("a hint cookie");
    let id_token = open("portcullis_idt", &hint)["d"]["h"].clone();
    // The cookie as the outpost wrote it before: the ID token inside, no hint cookie.
    let mut old = open("portcullis", &b.cookie("portcullis").unwrap());
    old["d"]["h"] = id_token.clone();
    let sealed = keys()
        .seal("portcullis", &serde_json::to_vec(&old).unwrap())
        .unwrap();
    b.jar.remove("portcullis_idt");
    b.put_cookie(&outpost.base, "portcullis", &sealed);
    let r = b.nginx_auth(&outpost, APP).await;
    assert_eq!(r.status(), 200, "the old cookie still opens");

    assert_eq!(
        sign_out_hint(&mut b, &outpost).await.as_deref(),
        id_token.as_str()
    );
    assert!(b.cookie_names().is_empty(), "{:?}", b.cookie_names());
}

#[tokio::test]
async fn a_hint_left_by_another_user_is_not_sent_for_this_session() {
    let idp = TestIdp::spawn().await;
    let outpost = Outpost::start(&idp.base, "").await;
    let mut jane = Browser::new();
    jane.login(&outpost, APP).await;
    idp.set_user(
        serde_json::json!({"sub": "user-2", "preferred_username": "mallory",
        "email": "mallory@example.com", "groups": ["staff"]}),
    );
    let mut mallory = Browser::new();
    mallory.login(&outpost, APP).await;
    // Jane's hint beside Mallory's session (a later login whose hint did not fit).
    let janes_hint = jane.cookie("portcullis_idt").unwrap();
    mallory.jar.remove("portcullis_idt");
    mallory
        .jar
        .store(
            &url::Url::parse(&outpost.base).unwrap(),
            &format!("portcullis_idt={janes_hint}; Path=/oauth2/sign_out"),
        )
        .unwrap();
    assert_eq!(sign_out_hint(&mut mallory, &outpost).await, None);
    // Without any session (idle, or cleared on another host), the hint alone still
    // lets the IdP end its session.
    jane.jar.remove("portcullis");
    assert!(sign_out_hint(&mut jane, &outpost).await.is_some());
}

#[tokio::test]
async fn the_hint_is_the_first_thing_to_go_when_the_callback_would_not_fit() {
    let idp = TestIdp::spawn().await;
    // A proxy buffer with room for the session but not for the hint beside it.
    let route = "  - id: test/tight
    hosts: [tight.localhost]
    paths: [/]
    provider: test/idp
    authURL: http://tight.localhost:PORT
    redirectURI: http://tight.localhost:PORT/oauth2/callback
    policy: { groups: [staff] }
    session: { cookieName: tight, lifetimeSeconds: 3600, idleTimeoutSeconds: 0, maxHeaderBytes: 1400 }
";
    let outpost = Outpost::start(&idp.base, route).await;
    let mut b = Browser::new();
    let cb = b.login(&outpost, "http://tight.localhost/").await;
    assert_eq!(cb.status(), 302, "signed in");
    assert!(b.cookie("tight").is_some());
    assert!(b.cookie("tight_idt").is_none(), "{:?}", b.cookie_names());
    let r = b.nginx_auth(&outpost, "http://tight.localhost/").await;
    assert_eq!(r.status(), 200);
    // Sign-out still works, without a hint (the IdP asks the user to confirm).
    let base = outpost.base_for("tight.localhost");
    let r = b.get(&format!("{base}/oauth2/sign_out"), &[]).await;
    assert_eq!(r.status(), 302);
    assert!(!location(&r).contains("id_token_hint"), "{}", location(&r));
    assert!(b.cookie_names().is_empty(), "{:?}", b.cookie_names());
}
