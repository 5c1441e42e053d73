//! Configuration from the cluster: the operator's label-selected ConfigMap shards,
//! watched (not re-listed) so a reload costs nothing when nothing changed, and the
//! Secrets/ConfigMaps that providers reference, read at each reload. With a keys Secret
//! (`--keys-secret`) the cookie secret and signing key come through the API too: a
//! sidecar in another namespace (the ingress controller's pod, an app's pod) cannot
//! mount a Secret of this one.

use super::cluster_config::{self, ClusterConfigError};
use super::source::{
    BoxFuture, ConfigSource, FileSource, Snapshot, SourceError, resolve_file_mode,
};
use crate::config::COOKIE_SECRET_KEY;
use crate::config::{OutpostConfig, SecretKeyRef, SecretSource};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::watch;

/// Fetched references: (is a Secret, the reference) → value or why there is none.
type References = BTreeMap<(bool, SecretKeyRef), Result<String, String>>;

/// The latest merged configuration the watch produced, or why there is none.
type Latest = Option<Result<OutpostConfig, Arc<ClusterConfigError>>>;

/// Reads the compiled configuration the operator writes into `namespace`.
pub(crate) struct ClusterSource {
    client: kube::Client,
    namespace: String,
    latest: watch::Receiver<Latest>,
    /// Cookie secrets come from files or the environment, as in file mode...
    cookies: FileSource,
    /// ...and first from this Secret in `namespace`, when set.
    keys_secret: Option<String>,
    _watch: Arc<WatchTask>,
}

/// Aborts the background watch when the source is dropped.
struct WatchTask(tokio::task::JoinHandle<()>);

impl Drop for WatchTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl ClusterSource {
    /// Starts watching the configuration shards in `namespace`.
    pub fn start(client: kube::Client, namespace: String, cookies: FileSource) -> Self {
        let (tx, rx) = watch::channel(None);
        let (watch_client, watch_namespace) = (client.clone(), namespace.clone());
        let task = tokio::spawn(async move {
            let stream = cluster_config::watch(watch_client, &watch_namespace);
            let mut stream = std::pin::pin!(stream);
            while let Some(item) = stream.next().await {
                // The error text names ConfigMaps and fields, never secret values.
                let _ = tx.send(Some(item.map_err(Arc::new)));
            }
        });
        Self {
            client,
            namespace,
            latest: rx,
            cookies,
            keys_secret: None,
            _watch: Arc::new(WatchTask(task)),
        }
    }

    /// Reads the cookie secret (and the signing key) from the Secret `name` in the
    /// watched namespace at every reload, before any file.
    pub(crate) fn with_keys_secret(mut self, name: Option<String>) -> Self {
        self.keys_secret = name;
        self
    }

    /// The keys Secret's `key`, if a keys Secret is configured.
    pub(crate) async fn keys_secret_value(&self, key: &str) -> Result<Option<String>, SourceError> {
        let Some(name) = &self.keys_secret else {
            return Ok(None);
        };
        let reference = SecretKeyRef {
            namespace: self.namespace.clone(),
            name: name.clone(),
            key: key.to_string(),
        };
        self.secret(&reference)
            .await
            .map(Some)
            .map_err(|message| SourceError::Read {
                path: format!("--keys-secret {name}"),
                message,
            })
    }

    async fn current(&self) -> Result<OutpostConfig, SourceError> {
        let mut rx = self.latest.clone();
        // The first load waits for the initial list; later loads take what is there.
        let latest = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| SourceError::Read {
                path: self.describe(),
                message: "the configuration watch stopped".into(),
            })?;
        match latest.clone().expect("waited for Some") {
            Ok(config) => Ok(config),
            Err(source) => Err(SourceError::Cluster {
                origin: self.describe(),
                source,
            }),
        }
    }

    /// Fetches every Kubernetes reference the providers and session stores make.
    async fn fetch_references(&self, config: &OutpostConfig) -> References {
        // Collected first: nothing borrowed from an iterator lives across an await.
        let mut wanted: Vec<(bool, SecretKeyRef)> = Vec::new();
        let provider_sources = config
            .providers
            .values()
            .flat_map(|p| [&p.client_secret, &p.ca_bundle])
            .flatten();
        // A Redis session store's password and CA bundle, too.
        let store_sources = config
            .routes
            .iter()
            .filter_map(|r| r.session.store.redis.as_ref())
            .flat_map(|r| [&r.password, &r.ca_bundle])
            .flatten();
        for source in provider_sources.chain(store_sources) {
            if let Some(r) = &source.secret_key_ref {
                wanted.push((true, r.clone()));
            }
            if let Some(r) = &source.config_map_key_ref {
                wanted.push((false, r.clone()));
            }
        }
        wanted.sort();
        wanted.dedup();
        let mut values = References::new();
        for (is_secret, r) in wanted {
            let value = if is_secret {
                self.secret(&r).await
            } else {
                self.config_map(&r).await
            };
            values.insert((is_secret, r), value);
        }
        values
    }

    async fn secret(&self, r: &SecretKeyRef) -> Result<String, String> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &r.namespace);
        let secret = api
            .get_opt(&r.name)
            .await
            .map_err(|e| format!("reading Secret {}/{}: {e}", r.namespace, r.name))?;
        let secret =
            secret.ok_or_else(|| format!("Secret {}/{} not found", r.namespace, r.name))?;
        crate::reconcile::world::secret_value(&secret, &r.key).ok_or_else(|| {
            format!(
                "Secret {}/{} has no UTF-8 key {:?}",
                r.namespace, r.name, r.key
            )
        })
    }

    async fn config_map(&self, r: &SecretKeyRef) -> Result<String, String> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &r.namespace);
        let cm = api
            .get_opt(&r.name)
            .await
            .map_err(|e| format!("reading ConfigMap {}/{}: {e}", r.namespace, r.name))?;
        cm.and_then(|c| c.data.and_then(|d| d.get(&r.key).cloned()))
            .ok_or_else(|| {
                format!(
                    "ConfigMap {}/{} or its key {:?} not found",
                    r.namespace, r.name, r.key
                )
            })
    }
}

impl ConfigSource for ClusterSource {
    fn describe(&self) -> String {
        format!(
            "configmaps -l {}=true in {}",
            crate::reconcile::shard::CONFIG_LABEL,
            self.namespace
        )
    }

    fn load(&self) -> BoxFuture<'_, Result<Snapshot, SourceError>> {
        Box::pin(async move {
            let config = self.current().await?;
            let values = self.fetch_references(&config).await;
            let resolve = |source: &SecretSource| resolve_with(&values, source);
            let text = serde_yaml::to_string(&config).unwrap_or_default();
            let cookie_secret = self.keys_secret_value(COOKIE_SECRET_KEY).await?;
            self.cookies
                .snapshot(config, &text, &self.describe(), &resolve, cookie_secret)
        })
    }
}

/// A reference's fetched value, or file-mode resolution for value/file/env.
fn resolve_with(values: &References, source: &SecretSource) -> Result<String, String> {
    let lookup = |key: (bool, SecretKeyRef)| {
        values
            .get(&key)
            .cloned()
            .unwrap_or_else(|| Err("not fetched".into()))
    };
    match (&source.secret_key_ref, &source.config_map_key_ref) {
        (Some(r), _) => lookup((true, r.clone())),
        (None, Some(r)) => lookup((false, r.clone())),
        (None, None) => resolve_file_mode(source),
    }
}
