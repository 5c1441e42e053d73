//! Fixtures shared by the criterion benches and the load-test stub IdP
//! (`scripts/bench/stub_idp.rs`): the IdP's keys and tokens (from `portcullis::testkit`,
//! the one place test keys and hand-built JWS come from), and a session cookie sealed
//! exactly as the outpost seals one.

#![allow(dead_code)] // Each user (bench, example) needs a different subset.

use portcullis::config::SessionConfig;
use portcullis::oidc::Identity;
use portcullis::outpost::server::request::SessionData;
use portcullis::outpost::session::{KeyRing, SessionManager};
use portcullis::testkit::TestKey;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Key id of the RSA key in the JWKS.
pub const RS_KID: &str = "bench-rs256";
/// Key id of the P-256 key in the JWKS.
pub const ES_KID: &str = "bench-es256";
/// The OAuth client id the tokens are issued to.
pub const CLIENT_ID: &str = "bench-client";

/// One RSA-2048 and one P-256 signing key.
pub struct Keys {
    rsa: TestKey,
    ec: TestKey,
}

impl Keys {
    /// Fresh keys (RSA generation takes a moment).
    pub fn generate() -> Self {
        Self {
            rsa: TestKey::rsa(),
            ec: TestKey::ec256(),
        }
    }

    /// The public JWK set, as an IdP serves it at `jwks_uri`.
    pub fn jwks(&self) -> Value {
        let mut ec = self.ec.jwk(ES_KID, Some("ES256"));
        ec["use"] = json!("sig");
        json!({"keys": [self.rsa.jwk(RS_KID, Some("RS256")), ec]})
    }

    /// `claims` signed with RS256.
    pub fn sign_rs256(&self, claims: &Value) -> String {
        self.rsa.jwt("RS256", RS_KID, claims)
    }

    /// `claims` signed with ES256.
    pub fn sign_es256(&self, claims: &Value) -> String {
        self.ec.jwt("ES256", ES_KID, claims)
    }
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

/// What the session cookie holds after a login: the identity. The ID token (for
/// `id_token_hint`) is no longer in it but in the sign-out hint cookie, which browsers
/// send to `/oauth2/sign_out` only.
pub fn session_data(provider: &str) -> SessionData {
    SessionData {
        provider: provider.to_string(),
        identity: identity(),
        token_expires_at: None,
        tokens_obtained_at: None,
        refresh_token: None,
        access_token: None,
        id_token: None,
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
