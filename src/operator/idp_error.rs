//! Why the operator could not use an IdP: which call at which URL, or which object held
//! the missing or unusable input. Messages carry the URL, the HTTP status and the IdP's
//! RFC 7591 `error` code only, never a token, a secret or a response body; the text is
//! what status conditions and logs have always shown.

use crate::reconcile::key::ObjectKey;

/// What the operator asked the IdP's registration endpoints (RFC 7591/7592).
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::Display)]
pub enum IdpCall {
    /// RFC 7591 §3.1 registration.
    #[strum(to_string = "client registration")]
    Register,
    /// RFC 7592 §2.1 read.
    #[strum(to_string = "client read")]
    Read,
    /// RFC 7592 §2.2 update.
    #[strum(to_string = "client update")]
    Update,
    /// RFC 7592 §2.3 delete.
    #[strum(to_string = "client delete")]
    Delete,
}

/// The IdP could not be used.
#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    /// The request did not get an answer (connection, TLS, timeout).
    #[error("{call} at {url}: {detail}")]
    Transport {
        /// What was asked.
        call: IdpCall,
        /// Where.
        url: String,
        /// The transport failure, without the URL (`oidc::transport_error`).
        detail: String,
    },
    /// The IdP answered with an error status.
    #[error("{call} at {url}: HTTP {}", refusal(*status, code.as_deref()))]
    Refused {
        /// What was asked.
        call: IdpCall,
        /// Where.
        url: String,
        /// The HTTP status.
        status: reqwest::StatusCode,
        /// The RFC 7591 §3.2.2 `error` code, when the IdP sent a well-formed one.
        code: Option<String>,
    },
    /// The registration endpoint answered 404 to a registration.
    #[error("{call} at {url}: HTTP 404")]
    NotFound {
        /// What was asked.
        call: IdpCall,
        /// Where.
        url: String,
    },
    /// A success whose body is not client information.
    #[error("{call} at {url}: the response is not client information (RFC 7591 §3.2.1)")]
    NotClientInformation {
        /// What was asked.
        call: IdpCall,
        /// Where.
        url: String,
        /// Why the body did not parse.
        #[source]
        source: serde_json::Error,
    },
    /// `spec.registration.initialAccessTokenRef` names a Secret or key that is not there.
    #[error("Secret {secret} key {key:?} not found (spec.registration.initialAccessTokenRef)")]
    InitialAccessTokenMissing {
        /// The Secret.
        secret: ObjectKey,
        /// The key within it.
        key: String,
    },
    /// `spec.caBundleRef` names an object or key that is not there.
    #[error("caBundleRef {bundle} key {key:?} not found")]
    CaBundleMissing {
        /// The Secret or ConfigMap.
        bundle: ObjectKey,
        /// The key within it.
        key: String,
    },
    /// The CA bundle is there but no HTTP client can be built with it (not PEM, no
    /// certificate).
    #[error("{source}")]
    CaBundleUnusable {
        /// The Secret or ConfigMap.
        bundle: ObjectKey,
        /// Why it cannot be used (boxed: it is the largest part, and every
        /// reconcile's `Result` would carry its size).
        #[source]
        source: Box<crate::oidc::OidcError>,
    },
}

fn refusal(status: reqwest::StatusCode, code: Option<&str>) -> String {
    match code {
        Some(code) => format!("{status} {code}"),
        None => status.to_string(),
    }
}
