//! `portcullis render` over manifests on disk, through the real binary.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

pub fn render(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("render")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

pub fn docs(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|v: &Value| !v.is_null())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, ns: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| {
            d["kind"] == kind && d["metadata"]["name"] == name && d["metadata"]["namespace"] == ns
        })
        .unwrap_or_else(|| panic!("no {kind} {ns}/{name} in output"))
}

fn condition<'a>(object: &'a Value, type_: &str) -> &'a Value {
    object["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == type_)
        .unwrap()
}

#[test]
fn examples_render_cleanly() {
    let (ok, out, err) = render(&["-f", examples().to_str().unwrap()]);
    assert!(ok, "render failed: {err}");
    let docs = docs(&out);
    for route in docs.iter().filter(|d| d["kind"] == "ForwardAuthRoute") {
        for t in ["Accepted", "ClientReady", "Programmed"] {
            assert_eq!(
                condition(route, t)["status"],
                "True",
                "{t} of {}: {route}",
                route["metadata"]["name"]
            );
        }
    }
    for client in docs.iter().filter(|d| d["kind"] == "OAuthClient") {
        assert_eq!(
            condition(client, "SecretSynced")["status"],
            "True",
            "{client}"
        );
    }
    let config = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap")
        .expect("a configuration shard");
    let compiled: portcullis::config::OutpostConfig =
        serde_yaml::from_str(config["data"]["config.yaml"].as_str().unwrap()).unwrap();
    assert_eq!(compiled.routes.len(), 2);
    compiled.validate("shard").unwrap();
    // The route's redirect URI reaches the outposts' OAuthClient.
    let client = find(&docs, "OAuthClient", "auth", "portcullis");
    assert_eq!(
        client["status"]["redirectURIs"],
        serde_json::json!(["https://dashboard.example.com/oauth2/callback"])
    );
}

#[test]
fn argo_cd_tracking_label_never_reaches_the_secret() {
    let (ok, out, err) = render(&["-f", examples().join("provider.yaml").to_str().unwrap()]);
    assert!(ok, "{err}");
    let docs = docs(&out);
    let client = find(&docs, "OAuthClient", "auth", "portcullis");
    assert_eq!(
        client["metadata"]["labels"]["app.kubernetes.io/instance"],
        "platform-auth"
    );
    let secret = find(&docs, "Secret", "auth", "portcullis-oauth");
    let labels = secret["metadata"]["labels"].as_object().unwrap();
    assert!(
        !labels.contains_key("app.kubernetes.io/instance"),
        "{labels:?}"
    );
    assert_eq!(labels["team"], "platform");
    assert!(
        secret["metadata"]["annotations"]["portcullis.dev/content-hash"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
}

#[test]
fn secrets_are_redacted_unless_asked_for() {
    let (ok, out, _) = render(&["-f", examples().to_str().unwrap()]);
    assert!(ok);
    assert!(
        !out.contains("registered-at-the-idp-by-hand"),
        "a user's secret leaked into the output"
    );
    let docs = docs(&out);
    assert_eq!(
        find(&docs, "Secret", "monitoring", "grafana-oauth")["stringData"]["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"],
        "<redacted>"
    );
    let (_, shown, _) = render(&["--show-secrets", "-f", examples().to_str().unwrap()]);
    assert!(shown.contains("registered-at-the-idp-by-hand"));
}

#[test]
fn re_rendering_with_the_existing_secret_keeps_its_value_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, first, _) = render(&[
        "--show-secrets",
        "-f",
        examples().join("grafana-client.yaml").to_str().unwrap(),
        "-f",
        examples().join("provider.yaml").to_str().unwrap(),
    ]);
    assert!(ok);
    let first_docs = docs(&first);
    let target = find(&first_docs, "Secret", "monitoring", "grafana-oauth");
    let minted = target["stringData"]["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(minted.len(), 43);
    // Only the Secret the app reads survives (the operator's state Secret was deleted).
    std::fs::write(
        dir.path().join("existing.yaml"),
        serde_yaml::to_string(target).unwrap(),
    )
    .unwrap();
    let (ok, second, err) = render(&[
        "--show-secrets",
        "-f",
        examples().join("grafana-client.yaml").to_str().unwrap(),
        "-f",
        examples().join("provider.yaml").to_str().unwrap(),
        "-f",
        dir.path().to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let second_docs = docs(&second);
    let again = find(&second_docs, "Secret", "monitoring", "grafana-oauth");
    assert_eq!(
        again["stringData"]["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"]
            .as_str()
            .unwrap(),
        minted
    );
    assert_eq!(
        find(
            &second_docs,
            "Secret",
            "monitoring",
            "grafana-portcullis-state"
        )["stringData"]["client-secret"]
            .as_str()
            .unwrap(),
        minted
    );
    // And the fingerprint in status names the same secret without showing it.
    let fp =
        find(&second_docs, "OAuthClient", "monitoring", "grafana")["status"]["secretFingerprint"]
            .clone();
    assert_eq!(
        fp,
        find(&first_docs, "OAuthClient", "monitoring", "grafana")["status"]["secretFingerprint"]
    );
    assert!(!fp.as_str().unwrap().contains(&minted));
}

#[test]
fn invalid_input_names_the_file_document_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\napiVersion: portcullis.dev/v1alpha1\nkind: ForwardAuthRoute\nmetadata: {name: r}\nspec:\n  hosts: [Bad_Host]\n  providerRef: {name: p}\n",
    )
    .unwrap();
    let (ok, _, err) = render(&["-f", file.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("bad.yaml: document 2: spec.hosts[0]"), "{err}");

    std::fs::write(&file, "apiVersion: portcullis.dev/v1alpha1\nkind: OAuthClient\nmetadata: {name: c}\nspec:\n  providerRef: {name: p}\n  mode: Sometimes\n").unwrap();
    let (ok, _, err) = render(&["-f", file.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("document 1: spec.mode") && err.contains("Sometimes"),
        "{err}"
    );

    std::fs::write(&file, "apiVersion: portcullis.dev/v1alpha1\nkind: OAuthClient\nmetadata: {name: c}\nspec:\n  providerRef: {name: p}\n  mode: Generated\n  redirectURIs: [http://app.example.com/cb]\n").unwrap();
    let (ok, _, err) = render(&["-f", file.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("spec.redirectURIs[0]") && err.contains("https"),
        "{err}"
    );
}

#[test]
fn a_missing_provider_makes_the_route_not_ready_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("route.yaml");
    std::fs::write(&file, "apiVersion: portcullis.dev/v1alpha1\nkind: ForwardAuthRoute\nmetadata: {name: r, namespace: apps}\nspec:\n  hosts: [app.example.com]\n  providerRef: {name: nowhere}\n  policy: {allowAnyAuthenticated: true}\n").unwrap();
    let (ok, out, _) = render(&["-f", file.to_str().unwrap()]);
    assert!(ok);
    let docs = docs(&out);
    let route = find(&docs, "ForwardAuthRoute", "apps", "r");
    let ready = condition(route, "Ready");
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "ProviderNotFound");
    assert!(
        ready["message"].as_str().unwrap().contains("apps/nowhere"),
        "{ready}"
    );
}

#[test]
fn a_route_that_does_not_say_who_may_pass_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("route.yaml");
    let route = |policy: &str| {
        format!(
            "apiVersion: portcullis.dev/v1alpha1\nkind: ForwardAuthRoute\nmetadata: {{name: r, namespace: apps}}\nspec:\n  hosts: [app.example.com]\n  providerRef: {{name: p}}\n{policy}"
        )
    };
    for (policy, field) in [
        ("", "spec.policy"),
        ("  policy: {}\n", "spec.policy"),
        (
            "  policy: {public: {paths: [/health]}, allowCORSPreflight: true}\n",
            "spec.policy",
        ),
        ("  policy: {allowAnyAuthenticated: false}\n", "spec.policy"),
        (
            "  policy: {allowAnyAuthenticated: true, groups: [admins]}\n",
            "spec.policy.allowAnyAuthenticated",
        ),
    ] {
        std::fs::write(&file, route(policy)).unwrap();
        let (ok, _, err) = render(&["-f", file.to_str().unwrap()]);
        assert!(!ok, "accepted {policy:?}");
        assert!(
            err.contains(&format!("document 1: {field}:")),
            "{policy:?}: {err}"
        );
        assert!(err.contains("allowAnyAuthenticated"), "{err}");
    }
    std::fs::write(&file, route("  policy: {allowAnyAuthenticated: true}\n")).unwrap();
    let (ok, out, err) = render(&["-f", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    let docs = docs(&out);
    let accepted = condition(find(&docs, "ForwardAuthRoute", "apps", "r"), "Accepted");
    assert_eq!(accepted["status"], "True", "{accepted}");
}

#[test]
fn an_allow_any_authenticated_route_reaches_the_outpost_as_that_explicit_choice() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("route.yaml");
    std::fs::write(
        &file,
        "apiVersion: portcullis.dev/v1alpha1\nkind: ForwardAuthRoute\nmetadata: {name: wiki, namespace: apps}\nspec:\n  hosts: [wiki.example.com]\n  providerRef: {name: corp-idp, namespace: auth}\n  policy: {allowAnyAuthenticated: true, public: {paths: [/healthz]}}\n",
    )
    .unwrap();
    let provider = examples().join("provider.yaml");
    let (ok, out, err) = render(&["-f", provider.to_str().unwrap(), file.to_str().unwrap()]);
    assert!(ok, "{err}");
    let docs = docs(&out);
    let shard = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap")
        .expect("a configuration shard");
    let text = shard["data"]["config.yaml"].as_str().unwrap();
    // Through the outpost's own loader, which refuses a route that does not say who may
    // pass: the flag is written, not left to a default.
    let loaded = portcullis::config::OutpostConfig::from_yaml(text, "shard")
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    let [route] = &loaded.routes[..] else {
        panic!("one route: {text}")
    };
    assert_eq!(route.id, "apps/wiki");
    assert!(route.policy.allow_any_authenticated, "{text}");
    assert!(route.policy.allow_rules().is_empty());
    assert_eq!(route.policy.public_paths, ["/healthz"]);
    assert!(text.contains("allowAnyAuthenticated: true"), "{text}");
}
