//! `portcullis operator`: kube-rs controllers for the three kinds, a debounced writer of
//! the compiled outpost configuration, leader election and an admin server.
//!
//! Shape (controller-rs / linkerd policy-controller), the same for every kind: observe
//! (read the shared reflector stores, and the IdP or a user's Secret where needed), call
//! the kind's pure `desired` in [`crate::reconcile`] (`provider_status`, `client_plan`,
//! `route`), apply with server-side apply under one field manager only what differs from
//! the cache ([`crate::reconcile::diff`]), and publish the status through the one
//! [`status::publish_status`]. This module holds only I/O. The compiled configuration is
//! written by one task ([`writer`]) from the stores, never by the per-object reconcilers.

pub mod apply;
pub mod backoff;
pub mod client;
pub mod context;
pub mod deletion;
pub mod dynamic;
pub mod gate;
pub mod idp_error;
pub mod lease;
pub mod metrics;
pub mod outpost_keys;
pub mod probe;
pub mod provider;
pub mod registration;
pub mod route;
pub mod run;
pub mod status;
pub mod verify;
pub mod writer;

pub use context::Context;
pub use run::{OperatorArgs, run};

/// The one field manager every write of the operator uses.
pub(crate) const FIELD_MANAGER: &str = "portcullis";
/// Finalizer that removes a Dynamic client at the IdP before the OAuthClient goes.
pub const FINALIZER: &str = "portcullis.dev/cleanup";
pub use crate::reconcile::rotation::ROTATE_ANNOTATION;
/// Pod-template annotation patched to roll a workload after a rotation.
pub const RESTARTED_AT_ANNOTATION: &str = "portcullis.dev/restartedAt";

/// Why a reconcile failed. Messages name objects and fields, never a secret value, and
/// an IdP error is reduced to its reason code and URL.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused or failed a request (where no object is at hand: watches,
    /// the lease's own client).
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The API server refused or failed a request about one object: which verb, which
    /// object (`Secret ns/name`), and the API server's error as the source.
    #[error("{verb} {object}: {source}")]
    Api {
        /// What was asked.
        verb: Verb,
        /// The object, as `Kind namespace/name`.
        object: String,
        /// The API server's answer.
        #[source]
        source: kube::Error,
    },
    /// The admin server could not listen.
    #[error("admin server on {addr}: {source}")]
    Listen {
        /// The address of `--admin-listen`.
        addr: std::net::SocketAddr,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client for IdPs could not be built (without it no IdP is reachable; a
    /// client without timeouts is never used instead).
    #[error("HTTP client for IdPs: {0}")]
    HttpClient(#[source] crate::oidc::OidcError),
    /// An object could not be (de)serialised.
    #[error("serialisation: {0}")]
    Serde(#[from] serde_json::Error),
    /// The IdP could not be used (registration, its CA bundle): which call at which
    /// URL, or which object held the missing input.
    #[error("IdP: {0}")]
    Idp(#[from] idp_error::IdpError),
    /// The object is missing a field the API server always sets (namespace, uid).
    #[error("object has no {0}")]
    MissingField(&'static str),
    /// The finalizer machinery failed on an object (it had no name, or its finalizer
    /// list could not be read); kube's error is the source.
    #[error("finalizer of {object}: {source}")]
    Finalizer {
        /// The object, as `Kind namespace/name`.
        object: String,
        /// kube's finalizer error.
        #[source]
        source: Box<kube::runtime::finalizer::Error<Error>>,
    },
    /// Another replica holds the leader Lease: this one stops writing.
    #[error("leader election: Lease {lease} taken over by another replica")]
    LeaseLost {
        /// The Lease.
        lease: crate::reconcile::key::ObjectKey,
    },
    /// Minting the outposts' keys failed.
    #[error("outpost keys: {what} failed")]
    Keys {
        /// What was being made.
        what: KeyMaterial,
        /// aws-lc-rs's error (it says no more, by design).
        #[source]
        source: aws_lc_rs::error::Unspecified,
    },
}

/// What the operator mints for the outposts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::Display)]
pub enum KeyMaterial {
    /// The cookie secret, from the system random generator.
    #[strum(to_string = "the system random generator")]
    CookieSecret,
    /// The P-256 signing key.
    #[strum(to_string = "generating a P-256 key")]
    SigningKey,
}

impl Error {
    /// A short, stable label for metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Kube(e) | Self::Api { source: e, .. } => kube_label(e),
            Self::Listen { .. } => "listen",
            Self::HttpClient(_) => "http_client",
            Self::Serde(_) => "serde",
            Self::Idp(_) => "idp",
            Self::MissingField(_) => "missing_field",
            Self::Finalizer { .. } => "finalizer",
            Self::LeaseLost { .. } => "lease",
            Self::Keys { .. } => "keys",
        }
    }
}

fn kube_label(e: &kube::Error) -> &'static str {
    match e {
        kube::Error::Api(s) if s.code == 409 => "conflict",
        kube::Error::Api(s) if s.code == 404 => "not_found",
        kube::Error::Api(_) => "api_error",
        _ => "api_transport",
    }
}

/// What the operator asked the API server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::Display)]
pub enum Verb {
    /// Read an object.
    #[strum(to_string = "get")]
    Get,
    /// Server-side apply of an object.
    #[strum(to_string = "apply")]
    Apply,
    /// Server-side apply of a status subresource.
    #[strum(to_string = "apply status of")]
    ApplyStatus,
    /// Create an object.
    #[strum(to_string = "create")]
    Create,
    /// Merge-patch an object.
    #[strum(to_string = "patch")]
    Patch,
    /// Delete an object.
    #[strum(to_string = "delete")]
    Delete,
}

/// Names the verb and the object of a failed API request.
pub(crate) trait ApiContext<T> {
    /// The error as [`Error::Api`] about `object` (`Kind namespace/name`).
    fn during(self, verb: Verb, object: impl FnOnce() -> String) -> Result<T>;
}

impl<T> ApiContext<T> for std::result::Result<T, kube::Error> {
    fn during(self, verb: Verb, object: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Api {
            verb,
            object: object(),
            source,
        })
    }
}

/// `Kind namespace/name` of an object, for errors.
pub(crate) fn describe<K: kube::Resource<DynamicType = ()>>(object: &K) -> String {
    format!(
        "{} {}/{}",
        K::kind(&()),
        object.meta().namespace.as_deref().unwrap_or_default(),
        object.meta().name.as_deref().unwrap_or_default()
    )
}

/// Result of a reconcile step.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
#[path = "error_tests.rs"]
mod error_tests;
