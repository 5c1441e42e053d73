//! The emulator driven by a kube-rs client, the way the operator will use it:
//! discovery, server-side apply (main resource and status), typed CRUD with
//! resourceVersion conflicts, Status errors, and a watcher.

use super::apiserver::kubectl::Kube;
use super::install_widgets;
use futures_util::StreamExt as _;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Client, Config, Discovery};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

async fn client(k: &Kube) -> Client {
    let kc = Kubeconfig::from_yaml(&k.emu.kubeconfig_yaml()).unwrap();
    let cfg = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(cfg).unwrap()
}

fn api_code(e: kube::Error) -> (u16, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason.clone()),
        other => panic!("not an API error: {other:?}"),
    }
}

#[tokio::test]
async fn kube_rs_discovery_apply_status_and_errors() {
    let k = Kube::new();
    install_widgets(&k);
    let client = client(&k).await;
    assert_eq!(client.apiserver_version().await.unwrap().minor, "32");
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let gvk = GroupVersionKind::gvk("example.dev", "v1", "Widget");
    let (ar, caps) = discovery.resolve_gvk(&gvk).expect("widgets discovered");
    assert_eq!(ar.plural, "widgets");
    assert!(caps.supports_operation("watch"));
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let pp = PatchParams::apply("portcullis").force();
    let doc = json!({"apiVersion": "example.dev/v1", "kind": "Widget",
        "metadata": {"name": "kr"}, "spec": {"color": "green"}});
    let created = widgets.patch("kr", &pp, &Patch::Apply(&doc)).await.unwrap();
    assert_eq!(created.data["spec"]["size"], 3, "schema default applied");
    let status = json!({"apiVersion": "example.dev/v1", "kind": "Widget",
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    let after = widgets
        .patch_status("kr", &pp, &Patch::Apply(&status))
        .await
        .unwrap();
    assert_eq!(after.data["status"]["conditions"][0]["type"], "Ready");
    assert!(widgets.get_opt("nope").await.unwrap().is_none());
    let bad = json!({"apiVersion": "example.dev/v1", "kind": "Widget",
        "metadata": {"name": "bad"}, "spec": {"color": "purple"}});
    let err = widgets
        .patch("bad", &pp, &Patch::Apply(&bad))
        .await
        .unwrap_err();
    assert_eq!(api_code(err), (422, "Invalid".to_string()));
}

#[tokio::test]
async fn kube_rs_typed_conflicts_and_watcher() {
    let k = Kube::new();
    let client = client(&k).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let mut events = watcher(cms.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("kr".into());
    cm.data = Some(BTreeMap::from([("a".to_string(), "1".to_string())]));
    let created = cms.create(&PostParams::default(), &cm).await.unwrap();
    let err = cms.create(&PostParams::default(), &cm).await.unwrap_err();
    assert_eq!(api_code(err), (409, "AlreadyExists".to_string()));
    let mut first = created.clone();
    first.data = Some(BTreeMap::from([("a".to_string(), "2".to_string())]));
    cms.replace("kr", &PostParams::default(), &first)
        .await
        .unwrap();
    let err = cms
        .replace("kr", &PostParams::default(), &created)
        .await
        .unwrap_err();
    assert_eq!(api_code(err), (409, "Conflict".to_string()));
    // The watcher sees the object, and later its update.
    let mut seen = vec![];
    while seen.last() != Some(&"2".to_string()) {
        let next = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("watch event in time")
            .expect("stream open")
            .expect("no watch error");
        seen.push(next.data.unwrap_or_default()["a"].clone());
    }
    assert!(seen.contains(&"2".to_string()), "{seen:?}");
}

#[tokio::test]
async fn kube_runtime_finalizer_helper_adds_and_removes_its_finalizer() {
    use kube::runtime::controller::Action;
    use kube::runtime::finalizer::{Event, finalizer};
    use std::convert::Infallible;
    use std::sync::Arc;

    let k = Kube::new();
    let client = client(&k).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("fin".into());
    cms.create(&PostParams::default(), &cm).await.unwrap();
    let name = "example.dev/cleanup";
    let run = |obj: ConfigMap| {
        let cms = cms.clone();
        async move {
            let mut seen = None;
            finalizer(&cms, name, Arc::new(obj), |ev| {
                seen = Some(match ev {
                    Event::Apply(_) => "apply",
                    Event::Cleanup(_) => "cleanup",
                });
                async { Ok::<_, Infallible>(Action::await_change()) }
            })
            .await
            .unwrap();
            seen
        }
    };
    // First pass adds the finalizer (JSON patch with a `test` of a missing path).
    assert_eq!(run(cms.get("fin").await.unwrap()).await, None);
    let got = cms.get("fin").await.unwrap();
    assert_eq!(got.metadata.finalizers, Some(vec![name.to_string()]));
    assert_eq!(run(got).await, Some("apply"));
    cms.delete("fin", &Default::default()).await.unwrap();
    let deleting = cms.get("fin").await.unwrap();
    assert!(deleting.metadata.deletion_timestamp.is_some());
    assert_eq!(run(deleting).await, Some("cleanup"));
    assert!(cms.get_opt("fin").await.unwrap().is_none());
}

#[tokio::test]
async fn kube_runtime_event_recorder_events_show_in_kubectl() {
    use k8s_openapi::api::events::v1::Event as K8sEvent;
    use kube::Resource as _;
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};

    let k = Kube::new();
    let client = client(&k).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("evented".into());
    let cm = cms.create(&PostParams::default(), &cm).await.unwrap();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "portcullis".into(),
            instance: None,
        },
    );
    let ev = Event {
        type_: EventType::Warning,
        reason: "ProbeFailed".into(),
        note: Some("issuer unreachable".into()),
        action: "Probe".into(),
        secondary: None,
    };
    let reference = cm.object_ref(&());
    recorder.publish(&ev, &reference).await.unwrap();
    recorder.publish(&ev, &reference).await.unwrap();
    let events: Api<K8sEvent> = Api::default_namespaced(client.clone());
    let list = events.list(&Default::default()).await.unwrap();
    assert_eq!(list.items.len(), 1, "the second publish patches the series");
    assert_eq!(list.items[0].series.as_ref().map(|s| s.count), Some(2));
    // Core/v1 view of the same storage, as kubectl prints it.
    let out = k.ok(&["get", "events"]);
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    );
    let row = out.lines().nth(1).unwrap();
    for part in [
        "Warning",
        "ProbeFailed",
        "configmap/evented",
        "issuer unreachable",
    ] {
        assert!(row.contains(part), "{out}");
    }
    let described = k.ok(&["describe", "configmap", "evented"]);
    assert!(described.contains("ProbeFailed"), "{described}");
}
