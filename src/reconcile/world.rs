//! A snapshot of the objects a reconcile reads: what the operator's caches hold, or
//! what `render` read from disk. The desired-state functions only read from it.

use super::key::ObjectKey;
use super::probe::Report;
use crate::api::{ForwardAuthRoute, OAuthClient, OIDCProvider};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use std::collections::BTreeMap;

/// Every input object, by kind.
#[derive(Clone, Debug, Default)]
pub struct World {
    /// OIDCProviders.
    pub providers: Vec<OIDCProvider>,
    /// OAuthClients.
    pub clients: Vec<OAuthClient>,
    /// ForwardAuthRoutes.
    pub routes: Vec<ForwardAuthRoute>,
    /// Secrets (users' credentials, and what the operator wrote before).
    pub secrets: Vec<Secret>,
    /// What a probe of each provider's IdP found, by provider (the operator probes on
    /// every provider reconcile; `render --probe` probes once). A provider without a
    /// report has Unknown IdP conditions: it has not been contacted.
    pub probes: BTreeMap<ObjectKey, Report>,
}

fn find<'a, K: ResourceExt>(items: &'a [K], namespace: &str, name: &str) -> Option<&'a K> {
    items
        .iter()
        .find(|o| o.name_any() == name && o.namespace().as_deref() == Some(namespace))
}

impl World {
    /// The provider `namespace/name`.
    pub(crate) fn provider(&self, namespace: &str, name: &str) -> Option<&OIDCProvider> {
        find(&self.providers, namespace, name)
    }

    /// The client `namespace/name`.
    pub(crate) fn client(&self, namespace: &str, name: &str) -> Option<&OAuthClient> {
        find(&self.clients, namespace, name)
    }

    /// The Secret `namespace/name`.
    pub(crate) fn secret(&self, namespace: &str, name: &str) -> Option<&Secret> {
        find(&self.secrets, namespace, name)
    }

    /// A key of a Secret as UTF-8, from `data` or (for manifests on disk) `stringData`.
    pub(crate) fn secret_value(&self, namespace: &str, name: &str, key: &str) -> Option<String> {
        secret_value(self.secret(namespace, name)?, key)
    }
}

/// A key of a Secret as UTF-8, from `data` or `stringData` (`stringData` wins, as on
/// the API server).
pub(crate) fn secret_value(secret: &Secret, key: &str) -> Option<String> {
    if let Some(v) = secret.string_data.as_ref().and_then(|d| d.get(key)) {
        return Some(v.clone());
    }
    let bytes = secret.data.as_ref()?.get(key)?;
    String::from_utf8(bytes.0.clone()).ok()
}
