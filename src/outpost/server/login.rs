//! The start of the login flow: `/oauth2/start` sends the browser to the IdP with a
//! per-login state cookie (the callback is in [`super::callback`]), or shows a page when
//! another login could not help (a denied session, a duplicated session cookie).

use super::App;
use super::auth::{Verdict, authorize, spoofed_identity_header};
use super::cookie_trouble::duplicated_session;
use super::decision::{Decided, client_ip};
use super::ended;
use super::extract::LoginTarget;
use super::handlers::{page, peer_ip, redirect, text};
use super::loader::{load_session, save_session};
use super::renewal::{Renewed, renew};
use super::request::{RequestId, cookie_headers, now};
use super::state::RouteRuntime;
use crate::outpost::redirect::{base_root, check_redirect};
use crate::outpost::session::LoginState;
use crate::reason::Reason;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use std::sync::Arc;
use url::Url;

/// Longest redirect target carried through a login.
pub(crate) const MAX_RD_LEN: usize = 2048;

/// The validated redirect target for `rd` on `route`: the route's origin or one of its
/// hosts, never a path under `/oauth2/` (a loop); else the route's root. The second
/// value is the refusal label, when refused.
pub(crate) fn validated_rd(route: &RouteRuntime, rd: &str) -> (Url, Option<&'static str>) {
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
pub(crate) fn absolute_rd(route: &RouteRuntime, host: &str, rd: &str) -> String {
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

/// The log line for a refused `rd` (start and sign-out alike).
pub(crate) fn log_refused_rd(id: &RequestId, route: &RouteRuntime, label: &str) {
    tracing::info!(request_id = %id, route = %route.config.id, reason = %Reason::RedirectRefused, refused = label, "rd refused; using the route's root");
}

/// `/oauth2/start?rd=`. On a host other than the route's external URL it first moves
/// the browser there, so the login-state cookie lands where the callback arrives. Else
/// a page when another login could not help (rate limit, duplicated cookie, a denied
/// session, a renewal the IdP refused), a renewal straight back to `rd`, or the login.
pub async fn start(
    State(app): State<Arc<App>>,
    id: RequestId,
    target: LoginTarget,
    req: Request,
) -> Result<Decided, Decided> {
    let (parts, _) = req.into_parts();
    let (route, host, rd) = (target.route(), target.host.as_str(), target.rd.as_str());
    rate_limited(&app, &id, route, &parts)?;
    let (target, refused) = validated_rd(route, &absolute_rd(route, host, rd));
    if let Some(label) = refused {
        log_refused_rd(&id, route, label);
    }
    if host != route.authority {
        // The state cookie must be set where the callback arrives: the external URL.
        let r = redirect(&route.start_url(target.as_str()), &[]);
        return Ok(Decided::redirect(route, Reason::ExternalUrl, r));
    }
    duplicated_session(&id, route, host, &cookie_headers(&parts.headers))?;
    already_denied(&app, &id, route, &parts).await?;
    renew_at_start(&app, &id, route, &parts, target.as_str()).await?;
    login_redirect(&id, route, &target)
}

/// The redirect to the IdP with the login's state cookie, or the page saying why the
/// login cannot start.
#[expect(
    clippy::result_large_err,
    reason = "an early answer is the whole response, moved once to the layer; boxing it would allocate"
)]
fn login_redirect(id: &RequestId, route: &RouteRuntime, target: &Url) -> Result<Decided, Decided> {
    let Some(provider) = route.provider.get() else {
        let mut r = page(
            StatusCode::SERVICE_UNAVAILABLE,
            Reason::ProviderNotReady,
            "the identity provider has not been reached yet; try again shortly",
            "",
            id,
            None,
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return Err(Decided::error(route, Reason::ProviderNotReady, r));
    };
    let cannot_start = |reason: Reason| {
        let r = text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot start the sign-in\n",
        );
        Decided::error(route, reason, r)
    };
    let login = provider
        .login_request(&route.config.redirect_uri)
        .map_err(|e| cannot_start(e.reason()))?;
    let state = LoginState {
        state: login.state.clone(),
        pkce_verifier: login.pkce_verifier.clone(),
        nonce: login.nonce.clone(),
        rd: target.to_string(),
        route: route.config.id.clone(),
    };
    let cookie = route
        .sessions
        .store_state(&state, now())
        .map_err(|e| cannot_start(e.reason()))?;
    let r = redirect(login.url.as_str(), &[cookie]);
    Ok(Decided::redirect(route, Reason::LoginStarted, r))
}

/// A browser sent here (by nginx's 401) with a live session the route's policy denies,
/// or with an underscore spelling of an identity header, gets the page naming the rule:
/// signing in again would give the same answer. One whose session cannot be checked
/// because the session store is down gets the 503 page (nginx turns an auth
/// subrequest's 503 into a bare 500, so its 401 leads here). `Ok` when the login may go
/// ahead.
async fn already_denied(
    app: &App,
    id: &RequestId,
    route: &RouteRuntime,
    parts: &Parts,
) -> Result<(), Decided> {
    let now = now();
    let verdict = match spoofed_identity_header(route, &parts.headers) {
        Some(spoofed) => spoofed,
        None => {
            let session = match load_session(route, &parts.headers, now).await {
                Ok(s) => s.session,
                Err(Reason::SessionStoreUnavailable) => {
                    return Err(store_unavailable_page(id, route));
                }
                Err(_) => return Ok(()),
            };
            if session.data.token_expires_at.is_some_and(|exp| now >= exp) {
                return Ok(());
            }
            authorize(app, route, &session.data.identity, None, Vec::new(), now)
        }
    };
    let Verdict::Denied {
        reason, rule, user, ..
    } = verdict
    else {
        return Ok(());
    };
    let r = page(StatusCode::FORBIDDEN, reason, &rule, &user, id, Some(route));
    Err(Decided::denied(route, reason, r).by(user))
}

/// The 503 page for a session that cannot be checked because the store did not answer.
pub(crate) fn store_unavailable_page(id: &RequestId, route: &RouteRuntime) -> Decided {
    let r = page(
        StatusCode::SERVICE_UNAVAILABLE,
        Reason::SessionStoreUnavailable,
        "the session store did not answer; reload in a moment",
        "",
        id,
        Some(route),
    );
    Decided::error(route, Reason::SessionStoreUnavailable, r)
}

/// At `/oauth2/start`: a session whose tokens need renewal is renewed first. Refused or
/// past the grace, the page says so (another login at a refusing or absent IdP would
/// not help, or would only loop); renewed, the browser goes straight back to `target`
/// with the new session. Else `Ok`: the login goes ahead.
pub(crate) async fn renew_at_start(
    app: &App,
    id: &RequestId,
    route: &RouteRuntime,
    parts: &Parts,
    target: &str,
) -> Result<(), Decided> {
    let now = now();
    let Ok(mut stored) = load_session(route, &parts.headers, now).await else {
        return Ok(());
    };
    let user = stored.session.data.identity.username.clone();
    match renew(app, route, &mut stored.session, now).await {
        Ok(Renewed::Refreshed) => {
            stored.session.last_seen = now;
            let set = save_session(route, &mut stored, &parts.headers, now)
                .await
                .unwrap_or_default();
            if set.is_empty() && route.store.is_cookie() {
                return Ok(());
            }
            let r = redirect(target, &set);
            Err(Decided::redirect(route, Reason::SessionRefreshed, r).by(user))
        }
        Ok(_) => Ok(()),
        // An expired session without a refresh token is the ordinary case: sign in.
        Err(ended) if !ended.needs_page() => Ok(()),
        Err(ended) => {
            let clear = route.sessions.clear(&cookie_headers(&parts.headers));
            let status = ended::status_for(ended.reason);
            let r = page(status, ended.reason, &ended.detail, &user, id, Some(route));
            let r = ended::finish(r, &clear);
            Err(Decided::unauthenticated(route, ended.reason, r).by(user))
        }
    }
}

/// The 429 page when `parts`' client address went past the route's sign-in rate (the
/// address after trusted forwarding: an untrusted peer's `X-Forwarded-For` is not read).
#[expect(
    clippy::result_large_err,
    reason = "an early answer is the whole response, moved once to the layer; boxing it would allocate"
)]
pub fn rate_limited(
    app: &App,
    id: &RequestId,
    route: &RouteRuntime,
    parts: &Parts,
) -> Result<(), Decided> {
    let ip = client_ip(app, parts, peer_ip(parts));
    let limit = &route.config.login_rate_limit;
    let Err(wait) = app.login_limiter.check(&route.config.id, ip, limit) else {
        return Ok(());
    };
    let rule = format!(
        "at most {} sign-in requests a minute from one address ({} at once); try again in {wait} s",
        limit.requests_per_minute, limit.burst
    );
    let mut r = page(
        StatusCode::TOO_MANY_REQUESTS,
        Reason::RateLimited,
        &rule,
        "",
        id,
        Some(route),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    Err(Decided::denied(route, Reason::RateLimited, r))
}
