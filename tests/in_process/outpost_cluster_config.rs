//! The outpost's cluster-mode loader against a mocked API server: list once, and watch.

use crate::operator_support;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use operator_support::*;
use portcullis::config::{OutpostConfig, PolicyConfig, ProviderConfig, RouteConfig};
use portcullis::outpost::server::cluster_config;
use portcullis::reconcile::shard::shards;
use serde_json::json;

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

fn list(items: &[ConfigMap], rv: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ConfigMapList", "metadata": {"resourceVersion": rv}, "items": items})
}

const PATH: &str = "/api/v1/namespaces/sys/configmaps?";

#[tokio::test]
async fn load_lists_label_selected_shards_and_merges_them() {
    let expected = config("https://idp.example", 3);
    let items = shards(&expected, "sys");
    let (kc, mut handle) = mock();
    let v = tokio::spawn(async move {
        expect(&mut handle, "GET", PATH, 200, move |_| list(&items, "1")).await
    });
    let loaded = cluster_config::load(kc, "sys").await.unwrap();
    let req = v.await.unwrap();
    assert!(
        req.uri
            .contains("labelSelector=portcullis.dev%2Foutpost-config%3Dtrue"),
        "{}",
        req.uri
    );
    assert_eq!(loaded, expected);
}

#[tokio::test]
async fn watch_yields_the_initial_config_then_each_change() {
    let first = config("https://idp.example", 2);
    let second = config("https://idp.example", 3);
    let items = shards(&first, "sys");
    let mut changed = shards(&second, "sys").remove(0);
    changed.metadata.resource_version = Some("2".into());
    let (kc, mut handle) = mock();
    let server = tokio::spawn(async move {
        expect(&mut handle, "GET", PATH, 200, move |_| list(&items, "1")).await;
        let (request, send) = handle.next_request().await.unwrap();
        assert!(request.uri().to_string().contains("watch=true"));
        let line = serde_json::to_vec(&json!({"type": "MODIFIED", "object": changed})).unwrap();
        send.send_response(
            http::Response::builder()
                .body(kube::client::Body::from(line))
                .unwrap(),
        );
        // Keep the handle until the test has read both configurations.
        handle
    });
    let mut stream = Box::pin(cluster_config::watch(kc, "sys"));
    let a = stream.next().await.unwrap().unwrap();
    assert_eq!(a, first);
    let b = match stream.next().await.unwrap() {
        Ok(c) => c,
        Err(e) => panic!("unexpected watch error: {e}"),
    };
    assert_eq!(b, second);
    drop(server);
}
