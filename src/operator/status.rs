//! The one tail of every reconcile: publish the status the pure `desired` computed —
//! merged conditions, written only when changed, a metric per write and a Warning event
//! when `Ready` newly turns False ([`crate::reconcile::publish`] decides all three).

use super::apply::apply_status;
use super::context::Context;
use super::{Error, Result};
use crate::api::{ForwardAuthRoute, OAuthClient, OIDCProvider};
use crate::reconcile::events::EventReason;
use crate::reconcile::publish::{WithConditions, publication};
use k8s_openapi::NamespaceResourceScope;
use kube::api::Api;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// A kind whose reconcile publishes a status.
pub trait HasStatus:
    Resource<DynamicType = (), Scope = NamespaceResourceScope> + DeserializeOwned + Clone + Debug
{
    /// The status type.
    type Status: WithConditions + PartialEq + Serialize;
    /// The label of a status write in `portcullis_operator_writes_total`.
    const STATUS_METRIC: &'static str;
    /// The status the API server holds (from the cache).
    fn published(&self) -> Option<&Self::Status>;
}

macro_rules! has_status {
    ($($kind:ty => $status:ty, $metric:literal);*) => {$(
        impl HasStatus for $kind {
            type Status = $status;
            const STATUS_METRIC: &'static str = $metric;
            fn published(&self) -> Option<&Self::Status> {
                self.status.as_ref()
            }
        }
    )*};
}
has_status!(
    OIDCProvider => crate::api::OIDCProviderStatus, "oidcprovider_status";
    OAuthClient => crate::api::OAuthClientStatus, "oauthclient_status";
    ForwardAuthRoute => crate::api::ForwardAuthRouteStatus, "forwardauthroute_status"
);

/// Publishes `fresh` as the status of `object`, writing only when it differs from the
/// published one. Returns the status the object holds afterwards.
pub async fn publish_status<K: HasStatus>(
    ctx: &Context,
    object: &K,
    fresh: K::Status,
) -> Result<K::Status> {
    let out = publication(
        object.published(),
        fresh,
        object.meta().generation,
        (ctx.now)(),
    );
    if out.write {
        let ns = object
            .namespace()
            .ok_or(Error::MissingField("metadata.namespace"))?;
        let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
        apply_status(&api, &object.name_any(), &out.status).await?;
        ctx.metrics.write(K::STATUS_METRIC);
    }
    if let Some(ready) = out.warn {
        let reason = EventReason::not_ready(&ready);
        ctx.event(&object.object_ref(&()), reason, ready.message)
            .await;
    }
    Ok(out.status)
}
