//! How a handler reports its outcome, and the one decision log line per request.
//!
//! A deciding handler returns a [`Decided`]: its answer (the response) together with
//! what it decided (a [`Decision`]: route, result, reason, user). The constructors say
//! what happened: [`Decided::allow`], [`Decided::denied`], [`Decided::redirect`],
//! [`Decided::error`] and so on; [`Decided::by`] names the user. Early exits are
//! `Err(Decided)`, so a handler is a chain of `?` ending in `Ok(Decided::..)`:
//!
//! ```ignore
//! pub async fn start(..) -> Result<Decided, Decided> {
//!     rate_limited(&app, &id, route, &parts)?;   // 429 page, logged as denied
//!     ...
//!     Ok(Decided::redirect(route, Reason::LoginStarted, redirect(url, &[cookie])))
//! }
//! ```
//!
//! Turned into a response, a [`Decided`] puts its [`Decision`] in the response's
//! extensions; the [`DecisionLayer`](super::decision_layer::DecisionLayer) around every
//! deciding endpoint takes it from there and writes the line (who asked, for what, the
//! answer, the latency and, on a denial, the groups compared), counts it in the metrics
//! and stamps the common headers. No handler logs its decision itself.

use super::App;
use super::decision_line::Line;
use super::request::{RequestId, header_value};
use super::state::RouteRuntime;
use crate::outpost::forwarded::OriginalRequest;
use crate::reason::{Outcome, Reason};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
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

impl Seen {
    /// What the line shows of `original`, asked by `client_ip`.
    pub fn of(original: &OriginalRequest, client_ip: IpAddr) -> Self {
        let end = original.uri.find(['?', '#']).unwrap_or(original.uri.len());
        Self {
            host: original.host.clone(),
            path: original.uri[..end].to_string(),
            method: original.method.clone(),
            client_ip,
        }
    }
}

/// The groups a denial compared, as the line shows them: comma-separated, at most
/// 32 and a count of the rest.
pub fn compared_groups(groups: &[String]) -> String {
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
    text
}

/// What a deciding handler returns: the response and the [`Decision`] it carries to the
/// [`DecisionLayer`](super::decision_layer::DecisionLayer). Build one with the
/// constructor that says what happened; name the user with [`Decided::by`].
#[must_use = "a decision is logged only when the handler returns it"]
#[derive(Debug)]
pub struct Decided {
    decision: Decision,
    response: Response,
}

impl Decided {
    /// `response` answers a request on `route` (`None`: no route is known) with `result`
    /// for `reason`; nobody signed in until [`Decided::by`] says who.
    pub fn new<'r>(
        route: impl Into<Option<&'r RouteRuntime>>,
        result: Outcome,
        reason: Reason,
        response: Response,
    ) -> Self {
        Self {
            decision: Decision {
                route: route.into().map(|r| r.config.id.clone()),
                result,
                reason,
                user: String::new(),
                seen: None,
                compared_groups: None,
            },
            response,
        }
    }

    /// Let through: a session or token that the policy allows.
    pub fn allow<'r>(
        route: impl Into<Option<&'r RouteRuntime>>,
        reason: Reason,
        response: Response,
    ) -> Self {
        Self::new(route, Outcome::Allow, reason, response)
    }

    /// Nobody (usable) is signed in: a 401, or a page saying why the session ended.
    pub fn unauthenticated<'r>(
        route: impl Into<Option<&'r RouteRuntime>>,
        reason: Reason,
        response: Response,
    ) -> Self {
        Self::new(route, Outcome::Unauthenticated, reason, response)
    }

    /// Refused: the policy, the IdP, the rate limit or a forged form said no.
    pub fn denied<'r>(
        route: impl Into<Option<&'r RouteRuntime>>,
        reason: Reason,
        response: Response,
    ) -> Self {
        Self::new(route, Outcome::Denied, reason, response)
    }

    /// The request itself is malformed (400).
    pub(crate) fn bad_request<'r>(
        route: impl Into<Option<&'r RouteRuntime>>,
        reason: Reason,
        response: Response,
    ) -> Self {
        Self::new(route, Outcome::BadRequest, reason, response)
    }

    /// Sent on as part of the flow: to the IdP, the external URL, back to the app.
    pub fn redirect<'r>(
        route: impl Into<Option<&'r RouteRuntime>>,
        reason: Reason,
        response: Response,
    ) -> Self {
        Self::new(route, Outcome::Redirect, reason, response)
    }

    /// A session ended: signed out here, by the user or by the IdP.
    pub(crate) fn signed_out<'r>(
        route: impl Into<Option<&'r RouteRuntime>>,
        reason: Reason,
        response: Response,
    ) -> Self {
        Self::new(route, Outcome::SignOut, reason, response)
    }

    /// Something on our side, the store's or the IdP's failed (5xx, or a page that
    /// breaks a loop).
    pub fn error<'r>(
        route: impl Into<Option<&'r RouteRuntime>>,
        reason: Reason,
        response: Response,
    ) -> Self {
        Self::new(route, Outcome::Error, reason, response)
    }

    /// Who asked (moved in: the auth subrequest's user costs no copy).
    pub fn by(mut self, user: impl Into<String>) -> Self {
        self.decision.user = user.into();
        self
    }

    /// The original request, for the line's host, path, method and client.
    pub fn seen(mut self, seen: Seen) -> Self {
        self.decision.seen = Some(seen);
        self
    }

    /// On a denial: the groups the policy compared ([`compared_groups`]).
    pub fn compared(mut self, groups: Option<String>) -> Self {
        self.decision.compared_groups = groups;
        self
    }

    /// The answer with `Set-Cookie` headers appended (cookies the page's cause set,
    /// such as the cleared login state).
    pub(crate) fn with_cookies(mut self, cookies: &[String]) -> Self {
        self.response = super::handlers::with_cookies(self.response, cookies);
        self
    }

    /// What was decided.
    pub fn decision(&self) -> &Decision {
        &self.decision
    }
}

impl IntoResponse for Decided {
    fn into_response(self) -> Response {
        self.decision.attach(self.response)
    }
}

impl Decision {
    /// The response, carrying this decision to the layer.
    pub(crate) fn attach(self, mut response: Response) -> Response {
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
pub(crate) fn stamp(response: &mut Response, id: &RequestId) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-request-id", header_value(id));
}

#[cfg(test)]
#[path = "decision_tests.rs"]
mod tests;
