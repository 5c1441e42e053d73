//! `ForwardAuthRoute.spec.session.store`: where the route's sessions live.

use super::common::SecretKeySelector;
use super::oidc_provider::CABundleRef;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where sessions live. Unset: in the encrypted cookie (nothing to run, but a copied
/// cookie stays valid until it expires: ending sessions on the server needs Redis).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionStoreSpec {
    /// Keep sessions in Redis, shared by every outpost replica: the cookie then holds
    /// only a sealed session id, and sign-out ends the session for every copy of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisStoreSpec>,
}

/// How Redis is addressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RedisModeName {
    /// One server.
    #[default]
    Standalone,
    /// Sentinels naming the current master of `masterName`.
    Sentinel,
    /// A Redis Cluster (`urls` are seed nodes).
    Cluster,
}

/// A Redis session store.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedisStoreSpec {
    /// Addressing mode. Default: `Standalone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<RedisModeName>,
    /// `redis://host:port[/db]` or `rediss://` (TLS) URLs without credentials: the
    /// server, the sentinels or the cluster's seed nodes.
    #[schemars(length(min = 1))]
    pub urls: Vec<String>,
    /// The master's name at the sentinels (`Sentinel` mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_name: Option<String>,
    /// The ACL user name, when not `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The password: a key of a Secret in the route's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeySelector>,
    /// The CA bundle that signs the servers' certificates, for `rediss://` URLs (a
    /// ConfigMap or Secret in the route's namespace). Default: the system's trust store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle_ref: Option<CABundleRef>,
    /// Prefix of every key written. Default: `portcullis`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[^\s]+$"))]
    pub key_prefix: Option<String>,
    /// Bound on every Redis call, in milliseconds. Default: 500.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 60000))]
    pub timeout_millis: Option<u32>,
    /// Sessions one user may have at once through this route's provider: a new sign-in
    /// beyond it ends the user's oldest session (the other browser is asked to sign in
    /// again), so a sign-in never fails for it. Default: no bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_sessions_per_user: Option<u32>,
}
