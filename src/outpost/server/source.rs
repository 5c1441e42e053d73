//! Where the outpost's configuration comes from: the [`ConfigSource`] seam.
//!
//! A source yields a [`Snapshot`]: the validated [`OutpostConfig`], every referenced
//! secret resolved, the cookie key ring secrets, and a fingerprint of all of it, so the
//! reload loop can tell "nothing changed" from "swap". The file source is the only one
//! today; the operator's cluster source plugs in behind the same trait.

use super::store::redis_client::StoreSecrets;
use crate::config::{ConfigError, OutpostConfig, SecretSource};
use aws_lc_rs::digest;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use thiserror::Error;

/// Why a source could not produce a snapshot. Names files and fields, never values.
#[derive(Debug, Error)]
pub enum SourceError {
    /// A file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        message: String,
    },
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The cluster's configuration shards could not be listed, watched or merged.
    #[error("cannot read {origin}: {source}")]
    Cluster {
        /// Where the shards are (`configmaps -l ... in <namespace>`).
        origin: String,
        /// What went wrong (shared: every reload until the next watch event reports
        /// the same one).
        #[source]
        source: std::sync::Arc<super::cluster_config::ClusterConfigError>,
    },
    /// A secret reference cannot be resolved.
    #[error("{field}: {message}")]
    Secret {
        /// Where the reference is (`providers["a/b"].clientSecret`).
        field: String,
        /// What is wrong (never the value).
        message: String,
    },
    /// No usable cookie secret.
    #[error("cookie secrets: {0}")]
    CookieSecrets(String),
}

impl SourceError {
    /// A short label for metrics.
    pub(crate) fn metric_label(&self) -> &'static str {
        match self {
            Self::Read { .. } => "read",
            Self::Config(e) => e.metric_label(),
            // Shards that merge into an invalid configuration count as one from a
            // file does; the API server's failures count as a failed read.
            Self::Cluster { source, .. } => match source.as_ref() {
                super::cluster_config::ClusterConfigError::Config(e) => e.metric_label(),
                _ => "read",
            },
            Self::Secret { .. } => "secret",
            Self::CookieSecrets(_) => "cookie_secrets",
        }
    }
}

/// The resolved secrets of one provider.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProviderSecrets {
    /// The client secret, when configured.
    pub client_secret: Option<String>,
    /// The CA bundle PEM, when configured.
    pub ca_bundle: Option<String>,
}

impl std::fmt::Debug for ProviderSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Presence only: a secret never reaches Debug output.
        f.debug_struct("ProviderSecrets")
            .field("client_secret", &self.client_secret.is_some())
            .field("ca_bundle", &self.ca_bundle.is_some())
            .finish()
    }
}

/// Everything the outpost serves, resolved.
#[derive(Clone)]
pub struct Snapshot {
    /// The validated configuration (shared with the cache of the file source and the
    /// served [`super::state::Loaded`], never copied).
    pub config: Arc<OutpostConfig>,
    /// Resolved provider secrets by provider key.
    pub secrets: BTreeMap<String, ProviderSecrets>,
    /// Cookie secrets, newest first.
    pub cookie_secrets: Vec<Vec<u8>>,
    /// Resolved Redis session store secrets (password, CA bundle) by route id (routes
    /// with a Redis store).
    pub store_secrets: BTreeMap<String, StoreSecrets>,
    /// SHA-256 over the configuration and every resolved value.
    pub fingerprint: [u8; 32],
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("routes", &self.config.routes.len())
            .field("providers", &self.config.providers.len())
            .field("cookie_secrets", &self.cookie_secrets.len())
            .finish_non_exhaustive()
    }
}

/// A boxed future, so [`ConfigSource`] stays object-safe.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something that yields the outpost's configuration; polled by the reload loop.
pub trait ConfigSource: Send + Sync + 'static {
    /// A short description for log lines (`file /etc/portcullis/outpost.yaml`).
    fn describe(&self) -> String;
    /// Reads and resolves the current configuration.
    fn load(&self) -> BoxFuture<'_, Result<Snapshot, SourceError>>;
}

/// Configuration from a YAML file, secrets from values, files and environment variables.
/// The cluster source reuses its cookie-secret settings and [`FileSource::snapshot`].
#[derive(Clone, Debug, Default)]
pub struct FileSource {
    /// The configuration file.
    pub path: PathBuf,
    /// Files holding cookie secrets, newest first.
    pub cookie_secret_files: Vec<PathBuf>,
    /// Cookie secrets given directly (from `PORTCULLIS_COOKIE_SECRETS`), after the files.
    pub cookie_secrets: Vec<String>,
    /// The last text parsed and what it gave (shared by clones).
    pub parsed: ParseCache,
}

/// The SHA-256 of the configuration text parsed last and its outcome, so that a file
/// read again at every reload interval is parsed only when its bytes changed: parsing
/// 10,000 routes every 2 s was 13% of the outpost's CPU under load (docs/benchmarks.md).
/// The digest of the bytes is compared, not the file's mtime, so no change is missed;
/// keeping the digest instead of the text saves the text's size (2.6 MB with 10,000
/// routes) for as long as the outpost runs.
#[derive(Clone, Debug, Default)]
pub struct ParseCache(Arc<Mutex<Parsed>>);

#[derive(Debug, Default)]
struct Parsed {
    text_sha256: Option<[u8; 32]>,
    outcome: Option<Result<Arc<OutpostConfig>, ConfigError>>,
    parses: u64,
}

impl ParseCache {
    /// [`OutpostConfig::from_yaml`] of `text`, or the previous outcome when `text` is the
    /// text parsed last (an invalid file is not parsed again either).
    pub fn parse(&self, text: &str, origin: &str) -> Result<Arc<OutpostConfig>, ConfigError> {
        let digest = sha256(text.as_bytes());
        let mut parsed = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(outcome) = &parsed.outcome
            && parsed.text_sha256 == Some(digest)
        {
            return outcome.clone();
        }
        let outcome = OutpostConfig::from_yaml(text, origin).map(Arc::new);
        parsed.parses += 1;
        parsed.text_sha256 = Some(digest);
        parsed.outcome = Some(outcome.clone());
        outcome
    }

    /// How many times a text was actually parsed.
    pub fn parses(&self) -> u64 {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).parses
    }
}

impl ConfigSource for FileSource {
    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }

    fn load(&self) -> BoxFuture<'_, Result<Snapshot, SourceError>> {
        // The files are small and local: a blocking read is cheaper than a thread hop.
        Box::pin(async move { self.load_now() })
    }
}

impl FileSource {
    /// The synchronous load behind [`ConfigSource::load`].
    pub(crate) fn load_now(&self) -> Result<Snapshot, SourceError> {
        let origin = self.path.display().to_string();
        let text = read(&self.path)?;
        let config = self.parsed.parse(&text, &origin)?;
        self.snapshot(config, &text, &origin, &resolve_file_mode, None)
    }

    /// Resolves every provider secret with `resolve`, reads the cookie secrets, and
    /// fingerprints it all. `text` is the configuration as read (for the fingerprint).
    /// `newest_cookie_secret` (from the cluster's keys Secret) goes before the files'.
    pub fn snapshot(
        &self,
        config: impl Into<Arc<OutpostConfig>>,
        text: &str,
        origin: &str,
        resolve: &dyn Fn(&SecretSource) -> Result<String, String>,
        newest_cookie_secret: Option<String>,
    ) -> Result<Snapshot, SourceError> {
        let config = config.into();
        // A configured source resolved, its error naming the field at `path`.
        let at = |path: String, source: &Option<SecretSource>| {
            source
                .as_ref()
                .map(|s| {
                    resolve(s).map_err(|message| SourceError::Secret {
                        field: format!("{origin}: {path}"),
                        message,
                    })
                })
                .transpose()
        };
        let mut secrets = BTreeMap::new();
        for (key, provider) in &config.providers {
            let field = |name: &str| format!("providers[{key:?}].{name}");
            let resolved = ProviderSecrets {
                client_secret: at(field("clientSecret"), &provider.client_secret)?,
                ca_bundle: at(field("caBundle"), &provider.ca_bundle)?,
            };
            secrets.insert(key.clone(), resolved);
        }
        let mut store_secrets = BTreeMap::new();
        for (index, route) in config.routes.iter().enumerate() {
            let Some(redis) = &route.session.store.redis else {
                continue;
            };
            let field = |name: &str| format!("routes[{index}].session.store.redis.{name}");
            let resolved = StoreSecrets {
                password: at(field("password"), &redis.password)?,
                ca_bundle: at(field("caBundle"), &redis.ca_bundle)?,
            };
            store_secrets.insert(route.id.clone(), resolved);
        }
        let cookie_secrets = self.cookie_secrets(newest_cookie_secret)?;
        let fingerprint = fingerprint(text, &secrets, &store_secrets, &cookie_secrets);
        Ok(Snapshot {
            config,
            secrets,
            cookie_secrets,
            store_secrets,
            fingerprint,
        })
    }

    /// The cookie key ring secrets, newest first, each long enough.
    fn cookie_secrets(&self, newest: Option<String>) -> Result<Vec<Vec<u8>>, SourceError> {
        let mut cookie_secrets: Vec<Vec<u8>> = newest
            .map(|s| trim_newline(s).into_bytes())
            .into_iter()
            .collect();
        for file in &self.cookie_secret_files {
            cookie_secrets.push(trim_newline(read(file)?).into_bytes());
        }
        cookie_secrets.extend(
            self.cookie_secrets
                .iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .map(|s| s.as_bytes().to_vec()),
        );
        if cookie_secrets.is_empty() {
            return Err(SourceError::CookieSecrets(
                "none configured; pass --cookie-secret-file FILE or --keys-secret NAME, or set PORTCULLIS_COOKIE_SECRETS"
                    .into(),
            ));
        }
        if let Some(i) = cookie_secrets
            .iter()
            .position(|s| s.len() < super::super::session::MIN_SECRET_LEN)
        {
            return Err(SourceError::CookieSecrets(format!(
                "secret #{} is shorter than {} bytes; generate one with `openssl rand -base64 32`",
                i + 1,
                super::super::session::MIN_SECRET_LEN
            )));
        }
        Ok(cookie_secrets)
    }
}

fn read(path: &std::path::Path) -> Result<String, SourceError> {
    std::fs::read_to_string(path).map_err(|e| SourceError::Read {
        path: path.display().to_string(),
        message: e.kind().to_string(),
    })
}

fn trim_newline(mut s: String) -> String {
    while s.ends_with('\n') || s.ends_with('\r') {
        s.pop();
    }
    s
}

/// Resolves a secret in file mode: `value`, `file` (trailing newline trimmed) or `env`.
/// Kubernetes references need the cluster source and are refused with a clear message.
pub(crate) fn resolve_file_mode(source: &SecretSource) -> Result<String, String> {
    if let Some(v) = &source.value {
        return Ok(v.clone());
    }
    if let Some(path) = &source.file {
        return std::fs::read_to_string(path)
            .map(trim_newline)
            .map_err(|e| format!("cannot read file {path:?}: {}", e.kind()));
    }
    if let Some(name) = &source.env {
        return std::env::var(name)
            .map_err(|_| format!("environment variable {name} is not set (or not UTF-8)"));
    }
    if source.secret_key_ref.is_some() || source.config_map_key_ref.is_some() {
        return Err("secretKeyRef/configMapKeyRef: cluster mode not available in file mode; use value, file or env".into());
    }
    Err("set one of value, file or env".into())
}

fn fingerprint(
    text: &str,
    secrets: &BTreeMap<String, ProviderSecrets>,
    store_secrets: &BTreeMap<String, StoreSecrets>,
    cookie_secrets: &[Vec<u8>],
) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut field = |b: &[u8]| {
        // Length-prefixed so that field boundaries cannot shift.
        ctx.update(&(b.len() as u64).to_be_bytes());
        ctx.update(b);
    };
    field(text.as_bytes());
    for (key, s) in secrets {
        field(key.as_bytes());
        field(s.client_secret.as_deref().unwrap_or("\0none").as_bytes());
        field(s.ca_bundle.as_deref().unwrap_or("\0none").as_bytes());
    }
    for (route, s) in store_secrets {
        field(route.as_bytes());
        field(s.password.as_deref().unwrap_or("\0none").as_bytes());
        field(s.ca_bundle.as_deref().unwrap_or("\0none").as_bytes());
    }
    for s in cookie_secrets {
        field(s);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

#[cfg(test)]
#[path = "source_tests.rs"]
mod tests;

/// SHA-256 of `bytes`.
fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}
