//! The one decision log line per request: who asked (client IP from trusted forwarding
//! only), for what (host, path without the query, method), the answer (route, result,
//! reason, status, user, latency) and, on a denial, the groups that were compared.

use super::App;
use super::decision_line::Line;
use super::request::{RequestId, header_value};
use crate::outpost::forwarded::OriginalRequest;
use crate::reason::{Outcome, Reason};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
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
    pub method: Method,
    /// The client: the trusted proxy's `X-Forwarded-For`/`X-Real-IP`, else the peer.
    pub client_ip: IpAddr,
}

/// Per-request facts a handler gathers for its decision line: the request id the
/// [`DecisionLayer`](super::decision_layer::DecisionLayer) assigned, the original
/// request once worked out and, on a denial, the groups compared. The handler ends
/// with [`Ctx::finish`], which hands them to the layer with the response; the layer
/// writes the line.
pub struct Ctx {
    /// The request id.
    pub request_id: RequestId,
    /// The original request, once worked out.
    pub seen: Option<Seen>,
    /// On a denial: the user's groups that the policy compared.
    pub compared_groups: Option<String>,
}

/// What a handler decided, carried to the [`DecisionLayer`](super::decision_layer::DecisionLayer)
/// in the response's extensions: the layer logs it, counts it and stamps the response.
/// A response without one (an endpoint that makes no decision) passes unlogged.
#[derive(Clone, Debug)]
pub struct Decision {
    /// The route's id, when one was found.
    pub route: Option<String>,
    /// The result label.
    pub result: Outcome,
    /// The reason code.
    pub reason: Reason,
    /// Who asked (empty when nobody is signed in).
    pub user: String,
    /// The original request, when worked out.
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
    /// Starts a handler's context: the id the layer assigned (worked out here only when
    /// the handler runs without the layer, which the router never does).
    pub fn new(parts: &Parts) -> Self {
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId::of(&parts.headers));
        Self {
            request_id,
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
            method: original.method.clone(),
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

    /// Hands the decision to the layer with the response (the layer logs, counts and
    /// stamps it). Copies what the context saw; [`Ctx::finish_owned`] moves it.
    pub fn finish(
        &self,
        route: Option<&str>,
        result: Outcome,
        reason: Reason,
        user: &str,
        response: Response,
    ) -> Response {
        let decision = Decision {
            route: route.map(str::to_string),
            result,
            reason,
            user: user.to_string(),
            seen: self.seen.clone(),
            compared_groups: self.compared_groups.clone(),
        };
        decision.attach(response)
    }

    /// [`Ctx::finish`] for the last use of a context: moves instead of copying (the auth
    /// subrequest's path, where every allocation shows).
    pub fn finish_owned(
        self,
        route: Option<&str>,
        result: Outcome,
        reason: Reason,
        user: String,
        response: Response,
    ) -> Response {
        let decision = Decision {
            route: route.map(str::to_string),
            result,
            reason,
            user,
            seen: self.seen,
            compared_groups: self.compared_groups,
        };
        decision.attach(response)
    }
}

impl Decision {
    /// The response, carrying this decision to the layer.
    pub fn attach(self, mut response: Response) -> Response {
        response.extensions_mut().insert(self);
        response
    }

    /// Logs the one decision line for a request handled by `endpoint` with `id`, started
    /// at `started`, answered with `status`; counts it.
    pub fn log(
        &self,
        app: &App,
        endpoint: &'static str,
        id: &RequestId,
        started: Instant,
        status: u16,
    ) {
        let elapsed = started.elapsed().as_secs_f64();
        let seen = self.seen.as_ref();
        let route = self.route.as_deref();
        Line {
            request_id: id,
            endpoint,
            host: seen.map_or("-", |s| s.host.as_str()),
            path: seen.map_or("-", |s| s.path.as_str()),
            method: seen.map_or("-", |s| s.method.as_str()),
            client_ip: seen.map(|s| s.client_ip),
            route: route.unwrap_or("-"),
            result: self.result.label(),
            reason: self.reason.code(),
            status,
            user: self.user.as_str(),
            groups: self.compared_groups.as_deref(),
            latency_ms: (elapsed * 1000.0 * 1000.0).round() / 1000.0,
        }
        .emit();
        app.metrics
            .decision(route.unwrap_or("-"), endpoint, self.result, self.reason);
        app.metrics.observe(endpoint, elapsed);
    }
}

/// The headers every decided response carries: never cached (it depends on the
/// session), and the request id to quote.
pub fn stamp(response: &mut Response, id: &RequestId) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-request-id", header_value(id));
}
