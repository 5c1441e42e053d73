//! Error paths of the operator on the real control plane: what a user reads in
//! `kubectl describe` / `kubectl get` when an object cannot become Ready (issue 10).

use crate::e2e::operator::Shared;
use crate::e2e::{condition, has_condition, require_control_plane};

/// A route that does not say who may pass is refused (no implicit allow-all), the
/// condition names the field, and the explicit choice is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_without_a_policy_is_refused_until_it_says_who_may_pass() {
    if !require_control_plane() {
        return;
    }
    let shared = Shared::get();
    let k = shared.kubectl();
    let ns = shared.cp.namespace("nopolicy");
    k.apply_yaml(&format!(
        r#"apiVersion: portcullis.dev/v1alpha1
kind: OIDCProvider
metadata: {{name: p, namespace: {ns}}}
spec: {{issuerURL: "https://idp.invalid/", clientID: x}}
---
apiVersion: portcullis.dev/v1alpha1
kind: ForwardAuthRoute
metadata: {{name: none, namespace: {ns}}}
spec: {{hosts: [none.{ns}.test], providerRef: {{name: p}}}}
---
apiVersion: portcullis.dev/v1alpha1
kind: ForwardAuthRoute
metadata: {{name: empty, namespace: {ns}}}
spec: {{hosts: [empty.{ns}.test], providerRef: {{name: p}}, policy: {{public: {{paths: [/health]}}}}}}
---
apiVersion: portcullis.dev/v1alpha1
kind: ForwardAuthRoute
metadata: {{name: anyone, namespace: {ns}}}
spec: {{hosts: [anyone.{ns}.test], providerRef: {{name: p}}, policy: {{allowAnyAuthenticated: true}}}}
"#
    ));
    for name in ["none", "empty"] {
        let route = k.eventually(
            &["get", "forwardauthroute", name, "-n", &ns],
            "Accepted=False",
            60,
            |v| has_condition(v, "Accepted", "False"),
            || shared.operator_log(),
        );
        let accepted = condition(&route, "Accepted").unwrap();
        assert_eq!(accepted["reason"], "InvalidSpec", "{route:#}");
        let message = accepted["message"].as_str().unwrap();
        assert!(
            message.contains("spec.policy") && message.contains("allowAnyAuthenticated"),
            "{message}"
        );
    }
    // Converged: the unreachable provider's probe has failed and the route says so.
    k.eventually(
        &["get", "forwardauthroute", "anyone", "-n", &ns],
        "Accepted=True, ProviderReady=False",
        60,
        |v| has_condition(v, "Accepted", "True") && has_condition(v, "ProviderReady", "False"),
        || shared.operator_log(),
    );
    shared.assert_quiet(&[&ns]);
    shared.assert_nothing_forbidden();
}

/// An OAuthClient whose provider does not exist says which field names it, and once
/// that is said, the operator stops writing (it once rewrote `status.lastRotationTime`
/// about once a second).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_its_provider_names_the_field_and_goes_quiet() {
    if !require_control_plane() {
        return;
    }
    let shared = Shared::get();
    let k = shared.kubectl();
    let ns = shared.cp.namespace("noprovider");
    k.apply_yaml(&format!(
        r#"apiVersion: portcullis.dev/v1alpha1
kind: OAuthClient
metadata: {{name: orphan, namespace: {ns}}}
spec:
  providerRef: {{name: nowhere}}
  mode: Generated
  clientID: orphan
"#
    ));
    let client = k.eventually(
        &["get", "oauthclient", "orphan", "-n", &ns],
        "Ready=False",
        60,
        |v| has_condition(v, "Ready", "False"),
        || shared.operator_log(),
    );
    let ready = condition(&client, "Ready").unwrap();
    let message = ready["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("{ns}/nowhere")) && message.contains("spec.providerRef"),
        "{client:#}"
    );
    // The default `kubectl get` columns say why it is not Ready.
    let table = k.ok(&["get", "oauthclients", "-n", &ns]);
    assert!(
        table.contains("REASON") && table.contains("ProviderNotFound"),
        "{table}"
    );
    let waiting = condition(&client, "RedirectURIsInSync").unwrap();
    assert!(
        waiting["message"]
            .as_str()
            .unwrap()
            .contains("waiting for spec.redirectURIs or a ForwardAuthRoute"),
        "{client:#}"
    );
    shared.assert_quiet(&[&ns]);
    shared.assert_nothing_forbidden();
}

/// A Generated client is checked at the IdP: while the IdP does not know its secret,
/// `Registered=False InvalidClient` quotes the IdP; once the admin has registered it,
/// `Ready=True` (so `kubectl wait --for=condition=Ready` ends).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_client_is_ready_once_the_idp_accepts_its_secret() {
    use crate::e2e::flaky::FlakyProxy;
    use crate::e2e::{IdpClient, IdpOptions, Tool, require};
    if !(require(&[Tool::Node, Tool::IdpPackages]) && require_control_plane()) {
        return;
    }
    let proxy = FlakyProxy::start().await;
    let issuer = format!("http://{}", proxy.addr());
    let _unaware = proxy.front_idp(IdpOptions::default());
    let shared = Shared::get();
    let k = shared.kubectl();
    let ns = shared.cp.namespace("generated");
    k.apply_yaml(&format!(
        r#"apiVersion: portcullis.dev/v1alpha1
kind: OIDCProvider
metadata: {{name: local, namespace: {ns}}}
spec: {{issuerURL: "{issuer}", clientRef: {{name: gen}}}}
---
apiVersion: portcullis.dev/v1alpha1
kind: OAuthClient
metadata: {{name: gen, namespace: {ns}}}
spec:
  providerRef: {{name: local}}
  mode: Generated
  clientID: gen-client
  redirectURIs: [https://app.example.test/oauth2/callback]
"#
    ));
    let get = ["get", "oauthclient", "gen", "-n", ns.as_str()];
    let refused = k.eventually(
        &get,
        "Registered=False",
        60,
        |v| has_condition(v, "Registered", "False"),
        || shared.operator_log(),
    );
    let registered = condition(&refused, "Registered").unwrap();
    assert_eq!(registered["reason"], "InvalidClient", "{refused:#}");
    assert!(
        registered["message"]
            .as_str()
            .unwrap()
            .contains("invalid_client"),
        "{refused:#}"
    );
    assert!(has_condition(&refused, "Ready", "False"), "{refused:#}");

    // The admin registers the published secret at the IdP.
    let secret = k.json(&["get", "secret", "gen-oauth", "-n", &ns]);
    let minted =
        super::cluster_operator::base64_decode(secret["data"]["client-secret"].as_str().unwrap());
    let _aware = proxy.front_idp(IdpOptions {
        clients: vec![IdpClient::new(
            "gen-client",
            &minted,
            "https://app.example.test/oauth2/callback",
        )],
        ..IdpOptions::default()
    });
    proxy.drop_next(0);
    let accepted = k.eventually(
        &get,
        "Ready=True",
        60,
        |v| has_condition(v, "Ready", "True"),
        || shared.operator_log(),
    );
    let registered = condition(&accepted, "Registered").unwrap();
    assert_eq!(registered["reason"], "VerifiedAtIdP", "{accepted:#}");
    assert!(
        registered["message"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"),
        "{accepted:#}"
    );
    assert!(
        !k.ok(&["get", "oauthclient", "gen", "-n", &ns, "-o", "yaml"])
            .contains(&minted)
    );
    shared.assert_quiet(&[&ns]);
    shared.assert_nothing_forbidden();
}
