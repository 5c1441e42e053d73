//! The one decision log line per request: who asked (client IP from trusted forwarding
//! only), for what (host, path without the query, method), the answer (route, result,
//! reason, status, user, latency) and, on a denial, the groups that were compared.

use super::App;
use super::request::{header_value, request_id};
use crate::outpost::forwarded::OriginalRequest;
use crate::reason::{Outcome, Reason};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use std::net::IpAddr;
use std::time::Instant;

/// Groups logged on a denial, at most (a user in hundreds would flood the line).
const MAX_LOGGED_GROUPS: usize = 32;

/// The original request as the decision line shows it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Host, lower case.
    pub host: String,
    /// Path without query or fragment (a query can carry secrets).
    pub path: String,
    /// Method.
    pub method: String,
    /// The client: the trusted proxy's `X-Forwarded-For`/`X-Real-IP`, else the peer.
    pub client_ip: IpAddr,
}

/// The client address as the decision line shows it (empty when unknown), formatted
/// straight into the line instead of into a `String` first.
struct ClientIp(Option<IpAddr>);

impl std::fmt::Display for ClientIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(ip) => ip.fmt(f),
            None => Ok(()),
        }
    }
}

/// Per-request facts every handler logs.
pub struct Ctx {
    /// The request id.
    pub request_id: String,
    /// When handling started.
    pub started: Instant,
    /// The endpoint label.
    pub endpoint: &'static str,
    /// The original request, once worked out.
    pub seen: Option<Seen>,
    /// On a denial: the user's groups that the policy compared.
    pub compared_groups: Option<String>,
}

/// The client address: believed from `X-Forwarded-For` (the element the trusted peer
/// appended, i.e. the last) or `X-Real-IP` only when the peer is a trusted proxy.
pub fn client_ip(app: &App, parts: &Parts, peer: IpAddr) -> IpAddr {
    if !app.trusted.contains(peer) {
        return peer;
    }
    let last = |name: &str| {
        parts
            .headers
            .get_all(name)
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
    };
    last("x-forwarded-for")
        .or_else(|| last("x-real-ip"))
        .unwrap_or(peer)
}

impl Ctx {
    /// Starts a request.
    pub fn new(parts: &Parts, endpoint: &'static str) -> Self {
        Self {
            request_id: request_id(&parts.headers),
            started: Instant::now(),
            endpoint,
            seen: None,
            compared_groups: None,
        }
    }

    /// Records the original request for the log line.
    pub fn saw(&mut self, original: &OriginalRequest, client_ip: IpAddr) {
        let end = original.uri.find(['?', '#']).unwrap_or(original.uri.len());
        self.seen = Some(Seen {
            host: original.host.clone(),
            path: original.uri[..end].to_string(),
            method: original.method.to_string(),
            client_ip,
        });
    }

    /// Records the groups a denial compared.
    pub fn compared(&mut self, groups: &[String]) {
        let shown: Vec<&str> = groups
            .iter()
            .take(MAX_LOGGED_GROUPS)
            .map(String::as_str)
            .collect();
        let more = groups.len().saturating_sub(MAX_LOGGED_GROUPS);
        let mut text = shown.join(",");
        if more > 0 {
            text.push_str(&format!(",... ({more} more)"));
        }
        self.compared_groups = Some(text);
    }

    /// Logs the one decision line, counts it, and stamps the response.
    pub fn finish(
        &self,
        app: &App,
        route: Option<&str>,
        result: Outcome,
        reason: Reason,
        user: &str,
        mut response: Response,
    ) -> Response {
        let status = response.status().as_u16();
        let elapsed = self.started.elapsed().as_secs_f64();
        let seen = self.seen.as_ref();
        tracing::info!(
            target: "portcullis::decision",
            request_id = %self.request_id,
            endpoint = self.endpoint,
            host = seen.map_or("-", |s| s.host.as_str()),
            path = seen.map_or("-", |s| s.path.as_str()),
            method = seen.map_or("-", |s| s.method.as_str()),
            client_ip = %ClientIp(seen.map(|s| s.client_ip)),
            route = route.unwrap_or("-"),
            result = result.label(),
            reason = reason.code(),
            status,
            user,
            groups = self.compared_groups.as_deref(),
            latency_ms = (elapsed * 1000.0 * 1000.0).round() / 1000.0,
            "decision"
        );
        app.metrics
            .decision(route.unwrap_or("-"), self.endpoint, result, reason);
        app.metrics.observe(self.endpoint, elapsed);
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert("x-request-id", header_value(&self.request_id));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::ClientIp;

    #[test]
    fn the_client_ip_prints_as_before_and_empty_when_unknown() {
        let v4: std::net::IpAddr = "10.1.2.3".parse().unwrap();
        let v6: std::net::IpAddr = "fd00::1".parse().unwrap();
        assert_eq!(ClientIp(Some(v4)).to_string(), v4.to_string());
        assert_eq!(ClientIp(Some(v6)).to_string(), "fd00::1");
        assert_eq!(ClientIp(None).to_string(), "");
    }
}
