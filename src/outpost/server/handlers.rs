//! Shared response building and the auth-subrequest handler.

use super::App;
use super::auth::{Flavor, Verdict, decide};
pub use super::decision::Ctx;
use super::ended;
use super::extract::Refusal;
use super::request::{header_value, is_browser_navigation};
use super::state::RouteRuntime;
use crate::outpost::denied_page::{DeniedPage, render};
use crate::outpost::forwarded::{AuthRequest, OriginalRequest, Resolved, original_request};
use crate::reason::Reason;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use url::form_urlencoded;

/// The TCP peer (unspecified, hence untrusted, when unknown).
pub fn peer_ip(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

/// The original request of `parts` behind trusted proxies.
pub fn original(
    app: &App,
    parts: &Parts,
    strip_prefix: Option<&str>,
) -> Result<OriginalRequest, Reason> {
    original_resolved(app, parts, strip_prefix).map(|r| r.request)
}

/// [`original`], saying also whether forwarded headers were ignored. The first time a
/// peer's forwarded headers are ignored it is logged at warning level with the fix:
/// behind an ingress whose address is not trusted, every request is judged by the
/// outpost's own Host (its Service name) and no route matches.
pub fn original_resolved(
    app: &App,
    parts: &Parts,
    strip_prefix: Option<&str>,
) -> Result<Resolved, Reason> {
    let peer = peer_ip(parts);
    let req = AuthRequest {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
        peer,
    };
    let resolved = original_request(&req, &app.trusted, strip_prefix).map_err(|e| e.reason())?;
    if resolved.forwarded_headers_ignored {
        if app.untrusted_peers.first_time(peer) {
            tracing::warn!(
                %peer,
                reason = %Reason::UntrustedForwardedHeaders,
                "forwarded headers (X-Original-URL, X-Forwarded-*) from {peer} are ignored: it is not a trusted proxy, so requests are judged by their own Host and path; add its address range with --trusted-proxy (Helm: outpost.trustedProxies). Logged once per peer."
            );
        } else {
            tracing::debug!(%peer, reason = %Reason::UntrustedForwardedHeaders, "forwarded headers ignored");
        }
    }
    Ok(resolved)
}

/// Peers whose forwarded headers were ignored, each warned about once. Bounded, so a
/// scan from many addresses cannot grow it: past the bound the warnings stop (the
/// decision log still carries the reason on every request).
#[derive(Debug, Default)]
pub struct UntrustedPeers(std::sync::Mutex<std::collections::HashSet<IpAddr>>);

impl UntrustedPeers {
    const BOUND: usize = 1024;

    /// True the first time `peer` is seen.
    pub fn first_time(&self, peer: IpAddr) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.len() < Self::BOUND && seen.insert(peer)
    }
}

/// A query parameter (first occurrence).
pub fn query_param(parts: &Parts, name: &str) -> Option<String> {
    form_urlencoded::parse(parts.uri.query()?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A plain-text response.
pub fn text(status: StatusCode, body: &str) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The HTML page naming a reason and rule (denials and failed sign-ins).
pub fn page(
    status: StatusCode,
    reason: Reason,
    rule: &str,
    user: &str,
    request_id: &str,
    route: Option<&RouteRuntime>,
) -> Response {
    let sign_out = route.map(|r| r.url("/oauth2/sign_out"));
    let start = route.map(|r| r.start_url(r.base.as_str()));
    let html = render(&DeniedPage {
        status: status.as_u16(),
        reason,
        rule,
        user,
        request_id,
        sign_out_url: sign_out.as_deref(),
        start_url: start.as_deref(),
    });
    let mut r = Response::new(Body::from(html));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// A 302 with `Set-Cookie` values.
pub fn redirect(location: &str, cookies: &[String]) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::FOUND;
    let h = r.headers_mut();
    h.insert(header::LOCATION, header_value(location));
    for c in cookies {
        h.append(header::SET_COOKIE, header_value(c));
    }
    r
}

/// `/oauth2/auth` and its variants.
pub async fn auth(flavor: Flavor, State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let mut ctx = Ctx::new(&parts);
    let strip = (flavor == Flavor::Envoy).then_some("/oauth2/auth/envoy");
    let resolved = match original_resolved(&app, &parts, strip) {
        Ok(o) => o,
        Err(reason) => return Refusal::MalformedForwardedHeaders(reason).into_response(),
    };
    let original = resolved.request;
    ctx.saw(
        &original,
        super::decision::client_ip(&app, &parts, peer_ip(&parts)),
    );
    let loaded = app.loaded();
    let (route, verdict) = decide(&app, &loaded, &original, &parts.headers).await;
    if let Verdict::Denied { groups, .. } = &verdict {
        ctx.compared(groups);
    }
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
                    request_id = %ctx.request_id,
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
                    let r = page(status, reason, &detail, &user, &ctx.request_id, Some(route));
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
            page(
                StatusCode::FORBIDDEN,
                reason,
                &rule,
                &user,
                &ctx.request_id,
                route,
            ),
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
                &ctx.request_id,
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
                request_id = %ctx.request_id,
                host = %original.host,
                reason = %Reason::RouteNotFound,
                "no route for this host and path"
            );
            (
                text(
                    StatusCode::FORBIDDEN,
                    "no route is configured for this host\n",
                ),
                String::new(),
            )
        }
    };
    ctx.finish_owned(route_id, result, reason_code, user, response)
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

#[cfg(test)]
mod untrusted_peer_tests {
    use super::UntrustedPeers;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn each_peer_is_warned_about_once_and_the_set_stays_bounded() {
        let peers = UntrustedPeers::default();
        let ip = |n: u32| IpAddr::V4(Ipv4Addr::from(n));
        assert!(peers.first_time(ip(1)));
        assert!(!peers.first_time(ip(1)));
        for n in 2..=UntrustedPeers::BOUND as u32 {
            assert!(peers.first_time(ip(n)));
        }
        assert!(
            !peers.first_time(ip(u32::MAX)),
            "past the bound: no more warnings"
        );
    }
}
