//! "Fit the defaults of the ingress in front of us": the callback's whole response head
//! (status line, `Location`, every `Set-Cookie`) must fit ingress-nginx's default 4k
//! `proxy-buffer-size`, or nginx answers a bare 502 ("upstream sent too big header").
//! The session keeps only what the route needs (the groups its policy names, the claims
//! its headers map), drops the ID token when that is what does not fit, and otherwise
//! ends on a page naming the size and the annotation to raise.

use super::App;
use super::handlers::{Ctx, page};
use super::state::RouteRuntime;
use crate::config::RouteConfig;
use crate::oidc::Identity;
use crate::reason::{Outcome, Reason};
use axum::http::StatusCode;
use axum::response::Response;

/// Headers every callback answer carries besides `Location` and `Set-Cookie`
/// (`content-length`, `cache-control`, `x-request-id`, `date`), with room to spare.
const FIXED_HEAD_BYTES: usize = 160;

/// Keeps of the user's groups only those the route's policy names; all of them only
/// when the policy names none and a header forwards them (the upstream decides).
pub fn trim_groups(identity: &mut Identity, route: &RouteConfig) {
    if !route.policy.groups.is_empty() {
        identity.groups.retain(|g| route.policy.groups.contains(g));
    } else if !route.headers.map.values().any(|field| field == "groups") {
        identity.groups.clear();
    }
}

/// Bytes of the response head nginx buffers for a callback answer.
pub fn head_bytes(location: &str, cookies: &[String]) -> usize {
    let cookies: usize = cookies
        .iter()
        .map(|c| "set-cookie: ".len() + c.len() + 2)
        .sum();
    "HTTP/1.1 302 Found\r\n".len()
        + "location: ".len()
        + location.len()
        + 2
        + cookies
        + FIXED_HEAD_BYTES
}

/// Whether an answer with these cookies fits the route's budget.
pub fn fits(route: &RouteRuntime, location: &str, cookies: &[String]) -> bool {
    head_bytes(location, cookies) <= route.config.session.max_header_bytes
}

/// The page for an identity that does not fit even trimmed; sets no session cookie.
pub fn too_large_page(
    app: &App,
    ctx: &Ctx,
    route: &RouteRuntime,
    bytes: usize,
    identity: &Identity,
    user: &str,
) -> Response {
    let budget = route.config.session.max_header_bytes;
    let detail = format!(
        "signing you in needs a {bytes}-byte response head (the session cookie carries {groups} groups and the tokens this route forwards) but the proxy in front is expected to buffer {budget} bytes. Raise nginx.ingress.kubernetes.io/proxy-buffer-size on the Ingress (e.g. \"16k\") and the route's spec.session.maxHeaderBytes to match, or have the route's policy name the groups it needs.",
        groups = identity.groups.len(),
    );
    tracing::warn!(
        request_id = %ctx.request_id,
        route = %route.config.id,
        reason = %Reason::SessionTooLarge,
        bytes,
        budget,
        groups = identity.groups.len(),
        "the session does not fit the proxy buffer; showing a page instead of a 502"
    );
    let r = page(
        StatusCode::INTERNAL_SERVER_ERROR,
        Reason::SessionTooLarge,
        &detail,
        user,
        &ctx.request_id,
        Some(route),
    );
    let id = Some(route.config.id.as_str());
    ctx.finish(app, id, Outcome::Error, Reason::SessionTooLarge, user, r)
}
