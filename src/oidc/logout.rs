//! OpenID Connect Back-Channel Logout 1.0: what a logout token must and must not carry
//! (section 2.4), checked after its signature, issuer, audience and times
//! ([`super::Provider::verify_logout_token`]).

use super::OidcError;
use super::jwt::Claims;
use serde_json::Value;

/// The member of `events` that makes a JWT a back-channel logout token.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Which sessions a verified logout token ends, and what identifies the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutToken {
    /// The user whose sessions end (every one of them when `sid` is absent).
    pub sub: Option<String>,
    /// The IdP session whose RP sessions end.
    pub sid: Option<String>,
    /// The token's id, for refusing a replay while the token is fresh.
    pub jti: Option<String>,
    /// `iat`, the time the token was issued (Unix seconds).
    pub iat: i64,
    /// `exp`, when the IdP set one (Unix seconds).
    pub exp: Option<i64>,
}

/// A claim that must be a non-empty string when present.
fn optional_text(claims: &Claims, claim: &'static str) -> Result<Option<String>, OidcError> {
    match claims.get(claim) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(OidcError::InvalidClaim {
            claim,
            expected: "a non-empty string",
        }),
    }
}

/// The logout-token-only rules: `events` names the back-channel logout event (as a JSON
/// object), no `nonce` (so an ID token cannot be replayed as a logout token), and `sub`
/// or `sid` (or both) say whom to sign out.
pub(crate) fn check_logout_token(claims: &Claims) -> Result<LogoutToken, OidcError> {
    let events = claims
        .get("events")
        .ok_or(OidcError::MissingClaim("events"))?;
    if !events
        .as_object()
        .and_then(|e| e.get(BACKCHANNEL_LOGOUT_EVENT))
        .is_some_and(Value::is_object)
    {
        return Err(OidcError::InvalidClaim {
            claim: "events",
            expected: "an object with the member http://schemas.openid.net/event/backchannel-logout (itself an object)",
        });
    }
    if claims.contains_key("nonce") {
        return Err(OidcError::InvalidClaim {
            claim: "nonce",
            expected: "absent (a logout token must not carry a nonce; is this an ID token?)",
        });
    }
    let sub = optional_text(claims, "sub")?;
    let sid = optional_text(claims, "sid")?;
    if sub.is_none() && sid.is_none() {
        return Err(OidcError::MissingClaim("sub or sid"));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(OidcError::MissingClaim("iat"))?;
    Ok(LogoutToken {
        sub,
        sid,
        jti: optional_text(claims, "jti")?,
        iat,
        exp: claims.get("exp").and_then(Value::as_i64),
    })
}
