//! `/oauth2/sign_out`, `/oauth2/userinfo` and `/.well-known/jwks.json`.

use super::App;
use super::decision::Decided;
use super::extract::{HostRoute, LoginTarget};
use super::handlers::{page, redirect};
use super::loader::load_session;
use super::login::{absolute_rd, log_refused_rd, validated_rd};
use super::request::{RequestId, SessionData, cookie_headers, now};
use super::sign_out_hint;
use super::state::RouteRuntime;
use crate::reason::Reason;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

/// `/oauth2/sign_out?rd=`: clears the session cookies; RP-initiated logout at the IdP
/// when discovery offers an `end_session_endpoint`, else straight to the validated `rd`.
/// On another host than the external URL, it clears what it can and moves there.
pub async fn sign_out(
    id: RequestId,
    target: LoginTarget,
    req: Request,
) -> Result<Decided, Decided> {
    let (parts, _) = req.into_parts();
    let (route, host, rd) = (target.route(), target.host.as_str(), target.rd.as_str());
    let rd = absolute_rd(route, host, rd);
    let (target, refused) = validated_rd(route, &rd);
    if let Some(label) = refused {
        log_refused_rd(&id, route, label);
    }
    let cookies = cookie_headers(&parts.headers);
    if host != route.authority {
        // The session cookie lives at the external URL (or its domain): sign out there.
        let rd: String = url::form_urlencoded::byte_serialize(target.as_str().as_bytes()).collect();
        let location = format!("{}?rd={rd}", route.url("/oauth2/sign_out"));
        let r = redirect(&location, &route.sessions.clear(&cookies));
        return Ok(Decided::redirect(route, Reason::ExternalUrl, r));
    }
    let now = now();
    let mut clear = route.sessions.clear(&cookies);
    clear.extend(sign_out_hint::clear(&route.sessions, &cookies));
    clear.extend(super::login_loop::clear(route));
    // Redis mode: the session ends on the server, so a copy of the cookie is refused
    // from now on. If that cannot be done, the user is told, not shown a sign-out that
    // did not happen.
    let ended = (route.store.end(route.scope(), &parts.headers, now).await)
        .map_err(|code| not_ended(&id, route, code).with_cookies(&clear))?;
    if let Some(ended) = &ended {
        tracing::info!(
            audit = "session_ended",
            request_id = %id,
            route = %route.config.id,
            user = %ended.session.data.identity.username,
            by = "sign_out",
            "session ended on the server"
        );
    }
    // The session's own ID token (server-side, or a cookie from before the hint cookie
    // existed), else the hint cookie of this session's subject.
    let session = match ended {
        Some(s) => Some(s.session.data),
        None => route
            .sessions
            .load::<SessionData>(&cookies, now)
            .ok()
            .filter(|s| s.data.provider == route.config.provider)
            .map(|s| s.data),
    };
    let id_token = match session {
        Some(SessionData {
            id_token: Some(t), ..
        }) => Some(t),
        other => {
            let sub = other.as_ref().map(|s| s.identity.sub.as_str());
            sign_out_hint::load(&route.sessions, &cookies, &route.config.provider, sub, now)
        }
    };
    let location = route
        .provider
        .get()
        .and_then(|p| p.end_session_url(id_token.as_deref(), Some(target.as_str())))
        .map_or_else(|| target.to_string(), |u| u.to_string());
    Ok(Decided::signed_out(
        route,
        Reason::SignedOut,
        redirect(&location, &clear),
    ))
}

/// The page for a sign-out whose session the store could not end.
fn not_ended(id: &RequestId, route: &RouteRuntime, code: Reason) -> Decided {
    tracing::warn!(request_id = %id, route = %route.config.id, reason = %code, "sign-out could not end the session in the session store");
    let r = page(
        StatusCode::SERVICE_UNAVAILABLE,
        code,
        "the session store did not answer, so your session could not be ended on the server; the cookie was removed from this browser, try signing out again in a moment",
        "",
        id,
        Some(route),
    );
    Decided::error(route, code, r)
}

/// `/oauth2/userinfo`: the session's identity as JSON; 401 without a session.
pub async fn userinfo(target: HostRoute, req: Request) -> Decided {
    let (parts, _) = req.into_parts();
    let route = target.route();
    let session = load_session(route, &parts.headers, now())
        .await
        .map(|s| s.session);
    match session {
        Ok(s) => {
            let i = &s.data.identity;
            let body = json!({
                "user": i.username,
                "email": i.email,
                "preferredUsername": i.claim_text("preferred_username"),
                "name": i.name,
                "groups": i.groups,
                "sub": i.sub,
            });
            let r = Json(body).into_response();
            Decided::allow(route, Reason::Authenticated, r).by(i.username.as_str())
        }
        Err(code) => {
            let mut r = Json(json!({"error": code})).into_response();
            if code == Reason::SessionStoreUnavailable {
                *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                Decided::error(route, code, r)
            } else {
                *r.status_mut() = StatusCode::UNAUTHORIZED;
                Decided::unauthenticated(route, code, r)
            }
        }
    }
}

/// `/.well-known/jwks.json`: the identity-JWT public key.
pub async fn jwks(State(app): State<Arc<App>>) -> Response {
    let mut r = Json(app.signer.jwks()).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}
