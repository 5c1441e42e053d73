//! Large identities (issue 13 item 9): a user in 251 groups still fits ingress-nginx's
//! default 4k proxy buffer at the callback, because the session keeps only what the
//! route needs; an identity that still cannot fit gets a page naming the size and the
//! annotation to raise, never a redirect nginx would turn into a bare 502.

use crate::outpost_support;

use outpost_support::idp::TestIdp;
use outpost_support::{Browser, Outpost, header};
use serde_json::json;

/// ingress-nginx's default `proxy-buffer-size`: the callback's whole response head must
/// fit in it.
const NGINX_BUFFER: usize = 4096;

fn enterprise_user() -> serde_json::Value {
    let mut groups: Vec<String> = (0..250)
        .map(|i| format!("cn=app-team-{i:03},ou=groups,dc=corp,dc=example"))
        .collect();
    groups.push("staff".into());
    json!({"sub": "u-251", "preferred_username": "erin", "email": "erin@corp.example",
        "groups": groups})
}

/// Bytes of the response head as nginx buffers it: status line, headers, blank line.
fn head_bytes(r: &reqwest::Response) -> usize {
    let headers: usize = r
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + 2 + v.len() + 2)
        .sum();
    "HTTP/1.1 302 Found\r\n".len() + headers + 2
}

/// An outpost with a route for `host` (`extra`: its policy and headers lines) and a
/// completed sign-in there by the user in 251 groups; the callback's response.
async fn sign_in_with_251_groups(
    host: &str,
    extra: &str,
) -> (TestIdp, Outpost, Browser, reqwest::Response) {
    let idp = TestIdp::spawn().await;
    let route = format!(
        "  - id: test/{host}\n    hosts: [{host}]\n    paths: [/]\n    provider: test/idp\n    authURL: http://{host}:PORT\n    redirectURI: http://{host}:PORT/oauth2/callback\n{extra}"
    );
    let outpost = Outpost::start(&idp.base, &route).await;
    idp.set_user(enterprise_user());
    let mut b = Browser::new();
    let cb = b.login(&outpost, &format!("http://{host}/")).await;
    eprintln!("callback response head: {} bytes", head_bytes(&cb));
    (idp, outpost, b, cb)
}

#[tokio::test]
async fn a_user_in_251_groups_fits_the_ingress_default_buffer() {
    // The policy names one group; the header forwards groups.
    let extra = "    policy: { groups: [staff] }\n    headers: { map: { X-Groups: groups, X-User: user } }\n";
    let (_idp, outpost, mut b, cb) = sign_in_with_251_groups("corp.localhost", extra).await;
    assert_eq!(cb.status(), 302);
    let size = head_bytes(&cb);
    assert!(size <= NGINX_BUFFER, "callback head {size} bytes");
    // The ID token carries all 251 groups too, so the sign-out hint is the first to go;
    // all 251 groups do not fit even without it: the forwarded groups are narrowed to
    // those the policy names, and the user passes.
    assert!(
        b.cookie("portcullis_idt").is_none(),
        "{:?}",
        b.cookie_names()
    );
    let r = b.nginx_auth(&outpost, "http://corp.localhost/").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-user"), "erin");
    assert_eq!(header(&r, "x-groups"), "staff");
}

#[tokio::test]
async fn an_identity_that_cannot_fit_gets_a_page_naming_size_and_annotation() {
    // A header forwards every group and the policy names none: all 251 must be kept,
    // and they do not fit.
    let extra =
        "    policy: { allowAnyAuthenticated: true }\n    headers: { map: { X-Groups: groups } }\n";
    let (_idp, _outpost, _b, cb) = sign_in_with_251_groups("big.localhost", extra).await;
    assert_eq!(cb.status(), 500);
    assert!(cb.headers().get("location").is_none());
    assert!(
        cb.headers()
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap().starts_with("portcullis="))
    );
    let html = cb.text().await.unwrap();
    for words in [
        "session_too_large",
        "bytes",
        "nginx.ingress.kubernetes.io/proxy-buffer-size",
        "maxHeaderBytes",
    ] {
        assert!(html.contains(words), "{words:?} missing:\n{html}");
    }
}
