//! `portcullis operator`: kube-rs controllers for the three kinds, a debounced writer of
//! the compiled outpost configuration, leader election and an admin server.
//!
//! Shape (controller-rs / linkerd policy-controller): every reconcile reads its inputs
//! from shared reflector stores, calls the pure functions of [`crate::reconcile`], and
//! writes with server-side apply under one field manager — only when the desired object
//! or status differs from the cached one. The compiled configuration is written by one
//! task ([`writer`]) from the stores, never by the per-object reconcilers.

pub mod apply;
pub mod client;
pub mod context;
pub mod deletion;
pub mod dynamic;
pub mod gate;
pub mod index;
pub mod lease;
pub mod metrics;
pub mod outpost_keys;
pub mod probe;
pub mod provider;
pub mod registration;
pub mod rotation;
pub mod route;
pub mod run;
pub mod verify;
pub mod writer;

pub use context::Context;
pub use run::{OperatorArgs, run};

/// The one field manager every write of the operator uses.
pub const FIELD_MANAGER: &str = "portcullis";
/// Finalizer that removes a Dynamic client at the IdP before the OAuthClient goes.
pub const FINALIZER: &str = "portcullis.dev/cleanup";
/// Annotation that triggers a rotation when its value changes.
pub const ROTATE_ANNOTATION: &str = "portcullis.dev/rotate";
/// Pod-template annotation patched to roll a workload after a rotation.
pub const RESTARTED_AT_ANNOTATION: &str = "portcullis.dev/restartedAt";

/// Why a reconcile failed. Messages name objects and fields, never a secret value, and
/// an IdP error is reduced to its reason code and URL.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused or failed a request.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// An object could not be (de)serialised.
    #[error("serialisation: {0}")]
    Serde(#[from] serde_json::Error),
    /// The IdP could not be used (registration, discovery).
    #[error("IdP: {0}")]
    Idp(String),
    /// The object is missing a field the API server always sets (namespace, uid).
    #[error("object has no {0}")]
    MissingField(&'static str),
    /// The finalizer machinery failed.
    #[error("finalizer: {0}")]
    Finalizer(String),
    /// Lost or could not take the leader lease.
    #[error("leader election: {0}")]
    Lease(String),
    /// Minting the outposts' keys failed.
    #[error("outpost keys: {0}")]
    Keys(String),
}

impl Error {
    /// A short, stable label for metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Kube(kube::Error::Api(s)) if s.code == 409 => "conflict",
            Self::Kube(kube::Error::Api(s)) if s.code == 404 => "not_found",
            Self::Kube(kube::Error::Api(_)) => "api_error",
            Self::Kube(_) => "api_transport",
            Self::Serde(_) => "serde",
            Self::Idp(_) => "idp",
            Self::MissingField(_) => "missing_field",
            Self::Finalizer(_) => "finalizer",
            Self::Lease(_) => "lease",
            Self::Keys(_) => "keys",
        }
    }
}

/// Result of a reconcile step.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod provider_tests;
