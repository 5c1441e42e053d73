//! Shared response building (text, page, redirect) and the original request behind
//! trusted proxies, for every handler and extractor.

use super::App;
use super::request::header_value;
use super::state::RouteRuntime;
use crate::outpost::denied_page::{DeniedPage, render};
use crate::outpost::forwarded::{AuthRequest, OriginalRequest, Resolved, original_request};
use crate::reason::Reason;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use url::form_urlencoded;

/// The TCP peer (unspecified, hence untrusted, when unknown).
pub(crate) fn peer_ip(parts: &Parts) -> IpAddr {
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
pub(crate) fn original_resolved(
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
    pub(crate) fn first_time(&self, peer: IpAddr) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.len() < Self::BOUND && seen.insert(peer)
    }
}

/// A query parameter (first occurrence).
pub(crate) fn query_param(parts: &Parts, name: &str) -> Option<String> {
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

/// `r` with `Set-Cookie` headers appended.
pub(crate) fn with_cookies(mut r: Response, cookies: &[String]) -> Response {
    for c in cookies {
        r.headers_mut().append(header::SET_COOKIE, header_value(c));
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
