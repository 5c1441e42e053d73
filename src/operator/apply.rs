//! Server-side apply under the one field manager. Whether a write is needed at all is
//! decided before, by the pure comparisons of [`crate::reconcile::diff`].

use super::{ApiContext, FIELD_MANAGER, Result, Verb};
use kube::Resource;
use kube::api::{Api, Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// Server-side applies a whole object (with `force`: the operator owns these fields).
pub(crate) async fn apply<K>(api: &Api<K>, object: &K) -> Result<K>
where
    K: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + Debug,
{
    let name = object
        .meta()
        .name
        .clone()
        .ok_or(super::Error::MissingField("metadata.name"))?;
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(&name, &params, &Patch::Apply(object))
        .await
        .during(Verb::Apply, || super::describe(object))
}

/// Server-side applies the status subresource of a custom resource.
pub(crate) async fn apply_status<K, S>(api: &Api<K>, name: &str, status: &S) -> Result<()>
where
    K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug,
    S: Serialize,
{
    let body = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch_status(name, &params, &Patch::Apply(&body))
        .await
        .during(Verb::ApplyStatus, || {
            format!(
                "{} {}/{name}",
                K::kind(&()),
                api.namespace().unwrap_or_default()
            )
        })?;
    Ok(())
}
