//! Why a session could not be read or written: the error both the cookie layer
//! ([`super::cookie`]: names, chunking) and the sealing layer ([`super::session`]) return.
//! A module of its own so that neither of the two has to import the other for it.

use crate::reason::Reason;
use thiserror::Error;

/// Why a session could not be read or written. Carries no cookie content.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum SessionError {
    /// No cookie of this name was sent.
    #[error("no session cookie")]
    NoSession,
    /// Past the absolute lifetime.
    #[error("session expired")]
    Expired,
    /// Unused for longer than the idle timeout.
    #[error("session idle too long")]
    Idle,
    /// Undecryptable or unparseable (tampered, truncated, rotated key, wrong cookie).
    #[error("session cookie invalid")]
    Invalid,
    /// The cookie came twice with different values (set for two domains or paths): the
    /// identity would depend on the order of the `Cookie` header, so neither is used.
    #[error("session cookie sent twice with different values")]
    Duplicate,
    /// The session does not fit in the allowed number of cookie chunks.
    #[error("session too large for cookies")]
    TooLarge,
    /// The key ring is empty or a secret is too short.
    #[error("session keys misconfigured")]
    KeyConfig,
    /// The cookie name or domain is not usable in a cookie.
    #[error("session cookie name or domain misconfigured")]
    CookieConfig,
    /// Sealing or serialising failed.
    #[error("session could not be sealed")]
    Seal,
}

impl SessionError {
    /// The reason code.
    pub fn reason(self) -> Reason {
        match self {
            Self::NoSession => Reason::NoSession,
            Self::Expired => Reason::SessionExpired,
            Self::Idle => Reason::SessionIdle,
            Self::Invalid => Reason::SessionInvalid,
            Self::Duplicate => Reason::SessionCookieDuplicated,
            Self::TooLarge => Reason::SessionTooLarge,
            Self::KeyConfig => Reason::SessionKeyConfig,
            Self::CookieConfig => Reason::SessionCookieConfig,
            Self::Seal => Reason::SessionSealFailed,
        }
    }
}
