//! The login flow: `/oauth2/start` sends the browser to the IdP with a per-login state
//! cookie; `/oauth2/callback` checks it, exchanges the code, verifies the ID token,
//! applies the policy, starts a fresh session and sends the browser back.

use super::App;
use super::auth::{Verdict, authorize, load_session, store};
use super::cookie_trouble::duplicated_session;
use super::handlers::{Ctx, login_target, original, page, query_param, redirect, text};
use super::login_loop::{self, Completed, loop_page};
use super::request::{SessionData, cookie_headers, now};
use super::state::RouteRuntime;
use crate::outpost::reason;
use crate::outpost::redirect::{base_root, check_redirect};
use crate::outpost::session::LoginState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use std::sync::Arc;
use url::Url;

/// Longest redirect target carried through a login.
pub const MAX_RD_LEN: usize = 2048;

/// The validated redirect target for `rd` on `route`: the route's origin or one of its
/// hosts, never a path under `/oauth2/` (a loop); else the route's root. The second
/// value is the refusal label, when refused.
pub fn validated_rd(route: &RouteRuntime, rd: &str) -> (Url, Option<&'static str>) {
    match check_redirect(rd, &route.base, route.allowed_hosts()) {
        Ok(url) if url.path().starts_with("/oauth2/") || url.path() == "/oauth2" => {
            (base_root(&route.base), Some("oauth2_path"))
        }
        // A target this long would not fit in the state cookie next to the login's
        // secrets; the route's root is better than a failed login.
        Ok(url) if url.as_str().len() > MAX_RD_LEN => (base_root(&route.base), Some("too_long")),
        Ok(url) => (url, None),
        Err(e) => (base_root(&route.base), Some(e.metric_label())),
    }
}

/// A relative `rd` sent to one of the route's own hosts means that host (as the browser
/// sees it), not the external URL's; absolute ones are left for [`validated_rd`].
pub fn absolute_rd(route: &RouteRuntime, host: &str, rd: &str) -> String {
    if Url::parse(rd).is_ok()
        || host == route.authority
        || !route.config.hosts.iter().any(|h| h == host)
    {
        return rd.to_string();
    }
    Url::parse(&format!("{}://{host}/", route.base.scheme()))
        .and_then(|base| base.join(rd))
        .map_or_else(|_| rd.to_string(), |u| u.to_string())
}

/// `/oauth2/start?rd=` on the route's external URL.
pub fn external_start(route: &RouteRuntime, rd: &str) -> String {
    let rd: String = url::form_urlencoded::byte_serialize(rd.as_bytes()).collect();
    format!("{}?rd={rd}", route.url("/oauth2/start"))
}

/// `/oauth2/start?rd=`. On a host other than the route's external URL it first moves
/// the browser there, so the login-state cookie lands where the callback arrives.
pub async fn start(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let ctx = Ctx::new(&parts, "start");
    let target = match login_target(&app, &parts, &ctx) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let (route, host, rd) = (target.route(), target.host.as_str(), target.rd.as_str());
    let id = Some(route.config.id.as_str());
    let rd = absolute_rd(route, host, rd);
    let (target, refused) = validated_rd(route, &rd);
    if let Some(label) = refused {
        tracing::info!(request_id = %ctx.request_id, route = %route.config.id, reason = reason::REDIRECT_REFUSED, refused = label, "rd refused; using the route's root");
    }
    if host != route.authority {
        // The state cookie must be set where the callback arrives: the external URL.
        let r = redirect(&external_start(route, target.as_str()), &[]);
        return ctx.finish(&app, id, "redirect", "external_url", "", r);
    }
    let cookies = cookie_headers(&parts.headers);
    if let Some(r) = duplicated_session(&app, &ctx, route, host, &cookies) {
        return r;
    }
    if let Some(r) = already_denied(&app, &ctx, route, &parts) {
        return r;
    }
    let Some(provider) = route.provider.get() else {
        let mut r = page(
            StatusCode::SERVICE_UNAVAILABLE,
            "provider_not_ready",
            "the identity provider has not been reached yet; try again shortly",
            "",
            &ctx.request_id,
            None,
        );
        r.headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("5"));
        return ctx.finish(&app, id, "error", "provider_not_ready", "", r);
    };
    let login = match provider.login_request(&route.config.redirect_uri) {
        Ok(l) => l,
        Err(e) => {
            let r = text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot start the sign-in\n",
            );
            return ctx.finish(&app, id, "error", e.reason(), "", r);
        }
    };
    let state = LoginState {
        state: login.state.clone(),
        pkce_verifier: login.pkce_verifier.clone(),
        nonce: login.nonce.clone(),
        rd: target.to_string(),
        route: route.config.id.clone(),
    };
    let cookie = match route.sessions.store_state(&state, now()) {
        Ok(c) => c,
        Err(e) => {
            let r = text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot start the sign-in\n",
            );
            return ctx.finish(&app, id, "error", e.reason(), "", r);
        }
    };
    let r = redirect(login.url.as_str(), &[cookie]);
    ctx.finish(&app, id, "redirect", "login_started", "", r)
}

/// A browser sent here (by nginx's 401) with a live session the route's policy denies
/// gets the page naming the rule: signing in again would give the same answer.
fn already_denied(app: &App, ctx: &Ctx, route: &RouteRuntime, parts: &Parts) -> Option<Response> {
    let now = now();
    let session = load_session(route, &parts.headers, now).ok()?;
    if session.data.token_expires_at.is_some_and(|exp| now >= exp) {
        return None;
    }
    let Verdict::Denied { reason, rule, user } =
        authorize(app, route, &session.data.identity, None, Vec::new(), now)
    else {
        return None;
    };
    let r = page(
        StatusCode::FORBIDDEN,
        reason,
        &rule,
        &user,
        &ctx.request_id,
        Some(route),
    );
    let id = Some(route.config.id.as_str());
    Some(ctx.finish(app, id, "denied", reason, &user, r))
}

/// Text an IdP sent back (`error`, `error_description`), made safe to show: printable
/// ASCII only, bounded.
fn idp_text(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(200)
        .collect()
}

/// The login state for the callback's `state` among the routes on this host.
fn find_login<'a>(
    loaded: &'a super::state::Loaded,
    host: &str,
    parts: &Parts,
    state: &str,
    now: u64,
) -> Option<(&'a RouteRuntime, LoginState)> {
    let cookies = cookie_headers(&parts.headers);
    loaded
        .routes
        .iter()
        .filter(|r| r.serves_host(host))
        .find_map(|r| r.sessions.load_state(&cookies, state, now).ok())
        .and_then(|login| {
            let route = loaded
                .route_by_id(&login.route)
                .filter(|r| r.serves_host(host))?;
            Some((route, login))
        })
}

/// `/oauth2/callback`.
pub async fn callback(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let ctx = Ctx::new(&parts, "callback");
    let rid = ctx.request_id.clone();
    let host = match original(&app, &parts, None) {
        Ok(o) => o.host,
        Err(reason) => {
            let r = text(StatusCode::BAD_REQUEST, "malformed request headers\n");
            return ctx.finish(&app, None, "bad_request", reason, "", r);
        }
    };
    let now = now();
    let loaded = app.loaded();
    let state = query_param(&parts, "state").unwrap_or_default();
    let Some((route, login)) = find_login(&loaded, &host, &parts, &state, now) else {
        let r = page(
            StatusCode::BAD_REQUEST,
            reason::STATE_INVALID,
            "the sign-in state cookie is missing, expired or for another attempt; if this repeats, the cookie is not being stored (check the cookie domain and that the site is served over https)",
            "",
            &rid,
            None,
        );
        return ctx.finish(&app, None, "bad_request", reason::STATE_INVALID, "", r);
    };
    let id = Some(route.config.id.as_str());
    let mut cookies: Vec<String> = route.sessions.clear_state(&state).into_iter().collect();
    let fail = |status: StatusCode, code: &str, rule: &str, cookies: &[String]| {
        with_cookies(page(status, code, rule, "", &rid, Some(route)), cookies)
    };
    if let Some(error) = query_param(&parts, "error") {
        let description = query_param(&parts, "error_description").unwrap_or_default();
        let rule = format!(
            "the identity provider refused the sign-in: {} {}",
            idp_text(&error),
            idp_text(&description)
        );
        let r = fail(StatusCode::FORBIDDEN, "idp_error", rule.trim(), &cookies);
        return ctx.finish(&app, id, "denied", "idp_error", "", r);
    }
    let Some(provider) = route.provider.get() else {
        let r = fail(
            StatusCode::SERVICE_UNAVAILABLE,
            "provider_not_ready",
            "the identity provider has not been reached yet",
            &cookies,
        );
        return ctx.finish(&app, id, "error", "provider_not_ready", "", r);
    };
    if let Err(e) = provider.check_authorization_response_iss(query_param(&parts, "iss").as_deref())
    {
        let r = fail(StatusCode::FORBIDDEN, e.reason(), &e.to_string(), &cookies);
        return ctx.finish(&app, id, "denied", e.reason(), "", r);
    }
    let Some(code) = query_param(&parts, "code").filter(|c| !c.is_empty()) else {
        let r = fail(
            StatusCode::BAD_REQUEST,
            "missing_code",
            "the identity provider sent no authorization code",
            &cookies,
        );
        return ctx.finish(&app, id, "bad_request", "missing_code", "", r);
    };
    let tokens = match provider
        .exchange_code(&code, &route.config.redirect_uri, &login.pkce_verifier)
        .await
    {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(request_id = %rid, route = %route.config.id, reason = e.reason(), error = %e, "code exchange failed");
            let r = fail(
                StatusCode::BAD_GATEWAY,
                e.reason(),
                &e.to_string(),
                &cookies,
            );
            return ctx.finish(&app, id, "error", e.reason(), "", r);
        }
    };
    let Some(id_token) = tokens.id_token.as_deref() else {
        let rule = "the token response has no id_token; request the openid scope";
        let r = fail(StatusCode::BAD_GATEWAY, "missing_id_token", rule, &cookies);
        return ctx.finish(&app, id, "error", "missing_id_token", "", r);
    };
    let claims = match provider
        .verify_id_token(id_token, &login.nonce, Some(&tokens.access_token))
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(request_id = %rid, route = %route.config.id, reason = e.reason(), error = %e, "ID token refused");
            let r = fail(StatusCode::FORBIDDEN, e.reason(), &e.to_string(), &cookies);
            return ctx.finish(&app, id, "denied", e.reason(), "", r);
        }
    };
    let identity = provider.identity(&claims, &route.keep_claims);
    let id_exp = claims.get("exp").and_then(serde_json::Value::as_u64);
    let data = SessionData {
        provider: route.config.provider.clone(),
        token_expires_at: tokens.expires_in.map(|s| now.saturating_add(s)).or(id_exp),
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
        identity,
    };
    let user = data.identity.username.clone();
    // Always a new session value: nothing from before the login survives it.
    let session = route.sessions.start(data, now);
    let written = store(route, &session, &parts.headers, now);
    if written.is_empty() {
        let rule = "the session does not fit in cookies; keep fewer claims or tokens";
        let r = fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "session_too_large",
            rule,
            &cookies,
        );
        return ctx.finish(&app, id, "error", "session_too_large", &user, r);
    }
    // "Never loop": a second completed login for this target, seconds after the first,
    // without the session coming back, ends here on a page.
    let request_cookies = cookie_headers(&parts.headers);
    let came_back = route
        .sessions
        .load::<SessionData>(&request_cookies, now)
        .is_ok();
    match login_loop::record(route, &request_cookies, &login.rd, now, came_back) {
        Some(Completed::Loop { seconds_ago, clear }) => {
            let r = loop_page(&app, &ctx, route, &written, &login.rd, seconds_ago);
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
    if let Verdict::Denied { reason, rule, user } =
        authorize(&app, route, &session.data.identity, None, Vec::new(), now)
    {
        let r = page(
            StatusCode::FORBIDDEN,
            reason,
            &rule,
            &user,
            &rid,
            Some(route),
        );
        let r = with_cookies(r, &all);
        return ctx.finish(&app, id, "denied", reason, &user, r);
    }
    let (target, _) = validated_rd(route, &login.rd);
    let r = redirect(target.as_str(), &all);
    ctx.finish(&app, id, "allow", reason::AUTHENTICATED, &user, r)
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
