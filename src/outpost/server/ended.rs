//! Answers for a session that just ended because of its IdP (a refused refresh, an
//! outage past the grace): the cookie is cleared and the page says why, on the auth
//! endpoints of proxies that show our response and on `/oauth2/start`, where nginx
//! sends the browser after our 401.

use super::App;
use super::handlers::{Ctx, page, redirect, text};
use super::renewal::{Ended, Renewed, renew};
use super::request::{header_value, now};
use super::state::RouteRuntime;
use crate::outpost::reason;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::Response;

/// The page's status: 503 while the IdP is unreachable (with `Retry-After`), else 401.
pub fn status_for(reason: &str) -> StatusCode {
    if reason == reason::REFRESH_GRACE_EXPIRED {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::UNAUTHORIZED
    }
}

/// The page naming why the session ended, with `Set-Cookie`s that clear it.
pub fn ended_page(
    ended: &Ended,
    user: &str,
    request_id: &str,
    route: &RouteRuntime,
    clear_cookies: &[String],
) -> Response {
    let status = status_for(ended.reason);
    let mut r = page(
        status,
        ended.reason,
        &ended.detail,
        user,
        request_id,
        Some(route),
    );
    with_cookies(&mut r, clear_cookies);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut()
            .insert(header::RETRY_AFTER, header_value("30"));
    }
    r
}

/// The short 401 for nginx and API clients: no page (nginx cannot pass one), the
/// cookie cleared.
pub fn ended_text(clear_cookies: &[String]) -> Response {
    let mut r = text(
        StatusCode::UNAUTHORIZED,
        "the session ended; sign in again\n",
    );
    with_cookies(&mut r, clear_cookies);
    r
}

fn with_cookies(r: &mut Response, cookies: &[String]) {
    for c in cookies {
        r.headers_mut().append(header::SET_COOKIE, header_value(c));
    }
}

/// At `/oauth2/start`: a session whose tokens need renewal is renewed first. Refused or
/// past the grace, the page says so (another login at a refusing or absent IdP would
/// not help, or would only loop); renewed, the browser goes straight back to `target`
/// with the new session. Else `None`: the login goes ahead.
pub async fn renew_at_start(
    app: &App,
    ctx: &Ctx,
    route: &RouteRuntime,
    parts: &Parts,
    target: &str,
) -> Option<Response> {
    let now = now();
    let mut session = super::auth::load_session(route, &parts.headers, now).ok()?;
    let id = Some(route.config.id.as_str());
    let user = session.data.identity.username.clone();
    let cookies = super::request::cookie_headers(&parts.headers);
    match renew(app, route, &mut session, now).await {
        Ok(Renewed::Refreshed) => {
            session.last_seen = now;
            let set = super::auth::store(route, &session, &parts.headers, now);
            if set.is_empty() {
                return None;
            }
            let r = redirect(target, &set);
            Some(ctx.finish(app, id, "redirect", "session_refreshed", &user, r))
        }
        Ok(_) => None,
        // An expired session without a refresh token is the ordinary case: sign in.
        Err(ended) if ended.reason == reason::SESSION_EXPIRED => None,
        Err(ended) => {
            let clear = route.sessions.clear(&cookies);
            let r = ended_page(&ended, &user, &ctx.request_id, route, &clear);
            Some(ctx.finish(app, id, "unauthenticated", ended.reason, &user, r))
        }
    }
}
