//! The auth subrequest's endpoint: `/oauth2/auth` and its per-proxy variants. The
//! decision is [`super::auth::decide`]; this turns its verdict into the answer each
//! proxy understands and returns it as a [`Decided`] for the layer to log. The hot
//! path: the decision takes the user, the original request and the compared groups by
//! move, never by copy.

use super::App;
use super::auth::{Flavor, Verdict, decide};
use super::decision::{Decided, Seen, client_ip, compared_groups};
use super::ended;
use super::extract::Refusal;
use super::handlers::{original_resolved, page, peer_ip, redirect, text};
use super::request::{RequestId, header_value, is_browser_navigation};
use super::state::RouteRuntime;
use crate::outpost::forwarded::OriginalRequest;
use crate::reason::Reason;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::Response;
use std::sync::Arc;

/// `/oauth2/auth` and its variants.
pub async fn auth(
    flavor: Flavor,
    State(app): State<Arc<App>>,
    id: RequestId,
    req: Request,
) -> Result<Decided, Refusal> {
    let (parts, _) = req.into_parts();
    let strip = (flavor == Flavor::Envoy).then_some("/oauth2/auth/envoy");
    let resolved =
        original_resolved(&app, &parts, strip).map_err(Refusal::MalformedForwardedHeaders)?;
    let original = resolved.request;
    let seen = Seen::of(&original, client_ip(&app, &parts, peer_ip(&parts)));
    let loaded = app.loaded();
    let (route, verdict) = decide(&app, &loaded, &original, &parts.headers).await;
    let compared = match &verdict {
        Verdict::Denied { groups, .. } => Some(compared_groups(groups)),
        _ => None,
    };
    let route_id = route.map(|r| r.config.id.as_str());
    let (result, mut reason_code) = (verdict.result(), verdict.reason());
    let (response, user) = match verdict {
        Verdict::Allow {
            headers,
            set_cookies,
            user,
            ..
        } => {
            let mut r = text(StatusCode::OK, "");
            let h = r.headers_mut();
            for (name, value) in headers {
                h.insert(name, value);
            }
            for c in set_cookies {
                h.append(header::SET_COOKIE, header_value(&c));
            }
            (r, user)
        }
        Verdict::Unauthenticated { reason, bearer } => {
            if let Some(why) = &bearer {
                tracing::info!(
                    request_id = %id,
                    route = route_id.unwrap_or_default(),
                    reason = reason.code(),
                    detail = %why,
                    "bearer token refused"
                );
            }
            let r = unauthenticated(flavor, route, &original, &parts, bearer.is_some());
            (r, String::new())
        }
        Verdict::Ended {
            reason,
            detail,
            user,
            clear_cookies,
        } => {
            let browser = is_browser_navigation(&original.method, &parts.headers);
            let r = match route {
                Some(route) if flavor.redirects() && browser => {
                    let status = ended::status_for(reason);
                    let r = page(status, reason, &detail, &user, &id, Some(route));
                    ended::finish(r, &clear_cookies)
                }
                // nginx passes a 401's Set-Cookie on to its sign-in redirect: the cookie
                // stays, so that /oauth2/start can still show why the session ended.
                _ if flavor == Flavor::Nginx => text(ended::PLAIN_STATUS, ended::PLAIN_BODY),
                _ => ended::finish(text(ended::PLAIN_STATUS, ended::PLAIN_BODY), &clear_cookies),
            };
            (r, user)
        }
        // nginx's auth_request cannot pass a body: a browser would see a bare "403
        // Forbidden". 401 sends it to /oauth2/start (auth-signin), which renders the page
        // naming the rule for the denied session, without an IdP round trip.
        Verdict::Denied { user, .. }
            if flavor == Flavor::Nginx
                && is_browser_navigation(&original.method, &parts.headers) =>
        {
            let r = text(
                StatusCode::UNAUTHORIZED,
                "denied; /oauth2/start shows why\n",
            );
            (r, user)
        }
        Verdict::Denied {
            reason, rule, user, ..
        } => (
            page(StatusCode::FORBIDDEN, reason, &rule, &user, &id, route),
            user,
        ),
        // As for a denial: nginx shows an auth subrequest's 503 as a bare 500, so a
        // browser gets 401 and /oauth2/start renders the 503 page (never a login).
        Verdict::StoreUnavailable
            if flavor == Flavor::Nginx
                && is_browser_navigation(&original.method, &parts.headers) =>
        {
            let r = text(
                StatusCode::UNAUTHORIZED,
                "session store unavailable; /oauth2/start shows the page\n",
            );
            (r, String::new())
        }
        Verdict::StoreUnavailable => (
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                Reason::SessionStoreUnavailable,
                "the session store did not answer; reload in a moment",
                "",
                &id,
                route,
            ),
            String::new(),
        ),
        Verdict::NoRoute if resolved.forwarded_headers_ignored => {
            // The usual cause behind an ingress: its address is not trusted, so the host
            // seen is the outpost's own. Say that, not just "no route".
            reason_code = Reason::UntrustedForwardedHeaders;
            let peer = peer_ip(&parts);
            (
                text(
                    StatusCode::FORBIDDEN,
                    &format!(
                        "no route is configured for host {host:?}; the forwarded headers from {peer} (X-Original-URL, X-Forwarded-*) were ignored because {peer} is not a trusted proxy. Add its address range with --trusted-proxy (Helm: outpost.trustedProxies).\n",
                        host = original.host
                    ),
                ),
                String::new(),
            )
        }
        Verdict::NoRoute => {
            tracing::warn!(
                request_id = %id,
                host = %original.host,
                reason = %Reason::RouteNotFound,
                "no route for this host and path"
            );
            // The same answer as at the login endpoints, with what was asked for.
            return Ok(Decided::from(Refusal::NoRoute).seen(seen));
        }
    };
    let decided = Decided::new(route, result, reason_code, response);
    Ok(decided.by(user).seen(seen).compared(compared))
}

/// 401 (nginx, API clients) or a 302 to the login (a browser behind other proxies).
fn unauthenticated(
    flavor: Flavor,
    route: Option<&RouteRuntime>,
    original: &OriginalRequest,
    parts: &Parts,
    bearer: bool,
) -> Response {
    let Some(route) = route else {
        return text(StatusCode::UNAUTHORIZED, "sign-in required\n");
    };
    if flavor.redirects() && !bearer && is_browser_navigation(&original.method, &parts.headers) {
        let here = format!("{}://{}{}", original.scheme, original.host, original.uri);
        return redirect(&route.start_url(&here), &[]);
    }
    let mut r = text(StatusCode::UNAUTHORIZED, "sign-in required\n");
    if flavor.redirects() || bearer {
        let mut challenge = format!("Bearer realm=\"{}\"", route.authority);
        if bearer {
            challenge.push_str(", error=\"invalid_token\"");
        }
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, header_value(&challenge));
    }
    r
}
