//! Outposts read Secrets only in their own namespace: the compiled configuration's
//! references to providers' Secrets and ConfigMaps (client secrets, CA bundles, in the
//! providers' namespaces) and to routes' session-store passwords (in the routes'
//! namespaces) are rewritten to keys of one Secret the operator keeps in its
//! namespace, holding copies. The outpost's RBAC is then a namespaced `get` on Secrets,
//! not a cluster-wide one.

use crate::config::{OutpostConfig, SecretKeyRef, SecretSource};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use std::collections::BTreeMap;

/// The Secret in the operator's namespace that holds the copies.
pub const CREDENTIALS_SECRET: &str = "portcullis-outpost-credentials";

/// Where a copied value comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// A key of a Secret.
    Secret(SecretKeyRef),
    /// A key of a ConfigMap (public data, such as a CA bundle).
    ConfigMap(SecretKeyRef),
}

impl Origin {
    fn reference(&self) -> (&'static str, &SecretKeyRef) {
        match self {
            Origin::Secret(r) => ("secret", r),
            Origin::ConfigMap(r) => ("configmap", r),
        }
    }

    /// The key of the copy: `<kind>_<namespace>_<name>_<key>`. Namespaces and names
    /// cannot contain `_`, so two origins never share a key; one too long for a Secret
    /// key (253) is named by its hash instead.
    pub(crate) fn copy_key(&self) -> String {
        let (kind, r) = self.reference();
        let key = format!("{kind}_{}_{}_{}", r.namespace, r.name, r.key);
        if key.len() <= 253 {
            return key;
        }
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
        let hex: String = digest.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{kind}_sha256_{hex}")
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, r) = self.reference();
        write!(f, "{kind} {}/{} key {:?}", r.namespace, r.name, r.key)
    }
}

/// Rewrites every Kubernetes reference in `config` (providers' client secrets and CA
/// bundles, routes' Redis passwords and CA bundles) to a key of [`CREDENTIALS_SECRET`] in `namespace`;
/// returns what each key must hold.
pub fn localise(config: &mut OutpostConfig, namespace: &str) -> BTreeMap<String, Origin> {
    let mut copies = BTreeMap::new();
    for provider in config.providers.values_mut() {
        for source in [&mut provider.client_secret, &mut provider.ca_bundle]
            .into_iter()
            .flatten()
        {
            localise_source(source, namespace, &mut copies);
        }
    }
    for redis in config
        .routes
        .iter_mut()
        .filter_map(|r| r.session.store.redis.as_mut())
    {
        for source in [&mut redis.password, &mut redis.ca_bundle]
            .into_iter()
            .flatten()
        {
            localise_source(source, namespace, &mut copies);
        }
    }
    copies
}

/// Points one source at its copy, recording the origin; a literal, file or env source
/// stays as it is.
fn localise_source(
    source: &mut SecretSource,
    namespace: &str,
    copies: &mut BTreeMap<String, Origin>,
) {
    let origin = match (
        source.secret_key_ref.take(),
        source.config_map_key_ref.take(),
    ) {
        (Some(r), _) => Origin::Secret(r),
        (None, Some(r)) => Origin::ConfigMap(r),
        (None, None) => return,
    };
    let key = origin.copy_key();
    *source = SecretSource {
        secret_key_ref: Some(SecretKeyRef {
            namespace: namespace.to_string(),
            name: CREDENTIALS_SECRET.to_string(),
            key: key.clone(),
        }),
        ..Default::default()
    };
    copies.insert(key, origin);
}

/// The Secret holding `values` (key → value), labelled as the operator's so its cache
/// holds it and an unchanged copy is never written again.
pub(crate) fn credentials_secret(namespace: &str, values: BTreeMap<String, String>) -> Secret {
    let data = values
        .into_iter()
        .map(|(k, v)| (k, ByteString(v.into_bytes())))
        .collect();
    super::managed_secret(namespace, CREDENTIALS_SECRET, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderConfig;

    fn reference(namespace: &str, name: &str, key: &str) -> SecretKeyRef {
        SecretKeyRef {
            namespace: namespace.into(),
            name: name.into(),
            key: key.into(),
        }
    }

    #[test]
    fn every_reference_moves_to_the_outposts_namespace_and_inline_sources_stay() {
        let mut config = OutpostConfig::default();
        config.providers.insert(
            "team-a/idp".into(),
            ProviderConfig {
                client_secret: Some(SecretSource {
                    secret_key_ref: Some(reference("team-a", "idp-oauth", "client-secret")),
                    ..Default::default()
                }),
                ca_bundle: Some(SecretSource {
                    config_map_key_ref: Some(reference("team-a", "ca", "ca.crt")),
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
        config.providers.insert(
            "team-b/idp".into(),
            ProviderConfig {
                client_secret: Some(SecretSource {
                    file: Some("/etc/secret".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
        let copies = localise(&mut config, "portcullis-system");
        let a = &config.providers["team-a/idp"];
        let secret_ref = a
            .client_secret
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap();
        assert_eq!(secret_ref.namespace, "portcullis-system");
        assert_eq!(secret_ref.name, CREDENTIALS_SECRET);
        assert_eq!(
            copies[&secret_ref.key],
            Origin::Secret(reference("team-a", "idp-oauth", "client-secret"))
        );
        let ca = a.ca_bundle.as_ref().unwrap();
        assert!(ca.config_map_key_ref.is_none());
        assert_eq!(
            copies[&ca.secret_key_ref.as_ref().unwrap().key],
            Origin::ConfigMap(reference("team-a", "ca", "ca.crt"))
        );
        assert_eq!(
            config.providers["team-b/idp"]
                .client_secret
                .as_ref()
                .unwrap()
                .file
                .as_deref(),
            Some("/etc/secret")
        );
        assert_eq!(copies.len(), 2);
    }

    #[test]
    fn copy_keys_never_collide_and_stay_valid_secret_keys() {
        // A name with a dot and a key with a dot: joined by `.` they would collide.
        let a = Origin::Secret(reference("ns", "a.b", "c"));
        let b = Origin::Secret(reference("ns", "a", "b.c"));
        assert_ne!(a.copy_key(), b.copy_key());
        let long = Origin::Secret(reference("ns", &"n".repeat(253), &"k".repeat(253)));
        let key = long.copy_key();
        assert!(
            key.len() <= 253 && key.starts_with("secret_sha256_"),
            "{key}"
        );
        let valid = |k: &str| {
            k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
        };
        assert!(valid(&a.copy_key()) && valid(&key));
    }

    #[test]
    fn a_routes_redis_password_is_copied_like_provider_credentials() {
        use crate::config::{RedisConfig, RouteConfig};
        let mut redis = RedisConfig::standalone("redis://redis.apps:6379");
        redis.password = Some(SecretSource {
            secret_key_ref: Some(reference("apps", "redis", "password")),
            ..Default::default()
        });
        redis.ca_bundle = Some(SecretSource {
            config_map_key_ref: Some(reference("apps", "redis-ca", "ca.crt")),
            ..Default::default()
        });
        let mut route = RouteConfig::default();
        route.session.store.redis = Some(redis);
        let mut config = OutpostConfig {
            routes: vec![route],
            ..Default::default()
        };
        let copies = localise(&mut config, "portcullis-system");
        let origin = Origin::Secret(reference("apps", "redis", "password"));
        assert_eq!(copies.get(&origin.copy_key()), Some(&origin));
        let ca = Origin::ConfigMap(reference("apps", "redis-ca", "ca.crt"));
        assert_eq!(copies.get(&ca.copy_key()), Some(&ca), "the CA bundle too");
        let moved = config.routes[0].session.store.redis.as_ref().unwrap();
        let to = moved
            .password
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap();
        assert_eq!(
            (to.namespace.as_str(), to.name.as_str()),
            ("portcullis-system", CREDENTIALS_SECRET),
            "the outpost reads only its own namespace"
        );
    }
}
