//! The one error type of the OIDC relying party. Every variant maps to a stable
//! snake_case reason code ([`OidcError::reason`]) for logs, metrics and the denied page.
//!
//! No variant carries a token, code, cookie or secret: only issuers, audiences, key ids,
//! algorithm names, claim names, timestamps and (truncated, scrubbed) IdP error texts.

use crate::reason::Reason;
use thiserror::Error;

/// Why an OIDC operation failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum OidcError {
    /// The provider configuration cannot be used (bad URL, bad CA bundle, ...).
    #[error("provider configuration: {0}")]
    Config(String),
    /// The IdP (discovery, JWKS or token endpoint) could not be reached.
    #[error("{what} at {url} unreachable: {detail}")]
    IdpUnreachable {
        /// Which document or endpoint (`discovery`, `jwks`, `token endpoint`).
        what: &'static str,
        /// The URL that was requested.
        url: String,
        /// Transport error or HTTP status.
        detail: String,
    },
    /// The IdP answered, but not with a document we can use.
    #[error("{what} at {url} returned an invalid response: {detail}")]
    IdpInvalidResponse {
        /// Which document or endpoint.
        what: &'static str,
        /// The URL that was requested.
        url: String,
        /// What was wrong with it.
        detail: String,
    },
    /// Discovery advertises another issuer than the one configured.
    #[error(
        "discovery issuer mismatch: the IdP advertises issuer {advertised:?} but issuerURL is {configured:?}{}",
        if *trailing_slash_only { "; they differ only by a trailing slash: set issuerURL to exactly what the IdP advertises" } else { "" }
    )]
    DiscoveryIssuerMismatch {
        /// The issuer from the provider configuration.
        configured: String,
        /// The `issuer` in the discovery document.
        advertised: String,
        /// True when the two differ only by a trailing `/`.
        trailing_slash_only: bool,
    },
    /// The token is not a well-formed compact JWS with JSON header and claims.
    #[error("malformed token: {0}")]
    MalformedToken(&'static str),
    /// The token's `alg` is not allowed for this provider.
    #[error("token algorithm {alg:?} is not allowed (allowed: {allowed:?})")]
    AlgNotAllowed {
        /// The `alg` from the token header.
        alg: String,
        /// The algorithms the provider accepts.
        allowed: Vec<String>,
    },
    /// No key in the provider's JWKS has the token's `kid` (even after a refresh).
    #[error("no signing key with kid {kid:?} in the provider's JWKS (it has {known:?}){}", if *refreshed { " (refetched)" } else { " (refetch rate-limited or failed; keeping the last keys)" })]
    UnknownKid {
        /// The `kid` from the token header (None when the header had none).
        kid: Option<String>,
        /// The key ids the JWKS holds.
        known: Vec<String>,
        /// Whether the JWKS was refetched for this lookup.
        refreshed: bool,
    },
    /// The key found for the token does not fit the token's algorithm.
    #[error("key {kid:?} ({key}) cannot verify a token signed with {alg}")]
    KeyAlgMismatch {
        /// The key id.
        kid: Option<String>,
        /// The key type and declared algorithm, e.g. `RSA alg=RS256`.
        key: String,
        /// The `alg` from the token header.
        alg: String,
    },
    /// The signature does not verify with the provider's key.
    #[error("token signature does not verify with key {kid:?}")]
    BadSignature {
        /// The key id that was tried.
        kid: Option<String>,
    },
    /// The token's `iss` is not the provider's issuer.
    #[error(
        "token issuer {got:?} is not the provider issuer {expected:?}{}",
        trailing_slash_note(expected, got)
    )]
    IssuerMismatch {
        /// The provider's issuer.
        expected: String,
        /// The token's `iss`.
        got: String,
    },
    /// None of the token's audiences is accepted.
    #[error("token audience {got:?} contains none of the accepted audiences {expected:?}")]
    AudienceMismatch {
        /// The accepted audiences.
        expected: Vec<String>,
        /// The token's `aud` values.
        got: Vec<String>,
    },
    /// A bearer token names audiences we do not accept besides one we do, and no `azp`
    /// says which client it was issued to: it may have been issued to another party.
    #[error(
        "token audience {got:?} names {untrusted:?} besides the accepted audiences {expected:?} and has no authorized party (azp), so it may have been issued to another party; refused (set bearer.allowMultipleAudiences on the route to accept such tokens)"
    )]
    MultipleAudiencesWithoutAzp {
        /// The accepted audiences.
        expected: Vec<String>,
        /// The token's `aud` values.
        got: Vec<String>,
        /// The values of `got` that are not accepted.
        untrusted: Vec<String>,
    },
    /// `azp` is missing (with several audiences) or is not the client id.
    #[error("token authorized party (azp) {got:?} is not the client id {expected:?}")]
    AzpMismatch {
        /// The client id.
        expected: String,
        /// The token's `azp`, when present.
        got: Option<String>,
    },
    /// `exp` (plus leeway) is in the past.
    #[error("token expired at {exp}: with clock skew {leeway}s allowed it was valid until {}; now is {now}", exp.saturating_add(i64::try_from(*leeway).unwrap_or(i64::MAX)))]
    TokenExpired {
        /// The token's `exp`.
        exp: i64,
        /// The time of the check.
        now: i64,
        /// Allowed clock skew in seconds.
        leeway: u64,
    },
    /// `nbf` (minus leeway) is in the future.
    #[error("token not valid before {nbf}: with clock skew {leeway}s allowed it is valid from {}; now is {now}; check the clocks", nbf.saturating_sub(i64::try_from(*leeway).unwrap_or(i64::MAX)))]
    TokenNotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// The time of the check.
        now: i64,
        /// Allowed clock skew in seconds.
        leeway: u64,
    },
    /// `iat` (minus leeway) is in the future.
    #[error("token issued in the future at {iat}: with clock skew {leeway}s allowed it is acceptable from {}; now is {now}; check the clocks", iat.saturating_sub(i64::try_from(*leeway).unwrap_or(i64::MAX)))]
    IatInFuture {
        /// The token's `iat`.
        iat: i64,
        /// The time of the check.
        now: i64,
        /// Allowed clock skew in seconds.
        leeway: u64,
    },
    /// A required claim is absent.
    #[error("token lacks the required claim {0:?}")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type (e.g. a string `exp`).
    #[error("token claim {claim:?} must be {expected}")]
    InvalidClaim {
        /// The claim name.
        claim: &'static str,
        /// The expected JSON type.
        expected: &'static str,
    },
    /// The ID token's `nonce` is missing or not the one sent at login.
    #[error("ID token nonce {}", if *missing { "is missing" } else { "does not match the login request" })]
    NonceMismatch {
        /// True when the token had no nonce at all.
        missing: bool,
    },
    /// `at_hash` does not match the access token.
    #[error("ID token at_hash does not match the access token")]
    AtHashMismatch,
    /// RFC 9207: the callback's `iss` parameter is missing or wrong.
    #[error("{}", match got {
        Some(g) => format!("authorization response iss {g:?} is not the provider issuer {expected:?}"),
        None => format!("the authorization response has no iss parameter; the provider issuer {expected:?} sends one (RFC 9207)"),
    })]
    CallbackIssMismatch {
        /// The provider's issuer.
        expected: String,
        /// The `iss` query parameter, when present.
        got: Option<String>,
    },
    /// The token endpoint rejected the client credentials.
    #[error(
        "the token endpoint rejected the client credentials (invalid_client{}); check the client id and client secret registered at the IdP and the token endpoint auth method",
        description.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
    )]
    InvalidClient {
        /// The IdP's `error_description`, truncated and scrubbed.
        description: Option<String>,
    },
    /// The code or refresh token was rejected (expired, reused, wrong redirect URI).
    #[error(
        "the token endpoint rejected the grant (invalid_grant{}); the code or refresh token is expired, reused or the redirect URI differs",
        description.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
    )]
    InvalidGrant {
        /// The IdP's `error_description`, truncated and scrubbed.
        description: Option<String>,
    },
    /// Any other token endpoint failure.
    #[error("token exchange failed (HTTP {status}): {error}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    TokenExchangeFailed {
        /// The HTTP status.
        status: u16,
        /// The OAuth `error` code, or a short description.
        error: String,
        /// The IdP's `error_description`, truncated and scrubbed.
        description: Option<String>,
    },
}

/// Says so when two issuers differ only by a trailing `/`, the most common mismatch.
fn trailing_slash_note(expected: &str, got: &str) -> &'static str {
    if expected != got && expected.trim_end_matches('/') == got.trim_end_matches('/') {
        "; they differ only by a trailing slash: the IdP must issue tokens with exactly the issuerURL its discovery advertises"
    } else {
        ""
    }
}

impl OidcError {
    /// The reason code (log field and metric label).
    pub fn reason(&self) -> Reason {
        match self {
            Self::Config(_) => Reason::ProviderConfig,
            Self::IdpUnreachable { .. } => Reason::IdpUnreachable,
            Self::IdpInvalidResponse { .. } => Reason::IdpInvalidResponse,
            Self::DiscoveryIssuerMismatch { .. } => Reason::DiscoveryIssuerMismatch,
            Self::MalformedToken(_) => Reason::MalformedToken,
            Self::AlgNotAllowed { .. } => Reason::AlgNotAllowed,
            Self::UnknownKid { .. } => Reason::UnknownKid,
            Self::KeyAlgMismatch { .. } => Reason::KeyAlgMismatch,
            Self::BadSignature { .. } => Reason::BadSignature,
            Self::IssuerMismatch { .. } => Reason::IssuerMismatch,
            Self::AudienceMismatch { .. } => Reason::AudienceMismatch,
            Self::AzpMismatch { .. } => Reason::AzpMismatch,
            Self::MultipleAudiencesWithoutAzp { .. } => Reason::MultipleAudiencesWithoutAzp,
            Self::TokenExpired { .. } => Reason::TokenExpired,
            Self::TokenNotYetValid { .. } => Reason::TokenNotYetValid,
            Self::IatInFuture { .. } => Reason::IatInFuture,
            Self::MissingClaim(_) => Reason::MissingClaim,
            Self::InvalidClaim { .. } => Reason::InvalidClaim,
            Self::NonceMismatch { .. } => Reason::NonceMismatch,
            Self::AtHashMismatch => Reason::AtHashMismatch,
            Self::CallbackIssMismatch { .. } => Reason::CallbackIssMismatch,
            Self::InvalidClient { .. } => Reason::InvalidClient,
            Self::InvalidGrant { .. } => Reason::InvalidGrant,
            Self::TokenExchangeFailed { .. } => Reason::TokenExchangeFailed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slash_mismatch_is_explained() {
        let e = OidcError::DiscoveryIssuerMismatch {
            configured: "https://idp.example".into(),
            advertised: "https://idp.example/".into(),
            trailing_slash_only: true,
        };
        let text = e.to_string();
        assert!(text.contains("\"https://idp.example/\""));
        assert!(text.contains("\"https://idp.example\""));
        assert!(text.contains("trailing slash"));
        assert_eq!(e.reason().code(), "discovery_issuer_mismatch");
    }

    #[test]
    fn a_missing_callback_iss_is_said_in_words() {
        let e = OidcError::CallbackIssMismatch {
            expected: "https://idp".into(),
            got: None,
        };
        assert!(!e.to_string().contains("None"), "{e}");
        assert!(e.to_string().contains("no iss parameter"), "{e}");
    }

    #[test]
    fn invalid_client_tells_what_to_check() {
        let e = OidcError::InvalidClient { description: None };
        assert_eq!(e.reason().code(), "invalid_client");
        assert!(e.to_string().contains("client secret"));
    }
}
