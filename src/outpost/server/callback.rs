//! `/oauth2/callback`: checks the login state, exchanges the code, verifies the ID
//! token, applies the policy, starts a fresh session and sends the browser back, or
//! ends on a page that says why (never a loop: see [`super::login_loop`]).

use super::App;
use super::auth::{Verdict, authorize, store};
use super::handlers::{Ctx, original, page, query_param, redirect, text};
use super::login::{rate_limited, validated_rd};
use super::login_loop::{self, Completed, loop_page};
use super::request::{SessionData, cookie_headers, now};
use super::session_budget::{
    fits, head_bytes, narrow_forwarded_groups, too_large_page, trim_groups,
};
use super::state::RouteRuntime;
use super::store::StoredSession;
use crate::outpost::session::{LoginState, SessionError};
use crate::reason::{Outcome, Reason};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use std::sync::Arc;

/// Text an IdP sent back (`error`, `error_description`), made safe to show: printable
/// ASCII only, bounded.
fn idp_text(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(200)
        .collect()
}

/// The `User-Agent`, printable ASCII only and bounded (it is shown on a page later).
fn device_of(headers: &axum::http::HeaderMap) -> Option<String> {
    let ua = headers.get(axum::http::header::USER_AGENT)?.to_str().ok()?;
    let clean: String = ua
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(200)
        .collect();
    (!clean.is_empty()).then_some(clean)
}

/// The login state for the callback's `state` among the routes on this host, or why
/// there is none: `missing` (no state cookie for this attempt: not stored or blocked),
/// `expired`, `for_another_attempt` (a state cookie of another login is present: an old
/// tab or a repeated callback), `no_state_parameter`.
fn find_login<'a>(
    loaded: &'a super::state::Loaded,
    host: &str,
    parts: &Parts,
    state: &str,
    now: u64,
) -> Result<(&'a RouteRuntime, LoginState), &'static str> {
    if state.is_empty() {
        return Err("no_state_parameter");
    }
    let cookies = cookie_headers(&parts.headers);
    let mut why = "missing";
    for r in loaded.routes.iter().filter(|r| r.serves_host(host)) {
        match r.sessions.load_state(&cookies, state, now) {
            Ok(login) => {
                if let Some(route) = loaded
                    .route_by_id(&login.route)
                    .filter(|r| r.serves_host(host))
                {
                    return Ok((route, login));
                }
            }
            Err(SessionError::Expired) => why = "expired",
            Err(_) => {}
        }
    }
    let other_attempt = cookies
        .iter()
        .flat_map(|h| h.split(';'))
        .any(|pair| pair.contains("_csrf_"));
    Err(if why == "missing" && other_attempt {
        "for_another_attempt"
    } else {
        why
    })
}

/// The page and log line for a callback without a usable login state.
fn state_invalid(ctx: &Ctx, cause: &'static str) -> Response {
    tracing::info!(
        request_id = %ctx.request_id,
        reason = %Reason::StateInvalid,
        state_cookie = cause,
        "no usable sign-in state for this callback"
    );
    let rule = match cause {
        "expired" => "the sign-in took longer than 10 minutes; start again",
        "for_another_attempt" => {
            "this callback belongs to another sign-in attempt (an older tab, or the back button); start again"
        }
        "no_state_parameter" => "the identity provider sent no state parameter",
        _ => {
            "the sign-in state cookie was not sent back; if this repeats, the browser is not storing it (check the cookie domain and that the site is served over https)"
        }
    };
    let r = page(
        StatusCode::BAD_REQUEST,
        Reason::StateInvalid,
        rule,
        "",
        &ctx.request_id,
        None,
    );
    ctx.finish(None, Outcome::BadRequest, Reason::StateInvalid, "", r)
}

/// `/oauth2/callback`.
pub async fn callback(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let ctx = Ctx::new(&parts);
    let rid = ctx.request_id.clone();
    let host = match original(&app, &parts, None) {
        Ok(o) => o.host,
        Err(reason) => {
            let r = text(StatusCode::BAD_REQUEST, "malformed request headers\n");
            return ctx.finish(None, Outcome::BadRequest, reason, "", r);
        }
    };
    let now = now();
    let loaded = app.loaded();
    let state = query_param(&parts, "state").unwrap_or_default();
    let found = find_login(&loaded, &host, &parts, &state, now);
    let (route, login) = match found {
        Ok(found) => found,
        Err(cause) => return state_invalid(&ctx, cause),
    };
    if let Some(r) = rate_limited(&app, &ctx, route, &parts) {
        return r;
    }
    let id = Some(route.config.id.as_str());
    let mut cookies: Vec<String> = route.sessions.clear_state(&state).into_iter().collect();
    let fail = |status: StatusCode, code: Reason, rule: &str, cookies: &[String]| {
        with_cookies(page(status, code, rule, "", &rid, Some(route)), cookies)
    };
    if let Some(error) = query_param(&parts, "error") {
        let description = query_param(&parts, "error_description").unwrap_or_default();
        let rule = format!(
            "the identity provider refused the sign-in: {} {}",
            idp_text(&error),
            idp_text(&description)
        );
        tracing::warn!(
            request_id = %rid,
            route = %route.config.id,
            reason = %Reason::IdpError,
            error = %idp_text(&error),
            error_description = %idp_text(&description),
            "the identity provider refused the sign-in"
        );
        let r = fail(
            StatusCode::FORBIDDEN,
            Reason::IdpError,
            rule.trim(),
            &cookies,
        );
        return ctx.finish(id, Outcome::Denied, Reason::IdpError, "", r);
    }
    let Some(provider) = route.provider.get() else {
        let r = fail(
            StatusCode::SERVICE_UNAVAILABLE,
            Reason::ProviderNotReady,
            "the identity provider has not been reached yet",
            &cookies,
        );
        return ctx.finish(id, Outcome::Error, Reason::ProviderNotReady, "", r);
    };
    if let Err(e) = provider.check_authorization_response_iss(query_param(&parts, "iss").as_deref())
    {
        let r = fail(StatusCode::FORBIDDEN, e.reason(), &e.to_string(), &cookies);
        return ctx.finish(id, Outcome::Denied, e.reason(), "", r);
    }
    let Some(code) = query_param(&parts, "code").filter(|c| !c.is_empty()) else {
        let r = fail(
            StatusCode::BAD_REQUEST,
            Reason::MissingCode,
            "the identity provider sent no authorization code",
            &cookies,
        );
        return ctx.finish(id, Outcome::BadRequest, Reason::MissingCode, "", r);
    };
    let tokens = match provider
        .exchange_code(&code, &route.config.redirect_uri, &login.pkce_verifier)
        .await
    {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(request_id = %rid, route = %route.config.id, reason = %e.reason(), error = %e, "code exchange failed");
            let r = fail(
                StatusCode::BAD_GATEWAY,
                e.reason(),
                &e.to_string(),
                &cookies,
            );
            return ctx.finish(id, Outcome::Error, e.reason(), "", r);
        }
    };
    let Some(id_token) = tokens.id_token.as_deref() else {
        let rule = "the token response has no id_token; request the openid scope";
        let r = fail(
            StatusCode::BAD_GATEWAY,
            Reason::MissingIdToken,
            rule,
            &cookies,
        );
        return ctx.finish(id, Outcome::Error, Reason::MissingIdToken, "", r);
    };
    let claims = match provider
        .verify_id_token(id_token, &login.nonce, Some(&tokens.access_token))
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(request_id = %rid, route = %route.config.id, reason = %e.reason(), error = %e, "ID token refused");
            let r = fail(StatusCode::FORBIDDEN, e.reason(), &e.to_string(), &cookies);
            return ctx.finish(id, Outcome::Denied, e.reason(), "", r);
        }
    };
    let mut identity = provider.identity(&claims, &route.keep_claims);
    trim_groups(&mut identity, &route.config);
    let id_exp = claims.get("exp").and_then(serde_json::Value::as_u64);
    let data = SessionData {
        provider: route.config.provider.clone(),
        token_expires_at: tokens.expires_in.map(|s| now.saturating_add(s)).or(id_exp),
        tokens_obtained_at: Some(now),
        refresh_token: tokens.refresh_token.clone(),
        access_token: route
            .config
            .headers
            .access_token
            .is_some()
            .then(|| tokens.access_token.clone()),
        id_token: provider
            .discovery()
            .end_session_endpoint
            .is_some()
            .then(|| id_token.to_string()),
        // Only a server-side session can be found and ended by a back-channel logout.
        idp_session: claims
            .get("sid")
            .and_then(serde_json::Value::as_str)
            .filter(|_| !route.store.is_cookie())
            .map(str::to_string),
        // What the user's sessions page shows to tell sessions apart (Redis mode only).
        device: (!route.store.is_cookie())
            .then(|| device_of(&parts.headers))
            .flatten(),
        client_ip: (!route.store.is_cookie()).then(|| {
            super::decision::client_ip(&app, &parts, super::handlers::peer_ip(&parts)).to_string()
        }),
        identity,
    };
    let user = data.identity.username.clone();
    // Always a new session value: nothing from before the login survives it (in Redis
    // mode the session the browser had before is ended, not left behind).
    if let Err(code) = route.store.end(route.scope(), &parts.headers, now).await {
        tracing::warn!(request_id = %rid, route = %route.config.id, reason = %code, "the previous session could not be ended");
    }
    let mut stored = StoredSession::new(route.sessions.start(data, now));
    let mut written = match store(route, &mut stored, &parts.headers, now).await {
        Ok(w) => w,
        Err(code) => {
            let r = fail(
                StatusCode::SERVICE_UNAVAILABLE,
                code,
                "the session could not be saved: the session store did not answer; sign in again in a moment",
                &cookies,
            );
            return ctx.finish(id, Outcome::Error, code, &user, r);
        }
    };
    let (target, _) = validated_rd(route, &login.rd);
    let with_state = |w: &[String]| [w, &cookies[..]].concat();
    // The ID token only serves as id_token_hint at sign-out: the first thing to go
    // when the answer would not fit the proxy's buffer (a Redis session's cookie holds
    // only its id, so there is nothing to trim there).
    if route.store.is_cookie()
        && !fits(route, target.as_str(), &with_state(&written))
        && stored.session.data.id_token.is_some()
    {
        stored.session.data.id_token = None;
        written = store(route, &mut stored, &parts.headers, now)
            .await
            .unwrap_or_default();
    }
    // Then the groups a header forwards beyond those the policy names: the upstream
    // sees fewer groups, which is said in the log, rather than the user a 502.
    if route.store.is_cookie() && !fits(route, target.as_str(), &with_state(&written)) {
        let dropped = narrow_forwarded_groups(&mut stored.session.data.identity, &route.config);
        if dropped > 0 {
            tracing::warn!(request_id = %rid, route = %route.config.id, user = %user, dropped, kept = stored.session.data.identity.groups.len(), "the forwarded groups do not fit the session cookie; only the groups the policy names are passed upstream (raise spec.session.maxHeaderBytes and the proxy buffer to pass all)");
            written = store(route, &mut stored, &parts.headers, now)
                .await
                .unwrap_or_default();
        }
    }
    let bytes = head_bytes(target.as_str(), &with_state(&written));
    if !written.is_empty() && !fits(route, target.as_str(), &with_state(&written)) {
        let r = too_large_page(&ctx, route, bytes, &stored.session.data.identity, &user);
        return with_cookies(r, &cookies);
    }
    if written.is_empty() {
        let rule = "the session does not fit in cookies; keep fewer claims or tokens";
        let r = fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            Reason::SessionTooLarge,
            rule,
            &cookies,
        );
        return ctx.finish(id, Outcome::Error, Reason::SessionTooLarge, &user, r);
    }
    // "Never loop": a second completed login for this target, seconds after the first,
    // without the session coming back, ends here on a page.
    let request_cookies = cookie_headers(&parts.headers);
    // A session at the callback host only counts when the browser also sends it to the
    // app: with a host-only cookie on another host than the app's, it is always there
    // and never where it matters.
    let came_back = login_loop::cookie_reaches(route, &login.rd)
        && route
            .store
            .cookie_came_back(route.scope(), &parts.headers, now);
    let subject = stored.session.data.identity.sub.clone();
    match login_loop::record(route, &request_cookies, &subject, &login.rd, now, came_back) {
        Some(Completed::Loop { seconds_ago, clear }) => {
            let r = loop_page(&ctx, route, &written, &login.rd, seconds_ago);
            cookies.push(clear);
            return with_cookies(r, &[written, cookies].concat());
        }
        Some(Completed::Recorded(record)) => cookies.push(record),
        None => {}
    }
    let mut all = written;
    all.append(&mut cookies);
    // The user did authenticate, so they keep the session even when the policy says no:
    // every later auth subrequest then answers 403 with the rule at once, instead of
    // sending them through the IdP again (a loop in all but name).
    if let Verdict::Denied {
        reason, rule, user, ..
    } = authorize(
        &app,
        route,
        &stored.session.data.identity,
        None,
        Vec::new(),
        now,
    ) {
        let r = page(
            StatusCode::FORBIDDEN,
            reason,
            &rule,
            &user,
            &rid,
            Some(route),
        );
        let r = with_cookies(r, &all);
        return ctx.finish(id, Outcome::Denied, reason, &user, r);
    }
    let r = redirect(target.as_str(), &all);
    ctx.finish(id, Outcome::Allow, Reason::Authenticated, &user, r)
}

/// Appends `Set-Cookie` headers to a response.
fn with_cookies(mut r: Response, cookies: &[String]) -> Response {
    for c in cookies {
        r.headers_mut().append(
            axum::http::header::SET_COOKIE,
            super::request::header_value(c),
        );
    }
    r
}
