//! Fixtures shared by the criterion benches and the load-test stub IdP
//! (`scripts/bench/stub_idp.rs`): signing keys made with aws-lc-rs, hand-built JWS
//! (the same approach as `src/oidc/testkit.rs`, which is `cfg(test)` and so not
//! reachable from here), and a session cookie sealed exactly as the outpost seals one.

#![allow(dead_code)] // Each user (bench, example) needs a different subset.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis::config::SessionConfig;
use portcullis::oidc::Identity;
use portcullis::outpost::server::request::SessionData;
use portcullis::outpost::session::{KeyRing, SessionManager};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Key id of the RSA key in the JWKS.
pub const RS_KID: &str = "bench-rs256";
/// Key id of the P-256 key in the JWKS.
pub const ES_KID: &str = "bench-es256";
/// The OAuth client id the tokens are issued to.
pub const CLIENT_ID: &str = "bench-client";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// One RSA-2048 and one P-256 signing key.
pub struct Keys {
    rsa: RsaKeyPair,
    ec: EcdsaKeyPair,
    rng: SystemRandom,
}

impl Keys {
    /// Fresh keys (RSA generation takes a moment).
    pub fn generate() -> Self {
        Self {
            rsa: RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa key"),
            ec: EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                .expect("p-256 key"),
            rng: SystemRandom::new(),
        }
    }

    /// The public JWK set, as an IdP serves it at `jwks_uri`.
    pub fn jwks(&self) -> Value {
        let rsa = self.rsa.public_key();
        let point = self.ec.public_key().as_ref();
        json!({"keys": [
            {
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": RS_KID,
                "n": b64(rsa.modulus().big_endian_without_leading_zero()),
                "e": b64(rsa.exponent().big_endian_without_leading_zero()),
            },
            {
                "kty": "EC", "use": "sig", "alg": "ES256", "kid": ES_KID, "crv": "P-256",
                "x": b64(&point[1..33]), "y": b64(&point[33..65]),
            },
        ]})
    }

    /// `claims` signed with RS256.
    pub fn sign_rs256(&self, claims: &Value) -> String {
        let input = signing_input("RS256", RS_KID, claims);
        let mut sig = vec![0; self.rsa.public_modulus_len()];
        self.rsa
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &self.rng,
                input.as_bytes(),
                &mut sig,
            )
            .expect("rsa sign");
        format!("{input}.{}", b64(&sig))
    }

    /// `claims` signed with ES256.
    pub fn sign_es256(&self, claims: &Value) -> String {
        let input = signing_input("ES256", ES_KID, claims);
        let sig = self.ec.sign(&self.rng, input.as_bytes()).expect("ec sign");
        format!("{input}.{}", b64(sig.as_ref()))
    }
}

fn signing_input(alg: &str, kid: &str, claims: &Value) -> String {
    let header = json!({"alg": alg, "typ": "JWT", "kid": kid});
    format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

/// Claims of a typical access token (or ID token) for `issuer`, valid from `now` for an
/// hour; `jti` makes each token distinct (so the bearer cache cannot answer).
pub fn token_claims(issuer: &str, now: u64, jti: usize) -> Value {
    json!({
        "iss": issuer, "sub": "sub-jane", "aud": CLIENT_ID, "azp": CLIENT_ID,
        "exp": now + 3600, "iat": now, "jti": format!("bench-{jti}"),
        "scope": "openid profile email groups",
        "preferred_username": "jane", "email": "jane@example.com", "email_verified": true,
        "name": "Jane Doe", "groups": ["admins", "developers", "staff"],
    })
}

/// The identity a login through the test IdP stores for the account `jane`.
pub fn identity() -> Identity {
    let mut claims = BTreeMap::new();
    claims.insert("preferred_username".to_string(), json!("jane"));
    Identity {
        sub: "sub-jane".into(),
        username: "jane".into(),
        email: Some("jane@example.com".into()),
        name: Some("Jane Doe".into()),
        groups: vec!["admins".into(), "developers".into(), "staff".into()],
        permissions: Vec::new(),
        claims,
    }
}

/// What the session cookie holds after a login at an IdP with RP-initiated logout: the
/// identity and the ID token (kept for `id_token_hint`), which makes up most of its size.
pub fn session_data(provider: &str, id_token: String) -> SessionData {
    SessionData {
        provider: provider.to_string(),
        identity: identity(),
        token_expires_at: None,
        tokens_obtained_at: None,
        refresh_token: None,
        access_token: None,
        id_token: Some(id_token),
        idp_session: None,
        device: None,
        client_ip: None,
    }
}

/// A session manager for a plain-http route (cookie name without `__Host-`), as the
/// outpost builds one from the route's `session` and the cookie secret.
pub fn session_manager(secret: &str, cookie_name: &str) -> SessionManager {
    let keys = Arc::new(KeyRing::from_secrets(&[secret]).expect("cookie secret"));
    let config = SessionConfig {
        cookie_name: cookie_name.to_string(),
        ..SessionConfig::default()
    };
    SessionManager::new(keys, &config, false).expect("session manager")
}

/// The `Cookie` request header value carrying `data` as a fresh session at `now`.
pub fn cookie_header(sessions: &SessionManager, data: SessionData, now: u64) -> String {
    let session = sessions.start(data, now);
    sessions
        .store(&session, &[], now)
        .expect("seal session")
        .iter()
        .map(|set| set.split(';').next().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join("; ")
}
