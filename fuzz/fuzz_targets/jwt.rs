//! JWT parse and verify: the compact JWS split, header and claim decoding, the
//! algorithm allow-list, key selection by `kid`, the signature check against a real
//! ES256 key, and the claim checks (typed `exp`, audiences, issuer).
#![no_main]

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use libfuzzer_sys::fuzz_target;
use portcullis::oidc::jwt::{self, Expectations};
use portcullis::oidc::{JwksCache, KeySet};
use std::sync::OnceLock;
use std::time::Duration;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

/// One ES256 key, kid "k1"; an unknown kid refetches once from a closed port, then the
/// rate limit keeps the fuzzer off the network.
fn jwks() -> &'static JwksCache {
    static J: OnceLock<JwksCache> = OnceLock::new();
    J.get_or_init(|| {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("key");
        let point = pair.public_key().as_ref();
        let (x, y) = (&point[1..33], &point[33..65]);
        let doc = serde_json::json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
        }]});
        let _ = SystemRandom::new();
        let keys = KeySet::parse(&doc).expect("jwks");
        JwksCache::new(reqwest::Client::new(), "http://127.0.0.1:9/jwks".into())
            .with_keys(keys)
            .with_min_refetch_interval(Duration::from_secs(86_400))
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let audiences = ["portcullis".to_string(), "api".to_string()];
    let want = Expectations {
        issuer: "https://idp.example",
        audiences: &audiences,
        leeway: 30,
        now: 1_700_000_000,
    };
    if let Ok(parsed) = jwt::parse(token) {
        let _ = jwt::audiences(&parsed.claims);
        if let Ok(aud) = jwt::check_common(&parsed.claims, &want, true) {
            let _ = jwt::check_bearer_audiences(
                &parsed.claims,
                aud.clone(),
                &audiences,
                jwt::UntrustedAudiences::Refuse,
            );
            let _ = jwt::check_id_token(
                &parsed.claims,
                &aud,
                "portcullis",
                Algorithm::ES256,
                "n",
                Some("at"),
            );
        }
    }
    let allowed = [Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA];
    let _ = runtime().block_on(jwt::verify_signature(token, &allowed, jwks()));
});
