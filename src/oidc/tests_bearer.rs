//! Bearer tokens: several audiences without `azp` (issue 13 item 2), and refusals that
//! say what was expected and what came, never the token (item 4).

use super::testkit::*;
use super::*;
use crate::reason::Reason;
use serde_json::{Value, json};

const NOW: i64 = 1_700_000_000;

async fn setup() -> (TestIdp, Provider) {
    let idp = TestIdp::spawn(vec![EC.jwk("ec", Some("ES256"))]).await;
    let provider = idp.provider().await;
    (idp, provider)
}

fn sign(claims: &Value) -> String {
    EC.sign(&json!({"alg": "ES256", "kid": "ec", "typ": "JWT"}), claims)
}

async fn verify(p: &Provider, claims: &Value) -> Result<Claims, OidcError> {
    p.verify_access_token_at(
        &sign(claims),
        &["api".into()],
        UntrustedAudiences::Refuse,
        NOW,
    )
    .await
}

#[tokio::test]
async fn a_trusted_plus_an_untrusted_audience_without_azp_is_refused() {
    let (idp, p) = setup().await;
    let claims =
        json!({"iss": idp.base, "sub": "svc", "aud": ["api", "attacker"], "exp": NOW + 60});
    let err = verify(&p, &claims).await.expect_err("refused by default");
    assert_eq!(
        err.reason().code(),
        "multiple_audiences_without_azp",
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("\"attacker\"") && text.contains("azp"),
        "{text}"
    );

    // Each of these is still accepted: one audience; several, all trusted; several
    // with an `azp` naming who the token was issued to.
    for aud_azp in [
        json!({"aud": "api"}),
        json!({"aud": ["api"]}),
        json!({"aud": ["api", "portcullis-test"]}),
        json!({"aud": ["api", "attacker"], "azp": "cli"}),
    ] {
        let mut c = json!({"iss": idp.base, "sub": "svc", "exp": NOW + 60});
        for (k, v) in aud_azp.as_object().unwrap() {
            c[k] = v.clone();
        }
        verify(&p, &c).await.unwrap_or_else(|e| panic!("{c}: {e}"));
    }
    // An `azp` that is not a string does not count as one.
    let c = json!({"iss": idp.base, "sub": "svc", "aud": ["api", "x"], "azp": 7, "exp": NOW + 60});
    assert_eq!(
        verify(&p, &c).await.unwrap_err().reason().code(),
        "multiple_audiences_without_azp"
    );
}

#[tokio::test]
async fn extra_audiences_without_azp_pass_only_when_a_route_opts_in() {
    let (idp, p) = setup().await;
    let token =
        sign(&json!({"iss": idp.base, "sub": "svc", "aud": ["api", "other"], "exp": NOW + 60}));
    p.verify_access_token_at(&token, &["api".into()], UntrustedAudiences::Allow, NOW)
        .await
        .unwrap();
    // Opting in never accepts a token without any accepted audience.
    let token =
        sign(&json!({"iss": idp.base, "sub": "svc", "aud": ["other", "x"], "exp": NOW + 60}));
    let err = p
        .verify_access_token_at(&token, &["api".into()], UntrustedAudiences::Allow, NOW)
        .await
        .unwrap_err();
    assert_eq!(err.reason().code(), "audience_mismatch");
}

#[tokio::test]
async fn psychic_signatures_and_oversized_tokens_are_refused() {
    let (idp, p) = setup().await;
    let good = sign(&json!({"iss": idp.base, "sub": "svc", "aud": "api", "exp": NOW + 60}));
    let (input, _) = good.rsplit_once('.').unwrap();
    // CVE-2022-21449: an ECDSA signature of r = s = 0 must never verify.
    let zero = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, [0u8; 64]);
    let psychic = format!("{input}.{zero}");
    let err = p
        .verify_access_token_at(&psychic, &["api".into()], UntrustedAudiences::Refuse, NOW)
        .await
        .unwrap_err();
    assert_eq!(err.reason().code(), "bad_signature", "{err}");
    // A token far beyond what an IdP issues is refused before any decoding.
    let huge = format!("{input}{}.{zero}", "A".repeat(20_000));
    let err = p
        .verify_access_token_at(&huge, &["api".into()], UntrustedAudiences::Refuse, NOW)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), Reason::MalformedToken, "{err}");
}
