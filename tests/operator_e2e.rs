//! The operator end to end: the real `kubectl` and the real `portcullis operator` binary
//! against the API-server emulator (tests/apiserver), with a real OpenID Provider
//! (`oidc-provider`) to probe and to register clients at.

mod apiserver;
mod e2e;
#[path = "operator_e2e/operator.rs"]
mod operator;

use apiserver::kubectl::Kube;
use e2e::{Idp, IdpOptions, Tool, require};
use operator::Operator;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

/// A cluster with the CRDs installed and the namespaces the examples use.
fn cluster() -> Kube {
    let kube = Kube::new();
    kube.ok(&["apply", "--server-side", "-f", &repo("crds")]);
    kube.ok(&[
        "wait",
        "--for=condition=Established",
        "crd",
        "--all",
        "--timeout=20s",
    ]);
    for ns in [
        "auth",
        "apps",
        "monitoring",
        "argocd",
        "demo",
        "portcullis-system",
    ] {
        kube.ok(&["create", "namespace", ns]);
    }
    kube
}

/// Polls `kubectl get -o json` until `check` holds, or panics with the last object.
fn eventually(kube: &Kube, args: &[&str], what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = kube.run(&[args, &["-o", "json"]].concat(), None);
        let value: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if check(&value) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last: {value:#}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `kubectl wait --for=condition=Ready` on an object in `demo`, with the operator's log
/// when it times out.
fn wait_ready(kube: &Kube, object: &str, op: &Operator) {
    let waited = kube.run(
        &[
            "wait",
            "--for=condition=Ready",
            object,
            "-n",
            "demo",
            "--timeout=60s",
        ],
        None,
    );
    assert!(
        waited.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&waited.stderr),
        op.log()
    );
}

fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

fn local_manifests(issuer: &str) -> String {
    format!(
        r#"apiVersion: portcullis.dev/v1alpha1
kind: OIDCProvider
metadata: {{name: local, namespace: demo}}
spec:
  issuerURL: "{issuer}"
  clientRef: {{name: outpost}}
  scopes: [openid, profile, email, groups]
---
apiVersion: portcullis.dev/v1alpha1
kind: OAuthClient
metadata:
  name: outpost
  namespace: demo
  labels: {{app.kubernetes.io/instance: argo-tracked}}
spec:
  providerRef: {{name: local}}
  mode: Generated
  clientID: portcullis
  secret:
    labels: {{app.kubernetes.io/instance: argo-tracked, team: platform}}
---
apiVersion: portcullis.dev/v1alpha1
kind: ForwardAuthRoute
metadata: {{name: app, namespace: demo}}
spec:
  hosts: [app.demo.test]
  providerRef: {{name: local}}
  policy: {{groups: [admins]}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_the_crds_and_examples_and_the_operator_makes_them_ready() {
    if !require(&[Tool::Node, Tool::IdpPackages]) {
        return;
    }
    let idp = Idp::start(IdpOptions::default()).expect("start the IdP");
    let kube = cluster();
    kube.ok(&[
        "apply",
        "--server-side",
        "-f",
        &repo("crds"),
        "-f",
        &repo("examples"),
    ]);
    // An invalid object is refused by the schema with the field named.
    let refused = kube.fail_in(
        &["apply", "--server-side", "-f", "-"],
        Some("apiVersion: portcullis.dev/v1alpha1\nkind: ForwardAuthRoute\nmetadata: {name: bad, namespace: demo}\nspec:\n  hosts: [Not_A_Host]\n  providerRef: {name: local}\n"),
    );
    assert!(refused.contains("spec.hosts[0]"), "{refused}");

    kube.ok_in(
        &["apply", "--server-side", "-f", "-"],
        Some(&local_manifests(idp.issuer())),
    );
    let logs = tempfile::tempdir().expect("dir");
    let op = Operator::start(&kube.kubeconfig(), logs.path(), "replica-a");

    wait_ready(&kube, "oidcprovider/local", &op);
    wait_ready(&kube, "forwardauthroute/app", &op);

    // Printer columns.
    let table = kube.ok(&["get", "oidcproviders", "-n", "demo"]);
    assert!(
        table.contains("ISSUER") && table.contains("READY") && table.contains(idp.issuer()),
        "{table}"
    );
    let table = kube.ok(&["get", "forwardauthroutes", "-n", "demo"]);
    assert!(
        table.contains("HOSTS") && table.contains("app.demo.test") && table.contains("True"),
        "{table}"
    );

    // The provider's status shows what discovery found, never a secret.
    let provider = kube.json(&["get", "oidcprovider", "local", "-n", "demo"]);
    assert_eq!(provider["status"]["advertisedIssuer"], idp.issuer());
    assert!(
        provider["status"]["keyIds"]
            .as_array()
            .is_some_and(|k| !k.is_empty()),
        "{provider:#}"
    );

    // The unreachable example IdP is explained, not silently pending.
    let corp = eventually(
        &kube,
        &["get", "oidcprovider", "corp-idp", "-n", "auth"],
        "Discovered=False",
        |v| condition(v, "Discovered").is_some_and(|c| c["status"] == "False"),
    );
    assert!(
        condition(&corp, "Ready").unwrap()["status"] == "False",
        "{corp:#}"
    );

    // The compiled configuration reached a labelled shard in the operator's namespace.
    let shards = eventually(
        &kube,
        &[
            "get",
            "configmaps",
            "-n",
            "portcullis-system",
            "-l",
            "portcullis.dev/outpost-config=true",
        ],
        "a config shard with the route",
        |v| {
            v["items"].as_array().is_some_and(|items| {
                items.iter().any(|cm| {
                    cm["data"]["config.yaml"]
                        .as_str()
                        .is_some_and(|c| c.contains("demo/app"))
                })
            })
        },
    );
    assert!(!shards["items"].as_array().unwrap().is_empty());

    // The Secret never carries the Argo CD tracking label.
    let secret = eventually(
        &kube,
        &["get", "secret", "outpost-oauth", "-n", "demo"],
        "the client Secret",
        |v| v["data"]["client-secret"].is_string(),
    );
    let labels = secret["metadata"]["labels"].as_object().unwrap();
    assert!(
        !labels.contains_key("app.kubernetes.io/instance"),
        "{labels:?}"
    );
    assert_eq!(labels["team"], "platform");
    let minted = secret["data"]["client-secret"]
        .as_str()
        .unwrap()
        .to_string();

    // Restart the operator mid-way and delete the Secret the app reads: the same secret
    // comes back, byte for byte.
    drop(op);
    kube.ok(&["delete", "secret", "outpost-oauth", "-n", "demo"]);
    let op = Operator::start(&kube.kubeconfig(), logs.path(), "replica-b");
    let again = eventually(
        &kube,
        &["get", "secret", "outpost-oauth", "-n", "demo"],
        "the Secret again",
        |v| v["data"]["client-secret"].is_string(),
    );
    assert_eq!(
        again["data"]["client-secret"].as_str().unwrap(),
        minted,
        "{}",
        op.log()
    );

    // The secret value never reached status, events or the log.
    let decoded = String::from_utf8(base64_decode(&minted)).unwrap();
    let client = kube.ok(&["get", "oauthclient", "outpost", "-n", "demo", "-o", "yaml"]);
    assert!(!client.contains(&decoded));
    let events = kube.ok(&["get", "events", "-A", "-o", "yaml"]);
    assert!(!events.contains(&decoded));
    assert!(!op.log().contains(&decoded));
    assert!(
        op.metrics().await.contains("reconcile"),
        "metrics are served"
    );
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamic_client_registers_at_the_idp_and_is_removed_when_deleted() {
    if !require(&[Tool::Node, Tool::IdpPackages]) {
        return;
    }
    let idp = Idp::start(IdpOptions {
        registration_initial_access_token: Some("initial-access-token-e2e".into()),
        ..IdpOptions::default()
    })
    .expect("start the IdP");
    let kube = cluster();
    let manifests = format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{name: registration, namespace: demo}}
stringData: {{token: initial-access-token-e2e}}
---
apiVersion: portcullis.dev/v1alpha1
kind: OIDCProvider
metadata: {{name: local, namespace: demo}}
spec:
  issuerURL: "{issuer}"
  clientID: set-by-hand
---
apiVersion: portcullis.dev/v1alpha1
kind: OAuthClient
metadata: {{name: dyn, namespace: demo}}
spec:
  providerRef: {{name: local}}
  mode: Dynamic
  redirectURIs: [https://app.demo.test/oauth2/callback]
  registration:
    initialAccessTokenRef: {{name: registration, key: token}}
  deletionPolicy: Delete
"#,
        issuer = idp.issuer()
    );
    kube.ok_in(&["apply", "--server-side", "-f", "-"], Some(&manifests));
    let logs = tempfile::tempdir().expect("dir");
    let op = Operator::start(&kube.kubeconfig(), logs.path(), "replica-a");
    let client = eventually(
        &kube,
        &["get", "oauthclient", "dyn", "-n", "demo"],
        "Registered=True",
        |v| condition(v, "Registered").is_some_and(|c| c["status"] == "True"),
    );
    let client_id = client["status"]["clientID"]
        .as_str()
        .expect("client id")
        .to_string();
    let registration_uri = client["status"]["registrationClientURI"]
        .as_str()
        .expect("RFC 7592 URI")
        .to_string();
    assert!(
        registration_uri.starts_with(idp.base_url()),
        "{registration_uri}"
    );
    let secret = eventually(
        &kube,
        &["get", "secret", "dyn-oauth", "-n", "demo"],
        "the client Secret",
        |v| v["data"]["client-id"].is_string(),
    );
    assert_eq!(
        String::from_utf8(base64_decode(secret["data"]["client-id"].as_str().unwrap())).unwrap(),
        client_id
    );

    // The client exists at the IdP: its token endpoint accepts the credentials.
    let client_secret = String::from_utf8(base64_decode(
        secret["data"]["client-secret"].as_str().unwrap(),
    ))
    .unwrap();
    let token_url = format!("{}/token", idp.base_url());
    let accepted = reqwest::Client::new()
        .post(&token_url)
        .basic_auth(&client_id, Some(&client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "not-a-code"),
            ("redirect_uri", "https://app.demo.test/oauth2/callback"),
        ])
        .send()
        .await
        .expect("token endpoint");
    let body = accepted.text().await.unwrap_or_default();
    assert!(
        body.contains("invalid_grant"),
        "known client, bad code: {body}"
    );

    // Deleting the OAuthClient removes the client at the IdP (finalizer), then the object.
    kube.ok(&["delete", "oauthclient", "dyn", "-n", "demo", "--wait=false"]);
    eventually(
        &kube,
        &["get", "oauthclients", "-n", "demo"],
        "the OAuthClient gone",
        |v| v["items"].as_array().is_some_and(|i| i.is_empty()),
    );
    let gone = reqwest::Client::new()
        .post(&token_url)
        .basic_auth(&client_id, Some(&client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "not-a-code"),
            ("redirect_uri", "https://app.demo.test/oauth2/callback"),
        ])
        .send()
        .await
        .expect("token endpoint")
        .text()
        .await
        .unwrap_or_default();
    assert!(
        gone.contains("invalid_client"),
        "the client is gone at the IdP: {gone}\n{}",
        op.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outpost_in_cluster_mode_serves_what_the_operator_compiled_and_hot_reloads() {
    if !require(&[Tool::Node, Tool::IdpPackages, Tool::Nginx]) {
        return;
    }
    let front_port = e2e::free_port();
    let front = format!("http://127.0.0.1:{front_port}");
    let idp = Idp::start(IdpOptions {
        clients: vec![e2e::IdpClient::new(
            "portcullis",
            "cluster-client-secret",
            &format!("{front}/oauth2/callback"),
        )],
        accounts: vec![e2e::IdpAccount::new(
            "alice",
            "wonderland",
            "alice@example.test",
            &["admins"],
        )],
        ..IdpOptions::default()
    })
    .expect("start the IdP");
    let kube = cluster();
    let manifests = format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{name: idp-credentials, namespace: demo}}
stringData: {{client-id: portcullis, client-secret: cluster-client-secret}}
---
apiVersion: portcullis.dev/v1alpha1
kind: OAuthClient
metadata: {{name: outpost, namespace: demo}}
spec:
  providerRef: {{name: local}}
  mode: Static
  credentialsSecretRef: {{name: idp-credentials}}
---
apiVersion: portcullis.dev/v1alpha1
kind: OIDCProvider
metadata: {{name: local, namespace: demo}}
spec:
  issuerURL: "{issuer}"
  clientRef: {{name: outpost}}
  scopes: [openid, profile, email, groups]
---
apiVersion: portcullis.dev/v1alpha1
kind: ForwardAuthRoute
metadata: {{name: app, namespace: demo}}
spec:
  hosts: ["127.0.0.1:{front_port}"]
  authURL: "{front}"
  providerRef: {{name: local}}
  policy: {{groups: [admins]}}
"#,
        issuer = idp.issuer()
    );
    kube.ok_in(&["apply", "--server-side", "-f", "-"], Some(&manifests));
    let logs = tempfile::tempdir().expect("dir");
    let op = Operator::start(&kube.kubeconfig(), logs.path(), "replica-a");
    wait_ready(&kube, "forwardauthroute/app", &op);

    let outpost = e2e::Outpost::start_cluster(&kube.kubeconfig(), "portcullis-system")
        .await
        .expect("cluster-mode outpost");
    let app = e2e::UpstreamApp::start().await.expect("app");
    let mut opts = e2e::NginxOptions::new(&outpost.addr(), &format!("127.0.0.1:{}", app.port()));
    opts.port = Some(front_port);
    let _nginx = e2e::Nginx::start(opts).expect("nginx");

    let mut ua = e2e::UserAgent::new();
    ua.get(&format!("{front}/private"))
        .await
        .expect("to the IdP");
    let landed = ua.login("alice", "wonderland").await.expect("login");
    assert_eq!(
        landed.status,
        200,
        "hops: {:?}\n{}",
        landed.hops,
        outpost.log()
    );
    assert_eq!(
        app.last_request()
            .expect("seen")
            .header("x-auth-request-user"),
        Some("alice")
    );

    // Change the policy in the cluster: the operator recompiles, the outpost reloads, and
    // the same session is now denied, without a restart.
    kube.ok(&[
        "patch",
        "forwardauthroute",
        "app",
        "-n",
        "demo",
        "--type=merge",
        "-p",
        r#"{"spec":{"policy":{"groups":["nobody"]}}}"#,
    ]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = ua
            .get_no_follow(&format!("{front}/private"))
            .await
            .expect("request");
        if r.status == 403 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "policy change never reached the outpost:\n{}\n{}",
            outpost.log(),
            op.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
