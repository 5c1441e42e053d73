//! The auth subrequest: `/oauth2/auth` (nginx) and the `/traefik`, `/caddy`, `/envoy`
//! variants. One decision function; the variants differ only in how a "not signed in"
//! is answered (401 for nginx, a login redirect for a browser navigation otherwise).

use super::App;
use super::bearer::cache_key;
use super::loader::{load_session, save_session};
use super::renewal::{Ended, Renewed, renew};
use super::request::{bearer_token, cookie_headers, header_value, now, subject_of};
use super::state::{Loaded, RouteRuntime};
use crate::oidc::{Identity, UntrustedAudiences};
use crate::outpost::Subject;
use crate::outpost::forwarded::OriginalRequest;
use crate::outpost::identity_headers::{named_identity_headers, safe_value, underscore_spelling};
use crate::outpost::path::RequestPath;
use crate::outpost::policy::{self, Decision, RequestFacts, public_access};
use crate::reason::{Outcome, Reason};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use std::sync::Arc;

/// Which proxy is asking; decides the "not signed in" answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// nginx `auth_request`: 401, never a redirect.
    Nginx,
    /// Traefik `forwardAuth`.
    Traefik,
    /// Caddy `forward_auth`.
    Caddy,
    /// Envoy `ext_authz` (HTTP service; the original path is appended to ours).
    Envoy,
}

impl Flavor {
    /// The endpoint label in logs and metrics.
    pub fn endpoint(self) -> &'static str {
        match self {
            Self::Nginx => "auth",
            Self::Traefik => "auth_traefik",
            Self::Caddy => "auth_caddy",
            Self::Envoy => "auth_envoy",
        }
    }

    /// Whether a browser navigation gets a 302 to the login.
    pub fn redirects(self) -> bool {
        self != Self::Nginx
    }
}

/// What the decision came to.
#[derive(Debug)]
pub enum Verdict {
    /// Pass, with these upstream headers and `Set-Cookie` values.
    Allow {
        /// The reason code (`authenticated`, `public_path`, ...).
        reason: Reason,
        /// Identity headers, access token and identity JWT.
        headers: Vec<(HeaderName, HeaderValue)>,
        /// A refreshed or touched session.
        set_cookies: Vec<String>,
        /// Who passed (empty for public requests).
        user: String,
    },
    /// Not signed in (or the session/token is unusable).
    Unauthenticated {
        /// The reason code.
        reason: Reason,
        /// A bearer token was presented and refused: why, with what was expected and
        /// what came (never the token), for the log.
        bearer: Option<String>,
    },
    /// Signed in, refused by the policy.
    Denied {
        /// The `policy_denied_*` code.
        reason: Reason,
        /// The rule, in words.
        rule: String,
        /// Who was refused.
        user: String,
        /// The user's groups the policy compared (for the log).
        groups: Vec<String>,
    },
    /// The session ended now: the IdP refused to renew it, or stayed unreachable past
    /// the grace. Unlike [`Verdict::Unauthenticated`] the cookie is cleared and a page
    /// says why, since signing in again may not help.
    Ended {
        /// `refresh_refused`, `refresh_grace_expired`, ...
        reason: Reason,
        /// What the IdP answered, in words (never a token).
        detail: String,
        /// Whose session ended.
        user: String,
        /// `Set-Cookie` values expiring the session cookie.
        clear_cookies: Vec<String>,
    },
    /// No route for the host and path.
    NoRoute,
    /// The session store did not answer: neither allowed nor sent to sign in (503).
    StoreUnavailable,
}

impl Verdict {
    /// `allow`, `unauthenticated`, `denied` or `no_route` (metric label).
    pub fn result(&self) -> Outcome {
        match self {
            Self::Allow { .. } => Outcome::Allow,
            Self::Unauthenticated { .. } | Self::Ended { .. } => Outcome::Unauthenticated,
            Self::Denied { .. } | Self::NoRoute => Outcome::Denied,
            Self::StoreUnavailable => Outcome::Error,
        }
    }

    /// The reason code.
    pub fn reason(&self) -> Reason {
        match self {
            Self::Allow { reason, .. }
            | Self::Unauthenticated { reason, .. }
            | Self::Ended { reason, .. }
            | Self::Denied { reason, .. } => *reason,
            Self::NoRoute => Reason::RouteNotFound,
            Self::StoreUnavailable => Reason::SessionStoreUnavailable,
        }
    }
}

/// The path used to pick a route: the RFC 3986 reading nginx routes on (so
/// `/api/../admin` is `/admin`), the raw path when unreadable. The public-path check
/// refuses ambiguous paths on its own.
pub(crate) fn route_path(uri: &str) -> String {
    RequestPath::read(uri).resolved
}

/// Decides on an original request.
pub async fn decide<'a>(
    app: &App,
    loaded: &'a Loaded,
    original: &OriginalRequest,
    headers: &HeaderMap,
) -> (Option<&'a RouteRuntime>, Verdict) {
    let Some(route) = loaded.route_for(&original.host, &route_path(&original.uri)) else {
        return (None, Verdict::NoRoute);
    };
    if let Some(verdict) = spoofed_identity_header(route, headers) {
        return (Some(route), verdict);
    }
    let now = now();
    let facts = RequestFacts {
        method: original.method.as_str(),
        raw_path: &original.uri,
        has_origin: headers.contains_key("origin"),
        has_acrm: headers.contains_key("access-control-request-method"),
    };
    if let Some(public) = public_access(&route.config.policy, &facts) {
        // Identity headers still go out (empty when there is no session), so a
        // client-sent header never reaches the upstream on a public path either.
        let identity = load_session(route, headers, now)
            .await
            .ok()
            .map(|s| s.session)
            .filter(|s| s.data.token_expires_at.is_none_or(|exp| now < exp))
            .map(|s| s.data.identity);
        let subject = identity.as_ref().map(subject_of).unwrap_or_default();
        let headers = upstream_headers(app, route, &subject, None, now);
        let verdict = Verdict::Allow {
            reason: public,
            headers,
            set_cookies: Vec::new(),
            user: subject.user,
        };
        return (Some(route), verdict);
    }
    if route.config.bearer.enabled {
        match bearer_token(headers) {
            Some(Err(())) => {
                let verdict = Verdict::Unauthenticated {
                    reason: Reason::MalformedToken,
                    bearer: Some("the Authorization header is not `Bearer <token>`".into()),
                };
                return (Some(route), verdict);
            }
            Some(Ok(token)) => {
                let verdict = match verify_bearer(loaded, route, token, now).await {
                    Ok(identity) => authorize(app, route, &identity, Some(token), Vec::new(), now),
                    Err((reason, why)) => Verdict::Unauthenticated {
                        reason,
                        bearer: Some(why),
                    },
                };
                return (Some(route), verdict);
            }
            None => {}
        }
    }
    (Some(route), session_verdict(app, route, headers, now).await)
}

/// A denial when the request spells one of the route's identity headers with
/// underscores (see [`underscore_spelling`]); checked before anything else, public
/// paths included, and again by `/oauth2/start` so a browser sent there by nginx gets
/// the page rather than a new sign-in.
pub(crate) fn spoofed_identity_header(
    route: &RouteRuntime,
    headers: &HeaderMap,
) -> Option<Verdict> {
    let (sent, ours) = underscore_spelling(&route.config.headers, headers)?;
    Some(Verdict::Denied {
        reason: Reason::IdentityHeaderSpoofed,
        rule: format!(
            "the request carries {sent}, an underscore spelling of the identity header {ours}; remove it (the proxy should not pass headers with underscores: nginx underscores_in_headers off, the ingress-nginx default)"
        ),
        user: String::new(),
        groups: Vec::new(),
    })
}

async fn session_verdict(
    app: &App,
    route: &RouteRuntime,
    headers: &HeaderMap,
    now: u64,
) -> Verdict {
    let mut stored = match load_session(route, headers, now).await {
        Ok(s) => s,
        Err(Reason::SessionStoreUnavailable) => return Verdict::StoreUnavailable,
        Err(reason) => {
            return Verdict::Unauthenticated {
                reason,
                bearer: None,
            };
        }
    };
    let renewed = match renew(app, route, &mut stored.session, now).await {
        Ok(renewed) => renewed,
        Err(ended) if !ended.needs_page() => {
            return Verdict::Unauthenticated {
                reason: ended.reason,
                bearer: None,
            };
        }
        Err(Ended { reason, detail }) => {
            return Verdict::Ended {
                reason,
                detail,
                user: stored.session.data.identity.username.clone(),
                clear_cookies: route.sessions.clear(&cookie_headers(headers)),
            };
        }
    };
    let set_cookies =
        if renewed == Renewed::Refreshed || route.sessions.needs_touch(&stored.session, now) {
            stored.session.last_seen = now;
            match save_session(route, &mut stored, headers, now).await {
                Ok(c) => c,
                Err(_) => return Verdict::StoreUnavailable,
            }
        } else {
            Vec::new()
        };
    let session = stored.session;
    let access = session.data.access_token.clone();
    let mut verdict = authorize(
        app,
        route,
        &session.data.identity,
        access.as_deref(),
        set_cookies,
        now,
    );
    if let (Verdict::Allow { reason: r, .. }, Renewed::InGrace) = (&mut verdict, renewed) {
        *r = Reason::IdpUnreachableGrace;
    }
    verdict
}

async fn verify_bearer(
    loaded: &Loaded,
    route: &RouteRuntime,
    token: &str,
    now: u64,
) -> Result<Arc<Identity>, (Reason, String)> {
    let key = cache_key(&route.config.id, token);
    if let Some(identity) = loaded.bearer_cache.get(&key, now) {
        return Ok(identity);
    }
    let provider = route.provider.get().ok_or((
        Reason::ProviderNotReady,
        "the provider's discovery and keys are not loaded yet".to_string(),
    ))?;
    let claims = provider
        .verify_access_token(
            token,
            &route.config.bearer.audiences,
            UntrustedAudiences::from_allowed(route.config.bearer.allow_multiple_audiences),
        )
        .await
        // The error's text names expected and received values, never the token.
        .map_err(|e| (e.reason(), e.to_string()))?;
    let identity = Arc::new(provider.identity(&claims, &route.keep_claims));
    let exp = claims.get("exp").and_then(serde_json::Value::as_u64);
    loaded.bearer_cache.insert(key, exp, identity.clone(), now);
    Ok(identity)
}

/// Policy, then the upstream headers.
pub fn authorize(
    app: &App,
    route: &RouteRuntime,
    identity: &Identity,
    access_token: Option<&str>,
    set_cookies: Vec<String>,
    now: u64,
) -> Verdict {
    let subject = subject_of(identity);
    if let Decision::Deny { reason, rule } = policy::evaluate(&route.config.policy, &subject) {
        return Verdict::Denied {
            reason,
            rule,
            user: subject.user,
            groups: subject.groups,
        };
    }
    Verdict::Allow {
        reason: Reason::Authenticated,
        headers: upstream_headers(app, route, &subject, access_token, now),
        set_cookies,
        user: subject.user,
    }
}

/// Every configured identity header (empty when unknown), the access-token header and
/// the identity JWT when configured.
pub(crate) fn upstream_headers(
    app: &App,
    route: &RouteRuntime,
    subject: &Subject,
    access_token: Option<&str>,
    now: u64,
) -> Vec<(HeaderName, HeaderValue)> {
    let config = &route.config.headers;
    let names = &route.header_names;
    let mut out = named_identity_headers(&names.identity, subject, 2);
    if let Some(name) = &names.access_token {
        out.push((name.clone(), safe_value(access_token.unwrap_or_default())));
    }
    if let Some(jwt) = &config.identity_jwt
        && let Some(name) = names.identity_jwt.clone()
    {
        let value = if subject.sub.is_empty() {
            HeaderValue::from_static("")
        } else {
            let issuer = route.base.as_str().trim_end_matches('/');
            match app
                .signer
                .identity_jwt(issuer, &jwt.audience, jwt.lifetime_seconds, subject, now)
            {
                Ok(token) => header_value(&token),
                Err(e) => {
                    tracing::warn!(route = %route.config.id, error = %e, "cannot sign the identity JWT");
                    HeaderValue::from_static("")
                }
            }
        };
        out.push((name, value));
    }
    out
}

#[cfg(test)]
#[path = "auth_path_tests.rs"]
mod path_tests;
#[cfg(test)]
#[path = "auth_tests.rs"]
pub(in crate::outpost::server) mod tests;
