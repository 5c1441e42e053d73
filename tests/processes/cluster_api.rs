//! The CRDs on a real kube-apiserver (1.37, built from its Go module), driven by the real
//! kubectl of the same release: Established, `kubectl explain`, printer columns, every
//! CEL rule refusing what it must, server-side apply field managers and conflicts, the
//! status subresource, and garbage collection of owned objects.

use crate::e2e::operator::install;
use crate::e2e::{ControlPlane, Kubectl, repo_root, require_control_plane};
use serde_json::Value;

/// The shared control plane with the CRDs and RBAC installed.
fn kubectl() -> Kubectl {
    // A OnceLock, not a Once: a failed install is retried by the next test and reported
    // there with its own message, rather than as a poisoned lock.
    static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    let cp = ControlPlane::shared();
    INSTALLED.get_or_init(|| {
        install(cp);
    });
    cp.kubectl()
}

#[test]
fn the_api_server_and_kubectl_are_the_pinned_release() {
    if !require_control_plane() {
        return;
    }
    let version = kubectl().json(&["version"]);
    assert_eq!(
        version["serverVersion"]["gitVersion"], "v1.37.2",
        "{version:#}"
    );
    assert_eq!(
        version["clientVersion"]["gitVersion"], "v1.37.2",
        "{version:#}"
    );
}

#[test]
fn kubectl_explain_shows_the_field_docs_of_every_kind() {
    if !require_control_plane() {
        return;
    }
    let k = kubectl();
    for (field, words) in [
        ("oidcproviders.spec.issuerURL", "byte for byte"),
        ("oauthclients.spec.mode", "Generated"),
        ("forwardauthroutes.spec.authURL", "/oauth2/callback"),
        ("forwardauthroutes.status.conditions", "observedGeneration"),
    ] {
        // The API server publishes a new CRD's OpenAPI a few seconds after it is
        // Established; `kubectl explain` reads that document.
        let args = ["explain", field, "--api-version=portcullis.dev/v1alpha1"];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !k.run(&args, None).status.success() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        let out = k.ok(&args);
        assert!(out.contains(words), "kubectl explain {field}:\n{out}");
    }
}

fn cel_rules() -> Vec<(String, String)> {
    fn walk(node: &Value, out: &mut Vec<(String, String)>) {
        match node {
            Value::Object(map) => {
                if let Some(Value::Array(rules)) = map.get("x-kubernetes-validations") {
                    for r in rules {
                        out.push((
                            r["rule"].as_str().unwrap_or("").to_string(),
                            r["message"].as_str().unwrap_or("").to_string(),
                        ));
                    }
                }
                map.values().for_each(|v| walk(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut rules = Vec::new();
    for entry in std::fs::read_dir(repo_root().join("crds")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let crd: Value = serde_yaml::from_str(&text).unwrap();
        walk(&crd, &mut rules);
    }
    rules
}

/// One object per CEL rule in `crds/`, each refused by the real API server with the
/// rule's message. A rule added to a CRD without a case here fails the test.
#[test]
fn every_cel_rule_refuses_what_it_must_with_its_message() {
    if !require_control_plane() {
        return;
    }
    let k = kubectl();
    let ns = ControlPlane::shared().namespace("cel");
    let provider = |spec: &str| {
        format!(
            "apiVersion: portcullis.dev/v1alpha1\nkind: OIDCProvider\nmetadata: {{name: p, namespace: {ns}}}\nspec:\n{spec}"
        )
    };
    let client = |spec: &str| {
        format!(
            "apiVersion: portcullis.dev/v1alpha1\nkind: OAuthClient\nmetadata: {{name: c, namespace: {ns}}}\nspec:\n  providerRef: {{name: p}}\n{spec}"
        )
    };
    let route = |spec: &str| {
        format!(
            "apiVersion: portcullis.dev/v1alpha1\nkind: ForwardAuthRoute\nmetadata: {{name: r, namespace: {ns}}}\nspec:\n  hosts: [app.example.com]\n  providerRef: {{name: p}}\n  policy: {{emailDomains: [example.com]}}\n{spec}"
        )
    };
    let cases = [
        (
            // Not a CEL rule: the schema's `format: uri` refuses it first.
            provider("  issuerURL: \"https://[not-a-host\"\n  clientID: x\n"),
            "spec.issuerURL in body must be of type uri",
        ),
        (
            provider(
                "  issuerURL: https://idp.example.com\n  clientID: x\n  clientRef: {name: c}\n",
            ),
            "set exactly one of clientRef or clientID",
        ),
        (
            provider("  issuerURL: https://idp.example.com\n"),
            "set exactly one of clientRef or clientID",
        ),
        (
            provider(
                "  issuerURL: https://idp.example.com\n  clientRef: {name: c}\n  clientSecretRef: {name: s, key: k}\n",
            ),
            "clientSecretRef goes with clientID",
        ),
        (
            // The case a new user hit: plain http on a public host.
            client(
                "  mode: Generated\n  redirectURIs: [\"http://app.example.com/oauth2/callback\"]\n",
            ),
            "spec.redirectURIs[0]: Invalid value: \"http://app.example.com/oauth2/callback\": must be an absolute https URL (http only on loopback) with a host, no wildcard and no fragment; redirect URIs are matched exactly",
        ),
        (
            client(
                "  mode: Generated\n  redirectURIs: [\"https://*.example.com/oauth2/callback\"]\n",
            ),
            "spec.redirectURIs[0]: Invalid value: \"https://*.example.com/oauth2/callback\": must be an absolute https URL",
        ),
        (
            client("  mode: Generated\n  postLogoutRedirectURIs: [\"http://app.example.com/\"]\n"),
            "spec.postLogoutRedirectURIs[0]: Invalid value: \"http://app.example.com/\": must be an absolute https URL (http only on loopback) with a host, no wildcard and no fragment; post-logout redirect URIs are matched exactly",
        ),
        (
            client("  mode: Static\n"),
            "mode Static needs credentialsSecretRef",
        ),
        (
            client("  mode: Dynamic\n"),
            "mode Dynamic needs registration",
        ),
        (
            route("  authURL: http://app.example.com\n"),
            "must be an https URL (http only on loopback) without a path",
        ),
    ];
    let mut exercised = std::collections::BTreeSet::new();
    for (yaml, message) in &cases {
        let refused = k.refuse_yaml(yaml);
        assert!(
            refused.contains(message),
            "expected the server to refuse with {message:?}:\n{yaml}\n-> {refused}"
        );
        exercised.insert(message.to_string());
    }
    for (rule, message) in cel_rules() {
        assert!(
            exercised
                .iter()
                .any(|m| message.starts_with(m.as_str()) || m.contains(message.as_str())),
            "CEL rule {rule:?} ({message:?}) has no refusing case in this test"
        );
    }
    // Loopback http is what the rules allow: the same shapes pass there.
    k.apply_yaml(&client(
        "  mode: Generated\n  redirectURIs: [\"http://127.0.0.1:8080/oauth2/callback\"]\n",
    ));
    k.apply_yaml(&route("  authURL: http://localhost:4180\n"));
}

#[test]
fn printer_columns_show_in_kubectl_get() {
    if !require_control_plane() {
        return;
    }
    let k = kubectl();
    let ns = ControlPlane::shared().namespace("columns");
    k.apply_yaml(&format!(
        "apiVersion: portcullis.dev/v1alpha1\nkind: OIDCProvider\nmetadata: {{name: p, namespace: {ns}}}\nspec: {{issuerURL: 'https://idp.example.com/', clientID: x}}\n---\napiVersion: portcullis.dev/v1alpha1\nkind: ForwardAuthRoute\nmetadata: {{name: r, namespace: {ns}}}\nspec: {{hosts: [app.example.com], providerRef: {{name: p}}, policy: {{emails: [a@example.com]}}}}\n"
    ));
    let table = k.ok(&["get", "oidcproviders", "-n", &ns]);
    assert!(
        table.contains("ISSUER") && table.contains("https://idp.example.com/"),
        "{table}"
    );
    let table = k.ok(&["get", "forwardauthroutes", "-n", &ns]);
    assert!(
        table.contains("HOSTS") && table.contains("app.example.com") && table.contains("PROVIDER"),
        "{table}"
    );
}

/// Status is a subresource: a spec write cannot set it, a status write cannot change
/// spec, and a second field manager applying a field the first owns is a conflict.
#[test]
fn status_is_a_subresource_and_server_side_apply_names_conflicts() {
    if !require_control_plane() {
        return;
    }
    let k = kubectl();
    let ns = ControlPlane::shared().namespace("ssa");
    let object = |issuer: &str| {
        format!(
            "apiVersion: portcullis.dev/v1alpha1\nkind: OIDCProvider\nmetadata: {{name: p, namespace: {ns}}}\nspec: {{issuerURL: '{issuer}', clientID: x}}\nstatus: {{advertisedIssuer: 'https://forged.example.com/'}}\n"
        )
    };
    k.ok_in(
        &[
            "apply",
            "--server-side",
            "--field-manager=gitops",
            "-f",
            "-",
        ],
        Some(&object("https://a.example.com/")),
    );
    let got = k.json(&["get", "oidcprovider", "p", "-n", &ns]);
    assert!(got["status"]["advertisedIssuer"].is_null(), "{got:#}");

    let conflict = k.fail_in(
        &[
            "apply",
            "--server-side",
            "--field-manager=someone-else",
            "-f",
            "-",
        ],
        Some(&object("https://b.example.com/")),
    );
    assert!(
        conflict.contains("conflict")
            && conflict.contains("gitops")
            && conflict.contains(".spec.issuerURL"),
        "{conflict}"
    );

    k.ok(&[
        "patch",
        "oidcprovider",
        "p",
        "-n",
        &ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"spec":{"issuerURL":"https://c.example.com/"},"status":{"advertisedIssuer":"https://a.example.com/"}}"#,
    ]);
    let got = k.json(&["get", "oidcprovider", "p", "-n", &ns]);
    assert_eq!(
        got["spec"]["issuerURL"], "https://a.example.com/",
        "{got:#}"
    );
    assert_eq!(
        got["status"]["advertisedIssuer"], "https://a.example.com/",
        "{got:#}"
    );
}

/// The controller-manager's garbage collector removes what an object owns when it goes:
/// the contract the operator's owned Secrets rely on.
#[test]
fn owned_objects_are_garbage_collected_with_their_owner() {
    if !require_control_plane() {
        return;
    }
    let k = kubectl();
    let ns = ControlPlane::shared().namespace("gc");
    k.apply_yaml(&format!(
        "apiVersion: portcullis.dev/v1alpha1\nkind: OIDCProvider\nmetadata: {{name: owner, namespace: {ns}}}\nspec: {{issuerURL: 'https://idp.example.com/', clientID: x}}\n"
    ));
    let uid = k.json(&["get", "oidcprovider", "owner", "-n", &ns])["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    k.apply_yaml(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: owned\n  namespace: {ns}\n  ownerReferences: [{{apiVersion: portcullis.dev/v1alpha1, kind: OIDCProvider, name: owner, uid: {uid}, controller: true, blockOwnerDeletion: true}}]\nstringData: {{k: v}}\n"
    ));
    k.ok(&["delete", "oidcprovider", "owner", "-n", &ns]);
    k.eventually(
        &[
            "get",
            "secrets",
            "-n",
            &ns,
            "--field-selector=metadata.name=owned",
        ],
        "the owned Secret to be collected",
        60,
        |v| v["items"].as_array().is_some_and(|i| i.is_empty()),
        String::new,
    );
}
