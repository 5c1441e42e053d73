//! The three custom resources of group `portcullis.dev`, version `v1alpha1`.
//!
//! Types only, no I/O. Every field carries a doc comment: it becomes the schema
//! description users read with `kubectl explain`. Optional fields carry no schema
//! defaults (Argo CD would show a permanent diff); resolved values go to `status`.

pub mod cel;
#[cfg(any(test, feature = "testkit"))]
pub mod cel_cases;
mod common;
mod duration;
pub mod k8s_url;
mod oauth_client;
mod oidc_provider;
mod route;
mod session_store;
mod validation;

pub use common::*;
pub(crate) use duration::parse_duration;
pub use oauth_client::*;
pub use oidc_provider::*;
pub use route::*;
pub use session_store::*;
pub use validation::{FieldError, Validate};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The API group of every Portcullis resource.
pub(crate) const GROUP: &str = "portcullis.dev";

/// All CRDs, in the order they are printed and applied.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        OIDCProvider::crd(),
        OAuthClient::crd(),
        ForwardAuthRoute::crd(),
    ]
}
