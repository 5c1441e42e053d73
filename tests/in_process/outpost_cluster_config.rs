//! The outpost's cluster-mode loader against a mocked API server: list once, and watch.

use crate::operator_support;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use operator_support::*;
use portcullis::config::{OutpostConfig, PolicyConfig, ProviderConfig, RouteConfig};
use portcullis::outpost::server::cluster_config;
use portcullis::reconcile::shard::shards;
use std::pin::Pin;

fn config(issuer: &str, routes: usize) -> OutpostConfig {
    let mut c = OutpostConfig::default();
    c.providers.insert(
        "auth/idp".into(),
        ProviderConfig {
            issuer_url: issuer.into(),
            client_id: "c".into(),
            ..Default::default()
        },
    );
    for i in 0..routes {
        c.routes.push(RouteConfig {
            id: format!("apps/r{i}"),
            hosts: vec![format!("r{i}.example.com")],
            paths: vec!["/".into()],
            provider: "auth/idp".into(),
            auth_url: format!("https://r{i}.example.com"),
            redirect_uri: format!("https://r{i}.example.com/oauth2/callback"),
            policy: PolicyConfig {
                allow_any_authenticated: true,
                ..Default::default()
            },
            ..Default::default()
        });
    }
    c
}

/// The configuration's shards in `sys`, as the operator writes them.
fn shards_of(config: &OutpostConfig) -> Vec<ConfigMap> {
    shards(config, "sys")
}

/// `shard` with text in place of its configuration that no YAML parser accepts.
fn broken(mut shard: ConfigMap) -> ConfigMap {
    for text in shard.data.get_or_insert_with(Default::default).values_mut() {
        *text = "routes: [unclosed".into();
    }
    shard
}

/// The loader's watch, as the outpost consumes it.
type ConfigStream =
    Pin<Box<dyn Stream<Item = Result<OutpostConfig, cluster_config::ClusterConfigError>> + Send>>;

/// The loader's watch against an API server that lists `first`'s shards, then sends
/// `modified` (at resourceVersion 2) as a MODIFIED event.
fn watch_until_modified(
    first: &OutpostConfig,
    mut modified: ConfigMap,
) -> (ConfigStream, tokio::task::JoinHandle<Vec<Exchange>>) {
    modified.metadata.resource_version = Some("2".into());
    let (kc, handle) = mock();
    let verifier = ApiServerVerifier(handle).run(Scenario::ConfigShardModified {
        namespace: "sys".into(),
        shards: shards_of(first),
        modified,
    });
    (Box::pin(cluster_config::watch(kc, "sys")), verifier)
}

#[tokio::test]
async fn load_lists_label_selected_shards_and_merges_them() {
    let expected = config("https://idp.example", 3);
    let (kc, handle) = mock();
    let verifier = ApiServerVerifier(handle).run(Scenario::ConfigShardsListed {
        namespace: "sys".into(),
        shards: shards_of(&expected),
    });
    let loaded = cluster_config::load(kc, "sys").await.unwrap();
    let exchanges = verifier.await.unwrap();
    // The step asserts the selector too; said here as what this test is about.
    assert!(
        exchanges[0]
            .uri
            .contains("labelSelector=portcullis.dev%2Foutpost-config%3Dtrue"),
        "{}",
        exchanges[0].uri
    );
    assert_eq!(loaded, expected);
}

#[tokio::test]
async fn load_refuses_a_shard_it_cannot_parse_and_names_it() {
    let good = config("https://idp.example", 3);
    let mut items = shards_of(&good);
    let name = items[0].metadata.name.clone().unwrap();
    items[0] = broken(items[0].clone());
    let (kc, handle) = mock();
    let verifier = ApiServerVerifier(handle).run(Scenario::ConfigShardsListed {
        namespace: "sys".into(),
        shards: items,
    });
    let err = cluster_config::load(kc, "sys")
        .await
        .expect_err("a shard that does not parse is refused, not skipped");
    verifier.await.unwrap();
    let text = err.to_string();
    assert!(
        text.contains(&format!("configmaps in sys/{name}")),
        "the error names the shard: {text}"
    );
}

#[tokio::test]
async fn watch_yields_the_initial_config_then_each_change() {
    let first = config("https://idp.example", 2);
    let second = config("https://idp.example", 3);
    let modified = shards_of(&second).remove(0);
    let (mut stream, verifier) = watch_until_modified(&first, modified);
    let a = stream.next().await.unwrap().unwrap();
    assert_eq!(a, first);
    let b = match stream.next().await.unwrap() {
        Ok(c) => c,
        Err(e) => panic!("unexpected watch error: {e}"),
    };
    assert_eq!(b, second);
    let exchanges = verifier.await.unwrap();
    assert!(
        exchanges[1].uri.contains("resourceVersion=1"),
        "{}",
        exchanges[1].uri
    );
}

#[tokio::test]
async fn watch_reports_a_shard_that_turned_bad_and_names_it() {
    let first = config("https://idp.example", 2);
    let modified = broken(shards_of(&first).remove(0));
    let name = modified.metadata.name.clone().unwrap();
    let (mut stream, verifier) = watch_until_modified(&first, modified);
    assert_eq!(stream.next().await.unwrap().unwrap(), first);
    let err = stream
        .next()
        .await
        .unwrap()
        .expect_err("a shard that no longer parses is an error (the last good one is kept)");
    assert!(
        err.to_string()
            .contains(&format!("configmaps in sys/{name}")),
        "{err}"
    );
    verifier.await.unwrap();
}
