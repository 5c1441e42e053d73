//! Integration tests of the API-server emulator, driven by the real kubectl
//! (`/usr/bin/kubectl`) and by raw HTTP where kubectl cannot show the behaviour.

mod apiserver;

use apiserver::{Emulator, Options};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/emulator/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// An emulator plus a kubeconfig and a private kubectl cache dir.
struct Kube {
    emu: Emulator,
    dir: tempfile::TempDir,
}

impl Kube {
    fn new() -> Kube {
        Self::with(Options::default())
    }

    fn with(options: Options) -> Kube {
        let emu = Emulator::start_blocking_with(options);
        let dir = tempfile::tempdir().expect("tempdir");
        emu.write_kubeconfig(dir.path().join("kubeconfig")).expect("kubeconfig");
        Kube { emu, dir }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("kubectl");
        c.env("KUBECONFIG", self.dir.path().join("kubeconfig"))
            .env("HOME", self.dir.path())
            .arg(format!("--cache-dir={}", self.dir.path().join("cache").display()))
            .args(args);
        c
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut c = self.command(args);
        c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn kubectl");
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(stdin.unwrap_or_default().as_bytes()).expect("write stdin");
        drop(input);
        child.wait_with_output().expect("kubectl output")
    }

    /// Runs kubectl, asserts success, returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        self.ok_in(args, None)
    }

    fn ok_in(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "kubectl {args:?} failed:\nstdout: {stdout}\nstderr: {stderr}");
        stdout.into_owned()
    }

    /// Runs kubectl, asserts failure, returns stderr.
    fn fail(&self, args: &[&str]) -> String {
        self.fail_in(args, None)
    }

    fn fail_in(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "kubectl {args:?} unexpectedly succeeded: {}", String::from_utf8_lossy(&out.stdout));
        stderr
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&a)).expect("kubectl json output")
    }

    fn install_widgets(&self) {
        self.ok(&["apply", "--server-side", "-f", &fixture("widget-crd.yaml")]);
        self.ok(&["wait", "--for=condition=Established", "crd/widgets.example.dev", "--timeout=10s"]);
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.url())
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

#[test]
fn discovery_serves_kubectl_version_and_api_resources() {
    let k = Kube::new();
    let version = k.ok(&["version", "-o", "json"]);
    let v: Value = serde_json::from_str(&version).unwrap();
    assert_eq!(v["serverVersion"]["minor"], "32");
    let resources = k.ok(&["api-resources"]);
    for want in ["secrets", "configmaps", "namespaces", "deployments", "leases", "customresourcedefinitions", "events"] {
        assert!(resources.contains(want), "{want} missing from:\n{resources}");
    }
    assert!(!resources.contains("widgets"));
    k.install_widgets();
    let resources = k.ok(&["api-resources", "--api-group=example.dev"]);
    let line = resources.lines().find(|l| l.starts_with("widgets")).expect("widgets listed");
    for part in ["wg", "example.dev/v1", "true", "Widget"] {
        assert!(line.contains(part), "{line}");
    }
    let groups = k.ok(&["api-versions"]);
    assert!(groups.contains("example.dev/v1") && groups.contains("coordination.k8s.io/v1"), "{groups}");
}

#[tokio::test]
async fn discovery_documents_have_the_real_shape() {
    let k = Kube::new();
    k.install_widgets();
    let list: Value = http().get(k.url("/apis/example.dev/v1")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["kind"], "APIResourceList");
    let res = list["resources"].as_array().unwrap();
    let w = res.iter().find(|r| r["name"] == "widgets").unwrap();
    assert_eq!(w["namespaced"], true);
    assert_eq!(w["singularName"], "widget");
    assert_eq!(w["shortNames"], json!(["wg"]));
    assert_eq!(w["categories"], json!(["all"]));
    assert!(w["verbs"].as_array().unwrap().contains(&json!("watch")));
    assert!(res.iter().any(|r| r["name"] == "widgets/status"));
    let core: Value = http().get(k.url("/api/v1")).send().await.unwrap().json().await.unwrap();
    let ns = core["resources"].as_array().unwrap().iter().find(|r| r["name"] == "namespaces").unwrap();
    assert_eq!(ns["namespaced"], false);
    let root: Value = http().get(k.url("/openapi/v3")).send().await.unwrap().json().await.unwrap();
    let rel = root["paths"]["apis/example.dev/v1"]["serverRelativeURL"].as_str().unwrap().to_string();
    let doc: Value = http().get(k.url(&rel)).send().await.unwrap().json().await.unwrap();
    let op = &doc["paths"]["/apis/example.dev/v1/namespaces/{namespace}/widgets/{name}"]["patch"];
    assert_eq!(op["x-kubernetes-group-version-kind"]["kind"], "Widget");
    let missing = http().get(k.url("/apis/nope.dev/v1")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}

#[test]
fn custom_resources_show_printer_columns_defaults_and_label_selection() {
    let k = Kube::new();
    k.install_widgets();
    k.ok(&["apply", "--server-side", "-f", &fixture("widget-a.yaml")]);
    k.ok(&["create", "-f", &fixture("widget-b.yaml")]);
    let table = k.ok(&["get", "widgets"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "COLOR", "SIZE", "READY", "AGE"]);
    let alpha: Vec<&str> = table.lines().find(|l| l.starts_with("alpha")).unwrap().split_whitespace().collect();
    // READY has no value yet: kubectl prints an empty cell.
    assert_eq!(alpha.len(), 4, "{table}");
    assert_eq!(&alpha[..3], ["alpha", "red", "2"]);
    // Defaulting from the schema: beta has no size, the schema default is 3.
    assert_eq!(k.ok(&["get", "widget", "beta", "-o", "jsonpath={.spec.size}"]), "3");
    let front = k.ok(&["get", "wg", "-l", "tier=front", "-o", "name"]);
    assert_eq!(front.trim(), "widget.example.dev/alpha");
    let both = k.ok(&["get", "wg", "-l", "tier in (front,back)", "-o", "name"]);
    assert_eq!(both.lines().count(), 2);
    let not_front = k.ok(&["get", "wg", "-l", "tier!=front", "-o", "name"]);
    assert_eq!(not_front.trim(), "widget.example.dev/beta");
    let out = k.run(&["get", "wg", "-l", "!tier"], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("No resources found"));
    let by_name = k.ok(&["get", "widgets", "--field-selector", "metadata.name=beta", "-o", "name"]);
    assert_eq!(by_name.trim(), "widget.example.dev/beta");
    let wide = k.ok(&["get", "widgets", "-A"]);
    assert!(wide.lines().next().unwrap().starts_with("NAMESPACE"), "{wide}");
    let obj = k.json(&["get", "widget", "alpha"]);
    assert_eq!(obj["metadata"]["generation"], 1);
    assert!(obj["metadata"]["uid"].as_str().unwrap().len() == 36);
    assert!(obj["metadata"]["creationTimestamp"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn invalid_custom_resource_is_refused_with_field_causes() {
    let k = Kube::new();
    k.install_widgets();
    let err = k.fail(&["apply", "--server-side", "-f", &fixture("widget-invalid.yaml")]);
    assert!(err.contains("is invalid"), "{err}");
    assert!(err.contains("spec.color: Unsupported value: \"purple\""), "{err}");
    assert!(err.contains("spec.size"), "{err}");
    let err = k.fail_in(&["create", "-f", "-"], Some("apiVersion: example.dev/v1\nkind: Widget\nmetadata: {name: bad-one}\nspec: {color: red, name: Not_Valid}\n"));
    assert!(err.contains("spec.name") && err.contains("should match"), "{err}");
    let err = k.fail_in(&["create", "-f", "-"], Some("apiVersion: example.dev/v1\nkind: Widget\nmetadata: {name: bad-one}\nspec: {size: 1}\n"));
    assert!(err.contains("spec.color: Required value"), "{err}");
}

#[tokio::test]
async fn invalid_status_has_real_shape() {
    let k = Kube::new();
    k.install_widgets();
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
    assert_eq!(causes.len(), 1, "status is ignored on create, so only spec.size fails: {causes:?}");
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
    assert_eq!(status["details"]["causes"][0]["field"], "status.conditions[1]");
    assert_eq!(status["details"]["causes"][0]["reason"], "FieldValueDuplicate");
}

#[test]
fn unknown_fields_fail_strict_validation_and_are_pruned_otherwise() {
    let k = Kube::new();
    k.install_widgets();
    let doc = "apiVersion: example.dev/v1\nkind: Widget\nmetadata: {name: u}\nspec: {color: red, bogus: 1}\n";
    let err = k.fail_in(&["create", "-f", "-"], Some(doc));
    assert!(err.contains("unknown field \"spec.bogus\""), "{err}");
    let err = k.fail_in(&["apply", "--server-side", "-f", "-"], Some(doc));
    assert!(err.contains("unknown field \"spec.bogus\""), "{err}");
    k.ok_in(&["create", "--validate=false", "-f", "-"], Some(doc));
    let obj = k.json(&["get", "widget", "u"]);
    assert_eq!(obj["spec"], json!({"color": "red", "size": 3}));
    let out = k.run(&["create", "--validate=warn", "-f", "-"], Some(&doc.replace("name: u", "name: w")));
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field \"spec.bogus\""));
    let err = k.fail_in(&["create", "-f", "-"], Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\nspek: {}\n"));
    assert!(err.contains("unknown field \"spek\""), "{err}");
}

#[test]
fn non_structural_crd_is_refused() {
    let k = Kube::new();
    let err = k.fail(&["apply", "--server-side", "-f", &fixture("nonstructural-crd.yaml")]);
    assert!(err.contains("properties[spec].properties[untyped].type: Required value: must not be empty for specified object fields"), "{err}");
    let resources = k.ok(&["api-resources"]);
    assert!(!resources.contains("gadgets"));
}

#[test]
fn status_subresource_generation_and_kubectl_wait() {
    let k = Kube::new();
    k.install_widgets();
    k.ok(&["apply", "--server-side", "-f", &fixture("widget-a.yaml")]);
    let wait = k
        .command(&["wait", "--for=condition=Ready", "widget/alpha", "--timeout=20s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    k.ok(&["patch", "widget", "alpha", "--subresource=status", "--type=merge", "-p",
        r#"{"status":{"observedGeneration":1,"conditions":[{"type":"Ready","status":"True","reason":"Done"}]}}"#]);
    let out = wait.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("condition met"));
    k.ok(&["wait", "--for=condition=Ready", "widget/alpha", "--timeout=10s"]);
    let obj = k.json(&["get", "widget", "alpha"]);
    assert_eq!(obj["metadata"]["generation"], 1, "status writes do not bump generation");
    // Main-resource writes ignore status but bump generation on spec changes.
    k.ok(&["patch", "widget", "alpha", "--type=merge", "-p", r#"{"spec":{"size":5},"status":{"conditions":[]}}"#]);
    let obj = k.json(&["get", "widget", "alpha"]);
    assert_eq!(obj["metadata"]["generation"], 2);
    assert_eq!(obj["spec"]["size"], 5);
    assert_eq!(obj["status"]["conditions"][0]["type"], "Ready");
    // Label-only change: no generation bump.
    k.ok(&["label", "widget", "alpha", "extra=yes"]);
    assert_eq!(k.json(&["get", "widget", "alpha"])["metadata"]["generation"], 2);
    let table = k.ok(&["get", "widget", "alpha", "--no-headers"]);
    assert!(table.split_whitespace().collect::<Vec<_>>()[..4] == ["alpha", "red", "5", "True"], "{table}");
    // Status writes change nothing but status.
    k.ok(&["patch", "widget", "alpha", "--subresource=status", "--type=merge", "-p", r#"{"spec":{"size":9}}"#]);
    assert_eq!(k.json(&["get", "widget", "alpha"])["spec"]["size"], 5);
}

#[test]
fn finalizers_hold_deletion_until_removed() {
    let k = Kube::new();
    k.install_widgets();
    k.ok_in(&["create", "-f", "-"], Some("apiVersion: example.dev/v1\nkind: Widget\nmetadata:\n  name: held\n  finalizers: [example.dev/hold]\nspec: {color: green}\n"));
    let out = k.ok(&["delete", "widget", "held", "--wait=false"]);
    assert!(out.contains("deleted"), "{out}");
    let obj = k.json(&["get", "widget", "held"]);
    assert!(obj["metadata"]["deletionTimestamp"].is_string(), "{obj}");
    let err = k.fail(&["patch", "widget", "held", "--type=json", "-p", r#"[{"op":"add","path":"/metadata/finalizers/-","value":"another"}]"#]);
    assert!(err.contains("no new finalizers"), "{err}");
    k.ok(&["patch", "widget", "held", "--type=json", "-p", r#"[{"op":"remove","path":"/metadata/finalizers"}]"#]);
    let err = k.fail(&["get", "widget", "held"]);
    assert!(err.contains("widgets.example.dev \"held\" not found"), "{err}");
}

fn secret_owned_by(owner: &Value, name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  ownerReferences:\n  - apiVersion: example.dev/v1\n    kind: Widget\n    name: {}\n    uid: {}\n    controller: true\nstringData:\n  password: hunter2\n",
        owner["metadata"]["name"].as_str().unwrap(),
        owner["metadata"]["uid"].as_str().unwrap()
    )
}

#[test]
fn owner_deletion_collects_dependents_and_orphan_keeps_them() {
    let k = Kube::new();
    k.install_widgets();
    k.ok(&["apply", "--server-side", "-f", &fixture("widget-a.yaml")]);
    k.ok(&["apply", "--server-side", "-f", &fixture("widget-b.yaml")]);
    let alpha = k.json(&["get", "widget", "alpha"]);
    let beta = k.json(&["get", "widget", "beta"]);
    k.ok_in(&["apply", "-f", "-"], Some(&secret_owned_by(&alpha, "alpha-creds")));
    k.ok_in(&["apply", "-f", "-"], Some(&secret_owned_by(&beta, "beta-creds")));
    let secret = k.json(&["get", "secret", "alpha-creds"]);
    assert_eq!(secret["data"]["password"], "aHVudGVyMg==", "stringData is merged into base64 data");
    assert!(secret.get("stringData").is_none());
    let listing = k.ok(&["get", "secrets"]);
    assert!(listing.lines().next().unwrap().split_whitespace().eq(["NAME", "TYPE", "DATA", "AGE"]), "{listing}");
    k.ok(&["delete", "widget", "alpha"]);
    let err = k.fail(&["get", "secret", "alpha-creds"]);
    assert!(err.contains("not found"), "{err}");
    k.ok(&["delete", "widget", "beta", "--cascade=orphan"]);
    let kept = k.json(&["get", "secret", "beta-creds"]);
    assert!(kept["metadata"].get("ownerReferences").is_none_or(|r| r.as_array().unwrap().is_empty()), "{kept}");
}

#[test]
fn server_side_apply_conflicts_force_and_field_removal() {
    let k = Kube::new();
    k.install_widgets();
    let doc = |size: u32, with_name: bool| {
        format!(
            "apiVersion: example.dev/v1\nkind: Widget\nmetadata: {{name: shared}}\nspec:\n  color: red\n  size: {size}\n{}",
            if with_name { "  name: tagged\n" } else { "" }
        )
    };
    k.ok_in(&["apply", "--server-side", "--field-manager=alice", "-f", "-"], Some(&doc(4, true)));
    let err = k.fail_in(&["apply", "--server-side", "--field-manager=bob", "-f", "-"], Some(&doc(5, false)));
    assert!(err.contains("conflict with \"alice\""), "{err}");
    assert!(err.contains(".spec.size"), "{err}");
    // Same values are shared ownership, not conflicts.
    k.ok_in(&["apply", "--server-side", "--field-manager=carol", "-f", "-"], Some(&doc(4, false)));
    k.ok_in(&["apply", "--server-side", "--field-manager=bob", "--force-conflicts", "-f", "-"], Some(&doc(5, false)));
    let obj = k.json(&["get", "widget", "shared", "--show-managed-fields"]);
    assert_eq!(obj["spec"]["size"], 5);
    let managers: Vec<&str> = obj["metadata"]["managedFields"].as_array().unwrap().iter().map(|m| m["manager"].as_str().unwrap()).collect();
    assert!(managers.contains(&"alice") && managers.contains(&"bob"), "{managers:?}");
    let alice = obj["metadata"]["managedFields"].as_array().unwrap().iter().find(|m| m["manager"] == "alice").unwrap();
    assert!(alice["fieldsV1"]["f:spec"].get("f:size").is_none(), "forced apply takes size from alice: {alice}");
    assert_eq!(alice["operation"], "Apply");
    // alice stops applying spec.name: nobody else owns it, so it is removed.
    k.ok_in(&["apply", "--server-side", "--field-manager=alice", "-f", "-"], Some(&doc(5, false)));
    let obj = k.json(&["get", "widget", "shared"]);
    assert!(obj["spec"].get("name").is_none(), "{obj}");
    assert_eq!(obj["spec"]["color"], "red", "color is still applied by alice, bob and carol");
}

#[tokio::test]
async fn stale_resource_version_conflicts_and_already_exists() {
    let k = Kube::new();
    k.ok(&["create", "configmap", "cfg", "--from-literal=a=1"]);
    let err = k.fail(&["create", "configmap", "cfg", "--from-literal=a=1"]);
    assert!(err.contains("configmaps \"cfg\" already exists"), "{err}");
    let err = k.fail_in(&["create", "-f", "-"], Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n"));
    assert!(err.contains("Error from server (AlreadyExists)"), "{err}");
    let url = k.url("/api/v1/namespaces/default/configmaps/cfg");
    let first: Value = http().get(&url).send().await.unwrap().json().await.unwrap();
    let mut second = first.clone();
    second["data"]["a"] = json!("2");
    let r = http().put(&url).json(&second).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let updated: Value = r.json().await.unwrap();
    assert_ne!(updated["metadata"]["resourceVersion"], first["metadata"]["resourceVersion"]);
    let mut stale = first.clone();
    stale["data"]["a"] = json!("3");
    let r = http().put(&url).json(&stale).send().await.unwrap();
    assert_eq!(r.status(), 409);
    let status: Value = r.json().await.unwrap();
    assert_eq!(status["reason"], "Conflict");
    assert!(status["message"].as_str().unwrap().contains("the object has been modified"));
    // A no-op write keeps the resourceVersion (and sends no watch event).
    let again = http().put(&url).json(&updated).send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(again["metadata"]["resourceVersion"], updated["metadata"]["resourceVersion"]);
    let missing = http().get(k.url("/api/v1/namespaces/default/configmaps/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let status: Value = missing.json().await.unwrap();
    assert_eq!(status["reason"], "NotFound");
    assert_eq!(status["details"], json!({"name": "nope", "kind": "configmaps"}));
}

async fn read_events(resp: &mut reqwest::Response, want: usize) -> Vec<Value> {
    let mut buf = String::new();
    let mut events = vec![];
    while events.len() < want {
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk()).await.expect("event in time").unwrap();
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
    assert_eq!(more[0]["object"]["metadata"]["resourceVersion"], k.emu.resource_version().to_string());
    // Label-selected watch: an object leaving the selector shows as DELETED.
    let url = k.url(&format!("/api/v1/namespaces/default/configmaps?watch=true&labelSelector=app%3Dweb&resourceVersion={}", k.emu.resource_version()));
    let mut resp = http().get(&url).send().await.unwrap();
    k.ok(&["create", "configmap", "three", "--from-literal=a=1"]);
    k.ok(&["label", "configmap", "one", "app-"]);
    let events = read_events(&mut resp, 1).await;
    assert_eq!((events[0]["type"].as_str(), events[0]["object"]["metadata"]["name"].as_str()), (Some("DELETED"), Some("one")));
}

#[tokio::test]
async fn watch_from_a_compacted_resource_version_gets_410() {
    let k = Kube::with(Options { history_limit: 3, ..Options::default() });
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

#[test]
fn kubectl_get_watch_streams_changes() {
    let k = Kube::new();
    k.install_widgets();
    let mut child = k
        .command(&["get", "widgets", "-w", "--output-watch-events"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(800));
    k.ok(&["apply", "--server-side", "-f", &fixture("widget-a.yaml")]);
    let mut seen = vec![];
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
        let done = line.contains("alpha");
        seen.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let line = seen.iter().find(|l| l.contains("alpha")).unwrap_or_else(|| panic!("no alpha in {seen:?}"));
    assert!(line.starts_with("ADDED") && line.contains("red"), "{line}");
}

#[test]
fn namespaces_and_builtins() {
    let k = Kube::new();
    let ns = k.ok(&["get", "namespaces"]);
    assert!(ns.contains("default") && ns.contains("kube-system") && ns.contains("Active"), "{ns}");
    k.ok(&["create", "namespace", "team"]);
    k.ok(&["create", "secret", "generic", "s", "-n", "team", "--from-literal=k=v"]);
    assert_eq!(k.ok(&["get", "secret", "s", "-n", "team", "-o", "jsonpath={.data.k}"]), "dg==");
    let err = k.fail(&["create", "configmap", "c", "-n", "nowhere"]);
    assert!(err.contains("namespaces \"nowhere\" not found"), "{err}");
    k.ok(&["create", "deployment", "web", "--image=nginx:1"]);
    k.ok(&["patch", "deployment", "web", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:2"}]}}}}"#]);
    let d = k.json(&["get", "deployment", "web"]);
    let containers = d["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1, "strategic merge merges containers by name");
    assert_eq!(containers[0]["image"], "nginx:2");
    assert_eq!(d["metadata"]["generation"], 2);
    k.ok_in(&["apply", "-f", "-"], Some("apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: leader}\nspec: {holderIdentity: a, leaseDurationSeconds: 15}\n"));
    let leases = k.ok(&["get", "leases"]);
    assert!(leases.contains("leader") && leases.contains("HOLDER"), "{leases}");
    k.ok(&["create", "configmap", "l1", "-n", "team"]);
    k.ok(&["label", "configmap", "l1", "-n", "team", "sel=yes"]);
    k.ok(&["delete", "configmaps", "-n", "team", "-l", "sel=yes"]);
    assert!(k.ok(&["get", "configmaps", "-n", "team", "-o", "name"]).trim().is_empty());
    k.ok(&["delete", "namespace", "team"]);
    assert!(k.fail(&["get", "secret", "s", "-n", "team"]).contains("not found"));
}

#[test]
fn client_side_apply_and_patches_on_custom_resources() {
    let k = Kube::new();
    k.install_widgets();
    k.ok(&["apply", "-f", &fixture("widget-a.yaml")]);
    let edited = std::fs::read_to_string(fixture("widget-a.yaml")).unwrap().replace("size: 2", "size: 7");
    k.ok_in(&["apply", "-f", "-"], Some(&edited));
    assert_eq!(k.json(&["get", "widget", "alpha"])["spec"]["size"], 7);
    let err = k.fail(&["patch", "widget", "alpha", "-p", r#"{"spec":{"size":1}}"#]);
    assert!(err.contains("strategic-merge-patch") || err.contains("unknown format"), "{err}");
    k.ok(&["patch", "widget", "alpha", "--type=json", "-p", r#"[{"op":"replace","path":"/spec/color","value":"green"}]"#]);
    assert_eq!(k.json(&["get", "widget", "alpha"])["spec"]["color"], "green");
}

fn without_server_fields(mut v: Value) -> Value {
    let meta = v["metadata"].as_object_mut().unwrap();
    for k in ["uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "namespace"] {
        meta.remove(k);
    }
    v.as_object_mut().unwrap().remove("status");
    v
}

#[test]
fn kubectl_generators_send_protobuf_that_decodes_like_their_json() {
    let k = Kube::new();
    let cases: [&[&str]; 5] = [
        &["create", "configmap", "cm", "--from-literal=a=1", "--from-literal=b=two"],
        &["create", "secret", "generic", "sec", "--from-literal=user=admin", "--type=example.dev/creds"],
        &["create", "deployment", "web", "--image=nginx:1.27", "--replicas=3", "--port=8080"],
        &["create", "service", "clusterip", "svc", "--tcp=80:8080"],
        &["create", "namespace", "proto-ns"],
    ];
    for args in cases {
        let mut dry = args.to_vec();
        dry.extend(["--dry-run=client", "-o", "json"]);
        let expected: Value = serde_json::from_str(&k.ok(&dry)).unwrap();
        let created: Value = serde_json::from_str(&k.ok(&[args, &["-o", "json"][..]].concat())).unwrap();
        let (mut want, got) = (without_server_fields(expected), without_server_fields(created));
        if want["kind"] == "Namespace" {
            want["spec"] = json!({"finalizers": ["kubernetes"]});
            want["metadata"]["labels"] = json!({"kubernetes.io/metadata.name": "proto-ns"});
        }
        assert_eq!(got, want, "kubectl {args:?}");
    }
}
