//! Integration tests of the API-server emulator, driven by the real kubectl
//! (`/usr/bin/kubectl`) and by raw HTTP where kubectl cannot show the behaviour.

mod apiserver;

// Raw-HTTP tests (Status shapes, watches, resourceVersion conflicts).
#[path = "apiserver_emulator/http.rs"]
mod http_checks;
// Custom resources through kubectl: CRDs, validation, status, printer columns.
#[path = "apiserver_emulator/custom.rs"]
mod custom_resources;
// The same through a kube-rs client.
#[path = "apiserver_emulator/kube_rs.rs"]
mod kube_rs_checks;

use apiserver::kubectl::Kube;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/emulator/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Registers the fixture CRD with `kubectl apply --server-side` and waits for it.
fn install_widgets(k: &Kube) {
    k.ok(&["apply", "--server-side", "-f", &fixture("widget-crd.yaml")]);
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/widgets.example.dev",
        "--timeout=10s",
    ]);
}

#[test]
fn discovery_serves_kubectl_version_and_api_resources() {
    let k = Kube::new();
    let version = k.ok(&["version", "-o", "json"]);
    let v: Value = serde_json::from_str(&version).unwrap();
    assert_eq!(v["serverVersion"]["minor"], "32");
    let resources = k.ok(&["api-resources"]);
    for want in [
        "secrets",
        "configmaps",
        "namespaces",
        "deployments",
        "leases",
        "customresourcedefinitions",
        "events",
    ] {
        assert!(
            resources.contains(want),
            "{want} missing from:\n{resources}"
        );
    }
    assert!(!resources.contains("widgets"));
    install_widgets(&k);
    let resources = k.ok(&["api-resources", "--api-group=example.dev"]);
    let line = resources
        .lines()
        .find(|l| l.starts_with("widgets"))
        .expect("widgets listed");
    for part in ["wg", "example.dev/v1", "true", "Widget"] {
        assert!(line.contains(part), "{line}");
    }
    let groups = k.ok(&["api-versions"]);
    assert!(
        groups.contains("example.dev/v1") && groups.contains("coordination.k8s.io/v1"),
        "{groups}"
    );
}

#[test]
fn finalizers_hold_deletion_until_removed() {
    let k = Kube::new();
    install_widgets(&k);
    k.ok_in(&["create", "-f", "-"], Some("apiVersion: example.dev/v1\nkind: Widget\nmetadata:\n  name: held\n  finalizers: [example.dev/hold]\nspec: {color: green}\n"));
    let out = k.ok(&["delete", "widget", "held", "--wait=false"]);
    assert!(out.contains("deleted"), "{out}");
    let obj = k.json(&["get", "widget", "held"]);
    assert!(obj["metadata"]["deletionTimestamp"].is_string(), "{obj}");
    let err = k.fail(&[
        "patch",
        "widget",
        "held",
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/metadata/finalizers/-","value":"another"}]"#,
    ]);
    assert!(err.contains("no new finalizers"), "{err}");
    k.ok(&[
        "patch",
        "widget",
        "held",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ]);
    let err = k.fail(&["get", "widget", "held"]);
    assert!(
        err.contains("widgets.example.dev \"held\" not found"),
        "{err}"
    );
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
    install_widgets(&k);
    k.ok(&["apply", "--server-side", "-f", &fixture("widget-a.yaml")]);
    k.ok(&["apply", "--server-side", "-f", &fixture("widget-b.yaml")]);
    let alpha = k.json(&["get", "widget", "alpha"]);
    let beta = k.json(&["get", "widget", "beta"]);
    k.ok_in(
        &["apply", "-f", "-"],
        Some(&secret_owned_by(&alpha, "alpha-creds")),
    );
    k.ok_in(
        &["apply", "-f", "-"],
        Some(&secret_owned_by(&beta, "beta-creds")),
    );
    let secret = k.json(&["get", "secret", "alpha-creds"]);
    assert_eq!(
        secret["data"]["password"], "aHVudGVyMg==",
        "stringData is merged into base64 data"
    );
    assert!(secret.get("stringData").is_none());
    let listing = k.ok(&["get", "secrets"]);
    assert!(
        listing
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .eq(["NAME", "TYPE", "DATA", "AGE"]),
        "{listing}"
    );
    k.ok(&["delete", "widget", "alpha"]);
    let err = k.fail(&["get", "secret", "alpha-creds"]);
    assert!(err.contains("not found"), "{err}");
    k.ok(&["delete", "widget", "beta", "--cascade=orphan"]);
    let kept = k.json(&["get", "secret", "beta-creds"]);
    assert!(
        kept["metadata"]
            .get("ownerReferences")
            .is_none_or(|r| r.as_array().unwrap().is_empty()),
        "{kept}"
    );
}

#[test]
fn server_side_apply_conflicts_force_and_field_removal() {
    let k = Kube::new();
    install_widgets(&k);
    let doc = |size: u32, with_name: bool| {
        format!(
            "apiVersion: example.dev/v1\nkind: Widget\nmetadata: {{name: shared}}\nspec:\n  color: red\n  size: {size}\n{}",
            if with_name { "  name: tagged\n" } else { "" }
        )
    };
    k.ok_in(
        &["apply", "--server-side", "--field-manager=alice", "-f", "-"],
        Some(&doc(4, true)),
    );
    let err = k.fail_in(
        &["apply", "--server-side", "--field-manager=bob", "-f", "-"],
        Some(&doc(5, false)),
    );
    assert!(err.contains("conflict with \"alice\""), "{err}");
    assert!(err.contains(".spec.size"), "{err}");
    // Same values are shared ownership, not conflicts.
    k.ok_in(
        &["apply", "--server-side", "--field-manager=carol", "-f", "-"],
        Some(&doc(4, false)),
    );
    k.ok_in(
        &[
            "apply",
            "--server-side",
            "--field-manager=bob",
            "--force-conflicts",
            "-f",
            "-",
        ],
        Some(&doc(5, false)),
    );
    let obj = k.json(&["get", "widget", "shared", "--show-managed-fields"]);
    assert_eq!(obj["spec"]["size"], 5);
    let managers: Vec<&str> = obj["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert!(
        managers.contains(&"alice") && managers.contains(&"bob"),
        "{managers:?}"
    );
    let alice = obj["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["manager"] == "alice")
        .unwrap();
    assert!(
        alice["fieldsV1"]["f:spec"].get("f:size").is_none(),
        "forced apply takes size from alice: {alice}"
    );
    assert_eq!(alice["operation"], "Apply");
    // alice stops applying spec.name: nobody else owns it, so it is removed.
    k.ok_in(
        &["apply", "--server-side", "--field-manager=alice", "-f", "-"],
        Some(&doc(5, false)),
    );
    let obj = k.json(&["get", "widget", "shared"]);
    assert!(obj["spec"].get("name").is_none(), "{obj}");
    assert_eq!(
        obj["spec"]["color"], "red",
        "color is still applied by alice, bob and carol"
    );
    // An imperative edit (Update operation) takes ownership; the next apply conflicts.
    k.ok(&[
        "patch",
        "widget",
        "shared",
        "--type=merge",
        "-p",
        r#"{"spec":{"color":"green"}}"#,
    ]);
    let err = k.fail_in(
        &["apply", "--server-side", "--field-manager=alice", "-f", "-"],
        Some(&doc(5, false)),
    );
    assert!(
        err.contains("conflict with \"kubectl-patch\" using example.dev/v1 at "),
        "{err}"
    );
    assert!(err.contains(": .spec.color"), "{err}");
}

#[test]
fn kubectl_get_watch_streams_changes() {
    let k = Kube::new();
    install_widgets(&k);
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
    let line = seen
        .iter()
        .find(|l| l.contains("alpha"))
        .unwrap_or_else(|| panic!("no alpha in {seen:?}"));
    assert!(line.starts_with("ADDED") && line.contains("red"), "{line}");
}

#[test]
fn namespaces_and_builtins() {
    let k = Kube::new();
    let ns = k.ok(&["get", "namespaces"]);
    assert!(
        ns.contains("default") && ns.contains("kube-system") && ns.contains("Active"),
        "{ns}"
    );
    k.ok(&["create", "namespace", "team"]);
    k.ok(&[
        "create",
        "secret",
        "generic",
        "s",
        "-n",
        "team",
        "--from-literal=k=v",
    ]);
    assert_eq!(
        k.ok(&[
            "get",
            "secret",
            "s",
            "-n",
            "team",
            "-o",
            "jsonpath={.data.k}"
        ]),
        "dg=="
    );
    let err = k.fail(&["create", "configmap", "c", "-n", "nowhere"]);
    assert!(err.contains("namespaces \"nowhere\" not found"), "{err}");
    k.ok(&["create", "deployment", "web", "--image=nginx:1"]);
    k.ok(&[
        "patch",
        "deployment",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:2"}]}}}}"#,
    ]);
    let d = k.json(&["get", "deployment", "web"]);
    let containers = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(
        containers.len(),
        1,
        "strategic merge merges containers by name"
    );
    assert_eq!(containers[0]["image"], "nginx:2");
    assert_eq!(d["metadata"]["generation"], 2);
    k.ok_in(&["apply", "-f", "-"], Some("apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: leader}\nspec: {holderIdentity: a, leaseDurationSeconds: 15}\n"));
    // Client-side apply of a change: kubectl sends a strategic merge patch.
    k.ok_in(&["apply", "-f", "-"], Some("apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: leader}\nspec: {holderIdentity: b}\n"));
    let lease = k.json(&["get", "lease", "leader"]);
    assert_eq!(
        lease["spec"],
        json!({"holderIdentity": "b"}),
        "dropped fields are removed"
    );
    let leases = k.ok(&["get", "leases"]);
    assert!(
        leases.contains("leader") && leases.contains("HOLDER"),
        "{leases}"
    );
    k.ok(&["create", "configmap", "l1", "-n", "team"]);
    k.ok(&["label", "configmap", "l1", "-n", "team", "sel=yes"]);
    k.ok(&["delete", "configmaps", "-n", "team", "-l", "sel=yes"]);
    assert!(
        k.ok(&["get", "configmaps", "-n", "team", "-o", "name"])
            .trim()
            .is_empty()
    );
    k.ok(&["delete", "namespace", "team"]);
    assert!(
        k.fail(&["get", "secret", "s", "-n", "team"])
            .contains("not found")
    );
}

#[test]
fn client_side_apply_and_patches_on_custom_resources() {
    let k = Kube::new();
    install_widgets(&k);
    k.ok(&["apply", "-f", &fixture("widget-a.yaml")]);
    let edited = std::fs::read_to_string(fixture("widget-a.yaml"))
        .unwrap()
        .replace("size: 2", "size: 7");
    k.ok_in(&["apply", "-f", "-"], Some(&edited));
    assert_eq!(k.json(&["get", "widget", "alpha"])["spec"]["size"], 7);
    let err = k.fail(&["patch", "widget", "alpha", "-p", r#"{"spec":{"size":1}}"#]);
    assert!(
        err.contains("strategic-merge-patch") || err.contains("unknown format"),
        "{err}"
    );
    k.ok(&[
        "patch",
        "widget",
        "alpha",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/color","value":"green"}]"#,
    ]);
    assert_eq!(
        k.json(&["get", "widget", "alpha"])["spec"]["color"],
        "green"
    );
}

fn without_server_fields(mut v: Value) -> Value {
    let meta = v["metadata"].as_object_mut().unwrap();
    for k in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "managedFields",
        "generation",
        "namespace",
    ] {
        meta.remove(k);
    }
    v.as_object_mut().unwrap().remove("status");
    v
}

#[test]
fn kubectl_generators_send_protobuf_that_decodes_like_their_json() {
    let k = Kube::new();
    let cases: [&[&str]; 5] = [
        &[
            "create",
            "configmap",
            "cm",
            "--from-literal=a=1",
            "--from-literal=b=two",
        ],
        &[
            "create",
            "secret",
            "generic",
            "sec",
            "--from-literal=user=admin",
            "--type=example.dev/creds",
        ],
        &[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.27",
            "--replicas=3",
            "--port=8080",
        ],
        &["create", "service", "clusterip", "svc", "--tcp=80:8080"],
        &["create", "namespace", "proto-ns"],
    ];
    for args in cases {
        let mut dry = args.to_vec();
        dry.extend(["--dry-run=client", "-o", "json"]);
        let expected: Value = serde_json::from_str(&k.ok(&dry)).unwrap();
        let created: Value =
            serde_json::from_str(&k.ok(&[args, &["-o", "json"][..]].concat())).unwrap();
        let (mut want, got) = (
            without_server_fields(expected),
            without_server_fields(created),
        );
        if want["kind"] == "Namespace" {
            want["spec"] = json!({"finalizers": ["kubernetes"]});
            want["metadata"]["labels"] = json!({"kubernetes.io/metadata.name": "proto-ns"});
        }
        assert_eq!(got, want, "kubectl {args:?}");
    }
}
