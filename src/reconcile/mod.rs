//! The operator's reconcile logic as pure functions: inputs in, desired objects and
//! status out. No client, no I/O; the operator and `portcullis render` both call it.

// A `Condition` as the error of a desired-state function is built once per reconcile,
// never on a hot path; boxing it would only add noise.
#![allow(clippy::result_large_err)]

pub mod assign;
pub mod client;
pub mod client_plan;
pub mod compile;
pub mod conditions;
pub mod diff;
pub mod events;
#[cfg(any(test, feature = "testkit"))]
pub mod fixtures;
pub mod index;
pub mod key;
pub mod outpost_credentials;
pub mod presets;
pub mod probe;
pub mod provider;
pub mod provider_status;
pub mod publish;
pub mod registration;
pub mod rotation;
pub mod route;
pub mod shard;
pub mod world;
pub mod writer_plan;

pub use world::World;

use crate::api::OIDCProvider;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Resource, ResourceExt};
use serde::Serialize;

/// An object the operator creates or updates.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Desired {
    /// A Secret (credentials).
    Secret(Secret),
    /// A ConfigMap (compiled outpost configuration).
    ConfigMap(ConfigMap),
}

/// The result of reconciling one object: what to write, and its status.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome<S> {
    /// Objects owned by (or derived from) the reconciled object.
    pub objects: Vec<Desired>,
    /// The status to publish.
    pub status: S,
}

/// An Opaque Secret labelled as the operator's (its cache holds it, so an unchanged copy
/// is never written again), holding `data`.
pub(crate) fn managed_secret(
    namespace: &str,
    name: &str,
    data: std::collections::BTreeMap<String, k8s_openapi::ByteString>,
) -> Secret {
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            labels: Some(std::collections::BTreeMap::from([(
                client::MANAGED_BY.0.to_string(),
                client::MANAGED_BY.1.to_string(),
            )])),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(data),
        ..Default::default()
    }
}

/// An ownerReference to `owner`, when it has a uid (objects read from disk may not).
pub(crate) fn owner_reference<K: Resource<DynamicType = ()>>(owner: &K) -> Option<OwnerReference> {
    let uid = owner.meta().uid.clone()?;
    Some(OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.name_any(),
        uid,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

/// Whether an object in `namespace` may reference `provider`; the error names the
/// provider and the field to change.
pub(crate) fn reference_allowed(provider: &OIDCProvider, namespace: &str) -> Result<(), String> {
    let own = provider.namespace().unwrap_or_default();
    if own == namespace {
        return Ok(());
    }
    let allowed = provider
        .spec
        .allowed_namespaces
        .as_deref()
        .unwrap_or_default();
    if allowed.iter().any(|n| n == "*" || n == namespace) {
        Ok(())
    } else {
        Err(format!(
            "OIDCProvider {own}/{} does not allow references from namespace {namespace:?} (add it to spec.allowedNamespaces)",
            provider.name_any()
        ))
    }
}

/// `sha256:` and the first 16 hex digits of the value's hash: enough to tell two
/// secrets apart in status, useless for recovering one.
pub(crate) fn fingerprint(secret: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
    format!("sha256:{}", &hex(digest.as_ref())[..16])
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh client secret: 32 random bytes, base64url without padding (43 characters).
pub(crate) fn mint_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system RNG works");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_differ_and_hide_the_secret() {
        let a = fingerprint("secret-a");
        assert_ne!(a, fingerprint("secret-b"));
        assert!(a.starts_with("sha256:") && a.len() == 23);
        assert_ne!(mint_secret(), mint_secret());
        assert_eq!(mint_secret().len(), 43);
    }
}
