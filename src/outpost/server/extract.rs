//! What the handlers work on, as axum extractors whose rejections are the responses:
//! the request id the decision layer assigned ([`RequestId`]), the original host behind trusted proxies
//! ([`OriginalHost`]), the route a host's login
//! endpoints serve ([`HostRoute`]) and a login endpoint's target ([`LoginTarget`]).
//! "Malformed request headers" and "no route for this host" are answered here, once
//! ([`Refusal`]), and logged by the [`DecisionLayer`](super::decision_layer::DecisionLayer)
//! like every other decision.

use super::App;
use super::decision::Decided;
use super::handlers::{original, query_param, text};
use super::request::RequestId;
use super::state::{Loaded, RouteRuntime};
use crate::reason::{Outcome, Reason};
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::sync::Arc;

/// The body of every "no route for this host" answer (the auth subrequest's as well).
pub(crate) const NO_ROUTE_BODY: &str = "no route is configured for this host\n";

/// Why a request is answered before any route is known. Each is its own response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The forwarded headers of a login endpoint's request are malformed (400).
    MalformedHeaders(Reason),
    /// The forwarded headers of an auth subrequest are malformed (400).
    MalformedForwardedHeaders(Reason),
    /// No route serves the request's host (403).
    NoRoute,
}

impl From<Refusal> for Decided {
    fn from(refusal: Refusal) -> Self {
        let (status, body, result, reason) = match refusal {
            Refusal::MalformedHeaders(reason) => (
                StatusCode::BAD_REQUEST,
                "malformed request headers\n",
                Outcome::BadRequest,
                reason,
            ),
            Refusal::MalformedForwardedHeaders(reason) => (
                StatusCode::BAD_REQUEST,
                "malformed forwarded request headers\n",
                Outcome::BadRequest,
                reason,
            ),
            Refusal::NoRoute => (
                StatusCode::FORBIDDEN,
                NO_ROUTE_BODY,
                Outcome::Denied,
                Reason::RouteNotFound,
            ),
        };
        Decided::new(None, result, reason, text(status, body))
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        Decided::from(self).into_response()
    }
}

/// The id the [`DecisionLayer`](super::decision_layer::DecisionLayer) assigned (worked
/// out from the headers only when a handler runs without the layer, which the router
/// never does).
impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .copied()
            .unwrap_or_else(|| RequestId::of(&parts.headers)))
    }
}

/// The original request's host (lower case), behind trusted proxies only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginalHost(pub String);

impl FromRequestParts<Arc<App>> for OriginalHost {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Refusal> {
        original(app, parts, None)
            .map(|o| Self(o.host))
            .map_err(Refusal::MalformedHeaders)
    }
}

/// A route of the served configuration, held with the configuration it belongs to (a
/// reload during the request does not pull it away).
pub struct HeldRoute {
    loaded: Arc<Loaded>,
    index: usize,
}

impl HeldRoute {
    fn find(
        loaded: Arc<Loaded>,
        pick: impl FnOnce(&Loaded) -> Option<&RouteRuntime>,
    ) -> Option<Self> {
        let index = pick(&loaded)
            .and_then(|route| loaded.routes.iter().position(|r| std::ptr::eq(r, route)))?;
        Some(Self { loaded, index })
    }

    /// The route.
    pub fn route(&self) -> &RouteRuntime {
        &self.loaded.routes[self.index]
    }

    /// The configuration the route belongs to.
    pub fn loaded(&self) -> &Loaded {
        &self.loaded
    }
}

/// The route whose login endpoints (`/oauth2/userinfo`, `/oauth2/sessions`) the
/// request's host serves.
pub struct HostRoute {
    /// The route.
    pub held: HeldRoute,
    /// The original request's host (a lookup key, never used to build a URL).
    pub host: String,
}

impl HostRoute {
    /// The route.
    pub fn route(&self) -> &RouteRuntime {
        self.held.route()
    }
}

impl FromRequestParts<Arc<App>> for HostRoute {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Refusal> {
        let OriginalHost(host) = OriginalHost::from_request_parts(parts, app).await?;
        let held = HeldRoute::find(app.loaded(), |l| l.route_for_login(&host, None))
            .ok_or(Refusal::NoRoute)?;
        Ok(Self { held, host })
    }
}

/// What a login endpoint (`/oauth2/start`, `/oauth2/sign_out`) works on: the route the
/// request is for (by host and `rd`), the original host and the raw `rd`.
pub struct LoginTarget {
    held: HeldRoute,
    /// The original request's host (a lookup key, never used to build a URL).
    pub host: String,
    /// The `rd` parameter as sent.
    pub rd: String,
}

impl LoginTarget {
    /// The route.
    pub fn route(&self) -> &RouteRuntime {
        self.held.route()
    }
}

impl FromRequestParts<Arc<App>> for LoginTarget {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Refusal> {
        let OriginalHost(host) = OriginalHost::from_request_parts(parts, app).await?;
        let rd = query_param(parts, "rd").unwrap_or_default();
        let held = HeldRoute::find(app.loaded(), |l| l.route_for_login(&host, Some(&rd)))
            .ok_or(Refusal::NoRoute)?;
        Ok(Self { held, host, rd })
    }
}

#[cfg(test)]
#[path = "extract_tests.rs"]
mod tests;
