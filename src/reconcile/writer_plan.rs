//! The writer's pure half: the configuration compiled from the operator's caches with
//! the same [`outpost_config`] `render` uses, which shards to write or delete, and which
//! routes' verdicts changed. `operator::writer` reads the caches and writes.

use crate::api::{ForwardAuthRoute, OAuthClient, OIDCProvider};
use crate::config::OutpostConfig;
use crate::reconcile::compile::outpost_config;
use crate::reconcile::diff::configmap_needs_apply;
use crate::reconcile::key::ObjectKey;
use crate::reconcile::provider::world_with_client;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// Per route id: in the configuration, or why not.
pub(crate) type Programmed = HashMap<ObjectKey, std::result::Result<(), String>>;

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
            compiled_providers.insert(ObjectKey::of(p.as_ref()), (config, p.as_ref()));
        }
    }
    let served = outpost_config(&compiled_providers, routes.iter().map(|r| r.as_ref()));
    (served.config, served.verdicts.into_iter().collect())
}

/// The shards to apply (content changed) and the names of stale shards to delete.
pub(crate) fn plan_writes(
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
pub(crate) fn changed_routes(before: Option<&Programmed>, after: &Programmed) -> Vec<ObjectKey> {
    after
        .iter()
        .filter(|(id, v)| before.and_then(|b| b.get(*id)) != Some(*v))
        .map(|(id, _)| id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::*;
    use crate::reconcile::shard;

    use crate::reconcile::fixtures::{self as fx, Fixture};

    /// The provider `auth/idp`, referable from the `allowed` namespaces.
    fn provider(allowed: &[&str]) -> Arc<OIDCProvider> {
        let mut p = fx::provider("auth", "idp", "https://idp.example").created_at(0);
        p.spec.allowed_namespaces = Some(allowed.iter().map(|s| s.to_string()).collect());
        Arc::new(p)
    }

    /// A route of `auth/idp` on `host`, created at `created`.
    fn route(ns: &str, name: &str, host: &str, created: i64) -> Arc<ForwardAuthRoute> {
        Arc::new(fx::route(ns, name, host, "idp", Some("auth")).created_at(created))
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
            verdicts[&ObjectKey::new("team-a", "newer")]
                .as_ref()
                .unwrap_err()
                .contains("team-a/older")
        );
        assert!(
            verdicts[&ObjectKey::new("team-b", "sneaky")]
                .as_ref()
                .unwrap_err()
                .contains("allowedNamespaces")
        );
        assert_eq!(verdicts[&ObjectKey::new("auth", "own")], Ok(()));
        assert!(config.providers.contains_key("auth/idp"));
        // Without a usable provider nothing is programmed and no provider is published.
        let (empty, verdicts) = compile(&[], &[], &routes);
        assert!(empty.routes.is_empty() && empty.providers.is_empty());
        assert!(
            verdicts[&ObjectKey::new("auth", "own")]
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
