//! The outpost's cluster-mode configuration loader: the label-selected shard ConfigMaps
//! the operator writes, merged back into one [`OutpostConfig`] — once, or as a stream
//! that yields each new configuration.

use crate::config::{ConfigError, OutpostConfig};
use crate::reconcile::shard::{CONFIG_KEY, CONFIG_LABEL, merge};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use std::collections::BTreeMap;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ClusterConfigError {
    /// Listing or watching the ConfigMaps failed.
    #[error("reading configuration ConfigMaps: {0}")]
    Kube(#[from] kube::Error),
    /// Watching failed.
    #[error("watching configuration ConfigMaps: {0}")]
    Watch(#[from] watcher::Error),
    /// A shard or the merged configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// `(index, count)` of a shard named `portcullis-config-<i>-of-<n>`.
pub(crate) fn shard_position(name: &str) -> Option<(usize, usize)> {
    let rest = name.strip_prefix("portcullis-config-")?;
    let (i, n) = rest.split_once("-of-")?;
    Some((i.parse().ok()?, n.parse().ok()?))
}

/// Merges shards into one configuration. During a resize old and new shard sets exist
/// side by side: complete sets go first, newest first, so each route comes from the
/// newest complete set (merge keeps a route's first copy).
pub(crate) fn from_shards(
    shards: &[ConfigMap],
    origin: &str,
) -> Result<OutpostConfig, ConfigError> {
    let mut groups: BTreeMap<usize, Vec<&ConfigMap>> = BTreeMap::new();
    for cm in shards {
        let count = shard_position(&cm.name_any()).map_or(0, |(_, n)| n);
        groups.entry(count).or_default().push(cm);
    }
    let mut ordered: Vec<(bool, Option<k8s_openapi::jiff::Timestamp>, Vec<&ConfigMap>)> = groups
        .into_iter()
        .map(|(count, mut members)| {
            members.sort_by_key(|c| c.name_any());
            let complete = count > 0 && members.len() == count;
            let newest = members
                .iter()
                .filter_map(|c| c.metadata.creation_timestamp.as_ref().map(|t| t.0))
                .max();
            (complete, newest, members)
        })
        .collect();
    ordered.sort_by_key(|g| std::cmp::Reverse((g.0, g.1)));
    let mut parts = Vec::new();
    for cm in ordered.into_iter().flat_map(|(_, _, m)| m) {
        let name = format!("{origin}/{}", cm.name_any());
        let text = cm
            .data
            .as_ref()
            .and_then(|d| d.get(CONFIG_KEY))
            .map(String::as_str)
            .unwrap_or("{}");
        let part: OutpostConfig = serde_yaml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: name,
            message: e.to_string(),
        })?;
        parts.push(part);
    }
    let merged = merge(parts);
    merged.validate(origin)?;
    Ok(merged)
}

fn selector() -> String {
    format!("{CONFIG_LABEL}=true")
}

/// Lists the shards in `namespace` once and merges them.
pub async fn load(
    client: kube::Client,
    namespace: &str,
) -> Result<OutpostConfig, ClusterConfigError> {
    let api: Api<ConfigMap> = Api::namespaced(client, namespace);
    let list = api.list(&ListParams::default().labels(&selector())).await?;
    Ok(from_shards(
        &list.items,
        &format!("configmaps in {namespace}"),
    )?)
}

/// Watches the shards and yields the merged configuration after the initial list and
/// whenever it changes (identical results are not repeated). An invalid configuration
/// is yielded as an error; the caller keeps serving the last good one.
pub fn watch(
    client: kube::Client,
    namespace: &str,
) -> impl Stream<Item = Result<OutpostConfig, ClusterConfigError>> + Send {
    let api: Api<ConfigMap> = Api::namespaced(client, namespace);
    let (reader, writer) = reflector::store();
    let origin = format!("configmaps in {namespace}");
    let events = watcher(api, watcher::Config::default().labels(&selector()))
        .default_backoff()
        .reflect(writer);
    let mut last: Option<OutpostConfig> = None;
    events.filter_map(move |event| {
        let out = match event {
            Err(e) => Some(Err(ClusterConfigError::Watch(e))),
            // Between InitApply events the store is incomplete; wait for InitDone.
            Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => None,
            Ok(_) => {
                let shards: Vec<ConfigMap> = reader.state().iter().map(|c| (**c).clone()).collect();
                match from_shards(&shards, &origin) {
                    Ok(config) if last.as_ref() == Some(&config) => None,
                    Ok(config) => {
                        last = Some(config.clone());
                        Some(Ok(config))
                    }
                    Err(e) => Some(Err(e.into())),
                }
            }
        };
        futures::future::ready(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ProviderConfig, RouteConfig};
    use crate::reconcile::shard::shards;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn config(routes: usize, issuer: &str) -> OutpostConfig {
        let mut c = OutpostConfig::default();
        c.providers.insert(
            "ns/idp".into(),
            ProviderConfig {
                issuer_url: issuer.into(),
                client_id: "c".into(),
                ..Default::default()
            },
        );
        for i in 0..routes {
            c.routes.push(RouteConfig {
                id: format!("ns/r{i}"),
                hosts: vec![format!("r{i}.example.com")],
                paths: vec!["/".into()],
                provider: "ns/idp".into(),
                auth_url: format!("https://r{i}.example.com"),
                redirect_uri: format!("https://r{i}.example.com/oauth2/callback"),
                policy: crate::config::PolicyConfig {
                    allow_any_authenticated: true,
                    ..Default::default()
                },
                ..Default::default()
            });
        }
        c
    }

    #[test]
    fn shard_names_parse() {
        assert_eq!(shard_position("portcullis-config-3-of-4"), Some((3, 4)));
        assert_eq!(shard_position("other"), None);
    }

    #[test]
    fn shards_round_trip_and_the_newest_complete_set_wins() {
        let c = config(3, "https://old.example");
        let mut old = shards(&c, "ns");
        assert_eq!(from_shards(&old, "t").unwrap(), c);
        // A resize in progress: a newer complete set with a different issuer, plus the
        // old set. The newer one wins.
        let new_c = config(3, "https://new.example");
        let mut new = shards(&new_c, "ns");
        for s in &mut new {
            s.metadata.name = Some(s.name_any().replace("-of-1", "-of-2"));
            s.metadata.creation_timestamp = Some(Time(
                k8s_openapi::jiff::Timestamp::from_second(200).unwrap(),
            ));
        }
        // Make the new set complete (two shards).
        let mut second = new[0].clone();
        second.metadata.name = Some("portcullis-config-1-of-2".into());
        second.data = Some([(CONFIG_KEY.to_string(), "{}".to_string())].into());
        new.push(second);
        for s in &mut old {
            s.metadata.creation_timestamp = Some(Time(
                k8s_openapi::jiff::Timestamp::from_second(100).unwrap(),
            ));
        }
        let all: Vec<ConfigMap> = old.into_iter().chain(new).collect();
        let merged = from_shards(&all, "t").unwrap();
        assert_eq!(merged.providers["ns/idp"].issuer_url, "https://new.example");
        assert_eq!(merged.routes.len(), 3);
    }
}
