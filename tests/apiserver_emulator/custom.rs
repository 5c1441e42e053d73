//! Custom resources through kubectl: CRD registration and structural checks,
//! validation and pruning, status subresource and generation, printer columns,
//! selectors, cluster scope.

use super::apiserver::kubectl::Kube;
use super::{fixture, install_widgets};
use serde_json::json;
use std::process::Stdio;
use std::time::Duration;

#[test]
fn custom_resources_show_printer_columns_defaults_and_label_selection() {
    let k = Kube::new();
    install_widgets(&k);
    k.ok(&["apply", "--server-side", "-f", &fixture("widget-a.yaml")]);
    k.ok(&["create", "-f", &fixture("widget-b.yaml")]);
    let table = k.ok(&["get", "widgets"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "COLOR", "SIZE", "READY", "AGE"]);
    let alpha: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("alpha"))
        .unwrap()
        .split_whitespace()
        .collect();
    // READY has no value yet: kubectl prints an empty cell.
    assert_eq!(alpha.len(), 4, "{table}");
    assert_eq!(&alpha[..3], ["alpha", "red", "2"]);
    // Defaulting from the schema: beta has no size, the schema default is 3.
    assert_eq!(
        k.ok(&["get", "widget", "beta", "-o", "jsonpath={.spec.size}"]),
        "3"
    );
    let front = k.ok(&["get", "wg", "-l", "tier=front", "-o", "name"]);
    assert_eq!(front.trim(), "widget.example.dev/alpha");
    let both = k.ok(&["get", "wg", "-l", "tier in (front,back)", "-o", "name"]);
    assert_eq!(both.lines().count(), 2);
    let not_front = k.ok(&["get", "wg", "-l", "tier!=front", "-o", "name"]);
    assert_eq!(not_front.trim(), "widget.example.dev/beta");
    let out = k.run(&["get", "wg", "-l", "!tier"], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("No resources found"));
    let by_name = k.ok(&[
        "get",
        "widgets",
        "--field-selector",
        "metadata.name=beta",
        "-o",
        "name",
    ]);
    assert_eq!(by_name.trim(), "widget.example.dev/beta");
    let wide = k.ok(&["get", "widgets", "-A"]);
    assert!(
        wide.lines().next().unwrap().starts_with("NAMESPACE"),
        "{wide}"
    );
    let obj = k.json(&["get", "widget", "alpha"]);
    assert_eq!(obj["metadata"]["generation"], 1);
    assert!(obj["metadata"]["uid"].as_str().unwrap().len() == 36);
    assert!(
        obj["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
}

#[test]
fn invalid_custom_resource_is_refused_with_field_causes() {
    let k = Kube::new();
    install_widgets(&k);
    let err = k.fail(&[
        "apply",
        "--server-side",
        "-f",
        &fixture("widget-invalid.yaml"),
    ]);
    assert!(err.contains("is invalid"), "{err}");
    assert!(
        err.contains("spec.color: Unsupported value: \"purple\""),
        "{err}"
    );
    assert!(err.contains("spec.size"), "{err}");
    let err = k.fail_in(&["create", "-f", "-"], Some("apiVersion: example.dev/v1\nkind: Widget\nmetadata: {name: bad-one}\nspec: {color: red, name: Not_Valid}\n"));
    assert!(
        err.contains("spec.name") && err.contains("should match"),
        "{err}"
    );
    let err = k.fail_in(&["create", "-f", "-"], Some("apiVersion: example.dev/v1\nkind: Widget\nmetadata: {name: bad-one}\nspec: {size: 1}\n"));
    assert!(err.contains("spec.color: Required value"), "{err}");
}

#[test]
fn unknown_fields_fail_strict_validation_and_are_pruned_otherwise() {
    let k = Kube::new();
    install_widgets(&k);
    let doc = "apiVersion: example.dev/v1\nkind: Widget\nmetadata: {name: u}\nspec: {color: red, bogus: 1}\n";
    let err = k.fail_in(&["create", "-f", "-"], Some(doc));
    assert!(err.contains("unknown field \"spec.bogus\""), "{err}");
    let err = k.fail_in(&["apply", "--server-side", "-f", "-"], Some(doc));
    assert!(err.contains("unknown field \"spec.bogus\""), "{err}");
    k.ok_in(&["create", "--validate=false", "-f", "-"], Some(doc));
    let obj = k.json(&["get", "widget", "u"]);
    assert_eq!(obj["spec"], json!({"color": "red", "size": 3}));
    let out = k.run(
        &["create", "--validate=warn", "-f", "-"],
        Some(&doc.replace("name: u", "name: w")),
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field \"spec.bogus\""));
    let err = k.fail_in(
        &["create", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\nspek: {}\n"),
    );
    assert!(err.contains("unknown field \"spek\""), "{err}");
}

#[test]
fn non_structural_crd_is_refused() {
    let k = Kube::new();
    let err = k.fail(&[
        "apply",
        "--server-side",
        "-f",
        &fixture("nonstructural-crd.yaml"),
    ]);
    assert!(err.contains("properties[spec].properties[untyped].type: Required value: must not be empty for specified object fields"), "{err}");
    let resources = k.ok(&["api-resources"]);
    assert!(!resources.contains("gadgets"));
}

#[test]
fn status_subresource_generation_and_kubectl_wait() {
    let k = Kube::new();
    install_widgets(&k);
    k.ok(&["apply", "--server-side", "-f", &fixture("widget-a.yaml")]);
    let wait = k
        .command(&[
            "wait",
            "--for=condition=Ready",
            "widget/alpha",
            "--timeout=20s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    k.ok(&["patch", "widget", "alpha", "--subresource=status", "--type=merge", "-p",
        r#"{"status":{"observedGeneration":1,"conditions":[{"type":"Ready","status":"True","reason":"Done"}]}}"#]);
    let out = wait.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("condition met"));
    k.ok(&[
        "wait",
        "--for=condition=Ready",
        "widget/alpha",
        "--timeout=10s",
    ]);
    let obj = k.json(&["get", "widget", "alpha"]);
    assert_eq!(
        obj["metadata"]["generation"], 1,
        "status writes do not bump generation"
    );
    // Main-resource writes ignore status but bump generation on spec changes.
    k.ok(&[
        "patch",
        "widget",
        "alpha",
        "--type=merge",
        "-p",
        r#"{"spec":{"size":5},"status":{"conditions":[]}}"#,
    ]);
    let obj = k.json(&["get", "widget", "alpha"]);
    assert_eq!(obj["metadata"]["generation"], 2);
    assert_eq!(obj["spec"]["size"], 5);
    assert_eq!(obj["status"]["conditions"][0]["type"], "Ready");
    // Label-only change: no generation bump.
    k.ok(&["label", "widget", "alpha", "extra=yes"]);
    assert_eq!(
        k.json(&["get", "widget", "alpha"])["metadata"]["generation"],
        2
    );
    let table = k.ok(&["get", "widget", "alpha", "--no-headers"]);
    assert!(
        table.split_whitespace().collect::<Vec<_>>()[..4] == ["alpha", "red", "5", "True"],
        "{table}"
    );
    // Status writes change nothing but status.
    k.ok(&[
        "patch",
        "widget",
        "alpha",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"spec":{"size":9}}"#,
    ]);
    assert_eq!(k.json(&["get", "widget", "alpha"])["spec"]["size"], 5);
}

#[test]
fn cluster_scoped_custom_resources_with_preserved_fields_and_sets() {
    let k = Kube::new();
    k.ok(&["create", "-f", &fixture("gizmo-crd.yaml")]);
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/gizmos.example.dev",
        "--timeout=10s",
    ]);
    let gizmo = "apiVersion: example.dev/v1alpha1\nkind: Gizmo\nmetadata: {name: g1}\n\
                 spec:\n  tags: [a, b]\n  extra: {anything: [1, 2], nested: {deep: true}}\n";
    k.ok_in(&["apply", "--server-side", "-f", "-"], Some(gizmo));
    let obj = k.json(&["get", "gizmo", "g1"]);
    assert!(obj["metadata"].get("namespace").is_none(), "{obj}");
    assert_eq!(obj["spec"]["extra"]["nested"]["deep"], true);
    let table = k.ok(&["get", "gizmos"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "AGE"]);
    let err = k.fail_in(
        &["apply", "--server-side", "-f", "-"],
        Some(&gizmo.replace("[a, b]", "[a, a]")),
    );
    assert!(
        err.contains(".spec.tags: duplicate entries for key \"a\""),
        "{err}"
    );
    let err = k.fail_in(
        &["create", "-f", "-"],
        Some(&gizmo.replace("[a, b]", "[a, a]").replace("g1", "g2")),
    );
    assert!(
        err.contains("spec.tags[1]: Duplicate value: \"a\""),
        "{err}"
    );
    // Cluster-scoped: no namespace in the path; -n is ignored by kubectl.
    assert!(
        k.ok(&["get", "gizmo", "g1", "-n", "kube-system", "-o", "name"])
            .contains("g1")
    );
    k.ok(&["delete", "gizmo", "g1"]);
    assert!(
        k.fail(&["get", "gizmo", "g1"])
            .contains("gizmos.example.dev \"g1\" not found")
    );
}
