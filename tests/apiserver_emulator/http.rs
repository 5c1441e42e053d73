//! Emulator checks over raw HTTP, for what kubectl does not show: Status bodies,
//! discovery documents, watch streams, resourceVersion conflicts.

use super::apiserver::Options;
use super::apiserver::kubectl::Kube;
use super::install_widgets;
use serde_json::{Value, json};
use std::time::Duration;

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn discovery_documents_have_the_real_shape() {
    let k = Kube::new();
    install_widgets(&k);
    let list: Value = http()
        .get(k.url("/apis/example.dev/v1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["kind"], "APIResourceList");
    let res = list["resources"].as_array().unwrap();
    let w = res.iter().find(|r| r["name"] == "widgets").unwrap();
    assert_eq!(w["namespaced"], true);
    assert_eq!(w["singularName"], "widget");
    assert_eq!(w["shortNames"], json!(["wg"]));
    assert_eq!(w["categories"], json!(["all"]));
    assert!(w["verbs"].as_array().unwrap().contains(&json!("watch")));
    assert!(res.iter().any(|r| r["name"] == "widgets/status"));
    let core: Value = http()
        .get(k.url("/api/v1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ns = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "namespaces")
        .unwrap();
    assert_eq!(ns["namespaced"], false);
    let root: Value = http()
        .get(k.url("/openapi/v3"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rel = root["paths"]["apis/example.dev/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_string();
    let doc: Value = http()
        .get(k.url(&rel))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let op = &doc["paths"]["/apis/example.dev/v1/namespaces/{namespace}/widgets/{name}"]["patch"];
    assert_eq!(op["x-kubernetes-group-version-kind"]["kind"], "Widget");
    let missing = http().get(k.url("/apis/nope.dev/v1")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn invalid_status_has_real_shape() {
    let k = Kube::new();
    install_widgets(&k);
    let resp = http()
        .post(k.url("/apis/example.dev/v1/namespaces/default/widgets"))
        .json(&json!({"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": "x"},
            "spec": {"color": "red", "size": "big", "port": 8080},
            "status": {"conditions": [{"type": "A", "status": "True"}, {"type": "A", "status": "False"}]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let status: Value = resp.json().await.unwrap();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(status["details"]["kind"], "Widget");
    assert_eq!(status["details"]["group"], "example.dev");
    let causes = status["details"]["causes"].as_array().unwrap();
    assert_eq!(
        causes.len(),
        1,
        "status is ignored on create, so only spec.size fails: {causes:?}"
    );
    assert_eq!(causes[0]["field"], "spec.size");
    assert_eq!(causes[0]["reason"], "FieldValueTypeInvalid");
    // The list-map uniqueness check, through the status subresource.
    let ok = http()
        .post(k.url("/apis/example.dev/v1/namespaces/default/widgets"))
        .json(&json!({"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": "x"}, "spec": {"color": "red", "port": "http"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 201);
    let dup = http()
        .patch(k.url("/apis/example.dev/v1/namespaces/default/widgets/x/status"))
        .header("content-type", "application/merge-patch+json")
        .body(json!({"status": {"conditions": [{"type": "A", "status": "True"}, {"type": "A", "status": "False"}]}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(dup.status(), 422);
    let status: Value = dup.json().await.unwrap();
    assert_eq!(
        status["details"]["causes"][0]["field"],
        "status.conditions[1]"
    );
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "FieldValueDuplicate"
    );
}

#[tokio::test]
async fn stale_resource_version_conflicts_and_already_exists() {
    let k = Kube::new();
    k.ok(&["create", "configmap", "cfg", "--from-literal=a=1"]);
    let err = k.fail(&["create", "configmap", "cfg", "--from-literal=a=1"]);
    assert!(err.contains("configmaps \"cfg\" already exists"), "{err}");
    let err = k.fail_in(
        &["create", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n"),
    );
    assert!(err.contains("Error from server (AlreadyExists)"), "{err}");
    let url = k.url("/api/v1/namespaces/default/configmaps/cfg");
    let first: Value = http().get(&url).send().await.unwrap().json().await.unwrap();
    let mut second = first.clone();
    second["data"]["a"] = json!("2");
    let r = http().put(&url).json(&second).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let updated: Value = r.json().await.unwrap();
    assert_ne!(
        updated["metadata"]["resourceVersion"],
        first["metadata"]["resourceVersion"]
    );
    let mut stale = first.clone();
    stale["data"]["a"] = json!("3");
    let r = http().put(&url).json(&stale).send().await.unwrap();
    assert_eq!(r.status(), 409);
    let status: Value = r.json().await.unwrap();
    assert_eq!(status["reason"], "Conflict");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("the object has been modified")
    );
    // A no-op write keeps the resourceVersion (and sends no watch event).
    let again = http()
        .put(&url)
        .json(&updated)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        again["metadata"]["resourceVersion"],
        updated["metadata"]["resourceVersion"]
    );
    let missing = http()
        .get(k.url("/api/v1/namespaces/default/configmaps/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let status: Value = missing.json().await.unwrap();
    assert_eq!(status["reason"], "NotFound");
    assert_eq!(
        status["details"],
        json!({"name": "nope", "kind": "configmaps"})
    );
}

async fn read_events(resp: &mut reqwest::Response, want: usize) -> Vec<Value> {
    let mut buf = String::new();
    let mut events = vec![];
    while events.len() < want {
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .expect("event in time")
            .unwrap();
        let Some(chunk) = chunk else { break };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(i) = buf.find('\n') {
            let line: String = buf.drain(..=i).collect();
            events.push(serde_json::from_str(line.trim()).unwrap());
        }
    }
    events
}

#[tokio::test]
async fn watch_replays_from_resource_version_and_sends_bookmarks() {
    let k = Kube::new();
    k.ok(&["create", "configmap", "one", "--from-literal=a=1"]);
    let rv = k.emu.resource_version();
    k.ok(&["label", "configmap", "one", "app=web"]);
    k.ok(&["create", "configmap", "two", "--from-literal=a=1"]);
    let url = k.url(&format!("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=20"));
    let mut resp = http().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let events = read_events(&mut resp, 2).await;
    assert_eq!(events[0]["type"], "MODIFIED");
    assert_eq!(events[0]["object"]["metadata"]["labels"]["app"], "web");
    assert_eq!(events[1]["type"], "ADDED");
    assert_eq!(events[1]["object"]["metadata"]["name"], "two");
    k.ok(&["delete", "configmap", "two"]);
    let mut more = read_events(&mut resp, 1).await;
    assert_eq!(more[0]["type"], "DELETED");
    // With nothing happening, a BOOKMARK arrives (interval 1s in tests).
    more = read_events(&mut resp, 1).await;
    assert_eq!(more[0]["type"], "BOOKMARK");
    assert_eq!(
        more[0]["object"]["metadata"]["resourceVersion"],
        k.emu.resource_version().to_string()
    );
    // Label-selected watch: an object leaving the selector shows as DELETED.
    let url = k.url(&format!("/api/v1/namespaces/default/configmaps?watch=true&labelSelector=app%3Dweb&resourceVersion={}", k.emu.resource_version()));
    let mut resp = http().get(&url).send().await.unwrap();
    k.ok(&["create", "configmap", "three", "--from-literal=a=1"]);
    k.ok(&["label", "configmap", "one", "app-"]);
    let events = read_events(&mut resp, 1).await;
    assert_eq!(
        (
            events[0]["type"].as_str(),
            events[0]["object"]["metadata"]["name"].as_str()
        ),
        (Some("DELETED"), Some("one"))
    );
}

#[tokio::test]
async fn watch_from_a_compacted_resource_version_gets_410() {
    let k = Kube::with(Options {
        history_limit: 3,
        ..Options::default()
    });
    for i in 0..6 {
        k.ok(&["create", "configmap", &format!("c{i}")]);
    }
    let url = k.url("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=2");
    let mut resp = http().get(&url).send().await.unwrap();
    let events = read_events(&mut resp, 1).await;
    assert_eq!(events[0]["type"], "ERROR");
    assert_eq!(events[0]["object"]["code"], 410);
    assert_eq!(events[0]["object"]["reason"], "Expired");
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.unwrap();
    let code = resp.status().as_u16();
    (code, resp.json().await.unwrap())
}

fn apply_patch(url: &str, body: &Value) -> reqwest::RequestBuilder {
    http()
        .patch(url)
        .header("content-type", "application/apply-patch+yaml")
        .body(body.to_string())
}

#[tokio::test]
async fn controller_style_status_apply_and_streaming_list_watch() {
    let k = Kube::new();
    install_widgets(&k);
    let base = k.url("/apis/example.dev/v1/namespaces/default/widgets");
    let (code, created) = send(http().post(&base).json(&json!({
        "apiVersion": "example.dev/v1", "kind": "Widget",
        "metadata": {"generateName": "w-"}, "spec": {"color": "blue"}})))
    .await;
    assert_eq!(code, 201);
    let name = created["metadata"]["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("w-") && name.len() == 7, "{name}");
    // A controller applies status with its own field manager (kube-rs Patch::Apply).
    let status_url = format!("{base}/{name}/status?fieldManager=portcullis&force=true");
    let doc = json!({"apiVersion": "example.dev/v1", "kind": "Widget",
        "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}});
    let (code, applied) = send(apply_patch(&status_url, &doc)).await;
    assert_eq!(code, 200, "{applied}");
    assert_eq!(applied["status"]["conditions"][0]["status"], "True");
    assert_eq!(applied["spec"]["color"], "blue");
    let entry = applied["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["manager"] == "portcullis")
        .unwrap()
        .clone();
    assert_eq!(entry["subresource"], "status");
    assert_eq!(entry["operation"], "Apply");
    // Re-applying the same status is a no-op: same resourceVersion.
    let (_, again) = send(apply_patch(&status_url, &doc)).await;
    assert_eq!(
        again["metadata"]["resourceVersion"],
        applied["metadata"]["resourceVersion"]
    );
    // Apply without a field manager is refused like the real server does.
    let (code, status) = send(apply_patch(&format!("{base}/{name}"), &doc)).await;
    assert_eq!((code, status["reason"].as_str()), (422, Some("Invalid")));
    // Status apply on a missing object: 404.
    let (code, _) = send(apply_patch(
        &format!("{base}/missing/status?fieldManager=x"),
        &doc,
    ))
    .await;
    assert_eq!(code, 404);
    // Streaming list (sendInitialEvents) across namespaces: ADDED, then the bookmark
    // that ends the initial events.
    let url = k.url(
        "/apis/example.dev/v1/widgets?watch=true&sendInitialEvents=true\
         &resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=10",
    );
    let mut resp = http().get(&url).send().await.unwrap();
    let events = read_events(&mut resp, 2).await;
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["metadata"]["name"], name.as_str());
    assert_eq!(events[1]["type"], "BOOKMARK");
    assert_eq!(
        events[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
}

#[tokio::test]
async fn lease_updates_conflict_on_stale_resource_version() {
    let k = Kube::new();
    let base = k.url("/apis/coordination.k8s.io/v1/namespaces/default/leases");
    let (code, lease) = send(http().post(&base).json(&json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "leader"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}})))
    .await;
    assert_eq!(code, 201);
    let mut by_b = lease.clone();
    by_b["spec"]["holderIdentity"] = json!("b");
    let mut by_c = lease.clone();
    by_c["spec"]["holderIdentity"] = json!("c");
    let (code_b, _) = send(http().put(format!("{base}/leader")).json(&by_b)).await;
    let (code_c, status) = send(http().put(format!("{base}/leader")).json(&by_c)).await;
    assert_eq!((code_b, code_c), (200, 409));
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(status["details"]["group"], "coordination.k8s.io");
    let (_, now) = send(http().get(format!("{base}/leader"))).await;
    assert_eq!(now["spec"]["holderIdentity"], "b");
}

#[tokio::test]
async fn tables_metadata_lists_and_foreground_deletion() {
    let k = Kube::new();
    k.ok(&["create", "secret", "generic", "owner", "--from-literal=a=b"]);
    let owner = k.json(&["get", "secret", "owner"]);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dep",
        "ownerReferences": [{"apiVersion": "v1", "kind": "Secret", "name": "owner",
                             "uid": owner["metadata"]["uid"]}]}});
    let cms = k.url("/api/v1/namespaces/default/configmaps");
    assert_eq!(send(http().post(&cms).json(&cm)).await.0, 201);
    let (_, table) = send(
        http()
            .get(k.url("/api/v1/namespaces/default/secrets"))
            .header(
                "accept",
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
            ),
    )
    .await;
    assert_eq!(table["kind"], "Table");
    let names: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Name", "Type", "Data", "Age"]);
    assert_eq!(table["rows"][0]["cells"][0], "owner");
    assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    let (_, meta) = send(http().get(&cms).header(
        "accept",
        "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
    ))
    .await;
    assert_eq!(meta["kind"], "PartialObjectMetadataList");
    assert_eq!(meta["items"][0]["metadata"]["name"], "dep");
    let (code, _) = send(
        http()
            .delete(k.url("/api/v1/namespaces/default/secrets/owner"))
            .json(&json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"})),
    )
    .await;
    assert_eq!(code, 200);
    assert!(k.emu.object("", "configmaps", "default", "dep").is_none());
    // Pagination: limit + continue.
    for i in 0..3 {
        k.ok(&["create", "configmap", &format!("page{i}")]);
    }
    let (_, first) = send(http().get(format!("{cms}?limit=2"))).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let token = first["metadata"]["continue"].as_str().unwrap().to_string();
    let (_, second) = send(http().get(format!("{cms}?limit=2&continue={token}"))).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second["metadata"].get("continue").is_none());
}
