//! The CRDs' CEL rules, evaluated by kube-cel in `render`, and the operator's Rust
//! `Validate` checks say the same thing: every rule compiles client-side (nothing is
//! refused for a coverage gap), and on a table of manifests both accept and refuse the
//! same ones.

use super::*;
use crate::api::{ForwardAuthRoute, OAuthClient, OIDCProvider, Validate};
use serde_json::json;

const V: &str = "portcullis.dev/v1alpha1";

#[test]
fn every_rule_of_every_kind_compiles_client_side() {
    for kind in ["OIDCProvider", "OAuthClient", "ForwardAuthRoute"] {
        let schema = for_kind(V, kind).unwrap();
        let compiled = kube_cel::compile_schema(&schema);
        let errors: Vec<String> = compiled
            .compilation_errors()
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{kind}: {errors:?}");
        assert!(
            schema.to_string().contains("x-kubernetes-validations"),
            "{kind} has rules to evaluate"
        );
    }
}

fn object(kind: &str, spec: Value) -> Value {
    json!({"apiVersion": V, "kind": kind, "metadata": {"name": "x", "namespace": "n"}, "spec": spec})
}

/// CEL's verdict and `Validate`'s, for one object (`None` when the schema itself,
/// checked first, refuses it: neither rule set is reached).
fn verdicts(kind: &str, spec: Value) -> Option<(bool, bool)> {
    let value = object(kind, spec);
    let schema = for_kind(V, kind).unwrap();
    check(&value, &schema).ok()?;
    let by_cel = cel(&value, &schema).is_ok();
    let by_rust = match kind {
        "OIDCProvider" => serde_json::from_value::<OIDCProvider>(value)
            .unwrap()
            .validate()
            .is_ok(),
        "OAuthClient" => serde_json::from_value::<OAuthClient>(value)
            .unwrap()
            .validate()
            .is_ok(),
        _ => serde_json::from_value::<ForwardAuthRoute>(value)
            .unwrap()
            .validate()
            .is_ok(),
    };
    Some((by_cel, by_rust))
}

#[test]
fn cel_in_render_and_validate_in_the_operator_agree() {
    let provider = |extra: Value| {
        let mut spec = json!({"issuerURL": "https://idp.example.com"});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        spec
    };
    let cases = [
        ("OIDCProvider", provider(json!({"clientID": "a"}))),
        (
            "OIDCProvider",
            provider(json!({"clientRef": {"name": "c"}})),
        ),
        (
            "OIDCProvider",
            provider(json!({"clientID": "a", "clientRef": {"name": "c"}})),
        ),
        ("OIDCProvider", provider(json!({}))),
        (
            "OIDCProvider",
            provider(
                json!({"clientRef": {"name": "c"}, "clientSecretRef": {"name": "s", "key": "k"}}),
            ),
        ),
        (
            "OIDCProvider",
            provider(json!({"clientID": "a", "clientSecretRef": {"name": "s", "key": "k"}})),
        ),
        (
            "OAuthClient",
            json!({"providerRef": {"name": "p"}, "mode": "Static"}),
        ),
        (
            "OAuthClient",
            json!({"providerRef": {"name": "p"}, "mode": "Static", "credentialsSecretRef": {"name": "s"}}),
        ),
        (
            "OAuthClient",
            json!({"providerRef": {"name": "p"}, "mode": "Dynamic"}),
        ),
        (
            "OAuthClient",
            json!({"providerRef": {"name": "p"}, "mode": "Generated"}),
        ),
        (
            "ForwardAuthRoute",
            json!({"hosts": ["a.example.com"], "providerRef": {"name": "p"}, "policy": {"groups": ["g"]}}),
        ),
        (
            "ForwardAuthRoute",
            json!({"hosts": ["a.example.com"], "providerRef": {"name": "p"}, "policy": {}}),
        ),
        (
            "ForwardAuthRoute",
            json!({"hosts": ["a.example.com"], "providerRef": {"name": "p"}, "policy": {"allowAnyAuthenticated": true, "groups": ["g"]}}),
        ),
        (
            "ForwardAuthRoute",
            json!({"hosts": ["a.example.com"], "providerRef": {"name": "p"}, "policy": {"allowAnyAuthenticated": true}}),
        ),
    ];
    let mut compared = 0;
    let mut refused = 0;
    for (kind, spec) in cases {
        let Some((by_cel, by_rust)) = verdicts(kind, spec.clone()) else {
            continue;
        };
        compared += 1;
        refused += usize::from(!by_cel);
        // "Who may pass" is the operator's rule, not a CEL rule: the API server admits a
        // route that says nobody, and the route shows Accepted=False naming
        // spec.policy (render refuses it through Validate, as the operator would).
        let policy_rule = kind == "ForwardAuthRoute" && {
            let p = &spec["policy"];
            let rules = ["emails", "emailDomains", "groups", "claims", "permissions"]
                .iter()
                .any(|r| p.get(r).is_some());
            rules == (p["allowAnyAuthenticated"] == true)
        };
        if policy_rule {
            assert!(by_cel && !by_rust, "{spec}: only Validate refuses it");
            continue;
        }
        assert_eq!(
            by_cel, by_rust,
            "{kind} {spec}: CEL {by_cel}, Validate {by_rust}"
        );
    }
    assert!(
        compared >= 10 && refused >= 4,
        "{compared} compared, {refused} refused"
    );
}
