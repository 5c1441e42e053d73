//! The ID token kept for `id_token_hint` at sign-out, in its own sealed cookie instead
//! of the session cookie.
//!
//! The ID token is three quarters of a cookie-mode session, yet only sign-out uses it.
//! In the session cookie it travelled with every app request and was opened on every
//! auth subrequest (base64, AES-GCM, JSON). Here it lives in `<session cookie>_idt`:
//! sealed with the same key ring (its own name as the AEAD context, so neither cookie
//! can pass for the other), the same `Domain`, `Secure`, `HttpOnly` and `SameSite`, the
//! session's `Max-Age`, and `Path=/oauth2/sign_out`, so browsers send it to sign-out
//! and nowhere else. A Redis session keeps the ID token server-side and writes no hint.
//!
//! A refresh leaves the hint as it was: RP-Initiated Logout 1.0 §2 has the OP accept
//! a previously issued ID token as the hint even when it has expired (npm
//! `oidc-provider` validates it with `ignoreExpiration`).

use crate::outpost::cookie::CookieSpec;
use crate::outpost::session::{Session, SessionManager};
use crate::outpost::session_error::SessionError;
use serde::{Deserialize, Serialize};

/// Appended to the session cookie's name.
const SUFFIX: &str = "_idt";
/// The only path the browser sends the hint to.
pub(crate) const SIGN_OUT_PATH: &str = "/oauth2/sign_out";

/// What the hint cookie holds.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Hint {
    /// The provider key of the login (a route of another provider ignores the hint).
    #[serde(rename = "p")]
    provider: String,
    /// The ID token's subject: the hint is used with a session only when they agree.
    #[serde(rename = "s")]
    sub: String,
    /// The ID token.
    #[serde(rename = "h")]
    id_token: String,
}

/// The hint cookie's spec for a route's session cookie.
fn spec(sessions: &SessionManager) -> Result<CookieSpec, SessionError> {
    sessions.cookie().companion(SUFFIX, SIGN_OUT_PATH)
}

/// `Set-Cookie` values storing the ID token until the session's absolute expiry.
pub fn store<T>(
    sessions: &SessionManager,
    session: &Session<T>,
    provider: &str,
    sub: &str,
    id_token: &str,
    now: u64,
) -> Result<Vec<String>, SessionError> {
    let spec = spec(sessions)?;
    let max_age = session
        .expires_at
        .checked_sub(now)
        .filter(|s| *s > 0)
        .ok_or(SessionError::Expired)?;
    let envelope = Session {
        data: Hint {
            provider: provider.to_string(),
            sub: sub.to_string(),
            id_token: id_token.to_string(),
        },
        issued_at: now,
        last_seen: now,
        expires_at: session.expires_at,
    };
    let json = serde_json::to_vec(&envelope).map_err(|_| SessionError::Seal)?;
    let sealed = sessions.keys().seal(spec.name(), &json)?;
    spec.set_cookies(&sealed, max_age, &[])
}

/// The ID token for `id_token_hint`, when the request carries a hint of this provider
/// that opens, has not expired and, when the session is known (`session_sub`), is for
/// the same subject. Without a session (already cleared on another host, idle) the
/// hint still lets the IdP end its own session without asking whom.
pub fn load(
    sessions: &SessionManager,
    cookie_headers: &[&str],
    provider: &str,
    session_sub: Option<&str>,
    now: u64,
) -> Option<String> {
    let spec = spec(sessions).ok()?;
    let found = spec.find(cookie_headers);
    if found.duplicated {
        return None;
    }
    let plain = sessions
        .keys()
        .open(spec.name(), found.candidates.first()?)
        .ok()?;
    let envelope: Session<Hint> = serde_json::from_slice(&plain).ok()?;
    let hint = envelope.data;
    (now < envelope.expires_at
        && hint.provider == provider
        && session_sub.is_none_or(|s| s == hint.sub))
    .then_some(hint.id_token)
}

/// `Set-Cookie` values expiring the hint cookie and every chunk of it that was sent.
pub fn clear(sessions: &SessionManager, cookie_headers: &[&str]) -> Vec<String> {
    spec(sessions)
        .map(|spec| spec.clear_cookies(&spec.find(cookie_headers).present))
        .unwrap_or_default()
}

#[cfg(test)]
#[path = "sign_out_hint_tests.rs"]
mod tests;
