//! Whether a write is needed at all: the comparison of a desired object with the cached
//! one (10k objects must converge without one redundant write, so every apply is
//! preceded by one of these).

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

fn covers(
    desired: &Option<BTreeMap<String, String>>,
    cached: &Option<BTreeMap<String, String>>,
) -> bool {
    let empty = BTreeMap::new();
    let cached = cached.as_ref().unwrap_or(&empty);
    desired
        .iter()
        .flatten()
        .all(|(k, v)| cached.get(k) == Some(v))
}

/// Whether the cached metadata already carries what we would apply: our labels and
/// annotations (others' keys are ignored) and, when we set them, the ownerReferences.
pub(crate) fn meta_covers(desired: &ObjectMeta, cached: &ObjectMeta) -> bool {
    covers(&desired.labels, &cached.labels)
        && covers(&desired.annotations, &cached.annotations)
        && (desired.owner_references.is_none()
            || desired.owner_references == cached.owner_references)
}

/// Whether `desired` differs from the cached Secret in anything we manage.
pub(crate) fn secret_needs_apply(desired: &Secret, cached: Option<&Secret>) -> bool {
    let Some(cached) = cached else { return true };
    !(meta_covers(&desired.metadata, &cached.metadata)
        && desired.data.clone().unwrap_or_default() == cached.data.clone().unwrap_or_default()
        && (desired.type_.is_none() || desired.type_ == cached.type_))
}

/// Whether `desired` differs from the cached ConfigMap in anything we manage.
pub(crate) fn configmap_needs_apply(desired: &ConfigMap, cached: Option<&ConfigMap>) -> bool {
    let Some(cached) = cached else { return true };
    !(meta_covers(&desired.metadata, &cached.metadata)
        && desired.data.clone().unwrap_or_default() == cached.data.clone().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn secret(labels: &[(&str, &str)], data: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some("s".into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            type_: Some("Opaque".into()),
            ..Default::default()
        }
    }

    #[test]
    fn equal_secret_needs_no_write_even_with_foreign_labels() {
        let desired = secret(&[("a", "1")], &[("k", "v")]);
        let cached = secret(&[("a", "1"), ("other-tool", "x")], &[("k", "v")]);
        assert!(!secret_needs_apply(&desired, Some(&cached)));
    }

    #[test]
    fn changed_data_label_or_absence_needs_a_write() {
        let desired = secret(&[("a", "1")], &[("k", "v")]);
        assert!(secret_needs_apply(&desired, None));
        assert!(secret_needs_apply(
            &desired,
            Some(&secret(&[("a", "2")], &[("k", "v")]))
        ));
        assert!(secret_needs_apply(
            &desired,
            Some(&secret(&[("a", "1")], &[("k", "w")]))
        ));
        assert!(secret_needs_apply(
            &desired,
            Some(&secret(&[("a", "1")], &[("k", "v"), ("extra", "x")]))
        ));
    }
}
