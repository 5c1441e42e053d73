//! Encrypted cookie sessions: the outpost keeps no server-side state, so a second
//! replica reads any session the first one wrote.
//!
//! A value is `base64url(version | key id | nonce | AES-256-GCM(json))`. The cookie name
//! is bound as associated data, so a value cannot be moved to another cookie (another
//! route's, or a login-state cookie). Every failure to read — bad base64, truncation,
//! tampering, an unknown key — is the same [`SessionError::Invalid`]: fail closed, say
//! nothing an attacker could use, never panic.

use super::cookie::CookieSpec;
pub use super::session_error::SessionError;
use crate::config::SessionConfig;
use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::{constant_time, digest, hkdf};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 2 + NONCE_LEN;
/// Configured secrets shorter than this are refused: a cookie is an offline oracle.
pub const MIN_SECRET_LEN: usize = 16;
/// Lifetime of a per-login state cookie.
pub(crate) const STATE_LIFETIME_SECONDS: u64 = 600;
/// Largest sealed value read; bounds decoding work on hostile input.
const MAX_SEALED_LEN: usize = 64 * 1024;

struct RingKey {
    id: u8,
    key: RandomizedNonceKey,
}

/// AEAD keys: the first seals, all open (so a rotated-out key keeps old sessions valid
/// during the grace period).
pub struct KeyRing {
    keys: Vec<RingKey>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key ids only: never key material.
        let ids: Vec<u8> = self.keys.iter().map(|k| k.id).collect();
        f.debug_struct("KeyRing").field("key_ids", &ids).finish()
    }
}

impl KeyRing {
    /// A ring of raw 256-bit keys, newest first.
    pub fn new(keys: Vec<[u8; 32]>) -> Result<Self, SessionError> {
        if keys.is_empty() {
            return Err(SessionError::KeyConfig);
        }
        let keys = keys
            .iter()
            .map(|k| {
                let id = digest::digest(
                    &digest::SHA256,
                    &[b"portcullis key id\0".as_slice(), k].concat(),
                )
                .as_ref()[0];
                let key = RandomizedNonceKey::new(&AES_256_GCM, k)
                    .map_err(|_| SessionError::KeyConfig)?;
                Ok(RingKey { id, key })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { keys })
    }

    /// A ring from configured secrets of any length (at least [`MIN_SECRET_LEN`] bytes),
    /// newest first, each stretched to a key with HKDF-SHA256.
    pub fn from_secrets<S: AsRef<[u8]>>(secrets: &[S]) -> Result<Self, SessionError> {
        let keys = secrets
            .iter()
            .map(|s| derive_key(s.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(keys)
    }

    /// Encrypts `plaintext` bound to `context` (the cookie name); base64url output.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<String, SessionError> {
        let first = self.keys.first().ok_or(SessionError::KeyConfig)?;
        let mut buf = plaintext.to_vec();
        let nonce = first
            .key
            .seal_in_place_append_tag(Aad::from(aad(first.id, context)), &mut buf)
            .map_err(|_| SessionError::Seal)?;
        let mut out = Vec::with_capacity(HEADER_LEN + buf.len());
        out.extend_from_slice(&[VERSION, first.id]);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&buf);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// Decrypts a value sealed for `context`; every failure is [`SessionError::Invalid`].
    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, SessionError> {
        if sealed.len() > MAX_SEALED_LEN {
            return Err(SessionError::Invalid);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| SessionError::Invalid)?;
        if raw.len() < HEADER_LEN + TAG_LEN || raw[0] != VERSION {
            return Err(SessionError::Invalid);
        }
        let id = raw[1];
        for candidate in self.keys.iter().filter(|k| k.id == id) {
            let nonce = Nonce::try_assume_unique_for_key(&raw[2..HEADER_LEN])
                .map_err(|_| SessionError::Invalid)?;
            let mut buf = raw[HEADER_LEN..].to_vec();
            if let Ok(plain) =
                candidate
                    .key
                    .open_in_place(nonce, Aad::from(aad(id, context)), &mut buf)
            {
                return Ok(plain.to_vec());
            }
        }
        Err(SessionError::Invalid)
    }
}

/// Derives a 256-bit key from a configured secret (HKDF-SHA256, fixed salt and info, so
/// every replica derives the same key from the same secret).
pub(crate) fn derive_key(secret: &[u8]) -> Result<[u8; 32], SessionError> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(SessionError::KeyConfig);
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"portcullis cookie keys v1").extract(secret);
    let mut key = [0u8; 32];
    prk.expand(&[b"aes-256-gcm session"], hkdf::HKDF_SHA256)
        .and_then(|okm| okm.fill(&mut key))
        .map_err(|_| SessionError::KeyConfig)?;
    Ok(key)
}

/// Associated data: format version, key id and the cookie name.
fn aad(id: u8, context: &str) -> Vec<u8> {
    let mut a = b"portcullis session\0".to_vec();
    a.extend_from_slice(&[VERSION, id]);
    a.extend_from_slice(context.as_bytes());
    a
}

/// A session payload with its timestamps (unix seconds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session<T> {
    /// The application data (the identity, typically).
    #[serde(rename = "d")]
    pub data: T,
    /// When the session was created.
    #[serde(rename = "iat")]
    pub issued_at: u64,
    /// When the session was last refreshed by a request.
    #[serde(rename = "seen")]
    pub last_seen: u64,
    /// Absolute expiry.
    #[serde(rename = "exp")]
    pub expires_at: u64,
}

/// What a login carries from `/oauth2/start` to `/oauth2/callback`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginState {
    /// The `state` parameter sent to the IdP.
    pub state: String,
    /// The PKCE code verifier.
    pub pkce_verifier: String,
    /// The OIDC `nonce`.
    pub nonce: String,
    /// Where to send the browser afterwards (validated again on use).
    pub rd: String,
    /// The route id the login is for.
    pub route: String,
}

/// Reads and writes one route's sessions and login-state cookies.
#[derive(Debug)]
pub struct SessionManager {
    keys: Arc<KeyRing>,
    cookie: CookieSpec,
    lifetime: u64,
    idle_timeout: u64,
}

impl SessionManager {
    /// A manager for a route's session configuration; `https` is whether the route's
    /// external URL is https (which decides cookie prefixes and `Secure`).
    pub fn new(
        keys: Arc<KeyRing>,
        config: &SessionConfig,
        https: bool,
    ) -> Result<Self, SessionError> {
        let cookie = CookieSpec::new(&config.cookie_name, config.cookie_domain.as_deref(), https)?;
        Ok(Self {
            keys,
            cookie,
            lifetime: config.lifetime_seconds,
            idle_timeout: config.idle_timeout_seconds,
        })
    }

    /// The session cookie's spec.
    pub fn cookie(&self) -> &CookieSpec {
        &self.cookie
    }

    /// The key ring (for small companion cookies sealed like the session).
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// The key ring, shared (for work that outlives a request: a refresh task).
    pub(crate) fn key_ring(&self) -> Arc<KeyRing> {
        self.keys.clone()
    }

    /// A new session starting `now`.
    pub fn start<T>(&self, data: T, now: u64) -> Session<T> {
        Session {
            data,
            issued_at: now,
            last_seen: now,
            expires_at: now.saturating_add(self.lifetime),
        }
    }

    /// Reads the session from the request's `Cookie` headers and checks its lifetime and
    /// idle timeout at `now`.
    pub fn load<T: DeserializeOwned>(
        &self,
        cookie_headers: &[&str],
        now: u64,
    ) -> Result<Session<T>, SessionError> {
        let session = self.load_within_lifetime(cookie_headers, now)?;
        self.check_times(&session, now)?;
        Ok(session)
    }

    /// Reads the cookie and checks only its absolute expiry (for a cookie that holds a
    /// server-side session's id: the idle time is the server-side session's).
    pub(crate) fn load_within_lifetime<T: DeserializeOwned>(
        &self,
        cookie_headers: &[&str],
        now: u64,
    ) -> Result<Session<T>, SessionError> {
        let session: Session<T> = open_candidates(&self.keys, &self.cookie, cookie_headers)?;
        if now >= session.expires_at {
            return Err(SessionError::Expired);
        }
        Ok(session)
    }

    /// Checks a session's absolute lifetime and idle timeout at `now`.
    pub(crate) fn check_times<T>(
        &self,
        session: &Session<T>,
        now: u64,
    ) -> Result<(), SessionError> {
        if now >= session.expires_at {
            return Err(SessionError::Expired);
        }
        if self.idle_timeout > 0 && now.saturating_sub(session.last_seen) > self.idle_timeout {
            return Err(SessionError::Idle);
        }
        Ok(())
    }

    /// The configured absolute lifetime, in seconds.
    pub fn lifetime(&self) -> u64 {
        self.lifetime
    }

    /// Whether a loaded session should be re-written to move `last_seen` forward: only
    /// with an idle timeout, and at most every quarter of it, so most requests send no
    /// `Set-Cookie` (a user is thus logged out after 3/4 to 4/4 of the idle time).
    pub(crate) fn needs_touch<T>(&self, session: &Session<T>, now: u64) -> bool {
        self.idle_timeout > 0
            && now.saturating_sub(session.last_seen) >= (self.idle_timeout / 4).max(1)
    }

    /// `Set-Cookie` values storing `session` (chunked if needed; stale chunks named in
    /// `cookie_headers` are expired). `Max-Age` runs to the absolute expiry.
    pub fn store<T: Serialize>(
        &self,
        session: &Session<T>,
        cookie_headers: &[&str],
        now: u64,
    ) -> Result<Vec<String>, SessionError> {
        let max_age = session
            .expires_at
            .checked_sub(now)
            .filter(|s| *s > 0)
            .ok_or(SessionError::Expired)?;
        let json = serde_json::to_vec(session).map_err(|_| SessionError::Seal)?;
        let sealed = self.keys.seal(self.cookie.name(), &json)?;
        let present = self.cookie.find(cookie_headers).present;
        self.cookie.set_cookies(&sealed, max_age, &present)
    }

    /// `Set-Cookie` values expiring the session cookie and every chunk that was sent.
    pub fn clear(&self, cookie_headers: &[&str]) -> Vec<String> {
        self.cookie
            .clear_cookies(&self.cookie.find(cookie_headers).present)
    }

    /// The state cookie's spec: `<cookie>_csrf_<first 8 of state>`, so parallel logins
    /// in several tabs do not overwrite each other. `state` comes from the query string
    /// on the callback, so anything but an 8+ character token is [`SessionError::Invalid`].
    pub fn state_cookie(&self, state: &str) -> Result<CookieSpec, SessionError> {
        let prefix = state.get(..8).ok_or(SessionError::Invalid)?;
        if !prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(SessionError::Invalid);
        }
        self.cookie.derived(&format!("_csrf_{prefix}"))
    }

    /// The `Set-Cookie` value for a login's state, valid [`STATE_LIFETIME_SECONDS`].
    pub(crate) fn store_state(&self, login: &LoginState, now: u64) -> Result<String, SessionError> {
        let spec = self.state_cookie(&login.state)?;
        let envelope = Session {
            data: login,
            issued_at: now,
            last_seen: now,
            expires_at: now.saturating_add(STATE_LIFETIME_SECONDS),
        };
        let json = serde_json::to_vec(&envelope).map_err(|_| SessionError::Seal)?;
        let sealed = self.keys.seal(spec.name(), &json)?;
        let mut cookies = spec.set_cookies(&sealed, STATE_LIFETIME_SECONDS, &[])?;
        // A state that needs chunking is not one we wrote; refuse rather than split.
        if cookies.len() != 1 {
            return Err(SessionError::TooLarge);
        }
        Ok(cookies.remove(0))
    }

    /// Reads the login state for the callback's `state`; the stored state must equal it
    /// exactly (compared in constant time).
    pub fn load_state(
        &self,
        cookie_headers: &[&str],
        state: &str,
        now: u64,
    ) -> Result<LoginState, SessionError> {
        let spec = self.state_cookie(state)?;
        let envelope: Session<LoginState> = open_candidates(&self.keys, &spec, cookie_headers)?;
        if now >= envelope.expires_at {
            return Err(SessionError::Expired);
        }
        constant_time::verify_slices_are_equal(envelope.data.state.as_bytes(), state.as_bytes())
            .map_err(|_| SessionError::Invalid)?;
        Ok(envelope.data)
    }

    /// The `Set-Cookie` value expiring a login's state cookie.
    pub(crate) fn clear_state(&self, state: &str) -> Result<String, SessionError> {
        let spec = self.state_cookie(state)?;
        Ok(spec.clear_cookies(&[]).remove(0))
    }
}

/// Opens the one value of the cookie; two different values are refused, never tried in
/// turn (the identity would depend on which the browser sent first).
fn open_candidates<T: DeserializeOwned>(
    keys: &KeyRing,
    spec: &CookieSpec,
    cookie_headers: &[&str],
) -> Result<T, SessionError> {
    let found = spec.find(cookie_headers);
    if found.duplicated {
        return Err(SessionError::Duplicate);
    }
    let value = found.candidates.first().ok_or(SessionError::NoSession)?;
    let plain = keys.open(spec.name(), value)?;
    serde_json::from_slice(&plain).map_err(|_| SessionError::Invalid)
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
