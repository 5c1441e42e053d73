//! `/oauth2/sign_out`, `/oauth2/userinfo` and `/.well-known/jwks.json`.

use super::App;
use super::decision::Ctx;
use super::extract::{HostRoute, LoginTarget};
use super::handlers::{page, redirect};
use super::loader::load_session;
use super::login::{absolute_rd, log_refused_rd, validated_rd};
use super::request::{SessionData, cookie_headers, now};
use super::sign_out_hint;
use crate::reason::{Outcome, Reason};
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

/// `/oauth2/sign_out?rd=`: clears the session cookies; RP-initiated logout at the IdP
/// when discovery offers an `end_session_endpoint`, else straight to the validated `rd`.
/// On another host than the external URL, it clears what it can and moves there.
pub async fn sign_out(ctx: Ctx, target: LoginTarget, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let (route, host, rd) = (target.route(), target.host.as_str(), target.rd.as_str());
    let rd = absolute_rd(route, host, rd);
    let (target, refused) = validated_rd(route, &rd);
    if let Some(label) = refused {
        log_refused_rd(&ctx, route, label);
    }
    let cookies = cookie_headers(&parts.headers);
    if host != route.authority {
        // The session cookie lives at the external URL (or its domain): sign out there.
        let rd: String = url::form_urlencoded::byte_serialize(target.as_str().as_bytes()).collect();
        let location = format!("{}?rd={rd}", route.url("/oauth2/sign_out"));
        let r = redirect(&location, &route.sessions.clear(&cookies));
        return ctx.finish(
            Some(&route.config.id),
            Outcome::Redirect,
            Reason::ExternalUrl,
            "",
            r,
        );
    }
    let now = now();
    let mut clear = route.sessions.clear(&cookies);
    clear.extend(sign_out_hint::clear(&route.sessions, &cookies));
    clear.extend(super::login_loop::clear(route));
    // Redis mode: the session ends on the server, so a copy of the cookie is refused
    // from now on. If that cannot be done, the user is told, not shown a sign-out that
    // did not happen.
    let ended = match route.store.end(route.scope(), &parts.headers, now).await {
        Ok(ended) => ended,
        Err(code) => {
            tracing::warn!(request_id = %ctx.request_id, route = %route.config.id, reason = %code, "sign-out could not end the session in the session store");
            let r = page(
                StatusCode::SERVICE_UNAVAILABLE,
                code,
                "the session store did not answer, so your session could not be ended on the server; the cookie was removed from this browser, try signing out again in a moment",
                "",
                &ctx.request_id,
                Some(route),
            );
            let r = with_cookies(r, &clear);
            return ctx.finish(Some(&route.config.id), Outcome::Error, code, "", r);
        }
    };
    if let Some(ended) = &ended {
        tracing::info!(
            audit = "session_ended",
            request_id = %ctx.request_id,
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
    let r = redirect(&location, &clear);
    ctx.finish(
        Some(&route.config.id),
        Outcome::SignOut,
        Reason::SignedOut,
        "",
        r,
    )
}

/// `/oauth2/userinfo`: the session's identity as JSON; 401 without a session.
pub async fn userinfo(ctx: Ctx, target: HostRoute, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let route = target.route();
    let id = Some(route.config.id.as_str());
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
            let user = i.username.clone();
            ctx.finish(
                id,
                Outcome::Allow,
                Reason::Authenticated,
                &user,
                Json(body).into_response(),
            )
        }
        Err(code) => {
            let mut r = Json(json!({"error": code})).into_response();
            let unavailable = code == Reason::SessionStoreUnavailable;
            *r.status_mut() = if unavailable {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::UNAUTHORIZED
            };
            let outcome = if unavailable {
                Outcome::Error
            } else {
                Outcome::Unauthenticated
            };
            ctx.finish(id, outcome, code, "", r)
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

/// Appends `Set-Cookie` headers to a response.
fn with_cookies(mut r: Response, cookies: &[String]) -> Response {
    for c in cookies {
        r.headers_mut()
            .append(header::SET_COOKIE, super::request::header_value(c));
    }
    r
}
