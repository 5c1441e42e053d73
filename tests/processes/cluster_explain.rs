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
    k.eventually(
        &["get", "forwardauthroute", "anyone", "-n", &ns],
        "Accepted=True",
        60,
        |v| has_condition(v, "Accepted", "True"),
        || shared.operator_log(),
    );
    shared.assert_nothing_forbidden();
}
