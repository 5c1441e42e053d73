//! Test support for the OIDC unit tests: shared keys (made by [`crate::testkit`], the
//! one place test keys and hand-built JWS come from) and an in-process IdP on
//! 127.0.0.1:0.

use super::{Provider, ProviderConfig};
pub use crate::testkit::TestKey;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

pub const CLIENT_ID: &str = "portcullis-test";
pub(crate) const NOW: i64 = 1_800_000_000;

// RSA key generation is slow; every test shares these.
pub(crate) static RSA_A: LazyLock<TestKey> = LazyLock::new(TestKey::rsa);
pub(crate) static RSA_B: LazyLock<TestKey> = LazyLock::new(TestKey::rsa);
pub static EC: LazyLock<TestKey> = LazyLock::new(TestKey::ec256);
pub(crate) static ED: LazyLock<TestKey> = LazyLock::new(TestKey::ed25519);

/// Claims of a valid ID token for `issuer` at [`NOW`].
pub(crate) fn id_claims(issuer: &str) -> Value {
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

    pub(crate) fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }
}

impl IdpState {
    pub(crate) fn set_keys(&self, keys: Vec<Value>) {
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
