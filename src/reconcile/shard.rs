//! Splitting the compiled configuration into ConfigMaps that outposts select by label.
//! No object may exceed the API server's 1 MiB limit, so routes are spread over a
//! power-of-two number of shards by a stable hash of their id: adding a route rewrites
//! one shard, not all of them.

use super::client::MANAGED_BY;
use crate::config::{OutpostConfig, RouteConfig};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// Label that outposts select configuration shards by.
pub(crate) const CONFIG_LABEL: &str = "portcullis.dev/outpost-config";
/// The key holding the shard's YAML.
pub(crate) const CONFIG_KEY: &str = "config.yaml";
/// Target size of one shard; half the API server's limit leaves room for metadata and
/// for growth before the shard count doubles.
pub(crate) const SHARD_TARGET_BYTES: usize = 512 * 1024;

/// The shard a route goes to among `count` (a power of two).
pub(crate) fn shard_of(route_id: &str, count: usize) -> usize {
    // FNV-1a: stable across processes and releases, unlike the std hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in route_id.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash as usize) & (count - 1)
}

/// The ConfigMaps holding the configuration (always at least one, so an outpost can tell
/// "no routes" from "not compiled yet").
pub fn shards(config: &OutpostConfig, namespace: &str) -> Vec<ConfigMap> {
    let total = serde_yaml::to_string(config).map(|s| s.len()).unwrap_or(0);
    let count = total
        .div_ceil(SHARD_TARGET_BYTES)
        .max(1)
        .next_power_of_two();
    let mut parts: Vec<OutpostConfig> = vec![OutpostConfig::default(); count];
    for route in &config.routes {
        let part = &mut parts[shard_of(&route.id, count)];
        if let Some(p) = config.providers.get(&route.provider) {
            part.providers.insert(route.provider.clone(), p.clone());
        }
        part.routes.push(route.clone());
    }
    parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| ConfigMap {
            metadata: ObjectMeta {
                name: Some(format!("portcullis-config-{i}-of-{count}")),
                namespace: Some(namespace.to_string()),
                labels: Some(BTreeMap::from([
                    (CONFIG_LABEL.to_string(), "true".to_string()),
                    (MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string()),
                ])),
                ..Default::default()
            },
            data: Some(BTreeMap::from([(
                CONFIG_KEY.to_string(),
                serde_yaml::to_string(&part).expect("config serialises"),
            )])),
            ..Default::default()
        })
        .collect()
}

/// Merges shards back into one configuration (what an outpost does after reading them).
/// A route or provider listed twice (a stale shard during a resize) keeps the first copy.
pub(crate) fn merge(parts: impl IntoIterator<Item = OutpostConfig>) -> OutpostConfig {
    let mut merged = OutpostConfig::default();
    let mut seen = std::collections::BTreeSet::new();
    for part in parts {
        for (k, p) in part.providers {
            merged.providers.entry(k).or_insert(p);
        }
        for r in part.routes {
            if seen.insert(r.id.clone()) {
                merged.routes.push(r);
            }
        }
    }
    let routes: &mut Vec<RouteConfig> = &mut merged.routes;
    super::assign::sort_routes(routes);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderConfig;

    fn config(routes: usize) -> OutpostConfig {
        let mut c = OutpostConfig::default();
        c.providers.insert(
            "ns/idp".into(),
            ProviderConfig {
                issuer_url: "https://idp.example.com".into(),
                client_id: "c".into(),
                ..Default::default()
            },
        );
        for i in 0..routes {
            c.routes.push(RouteConfig {
                id: format!("ns/route-{i}"),
                hosts: vec![format!("app-{i}.example.com")],
                paths: vec!["/".into()],
                provider: "ns/idp".into(),
                auth_url: format!("https://app-{i}.example.com"),
                redirect_uri: format!("https://app-{i}.example.com/oauth2/callback"),
                ..Default::default()
            });
        }
        c
    }

    #[test]
    fn ten_thousand_routes_fit_in_shards_under_one_mebibyte() {
        let c = config(10_000);
        let shards = shards(&c, "portcullis-system");
        assert!(shards.len() > 1);
        for s in &shards {
            let size = serde_json::to_vec(s).unwrap().len();
            assert!(
                size < 1024 * 1024,
                "{} is {size} bytes",
                s.metadata.name.as_deref().unwrap()
            );
        }
        let parts = shards.iter().map(|s| {
            serde_yaml::from_str::<OutpostConfig>(&s.data.as_ref().unwrap()[CONFIG_KEY]).unwrap()
        });
        let mut expected = c.clone();
        crate::reconcile::assign::sort_routes(&mut expected.routes);
        assert_eq!(merge(parts), expected);
    }

    #[test]
    fn adding_a_route_rewrites_only_its_shard() {
        let before = shards(&config(3000), "ns");
        let after = shards(&config(3001), "ns");
        assert_eq!(before.len(), after.len());
        let changed = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        assert_eq!(changed, 1);
    }
}
