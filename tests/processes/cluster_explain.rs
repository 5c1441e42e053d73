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
