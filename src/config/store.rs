//! Where a route's sessions live: in the encrypted cookie (the default, no dependency) or
//! in Redis (the cookie then holds only a sealed session id, so sessions can be ended on
//! the server: sign-out, revocation, back-channel logout).

use super::SecretSource;
use serde::{Deserialize, Serialize};
use url::Url;

/// The session store of a route: in the encrypted cookie unless `redis` is set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoreConfig {
    /// Sessions in Redis, shared by every replica; the cookie holds a sealed session id.
    /// Unset: the whole session in the encrypted cookie, with nothing on the server to
    /// end, so a copied cookie stays valid until it expires (revocation needs Redis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisConfig>,
}

impl StoreConfig {
    /// Whether this is the default cookie store (left out of serialised configuration).
    pub(crate) fn is_cookie(&self) -> bool {
        self.redis.is_none()
    }
}

/// How Redis is addressed.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum RedisMode {
    /// One server (`urls` has exactly one entry).
    #[default]
    Standalone,
    /// Sentinels (`urls`) that name the current master of `masterName`.
    Sentinel,
    /// A Redis Cluster, `urls` being seed nodes.
    Cluster,
}

/// A Redis session store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedisConfig {
    /// Addressing mode.
    #[serde(default)]
    pub mode: RedisMode,
    /// `redis://host:port[/db]` or `rediss://` (TLS) URLs: the server, the sentinels or
    /// the cluster's seed nodes. Put no password in them: use `password`.
    pub urls: Vec<String>,
    /// The master's name at the sentinels (Sentinel mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_name: Option<String>,
    /// The ACL user name, when not `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The password (`file` in file mode, `secretKeyRef` in cluster mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretSource>,
    /// PEM certificates of the CAs that sign the servers' certificates, for `rediss://`
    /// URLs (`file` in file mode, `configMapKeyRef` or `secretKeyRef` in cluster mode).
    /// Unset: the system's trust store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<SecretSource>,
    /// Prefix of every key the outpost writes (several installations can share a Redis).
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    /// Bound on every Redis call (connect included), in milliseconds.
    #[serde(default = "default_timeout_millis")]
    pub timeout_millis: u64,
    /// Sessions one user may have with one provider at once; a new sign-in beyond it
    /// ends the oldest (0: no bound).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_sessions_per_user: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn default_key_prefix() -> String {
    "portcullis".into()
}

fn default_timeout_millis() -> u64 {
    500
}

impl RedisConfig {
    /// A standalone store at `url` with the defaults.
    pub fn standalone(url: &str) -> Self {
        Self {
            mode: RedisMode::Standalone,
            urls: vec![url.to_string()],
            master_name: None,
            username: None,
            password: None,
            ca_bundle: None,
            key_prefix: default_key_prefix(),
            timeout_millis: default_timeout_millis(),
            max_sessions_per_user: 0,
        }
    }

    /// Checks the addressing; `Err((field, message))` names the field at fault and the fix.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.urls.is_empty() {
            return Err(("urls", "list at least one redis:// or rediss:// URL".into()));
        }
        for url in &self.urls {
            check_url(url).map_err(|m| ("urls", m))?;
        }
        match (self.mode, &self.master_name) {
            (RedisMode::Standalone, _) if self.urls.len() != 1 => {
                return Err((
                    "urls",
                    "standalone mode takes exactly one URL; for several servers set mode: sentinel or cluster".into(),
                ));
            }
            (RedisMode::Sentinel, None) => {
                return Err((
                    "masterName",
                    "sentinel mode needs the master's name as the sentinels know it (e.g. mymaster)".into(),
                ));
            }
            (RedisMode::Standalone | RedisMode::Cluster, Some(_)) => {
                return Err((
                    "masterName",
                    "only used in sentinel mode; remove it or set mode: sentinel".into(),
                ));
            }
            _ => {}
        }
        if self.ca_bundle.is_some() && !self.urls.iter().any(|u| u.starts_with("rediss:")) {
            return Err((
                "caBundle",
                "only used for TLS; use rediss:// URLs or remove caBundle".into(),
            ));
        }
        if self.key_prefix.is_empty() || self.key_prefix.contains(char::is_whitespace) {
            return Err((
                "keyPrefix",
                "must be non-empty without spaces (e.g. portcullis)".into(),
            ));
        }
        if !(10..=60_000).contains(&self.timeout_millis) {
            return Err((
                "timeoutMillis",
                "must be between 10 and 60000 milliseconds".into(),
            ));
        }
        Ok(())
    }
}

/// A Redis URL: `redis`/`rediss` scheme, a host, no credentials (those come from
/// `username`/`password`, so they never sit in a ConfigMap).
fn check_url(value: &str) -> Result<(), String> {
    let url = Url::parse(value).map_err(|e| format!("{value:?} is not a URL ({e})"))?;
    if !matches!(url.scheme(), "redis" | "rediss") {
        return Err(format!("{value:?} must use redis:// or rediss:// (TLS)"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{value:?} has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{} carries credentials; move them to username and password (a Secret)",
            redacted(&url)
        ));
    }
    let db = url.path().trim_start_matches('/');
    if !db.is_empty() && db.parse::<u16>().is_err() {
        return Err(format!("{value:?}: the path must be a database number"));
    }
    Ok(())
}

fn redacted(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_password(None);
    let _ = u.set_username("");
    format!("{:?}", u.as_str())
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
