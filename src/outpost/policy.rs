//! Authorization: who may pass a route ([`evaluate`]) and which requests need no login
//! at all ([`public_access`]).
//!
//! Every non-empty rule family must match; within a family one match suffices, except
//! claims and permissions, where every listed claim and every required permission must
//! be satisfied. An empty policy allows any signed-in user.

use super::path::RequestPath;
use super::subject::{Subject, claim_strings};
use crate::config::{PolicyConfig, path_has_prefix};
use crate::reason::Reason;

/// The outcome of [`evaluate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The subject may pass.
    Allow,
    /// The subject may not pass.
    Deny {
        /// A policy denial ([`Reason::is_policy_denial`]).
        reason: Reason,
        /// The rule that failed, in words, for the denied page (contains configuration
        /// values only, never the subject's data).
        rule: String,
    },
}

/// Evaluates the allow rules against a signed-in subject.
pub fn evaluate(policy: &PolicyConfig, subject: &Subject) -> Decision {
    // Validation refuses a policy without rules unless it admits anyone explicitly; if
    // one gets here anyway (a config built in code), it admits nobody.
    if !policy.allow_any_authenticated && policy.allow_rules().is_empty() {
        return deny(
            Reason::PolicyDeniedNoRule,
            "the route lists no allow rule and does not set allowAnyAuthenticated".into(),
        );
    }
    if (!policy.emails.is_empty() || !policy.email_domains.is_empty())
        && !email_allowed(policy, subject.email.as_deref())
    {
        let mut parts = Vec::new();
        if !policy.emails.is_empty() {
            parts.push(format!("one of the addresses {}", list(&policy.emails)));
        }
        if !policy.email_domains.is_empty() {
            parts.push(format!("an address in {}", list(&policy.email_domains)));
        }
        return deny(
            Reason::PolicyDeniedEmail,
            format!("email must be {}", parts.join(" or ")),
        );
    }
    if !policy.groups.is_empty() && !policy.groups.iter().any(|g| subject.groups.contains(g)) {
        return deny(
            Reason::PolicyDeniedGroup,
            format!("member of one of the groups {}", list(&policy.groups)),
        );
    }
    for (claim, accepted) in &policy.claims {
        let values = subject.claim(claim).map(claim_strings).unwrap_or_default();
        if !values.iter().any(|v| accepted.contains(v)) {
            return deny(
                Reason::PolicyDeniedClaim,
                format!("claim {claim:?} must be one of {}", list(accepted)),
            );
        }
    }
    for required in &policy.permissions {
        if !subject
            .permissions
            .iter()
            .any(|g| grant_covers(g, required))
        {
            return deny(
                Reason::PolicyDeniedPermission,
                format!("permission {required:?} is required"),
            );
        }
    }
    Decision::Allow
}

fn deny(reason: Reason, rule: String) -> Decision {
    Decision::Deny { reason, rule }
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// Whether the email matches a listed address or domain (case-insensitive).
///
/// A domain entry `example.com` matches exactly that domain; an entry `.example.com`
/// matches `example.com` and every sub-domain on a label boundary (the same meaning as
/// in the redirect allow-list). `a@evil-example.com` never matches `example.com`, and an
/// address without exactly one `@` or with an empty part never matches anything.
pub(crate) fn email_allowed(policy: &PolicyConfig, email: Option<&str>) -> bool {
    let Some(email) = email else { return false };
    let email = email.trim().to_ascii_lowercase();
    let mut parts = email.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    if local.is_empty() || domain.is_empty() {
        return false;
    }
    if policy
        .emails
        .iter()
        .any(|e| e.trim().eq_ignore_ascii_case(&email))
    {
        return true;
    }
    policy.email_domains.iter().any(|entry| {
        let entry = entry.trim().to_ascii_lowercase();
        match entry.strip_prefix('.') {
            Some("") => false,
            Some(parent) => {
                domain == parent
                    || domain
                        .strip_suffix(parent)
                        .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.'))
            }
            None => !entry.is_empty() && domain == entry,
        }
    })
}

/// Whether `grant` (which may use `*` for a whole segment: `*:*`, `docs:*`, `*:read`)
/// covers the literal permission `required`. Segment counts must agree, so a bare `*`
/// grants nothing; a `*` in `required` is compared literally.
pub(crate) fn grant_covers(grant: &str, required: &str) -> bool {
    let mut g = grant.split(':');
    let mut r = required.split(':');
    loop {
        match (g.next(), r.next()) {
            (None, None) => return true,
            (Some(gs), Some(rs)) if !rs.is_empty() && (gs == "*" || gs == rs) => {}
            _ => return false,
        }
    }
}

/// The request facts [`public_access`] needs.
#[derive(Clone, Copy, Debug)]
pub struct RequestFacts<'a> {
    /// The original request method.
    pub method: &'a str,
    /// The original request path (query and fragment allowed; they are stripped).
    pub raw_path: &'a str,
    /// An `Origin` header was present.
    pub has_origin: bool,
    /// An `Access-Control-Request-Method` header was present.
    pub has_acrm: bool,
}

/// When the request needs no login, the reason code (`public_method`,
/// `cors_preflight` or `public_path`); `None` when it needs one.
pub fn public_access(policy: &PolicyConfig, req: &RequestFacts<'_>) -> Option<Reason> {
    if policy
        .public_methods
        .iter()
        .any(|m| m.eq_ignore_ascii_case(req.method))
    {
        return Some(Reason::PublicMethod);
    }
    if policy.allow_cors_preflight && req.method == "OPTIONS" && req.has_origin && req.has_acrm {
        return Some(Reason::CorsPreflight);
    }
    if policy.public_paths.is_empty() && policy.public_requests.is_empty() {
        return None;
    }
    // Only a path every parser reads the same way may be public.
    let path = RequestPath::read(req.raw_path);
    let path = path.plain()?;
    let by_method = policy
        .public_requests
        .iter()
        .filter(|r| r.allows(req.method))
        .flat_map(|r| &r.paths);
    policy
        .public_paths
        .iter()
        .chain(by_method)
        .any(|p| path_has_prefix(path, p))
        .then_some(Reason::PublicPath)
}

/// Shorthand for `public_access(..).is_some()`.
#[cfg(test)] // Only tests use it; the product does not.
pub(crate) fn is_public(policy: &PolicyConfig, req: &RequestFacts<'_>) -> bool {
    public_access(policy, req).is_some()
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
