//! `render --probe` says about a provider's CA bundle what the operator would.

use super::probe_providers;
use crate::api::{CABundleKind, CABundleRef};
use crate::reconcile::World;
use crate::reconcile::fixtures;
use crate::reconcile::key::ObjectKey;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;

fn world_with_bundle(pem: Option<&str>) -> World {
    let mut p = fixtures::provider("auth", "idp", "https://idp.invalid");
    p.spec.ca_bundle_ref = Some(CABundleRef {
        kind: CABundleKind::Secret,
        name: "idp-ca".into(),
        key: "ca.crt".into(),
    });
    let secrets = pem
        .map(|pem| Secret {
            metadata: fixtures::meta("auth", "idp-ca"),
            data: Some([("ca.crt".to_string(), ByteString(pem.as_bytes().to_vec()))].into()),
            ..Default::default()
        })
        .into_iter()
        .collect();
    World {
        providers: vec![p],
        secrets,
        ..Default::default()
    }
}

async fn discovery_error(mut world: World) -> String {
    probe_providers(&mut world, Timestamp::now).await;
    world.probes[&ObjectKey::new("auth", "idp")]
        .discovery_error
        .clone()
        .expect("a bundle problem is a discovery error")
}

#[tokio::test]
async fn a_missing_bundle_names_the_secret_and_key() {
    let error = discovery_error(world_with_bundle(None)).await;
    assert_eq!(
        error,
        "spec.caBundleRef: caBundleRef auth/idp-ca key \"ca.crt\" not found"
    );
}

#[tokio::test]
async fn a_bundle_that_is_not_pem_says_so_as_the_operator_does() {
    let error = discovery_error(world_with_bundle(Some("not a certificate"))).await;
    assert_eq!(
        error,
        "spec.caBundleRef: provider configuration: caBundle contains no certificate"
    );
}
