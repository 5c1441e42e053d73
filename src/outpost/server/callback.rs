//! `/oauth2/callback`: checks the login state, exchanges the code, verifies the ID
//! token, applies the policy, starts a fresh session and sends the browser back, or
//! ends on a page that says why (never a loop: see [`super::login_loop`]).

use super::App;
use super::auth::{Verdict, authorize};
use super::decision::{Decided, client_ip};
use super::extract::OriginalHost;
use super::handlers::{page, peer_ip, query_param, redirect, with_cookies};
use super::loader::save_session;
use super::login::{rate_limited, validated_rd};
use super::login_error::{LoginError, LoginFailure, StateCause};
use super::login_loop::{self, Completed, loop_page};
use super::request::{RequestId, SessionData, cookie_headers, now};
use super::session_budget::{
    fits, head_bytes, narrow_forwarded_groups, too_large_page, trim_groups,
};
use super::sign_out_hint;
use super::state::RouteRuntime;
use super::store::StoredSession;
use crate::oidc::{Claims, Provider, TokenResponse};
use crate::outpost::session::{LoginState, SessionError};
use crate::reason::Reason;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
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
/// there is none.
fn find_login<'a>(
    loaded: &'a super::state::Loaded,
    host: &str,
    parts: &Parts,
    state: &str,
    now: u64,
) -> Result<(&'a RouteRuntime, LoginState), StateCause> {
    if state.is_empty() {
        return Err(StateCause::NoStateParameter);
    }
    let cookies = cookie_headers(&parts.headers);
    let mut why = StateCause::Missing;
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
            Err(SessionError::Expired) => why = StateCause::Expired,
            Err(_) => {}
        }
    }
    let other_attempt = cookies
        .iter()
        .flat_map(|h| h.split(';'))
        .any(|pair| pair.contains("_csrf_"));
    Err(if why == StateCause::Missing && other_attempt {
        StateCause::ForAnotherAttempt
    } else {
        why
    })
}

/// `/oauth2/callback`: the login state, the rate limit, then the sign-in (code exchange,
/// ID token, session, loop check, policy); a failure is its own page ([`LoginFailure`]).
pub async fn callback(
    State(app): State<Arc<App>>,
    id: RequestId,
    OriginalHost(host): OriginalHost,
    req: Request,
) -> Result<Decided, Decided> {
    let (parts, _) = req.into_parts();
    let now = now();
    let loaded = app.loaded();
    let state = query_param(&parts, "state").unwrap_or_default();
    let (route, login) = find_login(&loaded, &host, &parts, &state, now)
        .map_err(|cause| LoginError::StateInvalid(cause).of(id, None, &[]))?;
    rate_limited(&app, &id, route, &parts)?;
    let cookies: Vec<String> = route.sessions.clear_state(&state).into_iter().collect();
    Ok(sign_in(&app, id, route, &login, &parts, cookies, now).await?)
}

/// The callback's authorization response checked, the code exchanged and the ID token
/// verified: the provider, the tokens and the ID token's claims.
async fn verified_tokens<'r>(
    route: &'r RouteRuntime,
    login: &LoginState,
    parts: &Parts,
) -> Result<(&'r Arc<Provider>, TokenResponse, Claims), LoginError> {
    if let Some(error) = query_param(parts, "error") {
        let description = query_param(parts, "error_description").unwrap_or_default();
        return Err(LoginError::IdpRefused {
            error: idp_text(&error),
            description: idp_text(&description),
        });
    }
    let provider = route.provider.get().ok_or(LoginError::ProviderNotReady)?;
    provider
        .check_authorization_response_iss(query_param(parts, "iss").as_deref())
        .map_err(LoginError::IssuerRefused)?;
    let code = query_param(parts, "code")
        .filter(|c| !c.is_empty())
        .ok_or(LoginError::MissingCode)?;
    let tokens = provider
        .exchange_code(&code, &route.config.redirect_uri, &login.pkce_verifier)
        .await
        .map_err(LoginError::CodeExchange)?;
    let id_token = tokens
        .id_token
        .as_deref()
        .ok_or(LoginError::MissingIdToken)?;
    let claims = provider
        .verify_id_token(id_token, &login.nonce, Some(&tokens.access_token))
        .await
        .map_err(LoginError::IdTokenRefused)?;
    Ok((provider, tokens, claims))
}

/// The ID token, when the IdP offers RP-initiated logout (it only feeds
/// `id_token_hint` there).
fn id_token_for_sign_out(provider: &Provider, tokens: &TokenResponse) -> Option<String> {
    provider.discovery().end_session_endpoint.as_ref()?;
    tokens.id_token.clone()
}

/// A cookie session's ID token, for the sign-out hint cookie that browsers send to
/// sign-out only (a Redis session keeps it server-side: no cookie).
fn hint_cookie(
    route: &RouteRuntime,
    provider: &Provider,
    tokens: &TokenResponse,
    stored: &StoredSession,
    now: u64,
) -> Vec<String> {
    if !route.store.is_cookie() {
        return Vec::new();
    }
    let Some(id_token) = id_token_for_sign_out(provider, tokens) else {
        return Vec::new();
    };
    let (session, key) = (&stored.session, &route.config.provider);
    let sub = &session.data.identity.sub;
    sign_out_hint::store(&route.sessions, session, key, sub, &id_token, now).unwrap_or_default()
}

/// The new session for a verified sign-in.
fn session_data(
    app: &App,
    route: &RouteRuntime,
    parts: &Parts,
    provider: &Provider,
    tokens: &TokenResponse,
    claims: &Claims,
    now: u64,
) -> SessionData {
    let mut identity = provider.identity(claims, &route.keep_claims);
    trim_groups(&mut identity, &route.config);
    let id_exp = claims.get("exp").and_then(serde_json::Value::as_u64);
    let server_side = !route.store.is_cookie();
    SessionData {
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
        // Only a server-side session keeps the ID token (for `id_token_hint`); a
        // cookie session hands it to the sign-out hint cookie ([`sign_out_hint`]).
        id_token: server_side
            .then(|| id_token_for_sign_out(provider, tokens))
            .flatten(),
        // Only a server-side session can be found and ended by a back-channel logout.
        idp_session: claims
            .get("sid")
            .and_then(serde_json::Value::as_str)
            .filter(|_| server_side)
            .map(str::to_string),
        // What the user's sessions page shows to tell sessions apart (Redis mode only).
        device: server_side.then(|| device_of(&parts.headers)).flatten(),
        client_ip: server_side.then(|| client_ip(app, parts, peer_ip(parts)).to_string()),
        identity,
    }
}

/// A verified sign-in: the new session saved (trimmed to fit the proxy's buffer), the
/// login loop checked, the policy applied, and the browser sent back to its target.
async fn sign_in<'a>(
    app: &App,
    id: RequestId,
    route: &'a RouteRuntime,
    login: &LoginState,
    parts: &Parts,
    mut cookies: Vec<String>,
    now: u64,
) -> Result<Decided, LoginFailure<'a>> {
    let rid = &id;
    let fail = |e: LoginError| e.of(id, Some(route), &cookies);
    let (provider, tokens, claims) = verified_tokens(route, login, parts).await.map_err(fail)?;
    let data = session_data(app, route, parts, provider, &tokens, &claims, now);
    let user = data.identity.username.clone();
    // Always a new session value: nothing from before the login survives it (in Redis
    // mode the session the browser had before is ended, not left behind).
    if let Err(code) = route.store.end(route.scope(), &parts.headers, now).await {
        tracing::warn!(request_id = %rid, route = %route.config.id, reason = %code, "the previous session could not be ended");
    }
    let mut stored = StoredSession::new(route.sessions.start(data, now));
    let mut written = save_session(route, &mut stored, &parts.headers, now)
        .await
        .map_err(|reason| {
            fail(LoginError::NotSaved {
                reason,
                user: user.clone(),
            })
        })?;
    let (target, _) = validated_rd(route, &login.rd);
    let mut hint = hint_cookie(route, provider, &tokens, &stored, now);
    let with_state = |w: &[String], hint: &[String]| [w, hint, &cookies[..]].concat();
    // The hint only serves as id_token_hint at sign-out: the first thing to go when the
    // answer would not fit the proxy's buffer (a sign-out without it still ends the
    // session here, and the IdP asks the user to confirm).
    if !hint.is_empty() && !fits(route, target.as_str(), &with_state(&written, &hint)) {
        hint.clear();
    }
    // Then the groups a header forwards beyond those the policy names: the upstream
    // sees fewer groups, which is said in the log, rather than the user a 502.
    if route.store.is_cookie() && !fits(route, target.as_str(), &with_state(&written, &hint)) {
        let dropped = narrow_forwarded_groups(&mut stored.session.data.identity, &route.config);
        if dropped > 0 {
            tracing::warn!(request_id = %rid, route = %route.config.id, user = %user, dropped, kept = stored.session.data.identity.groups.len(), "the forwarded groups do not fit the session cookie; only the groups the policy names are passed upstream (raise spec.session.maxHeaderBytes and the proxy buffer to pass all)");
            written = save_session(route, &mut stored, &parts.headers, now)
                .await
                .unwrap_or_default();
        }
    }
    let bytes = head_bytes(target.as_str(), &with_state(&written, &hint));
    if !written.is_empty() && !fits(route, target.as_str(), &with_state(&written, &hint)) {
        let identity = &stored.session.data.identity;
        let r = too_large_page(rid, route, bytes, identity, &user);
        return Ok(r.with_cookies(&cookies));
    }
    if written.is_empty() {
        return Err(fail(LoginError::TooLarge { user }));
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
            let r = loop_page(rid, route, &written, &login.rd, seconds_ago);
            cookies.push(clear);
            return Ok(r.with_cookies(&[written, hint, cookies].concat()));
        }
        Some(Completed::Recorded(record)) => cookies.push(record),
        None => {}
    }
    let mut all = written;
    all.append(&mut hint);
    all.append(&mut cookies);
    // The user did authenticate, so they keep the session even when the policy says no:
    // every later auth subrequest then answers 403 with the rule at once, instead of
    // sending them through the IdP again (a loop in all but name).
    let identity = &stored.session.data.identity;
    if let Verdict::Denied {
        reason, rule, user, ..
    } = authorize(app, route, identity, None, Vec::new(), now)
    {
        let r = page(
            StatusCode::FORBIDDEN,
            reason,
            &rule,
            &user,
            rid,
            Some(route),
        );
        let r = with_cookies(r, &all);
        return Ok(Decided::denied(route, reason, r).by(user));
    }
    let r = redirect(target.as_str(), &all);
    Ok(Decided::allow(route, Reason::Authenticated, r).by(user))
}
