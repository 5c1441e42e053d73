//! `POST /oauth2/backchannel-logout`: OpenID Connect Back-Channel Logout 1.0. The IdP
//! posts a signed logout token (form field `logout_token`) when a user signs out there;
//! the token's `iss` picks the provider, its keys verify it, and every session of that
//! provider it names (by `sub`, by the IdP session `sid`, or both) ends in the Redis
//! stores of the provider's routes. The answer is what the specification asks: 200 with
//! an empty body (also when no session matched), or 400 with an OAuth-style JSON error.
//! The token itself is never logged.

use super::App;
use super::decision::Decided;
use super::request::{RequestId, now};
use super::state::{Loaded, RouteRuntime};
use super::store::logout::{LogoutTarget, end_matching, first_use};
use super::store::{SessionStore, distinct_redis};
use crate::oidc::{LogoutToken, OidcError, Provider, jwt};
use crate::reason::Reason;
use axum::Json;
use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Largest form body read; a logout token is a few KiB.
const MAX_BODY: usize = 64 * 1024;

/// How long a `jti` is remembered when the token has no `exp`: the clock skew a token's
/// `iat` may have plus the two minutes IdPs give logout tokens.
const JTI_MEMORY_WITHOUT_EXP: u64 = 300;

fn refused(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// The `logout_token` field of an `application/x-www-form-urlencoded` body.
fn logout_token(body: &[u8]) -> Result<String, &'static str> {
    let mut found = url::form_urlencoded::parse(body).filter(|(k, _)| k == "logout_token");
    match (found.next(), found.next()) {
        (Some((_, v)), None) if !v.is_empty() => Ok(v.into_owned()),
        (Some(_), Some(_)) => Err("logout_token is given more than once; send it once"),
        _ => Err(
            "the form field logout_token is missing; POST application/x-www-form-urlencoded with logout_token=<JWT>",
        ),
    }
}

/// The ready providers whose issuer is the token's `iss` (read before verification only
/// to choose whose keys verify it).
fn providers_for(loaded: &Loaded, token: &str) -> Result<Vec<(String, Arc<Provider>)>, String> {
    let parsed = jwt::parse(token).map_err(|e| e.to_string())?;
    let iss = parsed
        .claims
        .get("iss")
        .and_then(serde_json::Value::as_str)
        .ok_or("the logout token has no string iss claim")?;
    let found: Vec<_> = loaded
        .providers
        .values()
        .filter_map(|slot| Some((slot.key.clone(), slot.get()?.clone())))
        .filter(|(_, p)| p.discovery().issuer == iss)
        .collect();
    if found.is_empty() {
        return Err(format!(
            "the logout token's issuer {iss:?} is not the issuer of any configured (and discovered) provider"
        ));
    }
    Ok(found)
}

/// The token verified by the first provider (of those with its issuer) that accepts it.
async fn verify(
    candidates: &[(String, Arc<Provider>)],
    token: &str,
) -> Result<(String, LogoutToken), OidcError> {
    let mut last = None;
    for (key, provider) in candidates {
        match provider.verify_logout_token(token).await {
            Ok(t) => return Ok((key.clone(), t)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or(OidcError::MalformedToken("no provider")))
}

/// The routes of provider `key`.
fn routes_of<'a>(loaded: &'a Loaded, key: &'a str) -> impl Iterator<Item = &'a RouteRuntime> {
    loaded
        .routes
        .iter()
        .filter(move |r| r.config.provider == key)
}

/// The 400 for a logout request that cannot be honoured, and its log line.
fn bad(id: &RequestId, description: &str, code: Reason) -> Decided {
    tracing::warn!(request_id = %id, reason = %code, error = %description, "back-channel logout refused");
    let r = refused(StatusCode::BAD_REQUEST, "invalid_request", description);
    Decided::bad_request(None, code, r)
}

/// `POST /oauth2/backchannel-logout`.
pub async fn backchannel_logout(
    State(app): State<Arc<App>>,
    id: RequestId,
    req: Request,
) -> Result<Decided, Decided> {
    let invalid = |description: &str| bad(&id, description, Reason::LogoutTokenInvalid);
    let body = (to_bytes(req.into_body(), MAX_BODY).await)
        .map_err(|_| invalid("the request body is unreadable or larger than 64 KiB"))?;
    let token = logout_token(&body).map_err(invalid)?;
    let loaded = app.loaded();
    let candidates = providers_for(&loaded, &token).map_err(|d| invalid(&d))?;
    let (key, logout) = verify(&candidates, &token)
        .await
        .map_err(|e| invalid(&format!("logout token refused ({}): {e}", e.reason())))?;
    let stores = distinct_redis(routes_of(&loaded, &key).map(|r| &r.store));
    let Some(route) = routes_of(&loaded, &key).find(|r| !r.store.is_cookie()) else {
        let description = format!(
            "no route of provider {key:?} keeps sessions in Redis: cookie sessions cannot be ended from the server (set session.store.redis on its routes, or do not register a backchannel_logout_uri)"
        );
        tracing::warn!(request_id = %id, provider = %key, reason = %Reason::BackchannelLogoutUnsupported, "back-channel logout for cookie-only sessions");
        let r = refused(StatusCode::NOT_IMPLEMENTED, "invalid_request", &description);
        return Err(Decided::bad_request(
            None,
            Reason::BackchannelLogoutUnsupported,
            r,
        ));
    };
    let now = now();
    if let (Some(jti), SessionStore::Redis(first)) = (&logout.jti, &route.store) {
        let fresh_for = logout
            .exp
            .map_or(JTI_MEMORY_WITHOUT_EXP, |exp| {
                u64::try_from(exp).unwrap_or(0).saturating_sub(now)
            })
            .saturating_add(route.provider.config.clock_skew_seconds);
        let fresh_for = Duration::from_secs(fresh_for.max(1));
        let first_time = (first_use(first, &key, jti, fresh_for).await)
            .map_err(|e| unavailable(&id, &e.to_string()))?;
        if !first_time {
            let replayed = "this logout token (jti) was already used";
            return Err(bad(&id, replayed, Reason::LogoutTokenReplayed));
        }
    }
    let target = LogoutTarget {
        provider: &key,
        sub: logout.sub.as_deref(),
        sid: logout.sid.as_deref(),
    };
    let mut count = 0;
    for store in stores {
        let ended = (end_matching(&store, route.sessions.keys(), target, now).await)
            .map_err(|e| unavailable(&id, &e.to_string()))?;
        for e in ended {
            count += 1;
            tracing::info!(
                audit = "session_ended",
                request_id = %id,
                provider = %key,
                user = %e.user,
                by = "backchannel_logout",
                "session ended by the identity provider"
            );
        }
    }
    tracing::info!(request_id = %id, provider = %key, sessions = count, by_sid = logout.sid.is_some(), "back-channel logout");
    let r = StatusCode::OK.into_response();
    Ok(Decided::signed_out(None, Reason::BackchannelLogout, r))
}

/// 503: the store did not answer, so nothing is known to be ended; the IdP may retry.
fn unavailable(id: &RequestId, error: &str) -> Decided {
    tracing::warn!(request_id = %id, reason = %Reason::SessionStoreUnavailable, error = %error, "back-channel logout could not reach the session store");
    let r = refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "the session store did not answer; no session was ended",
    );
    Decided::error(None, Reason::SessionStoreUnavailable, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_field_is_read_once_and_exactly() {
        assert_eq!(logout_token(b"logout_token=a.b.c").unwrap(), "a.b.c");
        assert_eq!(
            logout_token(b"x=1&logout_token=a%2Eb.c").unwrap(),
            "a.b.c",
            "form-decoded"
        );
        for bad in [
            &b""[..],
            b"logout_token=",
            b"token=a.b.c",
            b"logout_token=a&logout_token=b",
        ] {
            assert!(logout_token(bad).is_err(), "{bad:?}");
        }
        assert!(
            logout_token(b"logout_token=a&logout_token=b")
                .unwrap_err()
                .contains("more than once")
        );
    }
}
