//! When a session refreshes and what a failed refresh means: pure rules, no I/O, so
//! every timing edge is unit-tested without an IdP.
//!
//! Two failures must never be confused: an IdP that *answers* with a refusal
//! (`invalid_grant`: account disabled, consent revoked) ends the session at once; an IdP
//! that cannot be reached (connection refused, timeout, 5xx) is an outage, and the
//! session is served on its last identity for a bounded grace instead of sending the
//! browser to sign in at an IdP that is down.

use crate::oidc::NO_OAUTH_ERROR;
use crate::oidc::OidcError;
use crate::reason::Reason;

/// Longest wait between two refresh attempts while the IdP is unreachable.
pub const MAX_BACKOFF_SECONDS: u64 = 30;

/// Whether a session's tokens need a refresh at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// The tokens are fresh (or their lifetime is unknown): nothing to do.
    No,
    /// Within the refresh lead before expiry: refresh, but the session stays good if
    /// the refresh cannot happen now.
    Early,
    /// Expired: only a refresh (or the outage grace) keeps the session.
    Expired,
}

/// The refresh lead actually used: the configured one, but at most half of the tokens'
/// lifetime when it is known, so short-lived tokens are not refreshed on every request.
pub(crate) fn effective_lead(lead: u64, obtained_at: Option<u64>, expires_at: u64) -> u64 {
    match obtained_at {
        Some(t) if t < expires_at => lead.min((expires_at - t) / 2),
        _ => lead,
    }
}

/// Whether tokens expiring at `expires_at` need a refresh at `now`. Without a refresh
/// token nothing can be done early: the session simply ends at expiry.
pub fn due(
    expires_at: Option<u64>,
    obtained_at: Option<u64>,
    has_refresh_token: bool,
    lead: u64,
    now: u64,
) -> Due {
    let Some(exp) = expires_at else {
        return Due::No;
    };
    if now >= exp {
        return Due::Expired;
    }
    if has_refresh_token && now >= exp.saturating_sub(effective_lead(lead, obtained_at, exp)) {
        return Due::Early;
    }
    Due::No
}

/// Why a refresh did not give new tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshFailure {
    /// The IdP answered and said no: the grant is gone (account disabled, consent or
    /// session revoked, refresh token expired). Carries the IdP's `error` and
    /// `error_description` (scrubbed of tokens), for the log and the page.
    Refused {
        /// The OAuth `error` code.
        error: String,
        /// The IdP's `error_description`, when it sent one.
        description: Option<String>,
    },
    /// The IdP could not be reached or failed on its side (connection, timeout, 5xx,
    /// 429): it did not decide anything.
    Unreachable {
        /// What went wrong, for the log (no token, no secret).
        detail: String,
    },
    /// Anything else that ends the session (no refresh token, a new ID token that does
    /// not verify or names another subject); the reason code says which.
    Ended(Reason),
}

impl RefreshFailure {
    /// Sorts a token endpoint error: the IdP refusing, or the IdP not answering.
    pub(crate) fn from_token_error(e: &OidcError) -> Self {
        match e {
            OidcError::IdpUnreachable { detail, .. } => Self::Unreachable {
                detail: detail.clone(),
            },
            OidcError::TokenExchangeFailed { status, error, .. }
                if transient_status(*status) || error == NO_OAUTH_ERROR =>
            {
                Self::Unreachable {
                    detail: e.to_string(),
                }
            }
            // A body we cannot read (an HTML error page from a proxy, truncated JSON) is
            // no decision by the IdP either.
            OidcError::IdpInvalidResponse { detail, .. } => Self::Unreachable {
                detail: detail.clone(),
            },
            OidcError::InvalidGrant { description } => Self::Refused {
                error: "invalid_grant".into(),
                description: description.clone(),
            },
            OidcError::InvalidClient { description } => Self::Refused {
                error: "invalid_client".into(),
                description: description.clone(),
            },
            OidcError::TokenExchangeFailed {
                error, description, ..
            } => Self::Refused {
                error: error.clone(),
                description: description.clone(),
            },
            other => Self::Ended(other.reason()),
        }
    }

    /// Whether the IdP was merely unreachable (the session may ride out the outage).
    pub(crate) fn is_outage(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }
}

/// HTTP statuses that say "not now" rather than "no": 5xx, 429 and 408.
fn transient_status(status: u16) -> bool {
    status >= 500 || status == 429 || status == 408
}

/// What to do with a session whose refresh failed because the IdP is unreachable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutageVerdict {
    /// The tokens are still valid: serve the session as it is.
    StillValid,
    /// Expired, but within the grace: serve it on its last identity.
    InGrace,
    /// Expired longer ago than the grace: end it.
    GraceOver,
}

/// The outage rule: a session outlives its tokens by at most `grace` seconds while the
/// IdP cannot be reached (the absolute session lifetime still applies on its own).
pub(crate) fn outage_verdict(expires_at: u64, grace: u64, now: u64) -> OutageVerdict {
    if now < expires_at {
        OutageVerdict::StillValid
    } else if now < expires_at.saturating_add(grace) {
        OutageVerdict::InGrace
    } else {
        OutageVerdict::GraceOver
    }
}

/// Seconds to wait before the next attempt after `failures` consecutive unreachable
/// refreshes: 1, 2, 4, ... up to [`MAX_BACKOFF_SECONDS`].
pub fn backoff(failures: u32) -> u64 {
    1u64.checked_shl(failures.saturating_sub(1))
        .unwrap_or(u64::MAX)
        .min(MAX_BACKOFF_SECONDS)
}

#[cfg(test)]
#[path = "refresh_policy_tests.rs"]
mod tests;
