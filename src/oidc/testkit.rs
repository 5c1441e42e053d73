//! Test support: real keys (aws-lc-rs), hand-built JWS (so headers and claims can be
//! anything, including wrong), and an in-process IdP on 127.0.0.1:0.

use super::{Provider, ProviderConfig};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

pub const CLIENT_ID: &str = "portcullis-test";
pub const NOW: i64 = 1_800_000_000;

/// A signing key of one of the supported types.
pub enum TestKey {
    Rsa(RsaKeyPair),
    Ec256(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

// RSA key generation is slow; every test shares these.
pub static RSA_A: LazyLock<TestKey> = LazyLock::new(TestKey::rsa);
pub static RSA_B: LazyLock<TestKey> = LazyLock::new(TestKey::rsa);
pub static EC: LazyLock<TestKey> = LazyLock::new(|| {
    TestKey::Ec256(EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap())
});
pub static ED: LazyLock<TestKey> =
    LazyLock::new(|| TestKey::Ed(Ed25519KeyPair::generate().unwrap()));

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl TestKey {
    fn rsa() -> Self {
        Self::Rsa(RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap())
    }

    /// The public JWK, with `alg` when given.
    pub fn jwk(&self, kid: &str, alg: Option<&str>) -> Value {
        let mut jwk = match self {
            Self::Rsa(k) => json!({
                "kty": "RSA", "use": "sig",
                "n": b64(k.public_key().modulus().big_endian_without_leading_zero()),
                "e": b64(k.public_key().exponent().big_endian_without_leading_zero()),
            }),
            Self::Ec256(k) => {
                let point = k.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
            }
            Self::Ed(k) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(k.public_key().as_ref())})
            }
        };
        jwk["kid"] = json!(kid);
        if let Some(alg) = alg {
            jwk["alg"] = json!(alg);
        }
        jwk
    }

    /// Signs `header`.`claims` with this key's own algorithm (RSA: PS256 when the
    /// header says PS256, else RS256), whatever the header claims.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let rng = SystemRandom::new();
        let sig = match self {
            Self::Rsa(k) => {
                let scheme: &'static dyn signature::RsaEncoding = if header["alg"] == "PS256" {
                    &signature::RSA_PSS_SHA256
                } else {
                    &signature::RSA_PKCS1_SHA256
                };
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(scheme, &rng, input.as_bytes(), &mut sig).unwrap();
                sig
            }
            Self::Ec256(k) => k.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
            Self::Ed(k) => k.sign(input.as_bytes()).as_ref().to_vec(),
        };
        format!("{input}.{}", b64(&sig))
    }
}

/// Claims of a valid ID token for `issuer` at [`NOW`].
pub fn id_claims(issuer: &str) -> Value {
    json!({
        "iss": issuer, "sub": "user-1", "aud": CLIENT_ID,
        "exp": NOW + 300, "iat": NOW - 10, "nonce": "n-0S6_WzA2Mj",
        "preferred_username": "jane", "email": "jane@example.com",
    })
}

/// The in-process IdP's mutable behaviour and what it saw.
#[derive(Default)]
pub struct IdpState {
    pub discovery: Mutex<Value>,
    pub jwks: Mutex<Value>,
    pub jwks_hits: AtomicUsize,
    pub down: AtomicBool,
    pub token_reply: Mutex<(u16, Value)>,
    /// (Authorization header, form body) of the last token request.
    pub token_requests: Mutex<Vec<(Option<String>, String)>>,
}

/// An IdP on 127.0.0.1:0; `base` is its issuer.
pub struct TestIdp {
    pub base: String,
    pub state: Arc<IdpState>,
}

impl TestIdp {
    pub async fn spawn(keys: Vec<Value>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(IdpState::default());
        *state.discovery.lock().unwrap() = json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/authorize?tenant=t1"),
            "token_endpoint": format!("{base}/token"),
            "jwks_uri": format!("{base}/jwks"),
            "end_session_endpoint": format!("{base}/logout"),
            "id_token_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA", "HS256", "none"],
            "code_challenge_methods_supported": ["S256"],
        });
        state.set_keys(keys);
        *state.token_reply.lock().unwrap() =
            (200, json!({"access_token": "at-1", "token_type": "Bearer"}));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, state }
    }

    pub fn config(&self) -> ProviderConfig {
        ProviderConfig {
            issuer_url: self.base.clone(),
            client_id: CLIENT_ID.into(),
            scopes: vec!["openid".into(), "email".into()],
            clock_skew_seconds: 30,
            ..Default::default()
        }
    }

    pub async fn provider(&self) -> Provider {
        Provider::discover(self.config(), Some("s3cret".into()), None)
            .await
            .unwrap()
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }
}

impl IdpState {
    pub fn set_keys(&self, keys: Vec<Value>) {
        *self.jwks.lock().unwrap() = json!({ "keys": keys });
    }
}

async fn discovery(State(s): State<Arc<IdpState>>) -> Json<Value> {
    Json(s.discovery.lock().unwrap().clone())
}

async fn jwks(State(s): State<Arc<IdpState>>) -> (StatusCode, Json<Value>) {
    s.jwks_hits.fetch_add(1, Ordering::SeqCst);
    if s.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({})));
    }
    (StatusCode::OK, Json(s.jwks.lock().unwrap().clone()))
}

async fn token(
    State(s): State<Arc<IdpState>>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, Json<Value>) {
    let auth = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_string());
    s.token_requests.lock().unwrap().push((auth, body));
    let (status, reply) = s.token_reply.lock().unwrap().clone();
    (StatusCode::from_u16(status).unwrap(), Json(reply))
}
