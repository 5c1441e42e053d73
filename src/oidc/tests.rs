//! Token validation against real keys served by an in-process IdP: one test per
//! rejection reason, plus the accepted cases.

use super::testkit::*;
use super::*;
use crate::reason::Reason;
use serde_json::{Value, json};

const NONCE: &str = "n-0S6_WzA2Mj";

/// A provider whose JWKS holds RSA_A (kid "rsa", alg RS256), RSA_B (kid "rsa-ps", no
/// alg), EC (kid "ec") and ED (kid "ed").
async fn setup() -> (TestIdp, Provider) {
    let idp = TestIdp::spawn(vec![
        RSA_A.jwk("rsa", Some("RS256")),
        RSA_B.jwk("rsa-ps", None),
        EC.jwk("ec", Some("ES256")),
        ED.jwk("ed", None),
    ])
    .await;
    let provider = idp.provider().await;
    (idp, provider)
}

fn header(alg: &str, kid: &str) -> Value {
    json!({"alg": alg, "kid": kid, "typ": "JWT"})
}

/// Asserts the reason and that the message never quotes the token.
fn expect_reason(
    result: Result<Claims, OidcError>,
    token: &str,
    reason: impl Into<&'static str>,
) -> OidcError {
    let err = result.expect_err("token must be rejected");
    assert_eq!(err.reason().code(), reason.into(), "{err}");
    assert!(token.len() < 8 || !err.to_string().contains(token));
    let sig = token.rsplit('.').next().unwrap();
    assert!(sig.len() < 8 || !err.to_string().contains(sig));
    err
}

async fn id(p: &Provider, token: &str) -> Result<Claims, OidcError> {
    p.verify_id_token_at(token, NONCE, None, NOW).await
}

#[tokio::test]
async fn accepts_every_supported_key_type() {
    let (idp, p) = setup().await;
    let claims = id_claims(&idp.base);
    for (key, alg, kid) in [
        (&*RSA_A, "RS256", "rsa"),
        (&*RSA_B, "PS256", "rsa-ps"),
        (&*RSA_B, "RS256", "rsa-ps"),
        (&*EC, "ES256", "ec"),
        (&*ED, "EdDSA", "ed"),
    ] {
        let token = key.sign(&header(alg, kid), &claims);
        let verified = id(&p, &token)
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(verified["sub"], "user-1");
    }
    let identity = p.identity(
        &id(&p, &EC.sign(&header("ES256", "ec"), &claims))
            .await
            .unwrap(),
        &[],
    );
    assert_eq!(identity.username, "jane");
}

#[tokio::test]
async fn kid_less_token_uses_a_key_of_the_right_type() {
    let (idp, p) = setup().await;
    let token = EC.sign(&json!({"alg": "ES256"}), &id_claims(&idp.base));
    id(&p, &token).await.unwrap();
}

#[tokio::test]
async fn rsa_signed_token_claiming_es256_is_refused() {
    let (idp, p) = setup().await;
    let token = RSA_A.sign(&header("ES256", "rsa"), &id_claims(&idp.base));
    expect_reason(id(&p, &token).await, &token, Reason::KeyAlgMismatch);
}

#[tokio::test]
async fn key_alg_binds_the_token_alg() {
    let (idp, p) = setup().await;
    // RSA_A is published with alg RS256: a valid PS256 signature by it is still refused.
    let token = RSA_A.sign(&header("PS256", "rsa"), &id_claims(&idp.base));
    expect_reason(id(&p, &token).await, &token, Reason::KeyAlgMismatch);
}

#[tokio::test]
async fn none_hs256_and_unlisted_algs_are_refused() {
    let (idp, p) = setup().await;
    let claims = id_claims(&idp.base);
    let body = |h: Value| {
        let b = |v: &Value| {
            base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                v.to_string(),
            )
        };
        format!("{}.{}.", b(&h), b(&claims))
    };
    let none = body(json!({"alg": "none"}));
    expect_reason(id(&p, &none).await, &none, Reason::AlgNotAllowed);
    let hs = body(json!({"alg": "HS256", "kid": "rsa"})) + "AAAA";
    expect_reason(id(&p, &hs).await, &hs, Reason::AlgNotAllowed);

    let mut config = idp.config();
    config.allowed_algorithms = vec!["RS256".into()];
    let only_rs = Provider::discover(config, None, None).await.unwrap();
    let token = EC.sign(&header("ES256", "ec"), &claims);
    expect_reason(id(&only_rs, &token).await, &token, Reason::AlgNotAllowed);
}

#[tokio::test]
async fn jku_and_jwk_headers_are_ignored() {
    let (idp, p) = setup().await;
    // The attacker serves their own key and points the token at it.
    let attacker = TestIdp::spawn(vec![ED.jwk("evil", None)]).await;
    let mut h = header("RS256", "evil");
    h["jku"] = json!(format!("{}/jwks", attacker.base));
    h["jwk"] = RSA_B.jwk("evil", None);
    h["x5u"] = json!(format!("{}/jwks", attacker.base));
    let token = RSA_B.sign(&h, &id_claims(&idp.base));
    expect_reason(id(&p, &token).await, &token, Reason::UnknownKid);
    assert_eq!(attacker.jwks_hits(), 0);
}

#[tokio::test]
async fn tampered_claims_fail_the_signature() {
    let (idp, p) = setup().await;
    let token = RSA_A.sign(&header("RS256", "rsa"), &id_claims(&idp.base));
    let mut other = id_claims(&idp.base);
    other["sub"] = json!("admin");
    let forged = RSA_A.sign(&header("RS256", "rsa"), &other);
    let parts: Vec<&str> = token.split('.').collect();
    let forged_parts: Vec<&str> = forged.split('.').collect();
    let spliced = format!("{}.{}.{}", parts[0], forged_parts[1], parts[2]);
    expect_reason(id(&p, &spliced).await, &spliced, Reason::BadSignature);
    // The right key type but another key (RSA_B under RSA_A's kid).
    let wrong_key = RSA_B.sign(&header("RS256", "rsa"), &id_claims(&idp.base));
    expect_reason(id(&p, &wrong_key).await, &wrong_key, Reason::BadSignature);
}

#[tokio::test]
async fn malformed_tokens_are_refused() {
    let (_idp, p) = setup().await;
    for token in ["", "abc", "a.b", "a.b.c.d", "!!.e30.AA", "e30.e30.AA"] {
        expect_reason(id(&p, token).await, token, Reason::MalformedToken);
    }
    let crit = RSA_A.sign(
        &json!({"alg": "RS256", "kid": "rsa", "crit": ["exp"]}),
        &json!({}),
    );
    expect_reason(id(&p, &crit).await, &crit, Reason::MalformedToken);
}

/// Signs `claims` (the valid ID token claims changed by `edit`) with RSA_A.
async fn with_claims(edit: impl FnOnce(&mut Value)) -> (Provider, String) {
    let (idp, p) = setup().await;
    let mut claims = id_claims(&idp.base);
    edit(&mut claims);
    let token = RSA_A.sign(&header("RS256", "rsa"), &claims);
    (p, token)
}

#[tokio::test]
async fn each_claim_failure_has_its_reason() {
    type Edit = fn(&mut Value);
    let cases: [(Edit, &str); 16] = [
        (
            |c| c["iss"] = json!("https://evil.example"),
            "issuer_mismatch",
        ),
        (|c| c["aud"] = json!("someone-else"), "audience_mismatch"),
        (|c| c["aud"] = json!([CLIENT_ID, "api"]), "azp_mismatch"),
        (
            |c| {
                c["aud"] = json!([CLIENT_ID, "api"]);
                c["azp"] = json!("api");
            },
            "azp_mismatch",
        ),
        (|c| c["azp"] = json!("other-client"), "azp_mismatch"),
        (|c| c["exp"] = json!(NOW - 31), "token_expired"),
        (
            |c| c["exp"] = json!((NOW + 300).to_string()),
            "invalid_claim",
        ),
        (
            |c| {
                c.as_object_mut().unwrap().remove("exp");
            },
            "missing_claim",
        ),
        (
            |c| {
                c.as_object_mut().unwrap().remove("iat");
            },
            "missing_claim",
        ),
        (
            |c| {
                c.as_object_mut().unwrap().remove("sub");
            },
            "missing_claim",
        ),
        (|c| c["nbf"] = json!(NOW + 60), "token_not_yet_valid"),
        (|c| c["iat"] = json!(NOW + 60), "iat_in_future"),
        (|c| c["nonce"] = json!("another"), "nonce_mismatch"),
        (
            |c| {
                c.as_object_mut().unwrap().remove("nonce");
            },
            "nonce_mismatch",
        ),
        (|c| c["aud"] = json!(7), "invalid_claim"),
        (|c| c["iat"] = json!("yesterday"), "invalid_claim"),
    ];
    for (edit, reason) in cases {
        let (p, token) = with_claims(edit).await;
        expect_reason(id(&p, &token).await, &token, reason);
    }
}

#[tokio::test]
async fn leeway_and_azp_accept_what_they_should() {
    let accepted: [fn(&mut Value); 4] = [
        |c| c["exp"] = json!(NOW - 29),
        |c| c["nbf"] = json!(NOW + 29),
        |c| {
            c["aud"] = json!([CLIENT_ID, "api"]);
            c["azp"] = json!(CLIENT_ID);
        },
        |c| c["exp"] = json!(NOW as f64 + 10.5),
    ];
    for edit in accepted {
        let (p, token) = with_claims(edit).await;
        id(&p, &token).await.unwrap();
    }
}

#[tokio::test]
async fn at_hash_is_checked_when_present() {
    let access_token = "ya29.access-token-value";
    let (p, token) = with_claims(|c| {
        c["at_hash"] = json!(token_hash(
            jsonwebtoken::Algorithm::RS256,
            "ya29.access-token-value"
        ));
    })
    .await;
    p.verify_id_token_at(&token, NONCE, Some(access_token), NOW)
        .await
        .unwrap();
    let err = p
        .verify_id_token_at(&token, NONCE, Some("another"), NOW)
        .await;
    expect_reason(err, &token, Reason::AtHashMismatch);
}

#[test]
fn at_hash_uses_the_alg_hash() {
    use jsonwebtoken::Algorithm;
    // OpenID Connect Core A.3/A.4 example: access token and its RS256 at_hash.
    assert_eq!(
        token_hash(
            Algorithm::RS256,
            "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
        ),
        "77QmUPtjPfzWtF2AnpK9RQ"
    );
    assert_eq!(token_hash(Algorithm::ES384, "x").len(), 32);
    assert_eq!(token_hash(Algorithm::EdDSA, "x").len(), 43);
}

#[tokio::test]
async fn bearer_tokens_accept_configured_audiences_without_nonce() {
    let (idp, p) = setup().await;
    let mut claims = json!({"iss": idp.base, "sub": "svc", "aud": ["api", "other"], "azp": "cli", "exp": NOW + 60});
    let token = EC.sign(&header("ES256", "ec"), &claims);
    p.verify_access_token_at(&token, &["api".into()], UntrustedAudiences::Refuse, NOW)
        .await
        .unwrap();
    expect_reason(
        p.verify_access_token_at(&token, &[], UntrustedAudiences::Refuse, NOW)
            .await,
        &token,
        "audience_mismatch",
    );
    claims["exp"] = json!(NOW - 100);
    let expired = EC.sign(&header("ES256", "ec"), &claims);
    expect_reason(
        p.verify_access_token_at(&expired, &["api".into()], UntrustedAudiences::Refuse, NOW)
            .await,
        &expired,
        "token_expired",
    );
}

#[tokio::test]
async fn enc_keys_are_not_used_for_signatures() {
    let mut enc = RSA_A.jwk("rsa", None);
    enc["use"] = json!("enc");
    let idp = TestIdp::spawn(vec![enc, EC.jwk("ec", None)]).await;
    let p = idp.provider().await;
    assert_eq!(p.jwks().stats().key_ids, vec!["ec"]);
    let token = RSA_A.sign(&header("RS256", "rsa"), &id_claims(&idp.base));
    expect_reason(id(&p, &token).await, &token, Reason::UnknownKid);
}

#[test]
fn allowed_algorithms_never_include_symmetric_or_none() {
    use jsonwebtoken::Algorithm;
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        allowed_algorithms(&[], &s(&["HS256", "none", "ES256", "ES512"])).unwrap(),
        vec![Algorithm::ES256]
    );
    assert_eq!(
        allowed_algorithms(&[], &[]).unwrap(),
        vec![Algorithm::RS256]
    );
    assert!(allowed_algorithms(&s(&["HS256"]), &[]).is_err());
    assert!(allowed_algorithms(&[], &s(&["HS256"])).is_err());
}
