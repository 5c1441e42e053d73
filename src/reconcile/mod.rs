//! The operator's reconcile logic as pure functions: inputs in, desired objects and
//! status out. No client, no I/O; the operator and `portcullis render` both call it.

// A `Condition` as the error of a desired-state function is built once per reconcile,
// never on a hot path; boxing it would only add noise.
#![allow(clippy::result_large_err)]

pub mod assign;
pub mod client;
pub mod compile;
pub mod conditions;
pub mod outpost_credentials;
pub mod presets;
pub mod provider;
pub mod route;
pub mod shard;
pub mod world;

pub use world::World;

use crate::api::OIDCProvider;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Resource, ResourceExt};
use serde::Serialize;

/// An object the operator creates or updates.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Desired {
    /// A Secret (credentials).
    Secret(Secret),
    /// A ConfigMap (compiled outpost configuration).
    ConfigMap(ConfigMap),
}

/// The result of reconciling one object: what to write, and its status.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome<S> {
    /// Objects owned by (or derived from) the reconciled object.
    pub objects: Vec<Desired>,
    /// The status to publish.
    pub status: S,
}

/// An Opaque Secret labelled as the operator's (its cache holds it, so an unchanged copy
/// is never written again), holding `data`.
pub fn managed_secret(
    namespace: &str,
    name: &str,
    data: std::collections::BTreeMap<String, k8s_openapi::ByteString>,
) -> Secret {
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            labels: Some(std::collections::BTreeMap::from([(
                client::MANAGED_BY.0.to_string(),
                client::MANAGED_BY.1.to_string(),
            )])),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(data),
        ..Default::default()
    }
}

/// An ownerReference to `owner`, when it has a uid (objects read from disk may not).
pub fn owner_reference<K: Resource<DynamicType = ()>>(owner: &K) -> Option<OwnerReference> {
    let uid = owner.meta().uid.clone()?;
    Some(OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.name_any(),
        uid,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

/// Whether an object in `namespace` may reference `provider`; the error names the
/// provider and the field to change.
pub fn reference_allowed(provider: &OIDCProvider, namespace: &str) -> Result<(), String> {
    let own = provider.namespace().unwrap_or_default();
    if own == namespace {
        return Ok(());
    }
    let allowed = provider
        .spec
        .allowed_namespaces
        .as_deref()
        .unwrap_or_default();
    if allowed.iter().any(|n| n == "*" || n == namespace) {
        Ok(())
    } else {
        Err(format!(
            "OIDCProvider {own}/{} does not allow references from namespace {namespace:?} (add it to spec.allowedNamespaces)",
            provider.name_any()
        ))
    }
}

/// Parses a duration of the CRDs' [`DURATION_PATTERN`](crate::api::DURATION_PATTERN)
/// form into whole seconds. The pattern itself decides what is a duration, so this
/// accepts exactly what the API server admits (humantime took `1d` and `8 hours`, which
/// the schema refuses).
pub fn parse_duration(value: &str) -> Result<u64, String> {
    static PATTERN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let pattern = PATTERN
        .get_or_init(|| regex::Regex::new(crate::api::DURATION_PATTERN).expect("a valid pattern"));
    let refused = || {
        format!(
            "{value:?} is not a duration like 30s, 15m, 12h or 1h30m (whole numbers with ms, s, m or h)"
        )
    };
    if !pattern.is_match(value) {
        return Err(refused());
    }
    let too_long = || format!("{value:?} is too long a duration");
    let (mut millis, mut number) = (0u64, 0u64);
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        let unit = match c {
            '0'..='9' => {
                number = number
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(c) - u64::from('0')))
                    .ok_or_else(too_long)?;
                continue;
            }
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1
            }
            'm' => 60_000,
            's' => 1_000,
            'h' => 3_600_000,
            _ => return Err(refused()),
        };
        millis = number
            .checked_mul(unit)
            .and_then(|n| n.checked_add(millis))
            .ok_or_else(too_long)?;
        number = 0;
    }
    Ok(millis / 1000)
}

/// `sha256:` and the first 16 hex digits of the value's hash: enough to tell two
/// secrets apart in status, useless for recovering one.
pub fn fingerprint(secret: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
    format!("sha256:{}", &hex(digest.as_ref())[..16])
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh client secret: 32 random bytes, base64url without padding (43 characters).
pub fn mint_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system RNG works");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_to_seconds_and_errors_quote_the_value() {
        assert_eq!(parse_duration("30s").unwrap(), 30);
        assert_eq!(parse_duration("1h30m").unwrap(), 5400);
        assert_eq!(parse_duration("1500ms").unwrap(), 1);
        assert_eq!(parse_duration("2m3s").unwrap(), 123);
        assert!(parse_duration("soon").unwrap_err().contains("\"soon\""));
        assert!(
            parse_duration("99999999999999999999h")
                .unwrap_err()
                .contains("too long")
        );
    }

    /// One rule: the duration every CRD field states in its schema is the one
    /// `parse_duration` accepts, on a table of inputs (the API server's side of the
    /// agreement is `tests/processes/render_strict.rs`).
    #[test]
    fn the_schema_pattern_and_parse_duration_agree() {
        use kube::CustomResourceExt;
        let crd = serde_json::to_value(crate::api::ForwardAuthRoute::crd()).unwrap();
        let schema_pattern = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
            ["spec"]["properties"]["session"]["properties"]["lifetime"]["pattern"]
            .as_str()
            .unwrap()
            .to_string();
        let schema = regex::Regex::new(&schema_pattern).unwrap();
        for input in [
            "30s", "1h30m", "500ms", "0s", "1h0m0s", "1ms1s", "12h", "1d", "8 hours", "1.5h",
            "-5m", "5", "h", "10us", "1h 30m", "", " 1h", "1H", "1m\n", "ms",
        ] {
            assert_eq!(
                schema.is_match(input),
                parse_duration(input).is_ok(),
                "{input:?}"
            );
        }
    }

    #[test]
    fn fingerprints_differ_and_hide_the_secret() {
        let a = fingerprint("secret-a");
        assert_ne!(a, fingerprint("secret-b"));
        assert!(a.starts_with("sha256:") && a.len() == 23);
        assert_ne!(mint_secret(), mint_secret());
        assert_eq!(mint_secret().len(), 43);
    }
}
