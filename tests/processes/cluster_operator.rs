//! The operator end to end on the real control plane: the `portcullis operator` binary
//! with its ServiceAccount's token (RBAC from `manifests/`), the real kubectl, and a real
//! OpenID Provider (`oidc-provider`) to probe and register clients at. One operator
//! serves the whole test binary; each test works in namespaces of its own.

use crate::e2e::operator::{SYSTEM_NAMESPACE, Shared};
use crate::e2e::require_control_plane;
use crate::e2e::{self, Idp, IdpOptions, Tool, has_condition, repo_root, require};
use std::time::{Duration, Instant};

fn ready(tools: &[Tool]) -> bool {
    require(tools) && require_control_plane()
}

/// `kubectl wait --for=condition=Ready`, with the operator's log when it times out.
fn wait_ready(shared: &Shared, object: &str, ns: &str) {
    let waited = shared.kubectl().run(
        &[
            "wait",
            "--for=condition=Ready",
            object,
            "-n",
            ns,
            "--timeout=90s",
        ],
        None,
    );
    assert!(
        waited.status.success(),
        "{}\n{}\n{}",
        String::from_utf8_lossy(&waited.stderr),
        shared
            .kubectl()
            .ok(&["get", object, "-n", ns, "-o", "yaml"]),
        shared.operator_log()
    );
}

pub fn base64_decode(text: &str) -> String {
    use base64::Engine as _;
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .expect("base64"),
    )
    .expect("utf-8")
}

/// A provider on the test IdP, the outposts' Generated client (with an Argo CD tracking
/// label that must never reach its Secret) and a route.
pub fn local_manifests(issuer: &str, ns: &str) -> String {
    format!(
        r#"apiVersion: portcullis.dev/v1alpha1
kind: OIDCProvider
metadata: {{name: local, namespace: {ns}}}
spec:
  issuerURL: "{issuer}"
  clientRef: {{name: outpost}}
  scopes: [openid, profile, email, groups]
---
apiVersion: portcullis.dev/v1alpha1
kind: OAuthClient
metadata:
  name: outpost
  namespace: {ns}
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
metadata: {{name: app, namespace: {ns}}}
spec:
  hosts: [app.{ns}.test]
  providerRef: {{name: local}}
  policy: {{groups: [admins]}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_the_examples_and_the_operator_makes_them_ready() {
    if !ready(&[Tool::Node, Tool::IdpPackages]) {
        return;
    }
    let idp = Idp::start(IdpOptions::default()).expect("start the IdP");
    let shared = Shared::get();
    let k = shared.kubectl();
    for ns in ["auth", "apps", "monitoring", "argocd"] {
        k.apply_yaml(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"
        ));
    }
    k.ok(&[
        "apply",
        "--server-side",
        "-f",
        repo_root().join("examples").to_str().unwrap(),
    ]);
    let ns = shared.cp.namespace("ready");
    k.apply_yaml(&local_manifests(idp.issuer(), &ns));

    wait_ready(shared, "oidcprovider/local", &ns);
    wait_ready(shared, "forwardauthroute/app", &ns);
    let table = k.ok(&["get", "forwardauthroutes", "-n", &ns]);
    assert!(
        table.contains(&format!("app.{ns}.test")) && table.contains("True"),
        "{table}"
    );

    // The provider's status shows what discovery found, never a secret.
    let provider = k.json(&["get", "oidcprovider", "local", "-n", &ns]);
    assert_eq!(provider["status"]["advertisedIssuer"], idp.issuer());
    assert!(
        provider["status"]["keyIds"]
            .as_array()
            .is_some_and(|k| !k.is_empty()),
        "{provider:#}"
    );

    // The unreachable example IdP is explained, not silently pending.
    let corp = k.eventually(
        &["get", "oidcprovider", "corp-idp", "-n", "auth"],
        "Discovered=False",
        60,
        |v| has_condition(v, "Discovered", "False"),
        || shared.operator_log(),
    );
    assert!(has_condition(&corp, "Ready", "False"), "{corp:#}");

    // The compiled configuration reached a labelled shard in the operator's namespace.
    let route_id = format!("{ns}/app");
    k.eventually(
        &[
            "get",
            "configmaps",
            "-n",
            SYSTEM_NAMESPACE,
            "-l",
            "portcullis.dev/outpost-config=true",
        ],
        "a config shard with the route",
        60,
        |v| {
            v["items"].as_array().is_some_and(|items| {
                items.iter().any(|cm| {
                    cm["data"]["config.yaml"]
                        .as_str()
                        .is_some_and(|c| c.contains(&route_id))
                })
            })
        },
        || shared.operator_log(),
    );

    // The Secret never carries the Argo CD tracking label, and is owned by its client.
    let secret = k.eventually(
        &["get", "secret", "outpost-oauth", "-n", &ns],
        "the client Secret",
        60,
        |v| v["data"]["client-secret"].is_string(),
        || shared.operator_log(),
    );
    let labels = secret["metadata"]["labels"].as_object().unwrap();
    assert!(
        !labels.contains_key("app.kubernetes.io/instance"),
        "{labels:?}"
    );
    assert_eq!(labels["team"], "platform");
    assert_eq!(
        secret["metadata"]["ownerReferences"][0]["kind"], "OAuthClient",
        "{secret:#}"
    );

    // The secret value never reached status, events or the log.
    let minted = base64_decode(secret["data"]["client-secret"].as_str().unwrap());
    let client = k.ok(&["get", "oauthclient", "outpost", "-n", &ns, "-o", "yaml"]);
    assert!(!client.contains(&minted));
    let events = k.ok(&["get", "events", "-A", "-o", "yaml"]);
    assert!(!events.contains(&minted));
    assert!(!shared.operator_log().contains(&minted));

    // Deleting the client collects its Secret (ownerReferences + the real garbage collector).
    shared.assert_quiet(&[&ns, "auth", "apps", "monitoring", "argocd"]);

    k.ok(&["delete", "oauthclient", "outpost", "-n", &ns]);
    k.eventually(
        &[
            "get",
            "secrets",
            "-n",
            &ns,
            "-l",
            "portcullis.dev/client=outpost",
        ],
        "the client's Secrets collected",
        60,
        |v| v["items"].as_array().is_some_and(|i| i.is_empty()),
        || shared.operator_log(),
    );
    shared.assert_nothing_forbidden();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamic_client_registers_at_the_idp_and_is_removed_when_deleted() {
    if !ready(&[Tool::Node, Tool::IdpPackages]) {
        return;
    }
    let idp = Idp::start(IdpOptions {
        registration_initial_access_token: Some("initial-access-token-e2e".into()),
        ..IdpOptions::default()
    })
    .expect("start the IdP");
    let shared = Shared::get();
    let k = shared.kubectl();
    let ns = shared.cp.namespace("dynamic");
    k.apply_yaml(&super::cluster_deletion::dynamic_manifests(
        &ns,
        idp.issuer(),
        "initial-access-token-e2e",
    ));
    let client = k.eventually(
        &["get", "oauthclient", "dyn", "-n", &ns],
        "Registered=True",
        90,
        |v| has_condition(v, "Registered", "True"),
        || shared.operator_log(),
    );
    let client_id = client["status"]["clientID"]
        .as_str()
        .expect("client id")
        .to_string();
    let registration_uri = client["status"]["registrationClientURI"]
        .as_str()
        .expect("RFC 7592 URI");
    assert!(
        registration_uri.starts_with(idp.base_url()),
        "{registration_uri}"
    );
    assert!(
        client["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty()),
        "a Dynamic client carries the finalizer that removes it at the IdP: {client:#}"
    );
    let secret = k.eventually(
        &["get", "secret", "dyn-oauth", "-n", &ns],
        "the client Secret",
        60,
        |v| v["data"]["client-id"].is_string(),
        || shared.operator_log(),
    );
    assert_eq!(
        base64_decode(secret["data"]["client-id"].as_str().unwrap()),
        client_id
    );
    let client_secret = base64_decode(secret["data"]["client-secret"].as_str().unwrap());
    let exchange = || async {
        reqwest::Client::new()
            .post(format!("{}/token", idp.base_url()))
            .basic_auth(&client_id, Some(&client_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", "not-a-code"),
                ("redirect_uri", "https://app.example.test/oauth2/callback"),
            ])
            .send()
            .await
            .expect("token endpoint")
            .text()
            .await
            .unwrap_or_default()
    };
    // The client exists at the IdP: a known client with a bad code is `invalid_grant`.
    let known = exchange().await;
    assert!(
        known.contains("invalid_grant"),
        "known client, bad code: {known}"
    );

    shared.assert_quiet(&[&ns]);

    // Deleting the OAuthClient removes the client at the IdP (finalizer), then the object.
    k.ok(&["delete", "oauthclient", "dyn", "-n", &ns, "--wait=false"]);
    k.eventually(
        &["get", "oauthclients", "-n", &ns],
        "the OAuthClient gone",
        60,
        |v| v["items"].as_array().is_some_and(|i| i.is_empty()),
        || shared.operator_log(),
    );
    let gone = exchange().await;
    assert!(
        gone.contains("invalid_client"),
        "the client is gone at the IdP: {gone}"
    );
    shared.assert_nothing_forbidden();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outpost_in_cluster_mode_serves_what_the_operator_compiled_and_hot_reloads() {
    if !ready(&[Tool::Node, Tool::IdpPackages, Tool::Nginx]) {
        return;
    }
    let login = LoginScenario::start();
    let shared = Shared::get();
    let k = shared.kubectl();
    let ns = shared.cp.namespace("outpost");
    k.apply_yaml(&login.manifests(&ns));
    wait_ready(shared, "forwardauthroute/app", &ns);

    // The outpost runs as its own ServiceAccount, bound by manifests/outpost-rbac.yaml:
    // it may read Secrets in its own namespace only, where the operator copies what it
    // needs; the client Secret in the provider's namespace is out of its reach.
    let outpost_user = "system:serviceaccount:portcullis-system:portcullis-outpost";
    for (namespace, answer) in [(ns.as_str(), "no"), (SYSTEM_NAMESPACE, "yes")] {
        let out = k.run(
            &[
                "auth",
                "can-i",
                "get",
                "secrets",
                "-n",
                namespace,
                "--as",
                outpost_user,
            ],
            None,
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            answer,
            "get secrets in {namespace}"
        );
    }
    let copy = k.json(&[
        "get",
        "secret",
        "portcullis-outpost-credentials",
        "-n",
        SYSTEM_NAMESPACE,
    ]);
    // The Static client publishes its credentials as `outpost-oauth`; that is what is copied.
    let key = format!("secret_{ns}_outpost-oauth_client-secret");
    assert_eq!(
        base64_decode(
            copy["data"][&key]
                .as_str()
                .unwrap_or_else(|| panic!("{key} in {copy:#}"))
        ),
        "scenario-client-secret"
    );
    let outpost = e2e::Outpost::start_cluster(&shared.identities.outpost, SYSTEM_NAMESPACE)
        .await
        .expect("cluster-mode outpost");
    let (mut ua, _app, _nginx) = login
        .log_in_through_nginx(&outpost.addr(), || outpost.log())
        .await;

    // Change the policy in the cluster: the operator recompiles, the outpost reloads, and
    // the same session is now denied, without a restart.
    k.ok(&[
        "patch",
        "forwardauthroute",
        "app",
        "-n",
        &ns,
        "--type=merge",
        "-p",
        r#"{"spec":{"policy":{"groups":["nobody"]}}}"#,
    ]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Followed: behind nginx a denied browser is sent to /oauth2/start, which
        // answers 403 with the page naming the rule.
        let r = ua
            .get(&format!("{}/private", login.front))
            .await
            .expect("request");
        if r.status == 403 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "policy change never reached the outpost:\n{}\n{}",
            outpost.log(),
            shared.operator_log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    shared.assert_quiet(&[&ns]);
    shared.assert_nothing_forbidden();
}

/// A real IdP with alice (group admins) and the client `portcullis`, the manifests of a
/// Static client, a provider and a route for `127.0.0.1:<front>`, and a login through
/// nginx configured as ingress-nginx is: shared by the tests that serve from a cluster.
pub struct LoginScenario {
    /// The IdP.
    pub idp: Idp,
    /// nginx's port.
    pub front_port: u16,
    /// `http://127.0.0.1:<front_port>`.
    pub front: String,
}

impl LoginScenario {
    /// Starts the IdP.
    pub fn start() -> LoginScenario {
        let front_port = e2e::free_port();
        let front = format!("http://127.0.0.1:{front_port}");
        let idp = Idp::start(IdpOptions {
            clients: vec![e2e::IdpClient::new(
                "portcullis",
                "scenario-client-secret",
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
        LoginScenario {
            idp,
            front_port,
            front,
        }
    }

    /// The app, and nginx on `front_port` in front of it asking `outpost` (`host:port`)
    /// as ingress-nginx does.
    pub async fn nginx_in_front_of(&self, outpost: &str) -> (e2e::UpstreamApp, e2e::Nginx) {
        let app = e2e::UpstreamApp::start().await.expect("app");
        let mut opts = e2e::NginxOptions::new(outpost, &format!("127.0.0.1:{}", app.port()));
        opts.port = Some(self.front_port);
        (app, e2e::Nginx::start(opts).expect("nginx"))
    }

    /// The Secret, Static OAuthClient, OIDCProvider and ForwardAuthRoute in `ns`.
    pub fn manifests(&self, ns: &str) -> String {
        format!(
            r#"apiVersion: v1
kind: Secret
metadata: {{name: idp-credentials, namespace: {ns}}}
stringData: {{client-id: portcullis, client-secret: scenario-client-secret}}
---
apiVersion: portcullis.dev/v1alpha1
kind: OAuthClient
metadata: {{name: outpost, namespace: {ns}}}
spec:
  providerRef: {{name: local}}
  mode: Static
  credentialsSecretRef: {{name: idp-credentials}}
---
apiVersion: portcullis.dev/v1alpha1
kind: OIDCProvider
metadata: {{name: local, namespace: {ns}}}
spec:
  issuerURL: "{issuer}"
  clientRef: {{name: outpost}}
  scopes: [openid, profile, email, groups]
---
apiVersion: portcullis.dev/v1alpha1
kind: ForwardAuthRoute
metadata: {{name: app, namespace: {ns}}}
spec:
  hosts: ["127.0.0.1:{port}"]
  authURL: "{front}"
  providerRef: {{name: local}}
  policy: {{groups: [admins]}}
"#,
            issuer = self.idp.issuer(),
            port = self.front_port,
            front = self.front
        )
    }

    /// nginx in front of an app with the outpost at `outpost` as its auth server; alice
    /// logs in and the app sees her. Returns the signed-in agent and what must live on.
    pub async fn log_in_through_nginx(
        &self,
        outpost: &str,
        context: impl Fn() -> String,
    ) -> (e2e::UserAgent, e2e::UpstreamApp, e2e::Nginx) {
        let (app, nginx) = self.nginx_in_front_of(outpost).await;
        let mut ua = e2e::UserAgent::new();
        ua.get(&format!("{}/private", self.front))
            .await
            .expect("to the IdP");
        let landed = ua.login("alice", "wonderland").await.expect("login");
        assert_eq!(landed.status, 200, "hops: {:?}\n{}", landed.hops, context());
        assert_eq!(
            app.last_request()
                .expect("seen")
                .header("x-auth-request-user"),
            Some("alice")
        );
        (ua, app, nginx)
    }
}
