//! The catalogue of decision reason codes. Every auth decision carries one: in the log
//! line, as a metric label and on the denied page. Codes are stable, lower snake case,
//! and never contain user input, so they are safe as metric labels.

/// A logged-in user with a valid session (or bearer token) passed the policy.
pub const AUTHENTICATED: &str = "authenticated";
/// The path is configured as public.
pub const PUBLIC_PATH: &str = "public_path";
/// The method is configured as public.
pub const PUBLIC_METHOD: &str = "public_method";
/// A CORS preflight passed through without a login.
pub const CORS_PREFLIGHT: &str = "cors_preflight";
/// No session cookie was sent.
pub const NO_SESSION: &str = "no_session";
/// The session passed its absolute lifetime.
pub const SESSION_EXPIRED: &str = "session_expired";
/// The session was unused for longer than the idle timeout.
pub const SESSION_IDLE: &str = "session_idle";
/// The session cookie could not be decrypted or parsed.
pub const SESSION_INVALID: &str = "session_invalid";
/// The session cookie came twice with different values.
pub const SESSION_COOKIE_DUPLICATED: &str = "session_cookie_duplicated";
/// A second completed login for one target within seconds, the session cookie not kept.
pub const LOGIN_LOOP: &str = "login_loop";
/// The session does not fit the proxy's response buffer even trimmed.
pub const SESSION_TOO_LARGE: &str = "session_too_large";
/// The session was ended on the server (sign-out, revocation, back-channel logout).
pub const SESSION_REVOKED: &str = "session_revoked";
/// The session id is not in the session store (the store was emptied, or the entry
/// expired there).
pub const SESSION_UNKNOWN: &str = "session_unknown";
/// The session store (Redis) did not answer; nobody is let in or sent to sign in.
pub const SESSION_STORE_UNAVAILABLE: &str = "session_store_unavailable";
/// A back-channel logout token was refused (signature, issuer, audience, times, events,
/// nonce, sub/sid, or an issuer no provider has).
pub const LOGOUT_TOKEN_INVALID: &str = "logout_token_invalid";
/// A back-channel logout token came a second time (same `jti` while it is fresh).
pub const LOGOUT_TOKEN_REPLAYED: &str = "logout_token_replayed";
/// A back-channel logout came for a provider none of whose routes keeps sessions in
/// Redis: cookie sessions cannot be ended from the server.
pub const BACKCHANNEL_LOGOUT_UNSUPPORTED: &str = "backchannel_logout_unsupported";
/// A back-channel logout was accepted (it ended zero or more sessions).
pub const BACKCHANNEL_LOGOUT: &str = "backchannel_logout";
/// A form post to the sessions page came from another site (Origin / Sec-Fetch-Site).
pub const CROSS_SITE_REQUEST: &str = "cross_site_request";
/// A form post to the sessions page lacked the token bound to the poster's session.
pub const FORM_TOKEN_INVALID: &str = "form_token_invalid";
/// The email address is neither listed nor in an allowed domain.
pub const POLICY_DENIED_EMAIL: &str = "policy_denied_email";
/// The user is in none of the allowed groups.
pub const POLICY_DENIED_GROUP: &str = "policy_denied_group";
/// A required claim is missing or has none of the accepted values.
pub const POLICY_DENIED_CLAIM: &str = "policy_denied_claim";
/// A required `resource:action` permission is not granted.
pub const POLICY_DENIED_PERMISSION: &str = "policy_denied_permission";
/// The bearer token was refused.
pub const BEARER_INVALID: &str = "bearer_invalid";
/// No route is configured for the requested host and path.
pub const ROUTE_NOT_FOUND: &str = "route_not_found";
/// Forwarded headers came from a peer outside the trusted CIDRs and were ignored.
pub const UNTRUSTED_FORWARDED_HEADERS: &str = "untrusted_forwarded_headers";
/// A trusted proxy sent forwarded headers that could not be parsed.
pub const MALFORMED_FORWARDED_HEADERS: &str = "malformed_forwarded_headers";
/// A redirect target was refused and replaced by the route's base URL.
pub const REDIRECT_REFUSED: &str = "redirect_refused";
/// The login state cookie is missing, expired or does not match `state`.
pub const STATE_INVALID: &str = "state_invalid";
/// The token's `iss` is not the configured issuer.
pub const ISSUER_MISMATCH: &str = "issuer_mismatch";
/// The token's `aud` contains no accepted audience.
pub const AUDIENCE_MISMATCH: &str = "audience_mismatch";
/// The bearer token names untrusted audiences besides ours and no `azp`.
pub const MULTIPLE_AUDIENCES_WITHOUT_AZP: &str = "multiple_audiences_without_azp";
/// The token names a key id absent from the provider's JWKS.
pub const UNKNOWN_KID: &str = "unknown_kid";
/// The token is signed with an algorithm that is not allowed.
pub const ALG_NOT_ALLOWED: &str = "alg_not_allowed";

/// Every code with its one-line human explanation, for the denied page, logs and docs.
pub const CATALOGUE: &[(&str, &str)] = &[
    (
        AUTHENTICATED,
        "Signed in and allowed by the route's policy.",
    ),
    (
        PUBLIC_PATH,
        "The path is public on this route; no sign-in needed.",
    ),
    (
        PUBLIC_METHOD,
        "The request method is public on this route; no sign-in needed.",
    ),
    (
        CORS_PREFLIGHT,
        "A CORS preflight request was let through without sign-in.",
    ),
    (
        NO_SESSION,
        "No session cookie was sent; sign-in is required.",
    ),
    (
        SESSION_EXPIRED,
        "The session reached its maximum lifetime; sign in again.",
    ),
    (
        SESSION_IDLE,
        "The session was unused longer than the idle timeout; sign in again.",
    ),
    (
        SESSION_INVALID,
        "The session cookie could not be read (tampered, truncated or from a rotated key).",
    ),
    (
        SESSION_COOKIE_DUPLICATED,
        "Your browser sent the session cookie twice with different values, usually because it was set for two domains (example.com and app.example.com) or two paths; which session is meant cannot be known, so neither is used.",
    ),
    (
        LOGIN_LOOP,
        "You signed in twice for this page within seconds, but your browser did not keep the session cookie, so signing in again would only repeat.",
    ),
    (
        SESSION_TOO_LARGE,
        "Your identity (groups, claims, tokens) is too large for the session cookie the proxy in front of this site can pass on.",
    ),
    (
        LOGOUT_TOKEN_INVALID,
        "The identity provider's back-channel logout token was refused (bad signature, wrong issuer or audience, too old, not a logout token); no session was ended.",
    ),
    (
        LOGOUT_TOKEN_REPLAYED,
        "The same back-channel logout token (jti) came again; it was already acted on.",
    ),
    (
        BACKCHANNEL_LOGOUT_UNSUPPORTED,
        "A back-channel logout came for a provider whose routes keep sessions only in cookies, which cannot be ended from the server.",
    ),
    (
        CROSS_SITE_REQUEST,
        "The form was sent from another site; sessions can only be ended from this site's own sessions page.",
    ),
    (
        FORM_TOKEN_INVALID,
        "The form is stale or was not issued to this browser's session; open the sessions page again and retry.",
    ),
    (
        BACKCHANNEL_LOGOUT,
        "The identity provider signed a user out; their sessions here were ended.",
    ),
    (
        SESSION_REVOKED,
        "This session was ended (signed out here, at the sign-in service, or by an administrator); sign in again.",
    ),
    (
        SESSION_UNKNOWN,
        "The session is no longer known to the session store (it was emptied or the entry expired); sign in again.",
    ),
    (
        SESSION_STORE_UNAVAILABLE,
        "The session store did not answer, so your session cannot be checked right now; try again in a moment.",
    ),
    (
        POLICY_DENIED_EMAIL,
        "Your email address is not on the route's allow-list.",
    ),
    (
        POLICY_DENIED_GROUP,
        "You are not a member of any group this route allows.",
    ),
    (
        POLICY_DENIED_CLAIM,
        "A claim this route requires is missing or has a value it does not accept.",
    ),
    (
        POLICY_DENIED_PERMISSION,
        "You lack a permission this route requires.",
    ),
    (BEARER_INVALID, "The bearer token was refused."),
    (
        ROUTE_NOT_FOUND,
        "No route is configured for this host and path.",
    ),
    (
        UNTRUSTED_FORWARDED_HEADERS,
        "Forwarded headers came from a peer that is not a trusted proxy and were ignored; add its address range with --trusted-proxy (Helm: outpost.trustedProxies).",
    ),
    (
        MALFORMED_FORWARDED_HEADERS,
        "The proxy's forwarded headers could not be parsed.",
    ),
    (
        REDIRECT_REFUSED,
        "The requested redirect target is not allowed; the route's home page is used instead.",
    ),
    (
        STATE_INVALID,
        "The sign-in attempt is unknown or expired; start again.",
    ),
    (
        ISSUER_MISMATCH,
        "The token was issued by a different issuer than the one configured.",
    ),
    (
        AUDIENCE_MISMATCH,
        "The token was issued for a different audience.",
    ),
    (
        MULTIPLE_AUDIENCES_WITHOUT_AZP,
        "The token was issued for several services, some of them not this one, and does not say which client it was issued to; ask for a token for this service only, or set bearer.allowMultipleAudiences on the route.",
    ),
    (
        UNKNOWN_KID,
        "The token was signed with a key the provider does not publish.",
    ),
    (
        ALG_NOT_ALLOWED,
        "The token was signed with an algorithm that is not allowed.",
    ),
];

/// What to do about a code, for the page's "What to do" (codes a person can act on).
pub const FIXES: &[(&str, &str)] = &[
    (
        SESSION_TOO_LARGE,
        "Whoever runs the site: raise nginx.ingress.kubernetes.io/proxy-buffer-size on the Ingress (e.g. \"16k\") and spec.session.maxHeaderBytes on the ForwardAuthRoute to match, or name in the route's policy only the groups it needs (the session then keeps only those).",
    ),
    (
        LOGIN_LOOP,
        "The usual causes: the cookie's Domain does not cover the app's host (set spec.session.cookieDomain to a parent domain of both the app and the sign-in host); a Secure cookie for an app served over plain http (serve it over https); the browser blocks this site's cookies (privacy settings, an embedded frame); a proxy drops Set-Cookie or its response headers are too large (ingress-nginx: raise nginx.ingress.kubernetes.io/proxy-buffer-size). Fix the cause, then sign out and open the page again.",
    ),
    (
        SESSION_COOKIE_DUPLICATED,
        "Sign out (the link below): it expires every copy this site can name. If this page comes back, delete this site's cookies in your browser (site settings, cookies), including those of its parent domain, then sign in again. Whoever runs the site: set the session cookie for one domain only (ForwardAuthRoute spec.session.cookieDomain) and do not reuse its name on other hosts.",
    ),
    (
        SESSION_STORE_UNAVAILABLE,
        "Nothing to do on your side: reload the page shortly. Whoever runs the site: the outpost cannot reach its Redis session store (its /readyz on the admin port says which and why); bring Redis back and sessions resume, nobody has to sign in again.",
    ),
    (
        BACKCHANNEL_LOGOUT_UNSUPPORTED,
        "Keep the provider's routes' sessions in Redis (spec.session.store.redis on the ForwardAuthRoute), or remove backchannel_logout_uri from the client registration at the IdP.",
    ),
    (
        LOGOUT_TOKEN_INVALID,
        "Whoever runs the site: the outpost log line with this reason says which check failed (issuer, audience = the client id, signing keys); check the IdP's issuer and the route's client id.",
    ),
    (
        MULTIPLE_AUDIENCES_WITHOUT_AZP,
        "Request a token whose audience is only this service, or have the IdP add azp; if the IdP cannot, set spec.bearer.allowMultipleAudiences on the route.",
    ),
];

/// What to do about a code, when there is something to do.
pub fn fix(code: &str) -> Option<&'static str> {
    FIXES.iter().find(|(c, _)| *c == code).map(|(_, f)| *f)
}

/// The human explanation of a code; unknown codes get a generic line rather than an
/// error, because a denied page must always render.
pub fn explain(code: &str) -> &'static str {
    CATALOGUE
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, text)| *text)
        .unwrap_or("The request was not allowed.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn codes_are_unique_and_metric_safe() {
        let mut seen = BTreeSet::new();
        for (code, text) in CATALOGUE {
            assert!(seen.insert(*code), "duplicate code {code}");
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code} is not lower snake case"
            );
            assert!(!text.is_empty() && !text.contains('\n'));
        }
    }

    #[test]
    fn every_fix_is_for_a_catalogued_code() {
        for (code, fix) in FIXES {
            assert!(CATALOGUE.iter().any(|(c, _)| c == code), "{code}");
            assert!(!fix.is_empty() && !fix.contains('\n'));
        }
    }

    #[test]
    fn explain_finds_codes_and_tolerates_unknown_ones() {
        assert_eq!(
            explain(POLICY_DENIED_GROUP),
            "You are not a member of any group this route allows."
        );
        assert_eq!(explain("no_such_code"), "The request was not allowed.");
    }
}
