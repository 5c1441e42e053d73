//! The single writer of the compiled outpost configuration. It recompiles from the
//! reflector stores after a burst of changes (debounced), writes only the shards whose
//! content changed, deletes shards left over from a resize, and tells the route
//! controller which routes' `Programmed` verdict changed.

use super::apply::apply;
use super::context::Context;
use super::provider::world_with_client;
use super::{Error, Result};
use crate::api::{ForwardAuthRoute, OAuthClient, OIDCProvider};
use crate::config::OutpostConfig;
use crate::reconcile::compile::outpost_config;
use crate::reconcile::diff::{configmap_needs_apply, secret_needs_apply};
use crate::reconcile::outpost_credentials::{self, Origin};
use crate::reconcile::shard;
use crate::reconcile::world::key_of;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams};
use kube::runtime::reflector::{ObjectRef, Store};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// Quiet time after a change before recompiling (a `kubectl apply` of 10k routes
/// becomes a handful of compiles, not 10k).
pub const DEBOUNCE: Duration = Duration::from_millis(500);

/// How often the writer re-reads users' Secrets for the outposts' copy when nothing else
/// triggered a pass.
pub const CREDENTIALS_RESYNC: Duration = Duration::from_secs(60);

/// Per route id: in the configuration, or why not.
pub type Programmed = HashMap<String, std::result::Result<(), String>>;

/// Compiles the configuration from the caches with the same [`outpost_config`] `render`
/// uses; only the inputs differ (the caches, and each provider's client from them).
pub fn compile(
    providers: &[Arc<OIDCProvider>],
    clients: &[Arc<OAuthClient>],
    routes: &[Arc<ForwardAuthRoute>],
) -> (OutpostConfig, Programmed) {
    let mut compiled_providers = BTreeMap::new();
    for p in providers {
        let client = p.spec.client_ref.as_ref().and_then(|r| {
            let ns = p.namespace().unwrap_or_default();
            clients.iter().find(|c| {
                c.name_any() == r.name && c.namespace().as_deref() == Some(r.namespace_or(&ns))
            })
        });
        let world = world_with_client(p, client.map(|c| c.as_ref()));
        if let Ok(config) = crate::reconcile::provider::config(&world, p) {
            compiled_providers.insert(key_of(p.as_ref()), (config, p.as_ref()));
        }
    }
    let (out, verdicts) = outpost_config(&compiled_providers, routes.iter().map(|r| r.as_ref()));
    (out, verdicts.into_iter().collect())
}

/// The shards to apply (content changed) and the names of stale shards to delete.
pub fn plan_writes(
    desired: Vec<ConfigMap>,
    cached: &[Arc<ConfigMap>],
) -> (Vec<ConfigMap>, Vec<String>) {
    let by_name: HashMap<String, &ConfigMap> =
        cached.iter().map(|c| (c.name_any(), c.as_ref())).collect();
    let names: BTreeSet<String> = desired.iter().map(|c| c.name_any()).collect();
    let stale = cached
        .iter()
        .map(|c| c.name_any())
        .filter(|n| !names.contains(n))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let writes = desired
        .into_iter()
        .filter(|d| configmap_needs_apply(d, by_name.get(&d.name_any()).copied()))
        .collect();
    (writes, stale)
}

/// Routes whose verdict differs between two passes (all of them after the first).
pub fn changed_routes(before: Option<&Programmed>, after: &Programmed) -> Vec<String> {
    after
        .iter()
        .filter(|(id, v)| before.and_then(|b| b.get(*id)) != Some(*v))
        .map(|(id, _)| id.clone())
        .collect()
}

/// One pass: compile, write what changed, publish verdicts. Returns the routes to
/// reconcile again.
pub async fn pass(ctx: &Context, shards_cache: &Store<ConfigMap>) -> Result<Vec<String>> {
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
            Err(e) => return Err(Error::Kube(e)),
        }
    }
    let mut guard = ctx.programmed.write().expect("not poisoned");
    let changed = changed_routes(guard.as_ref(), &programmed);
    *guard = Some(programmed);
    Ok(changed)
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

/// Runs the writer: a pass after each quiet period following a trigger; route refs
/// whose verdict changed go to `routes_out`.
pub async fn run(
    ctx: Arc<Context>,
    triggers: impl Stream<Item = ()> + Send + Unpin,
    shards_cache: Store<ConfigMap>,
    routes_out: tokio::sync::mpsc::UnboundedSender<ObjectRef<ForwardAuthRoute>>,
) {
    let mut triggers = triggers;
    while triggers.next().await.is_some() {
        // Debounce: keep absorbing triggers until DEBOUNCE passes without one.
        while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, triggers.next()).await {}
        loop {
            ctx.metrics.reconciled("writer");
            match pass(&ctx, &shards_cache).await {
                Ok(changed) => {
                    for id in changed {
                        if let Some((ns, name)) = id.split_once('/') {
                            let _ = routes_out.send(ObjectRef::new(name).within(ns));
                        }
                    }
                    ctx.reset_backoff("writer");
                    break;
                }
                Err(e) => {
                    ctx.metrics.failed("writer", e.metric_label());
                    tracing::warn!(error = %e, "writing the outpost configuration failed");
                    tokio::time::sleep(ctx.backoff("writer")).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn meta(ns: &str, name: &str, created: i64) -> kube::api::ObjectMeta {
        kube::api::ObjectMeta {
            namespace: Some(ns.into()),
            name: Some(name.into()),
            creation_timestamp: Some(Time(
                k8s_openapi::jiff::Timestamp::from_second(created).unwrap(),
            )),
            ..Default::default()
        }
    }

    fn provider(allowed: &[&str]) -> Arc<OIDCProvider> {
        let mut p = OIDCProvider::new(
            "idp",
            OIDCProviderSpec {
                issuer_url: "https://idp.example".into(),
                client_id: Some("outpost".into()),
                allowed_namespaces: Some(allowed.iter().map(|s| s.to_string()).collect()),
                ..Default::default()
            },
        );
        p.metadata = meta("auth", "idp", 0);
        Arc::new(p)
    }

    fn route(ns: &str, name: &str, host: &str, created: i64) -> Arc<ForwardAuthRoute> {
        let mut r = ForwardAuthRoute::new(
            name,
            ForwardAuthRouteSpec {
                hosts: vec![host.into()],
                provider_ref: crate::api::ObjectRef {
                    name: "idp".into(),
                    namespace: Some("auth".into()),
                },
                policy: Some(PolicySpec::any_authenticated()),
                ..Default::default()
            },
        );
        r.metadata = meta(ns, name, created);
        Arc::new(r)
    }

    #[test]
    fn oldest_route_keeps_a_host_and_refused_references_are_left_out() {
        let providers = vec![provider(&["team-a"])];
        let routes = vec![
            route("team-a", "newer", "app.example.com", 20),
            route("team-a", "older", "app.example.com", 10),
            route("team-b", "sneaky", "b.example.com", 5),
            route("auth", "own", "own.example.com", 30),
        ];
        let (config, verdicts) = compile(&providers, &[], &routes);
        let ids: Vec<&str> = config.routes.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, vec!["auth/own", "team-a/older"]);
        assert!(
            verdicts["team-a/newer"]
                .as_ref()
                .unwrap_err()
                .contains("team-a/older")
        );
        assert!(
            verdicts["team-b/sneaky"]
                .as_ref()
                .unwrap_err()
                .contains("allowedNamespaces")
        );
        assert_eq!(verdicts["auth/own"], Ok(()));
        assert!(config.providers.contains_key("auth/idp"));
        // Without a usable provider nothing is programmed and no provider is published.
        let (empty, verdicts) = compile(&[], &[], &routes);
        assert!(empty.routes.is_empty() && empty.providers.is_empty());
        assert!(
            verdicts["auth/own"]
                .as_ref()
                .unwrap_err()
                .contains("unusable")
        );
    }

    #[test]
    fn unchanged_shards_are_not_written_and_stale_ones_are_deleted() {
        let providers = vec![provider(&["*"])];
        let routes: Vec<_> = (0..50)
            .map(|i| route("a", &format!("r{i}"), &format!("r{i}.example.com"), i))
            .collect();
        let (config, first) = compile(&providers, &[], &routes);
        let desired = shard::shards(&config, "sys");
        let cached: Vec<Arc<ConfigMap>> = desired.iter().cloned().map(Arc::new).collect();
        let (writes, stale) = plan_writes(desired.clone(), &cached);
        assert!(writes.is_empty() && stale.is_empty());
        let mut old = (*cached[0]).clone();
        old.metadata.name = Some("portcullis-config-0-of-2".into());
        let mut with_stale = cached.clone();
        with_stale.push(Arc::new(old));
        let (_, stale) = plan_writes(desired, &with_stale);
        assert_eq!(stale, vec!["portcullis-config-0-of-2".to_string()]);
        // A second identical compile changes no verdict; a first one changes them all.
        let (_, second) = compile(&providers, &[], &routes);
        assert!(changed_routes(Some(&first), &second).is_empty());
        assert_eq!(changed_routes(None, &second).len(), 50);
    }
}
