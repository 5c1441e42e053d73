//! A scripted OpenID provider on 127.0.0.1:0: discovery, JWKS (one ES256 key), an
//! authorize endpoint that consents at once for the configured user, a token endpoint
//! with PKCE, refresh tokens and an optional hold (to keep a request in flight).

use aws_lc_rs::digest;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use portcullis::testkit::{TestKey, b64};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

pub const CLIENT_ID: &str = "outpost";
pub const CLIENT_SECRET: &str = "s3cret-client";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

struct Grant {
    user: Value,
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

/// What the IdP does and what it saw.
pub struct IdpState {
    pub base: String,
    key: TestKey,
    /// Claims of the user who "signs in" next (sub, preferred_username, email, groups).
    pub user: Mutex<Value>,
    /// `expires_in` of issued tokens.
    pub expires_in: AtomicU64,
    /// Whether refresh tokens are issued.
    pub issue_refresh: AtomicBool,
    /// Whether discovery answers 503 (an IdP outage).
    pub down: AtomicBool,
    /// Whether discovery advertises an `end_session_endpoint`.
    pub offer_logout: AtomicBool,
    /// When set, the token endpoint waits for `release` before answering.
    pub hold_tokens: AtomicBool,
    pub release: Notify,
    pub token_waiting: Notify,
    pub refresh_grants: AtomicUsize,
    /// When non-zero, the token endpoint answers this status with `server_error` (an
    /// outage behind the IdP's load balancer).
    pub token_status: AtomicU16,
    /// Requests the token endpoint received, whatever it answered.
    pub token_calls: AtomicUsize,
    codes: Mutex<HashMap<String, Grant>>,
    refresh: Mutex<HashMap<String, Value>>,
    counter: AtomicUsize,
}

impl IdpState {
    fn sign(&self, claims: &Value) -> String {
        self.sign_with(&json!({"alg": "ES256", "typ": "JWT", "kid": "k1"}), claims)
    }

    /// A JWT with this header and claims, signed with the IdP's ES256 key whatever the
    /// header says (for tokens that must be refused).
    pub fn sign_with(&self, header: &Value, claims: &Value) -> String {
        self.key.sign(header, claims)
    }

    /// An access token (JWT) for `user` with audience `aud`.
    pub fn access_token(&self, user: &Value, aud: &str) -> String {
        let mut claims = user.clone();
        let now = now();
        claims["iss"] = json!(self.base);
        claims["aud"] = json!(aud);
        claims["iat"] = json!(now);
        claims["exp"] = json!(now + 600);
        self.sign(&claims)
    }

    fn next(&self) -> String {
        format!("v{}-{}", self.counter.fetch_add(1, Ordering::SeqCst), now())
    }
}

/// The running IdP.
pub struct TestIdp {
    pub base: String,
    pub state: Arc<IdpState>,
}

impl TestIdp {
    pub async fn spawn() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(IdpState {
            base: base.clone(),
            key: TestKey::ec256(),
            user: Mutex::new(json!({
                "sub": "user-1", "preferred_username": "jane",
                "email": "jane@example.com", "groups": ["staff", "dev"],
            })),
            expires_in: AtomicU64::new(300),
            issue_refresh: AtomicBool::new(true),
            offer_logout: AtomicBool::new(true),
            down: AtomicBool::new(false),
            hold_tokens: AtomicBool::new(false),
            release: Notify::new(),
            token_waiting: Notify::new(),
            refresh_grants: AtomicUsize::new(0),
            token_status: AtomicU16::new(0),
            token_calls: AtomicUsize::new(0),
            codes: Mutex::default(),
            refresh: Mutex::default(),
            counter: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, state }
    }

    /// Revokes every refresh token issued so far (an admin disabling the account):
    /// refreshing with one is then `invalid_grant`.
    pub fn revoke_refresh_tokens(&self) {
        self.state.refresh.lock().unwrap().clear();
    }

    pub fn set_user(&self, user: Value) {
        *self.state.user.lock().unwrap() = user;
    }
}

async fn discovery(State(s): State<Arc<IdpState>>) -> Response {
    if s.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let b = &s.base;
    let mut doc = json!({
        "issuer": b,
        "authorization_endpoint": format!("{b}/authorize"),
        "token_endpoint": format!("{b}/token"),
        "jwks_uri": format!("{b}/jwks"),
        "end_session_endpoint": format!("{b}/logout"),
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
    });
    if !s.offer_logout.load(Ordering::SeqCst) {
        doc.as_object_mut().unwrap().remove("end_session_endpoint");
    }
    Json(doc).into_response()
}

async fn jwks(State(s): State<Arc<IdpState>>) -> Json<Value> {
    let mut jwk = s.key.jwk("k1", Some("ES256"));
    jwk["use"] = json!("sig");
    Json(json!({ "keys": [jwk] }))
}

async fn authorize(
    State(s): State<Arc<IdpState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    let code = s.next();
    s.codes.lock().unwrap().insert(
        code.clone(),
        Grant {
            user: s.user.lock().unwrap().clone(),
            nonce: q["nonce"].clone(),
            challenge: q["code_challenge"].clone(),
            redirect_uri: q["redirect_uri"].clone(),
        },
    );
    let mut target = url::Url::parse(&q["redirect_uri"]).unwrap();
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &q["state"])
        .append_pair("iss", &s.base);
    (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
}

fn at_hash(token: &str) -> String {
    let d = digest::digest(&digest::SHA256, token.as_bytes());
    b64(&d.as_ref()[..16])
}

async fn token(State(s): State<Arc<IdpState>>, headers: HeaderMap, body: String) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(basic.as_str())
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    s.token_calls.fetch_add(1, Ordering::SeqCst);
    let status = s.token_status.load(Ordering::SeqCst);
    if status != 0 {
        let status = StatusCode::from_u16(status).unwrap();
        return (status, Json(json!({"error": "server_error"}))).into_response();
    }
    if s.hold_tokens.load(Ordering::SeqCst) {
        s.token_waiting.notify_one();
        s.release.notified().await;
    }
    let now = now();
    let (user, nonce) = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(grant) = s.codes.lock().unwrap().remove(&form["code"]) else {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": "invalid_grant"})),
                )
                    .into_response();
            };
            let verifier = &form["code_verifier"];
            let challenge = b64(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref());
            if challenge != grant.challenge || form["redirect_uri"] != grant.redirect_uri {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": "invalid_grant"})),
                )
                    .into_response();
            }
            (grant.user, Some(grant.nonce))
        }
        Some("refresh_token") => {
            let Some(user) = s.refresh.lock().unwrap().remove(&form["refresh_token"])
            // rotation: a refresh token works once
            else {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": "invalid_grant", "error_description": "grant request is invalid"})),
                )
                    .into_response();
            };
            s.refresh_grants.fetch_add(1, Ordering::SeqCst);
            (user, None)
        }
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "unsupported_grant_type"})),
            )
                .into_response();
        }
    };
    let access = s.access_token(&user, CLIENT_ID);
    let mut id = user.clone();
    id["iss"] = json!(s.base);
    id["aud"] = json!(CLIENT_ID);
    id["iat"] = json!(now);
    id["exp"] = json!(now + 300);
    id["at_hash"] = json!(at_hash(&access));
    if let Some(n) = nonce {
        id["nonce"] = json!(n);
    }
    let mut reply = json!({
        "access_token": access, "token_type": "Bearer",
        "id_token": s.sign(&id),
        "expires_in": s.expires_in.load(Ordering::SeqCst),
    });
    if s.issue_refresh.load(Ordering::SeqCst) {
        let rt = format!("rt-{}", s.next());
        s.refresh.lock().unwrap().insert(rt.clone(), user);
        reply["refresh_token"] = json!(rt);
    }
    Json(reply).into_response()
}
