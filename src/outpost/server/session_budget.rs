//! "Fit the defaults of the ingress in front of us": the callback's whole response head
//! (status line, `Location`, every `Set-Cookie`) must fit ingress-nginx's default 4k
//! `proxy-buffer-size`, or nginx answers a bare 502 ("upstream sent too big header").
//! The session keeps only what the route needs (the claims its headers map; all groups
//! when a header forwards them, else only those its policy names; never the ID token,
//! which a cookie session hands to the sign-out hint cookie). The callback drops that
//! hint cookie when it is what does not fit, then narrows forwarded groups to the
//! policy's, and otherwise ends on a page naming the size and the annotation to raise.

use super::decision::Decided;
use super::handlers::page;
use super::request::RequestId;
use super::state::RouteRuntime;
use crate::config::{IdentityField, RouteConfig};
use crate::oidc::Identity;
use crate::reason::Reason;
use axum::http::StatusCode;

/// Headers every callback answer carries besides `Location` and `Set-Cookie`
/// (`content-length`, `cache-control`, `x-request-id`, `date`), with room to spare.
const FIXED_HEAD_BYTES: usize = 160;

/// Whether one of the route's headers passes the groups upstream.
fn forwards_groups(route: &RouteConfig) -> bool {
    route
        .headers
        .map
        .values()
        .any(|field| *field == IdentityField::Groups)
}

/// Keeps every group when a header forwards them (the upstream maps roles from them:
/// Grafana's admin group need not be one the policy names); otherwise only those the
/// route's policy names, none when it names none.
pub(crate) fn trim_groups(identity: &mut Identity, route: &RouteConfig) {
    if forwards_groups(route) {
        return;
    }
    identity.groups.retain(|g| route.policy.groups.contains(g));
}

/// When the session does not fit even without the sign-out hint: narrows forwarded groups to
/// those the policy names. Returns how many groups were dropped (0: nothing to narrow).
pub(crate) fn narrow_forwarded_groups(identity: &mut Identity, route: &RouteConfig) -> usize {
    if !forwards_groups(route) || route.policy.groups.is_empty() {
        return 0;
    }
    let before = identity.groups.len();
    identity.groups.retain(|g| route.policy.groups.contains(g));
    before - identity.groups.len()
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
pub(crate) fn too_large_page(
    id: &RequestId,
    route: &RouteRuntime,
    bytes: usize,
    identity: &Identity,
    user: &str,
) -> Decided {
    let budget = route.config.session.max_header_bytes;
    let detail = format!(
        "signing you in needs a {bytes}-byte response head (the session cookie carries {groups} groups and the tokens this route forwards) but the proxy in front is expected to buffer {budget} bytes. Raise nginx.ingress.kubernetes.io/proxy-buffer-size on the Ingress (e.g. \"16k\") and the route's spec.session.maxHeaderBytes to match, or have the route's policy name the groups it needs.",
        groups = identity.groups.len(),
    );
    tracing::warn!(
        request_id = %id,
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
        id,
        Some(route),
    );
    Decided::error(route, Reason::SessionTooLarge, r).by(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PolicyConfig;

    fn route(policy_groups: &[&str], header_forwards_groups: bool) -> RouteConfig {
        let mut route = RouteConfig {
            policy: PolicyConfig {
                groups: policy_groups.iter().map(|g| g.to_string()).collect(),
                ..PolicyConfig::default()
            },
            ..RouteConfig::default()
        };
        route.headers.map.clear();
        route
            .headers
            .map
            .insert("X-User".into(), IdentityField::User);
        if header_forwards_groups {
            route
                .headers
                .map
                .insert("X-Groups".into(), IdentityField::Groups);
        }
        route
    }

    fn user() -> Identity {
        Identity {
            groups: vec!["staff".into(), "grafana-admins".into(), "ops".into()],
            ..Identity::default()
        }
    }

    #[test]
    fn forwarded_groups_are_all_kept_until_they_do_not_fit() {
        // A header forwards groups: the upstream's role mapping sees them all, even
        // those the policy does not name.
        let r = route(&["staff"], true);
        let mut id = user();
        trim_groups(&mut id, &r);
        assert_eq!(id.groups, user().groups);
        // Too large: narrowed to the policy's groups, and says how many went.
        assert_eq!(narrow_forwarded_groups(&mut id, &r), 2);
        assert_eq!(id.groups, vec!["staff".to_string()]);
        assert_eq!(narrow_forwarded_groups(&mut id, &r), 0);
        // A policy naming no group leaves nothing to narrow to: all stay, and the
        // size page (not an empty groups header) is the answer.
        let mut id = user();
        assert_eq!(narrow_forwarded_groups(&mut id, &route(&[], true)), 0);
        assert_eq!(id.groups.len(), 3);
    }

    #[test]
    fn groups_nobody_forwards_are_kept_only_when_the_policy_names_them() {
        let mut id = user();
        trim_groups(&mut id, &route(&["ops", "absent"], false));
        assert_eq!(id.groups, vec!["ops".to_string()]);
        let mut id = user();
        trim_groups(&mut id, &route(&[], false));
        assert!(id.groups.is_empty());
    }
}
