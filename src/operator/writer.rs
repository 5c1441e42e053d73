//! The single writer of the compiled outpost configuration. It recompiles from the
//! reflector stores after a burst of changes (debounced), writes only the shards whose
//! content changed, deletes shards left over from a resize, and tells the route
//! controller which routes' `Programmed` verdict changed. What to compile and write is
//! decided by the pure [`crate::reconcile::writer_plan`]; this module reads and writes.

use super::apply::apply;
use super::context::Context;
use super::{Error, Result, Verb};
use crate::reconcile::diff::secret_needs_apply;
use crate::reconcile::key::ObjectKey;
use crate::reconcile::outpost_credentials::{self, Origin};
use crate::reconcile::shard;
use crate::reconcile::writer_plan::{compile, plan_writes};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams};
use kube::runtime::reflector::Store;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Quiet time after a change before recompiling (a `kubectl apply` of 10k routes
/// becomes a handful of compiles, not 10k).
pub(crate) const DEBOUNCE: Duration = Duration::from_millis(500);

/// How often the writer re-reads users' Secrets for the outposts' copy when nothing else
/// triggered a pass.
pub(crate) const CREDENTIALS_RESYNC: Duration = Duration::from_secs(60);

/// One pass: compile, write what changed, publish verdicts. Returns the routes whose
/// verdict changed (the route controller learns them from the published verdicts).
pub async fn pass(ctx: &Context, shards_cache: &Store<ConfigMap>) -> Result<Vec<ObjectKey>> {
    if !ctx.synced() {
        // A configuration compiled from half-listed caches would drop routes from the
        // outposts until the rest arrive; the pass that follows the sync writes it.
        return Ok(Vec::new());
    }
    for (name, len) in [
        ("oidcprovider", ctx.stores.providers.len()),
        ("oauthclient", ctx.stores.clients.len()),
        ("forwardauthroute", ctx.stores.routes.len()),
    ] {
        ctx.metrics.set_objects(name, len);
    }
    let (mut config, programmed) = compile(
        &ctx.stores.providers.state(),
        &ctx.stores.clients.state(),
        &ctx.stores.routes.state(),
    );
    // Credentials first: a shard must never point at a copy that is not there yet.
    let copies = outpost_credentials::localise(&mut config, &ctx.operator_namespace);
    write_credentials(ctx, copies).await?;
    let desired = shard::shards(&config, &ctx.operator_namespace);
    let cached: Vec<Arc<ConfigMap>> = shards_cache
        .state()
        .into_iter()
        .filter(|c| c.namespace().as_deref() == Some(ctx.operator_namespace.as_str()))
        .collect();
    let (writes, stale) = plan_writes(desired, &cached);
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ctx.operator_namespace);
    for cm in &writes {
        apply(&api, cm).await?;
        ctx.metrics.write("configmap");
    }
    // Stale shards go only after the new ones are in place; an outpost reading both
    // meanwhile keeps the first copy of each route (shard::merge).
    for name in stale {
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => ctx.metrics.write("configmap_delete"),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(source) => {
                return Err(Error::Api {
                    verb: Verb::Delete,
                    object: format!("ConfigMap {}/{name}", ctx.operator_namespace),
                    source,
                });
            }
        }
    }
    Ok(ctx.publish_verdicts(programmed))
}

/// Reads every value the outposts need (owned Secrets from the cache, users' Secrets and
/// ConfigMaps from the API) and applies the copy in the operator's namespace when it
/// differs. A value that cannot be read is left out and logged; the outpost then names
/// the missing key for that provider alone.
async fn write_credentials(ctx: &Context, copies: BTreeMap<String, Origin>) -> Result<()> {
    let mut values = BTreeMap::new();
    for (key, origin) in copies {
        let value = match &origin {
            Origin::Secret(r) => match ctx.stores.owned_secret(&r.namespace, &r.name) {
                Some(cached) => Ok(crate::reconcile::world::secret_value(&cached, &r.key)),
                None => Api::<Secret>::namespaced(ctx.client.clone(), &r.namespace)
                    .get_opt(&r.name)
                    .await
                    .map(|s| s.and_then(|s| crate::reconcile::world::secret_value(&s, &r.key))),
            },
            Origin::ConfigMap(r) => Api::<ConfigMap>::namespaced(ctx.client.clone(), &r.namespace)
                .get_opt(&r.name)
                .await
                .map(|c| c.and_then(|c| c.data.and_then(|mut d| d.remove(&r.key)))),
        };
        match value {
            Ok(Some(v)) => {
                values.insert(key, v);
            }
            Ok(None) => {
                tracing::warn!(%origin, "a provider's credential is missing; its routes fail until it exists")
            }
            Err(e) => return Err(Error::Kube(e)),
        }
    }
    let desired = outpost_credentials::credentials_secret(&ctx.operator_namespace, values);
    let cached = ctx.stores.owned_secret(
        &ctx.operator_namespace,
        outpost_credentials::CREDENTIALS_SECRET,
    );
    if secret_needs_apply(&desired, cached.as_deref()) {
        let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ctx.operator_namespace);
        apply(&api, &desired).await?;
        ctx.metrics.write("secret");
    }
    Ok(())
}

/// Runs the writer: a pass after each quiet period following a trigger. Each pass
/// publishes its verdicts in the context, which the route controller follows.
pub async fn run(
    ctx: Arc<Context>,
    triggers: impl Stream<Item = ()> + Send + Unpin,
    shards_cache: Store<ConfigMap>,
) {
    let mut triggers = triggers;
    while triggers.next().await.is_some() {
        // Debounce: keep absorbing triggers until DEBOUNCE passes without one.
        while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, triggers.next()).await {}
        loop {
            ctx.metrics.reconciled("writer");
            match pass(&ctx, &shards_cache).await {
                Ok(_) => {
                    ctx.reset_backoff(&super::backoff::BackoffKey::Writer);
                    break;
                }
                Err(e) => {
                    ctx.metrics.failed("writer", e.metric_label());
                    tracing::warn!(error = %e, "writing the outpost configuration failed");
                    tokio::time::sleep(ctx.backoff(&super::backoff::BackoffKey::Writer)).await;
                }
            }
        }
    }
}
