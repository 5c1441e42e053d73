//! Back-channel logout tokens (issue 12 item 2b): a good token is accepted, and each
//! rule refuses on its own (every other claim of the token left valid).

use super::testkit::*;
use super::*;
use serde_json::{Value, json};

async fn setup() -> (TestIdp, Provider) {
    let idp = TestIdp::spawn(vec![EC.jwk("ec", Some("ES256"))]).await;
    let provider = idp.provider().await;
    (idp, provider)
}

fn b64(text: &str) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, text)
}

fn sign(claims: &Value) -> String {
    EC.sign(
        &json!({"alg": "ES256", "kid": "ec", "typ": "logout+jwt"}),
        claims,
    )
}

fn good(issuer: &str) -> Value {
    json!({
        "iss": issuer,
        "aud": CLIENT_ID,
        "iat": NOW - 5,
        "exp": NOW + 115,
        "jti": "jti-1",
        "sub": "alice-sub",
        "sid": "idp-session-1",
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    })
}

async fn refused(p: &Provider, token: &str) -> OidcError {
    p.verify_logout_token_at(token, NOW)
        .await
        .expect_err("the logout token must be refused")
}

#[tokio::test]
async fn a_good_logout_token_names_sub_sid_and_jti() {
    let (idp, p) = setup().await;
    let t = p
        .verify_logout_token_at(&sign(&good(&idp.base)), NOW)
        .await
        .unwrap();
    assert_eq!(t.sub.as_deref(), Some("alice-sub"));
    assert_eq!(t.sid.as_deref(), Some("idp-session-1"));
    assert_eq!(t.jti.as_deref(), Some("jti-1"));
    assert_eq!((t.iat, t.exp), (NOW - 5, Some(NOW + 115)));
    // sub alone, sid alone, no exp, aud as an array: all still logout tokens.
    for remove in [&["sid"][..], &["sub"], &["exp"], &["jti"]] {
        let mut c = good(&idp.base);
        for k in remove {
            c.as_object_mut().unwrap().remove(*k);
        }
        c["aud"] = json!([CLIENT_ID, "other"]);
        p.verify_logout_token_at(&sign(&c), NOW)
            .await
            .unwrap_or_else(|e| panic!("{c}: {e}"));
    }
}

#[tokio::test]
async fn each_rule_refuses_on_its_own() {
    let (idp, p) = setup().await;
    type Change = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "wrong iss",
            Box::new(|c| c["iss"] = json!("https://evil.example")),
            "issuer_mismatch",
        ),
        (
            "iss with a trailing slash",
            Box::new(|c| c["iss"] = json!(format!("{}/", c["iss"].as_str().unwrap()))),
            "issuer_mismatch",
        ),
        (
            "wrong aud",
            Box::new(|c| c["aud"] = json!("another-client")),
            "audience_mismatch",
        ),
        (
            "nonce present",
            Box::new(|c| c["nonce"] = json!("n-1")),
            "invalid_claim",
        ),
        (
            "no events",
            Box::new(|c| {
                c.as_object_mut().unwrap().remove("events");
            }),
            "missing_claim",
        ),
        (
            "events without the logout event",
            Box::new(|c| c["events"] = json!({"http://schemas.openid.net/event/other": {}})),
            "invalid_claim",
        ),
        (
            "the logout event not an object",
            Box::new(|c| c["events"] = json!({BACKCHANNEL_LOGOUT_EVENT: true})),
            "invalid_claim",
        ),
        (
            "events a list",
            Box::new(|c| c["events"] = json!([BACKCHANNEL_LOGOUT_EVENT])),
            "invalid_claim",
        ),
        (
            "neither sid nor sub",
            Box::new(|c| {
                let o = c.as_object_mut().unwrap();
                o.remove("sid");
                o.remove("sub");
            }),
            "missing_claim",
        ),
        (
            "empty sub and no sid",
            Box::new(|c| {
                c.as_object_mut().unwrap().remove("sid");
                c["sub"] = json!("");
            }),
            "invalid_claim",
        ),
        (
            "sid not a string",
            Box::new(|c| c["sid"] = json!(42)),
            "invalid_claim",
        ),
        (
            "no iat",
            Box::new(|c| {
                c.as_object_mut().unwrap().remove("iat");
            }),
            "missing_claim",
        ),
        (
            "iat in the future beyond the skew",
            Box::new(|c| c["iat"] = json!(NOW + 3600)),
            "iat_in_future",
        ),
        (
            "expired",
            Box::new(|c| c["exp"] = json!(NOW - 3600)),
            "token_expired",
        ),
    ];
    for (what, change, reason) in cases {
        let mut c = good(&idp.base);
        change(&mut c);
        let e = refused(&p, &sign(&c)).await;
        assert_eq!(e.reason().code(), reason, "{what}: {e}");
    }
}

#[tokio::test]
async fn signature_and_algorithm_are_checked() {
    let (idp, p) = setup().await;
    let token = sign(&good(&idp.base));
    // One byte of the claims changed after signing.
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut claims = good(&idp.base);
    claims["sub"] = json!("mallory-sub");
    parts[1] = b64(&claims.to_string());
    assert_eq!(
        refused(&p, &parts.join(".")).await.reason().code(),
        "bad_signature"
    );
    // Signed by another key under the provider's kid.
    let other = ED.sign(&json!({"alg": "ES256", "kid": "ec"}), &good(&idp.base));
    assert_eq!(refused(&p, &other).await.reason().code(), "bad_signature");
    // A symmetric algorithm (never allowed: the client secret is no IdP key), and none.
    let hs = format!("{}.{}.c2ln", b64(r#"{"alg":"HS256","kid":"ec"}"#), parts[1]);
    assert_eq!(refused(&p, &hs).await.reason().code(), "alg_not_allowed");
    let none = format!("{}.{}.", b64(r#"{"alg":"none"}"#), parts[1]);
    assert_eq!(refused(&p, &none).await.reason().code(), "alg_not_allowed");
    assert_eq!(
        refused(&p, "not-a-jwt").await.reason().code(),
        "malformed_token"
    );
}

#[tokio::test]
async fn an_id_token_is_not_a_logout_token() {
    let (idp, p) = setup().await;
    // A real ID token of this client (nonce, no events) must never sign anyone out.
    let id = sign(&id_claims(&idp.base));
    let e = refused(&p, &id).await;
    assert!(
        matches!(e.reason().code(), "missing_claim" | "invalid_claim"),
        "{e}"
    );
}
