//! The CRDs' own CEL rules, as `render` evaluates them: every rule compiles, and each is
//! shown accepting and refusing on real manifests, in the API server's words. The same
//! cases run against a real API server in `tests/processes/render_strict.rs`.

use super::*;
use serde_json::json;

const V: &str = "portcullis.dev/v1alpha1";
const KINDS: [&str; 3] = ["OIDCProvider", "OAuthClient", "ForwardAuthRoute"];

#[test]
fn every_rule_of_every_kind_compiles_client_side() {
    for kind in KINDS {
        let schema = for_kind(V, kind).unwrap();
        assert_eq!(
            crate::api::cel::compile_errors(&schema),
            Vec::<String>::new(),
            "{kind}"
        );
        assert!(
            schema.to_string().contains("x-kubernetes-validations"),
            "{kind} has rules to evaluate"
        );
    }
}

fn verdict(kind: &str, spec: Value) -> Result<(), FieldError> {
    let value = json!({"apiVersion": V, "kind": kind, "metadata": {"name": "x", "namespace": "n"}, "spec": spec});
    let schema = for_kind(V, kind).unwrap();
    check(&value, &schema).unwrap_or_else(|e| panic!("the schema refuses {value} first: {e:?}"));
    crate::api::cel::check(&value, &schema)
}

fn typed_verdict(kind: &str, spec: Value) -> Result<(), FieldError> {
    use crate::api::{ForwardAuthRoute, OAuthClient, OIDCProvider, Validate};
    let value = json!({"apiVersion": V, "kind": kind, "metadata": {"name": "x", "namespace": "n"}, "spec": spec});
    match kind {
        "OIDCProvider" => serde_json::from_value::<OIDCProvider>(value)
            .unwrap()
            .validate(),
        "OAuthClient" => serde_json::from_value::<OAuthClient>(value)
            .unwrap()
            .validate(),
        _ => serde_json::from_value::<ForwardAuthRoute>(value)
            .unwrap()
            .validate(),
    }
}

/// Every rule's message, from the schemas.
fn rule_messages() -> Vec<String> {
    let mut out = Vec::new();
    fn collect(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for rule in m
                    .get("x-kubernetes-validations")
                    .and_then(|r| r.as_array())
                    .into_iter()
                    .flatten()
                {
                    out.push(rule["message"].as_str().unwrap().to_string());
                }
                m.values().for_each(|v| collect(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    for kind in KINDS {
        collect(&for_kind(V, kind).unwrap(), &mut out);
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn every_rule_accepts_and_refuses_in_the_api_server_s_words() {
    let mut refusals = Vec::new();
    let mut admitted = 0;
    for (kind, spec, expected) in crate::api::cel_cases::cases() {
        let got = verdict(kind, spec.clone());
        // The operator's path: the typed object, serialised again, through Validate.
        assert_eq!(
            typed_verdict(kind, spec.clone()),
            got,
            "{kind} {spec}: Validate and the manifest's CEL verdict differ"
        );
        match (&expected, got) {
            (None, Ok(())) => admitted += 1,
            (Some((field, message)), Err((f, m))) if f == *field && m == *message => {
                refusals.push(m);
            }
            (expected, got) => panic!("{kind} {spec}: expected {expected:?}, got {got:?}"),
        }
    }
    for message in rule_messages() {
        assert!(
            refusals
                .iter()
                .any(|r| r.ends_with(&format!(": {message}"))),
            "no case refuses by {message:?}"
        );
    }
    assert!(admitted >= 20, "admitted cases too: {admitted}");
}

#[test]
fn who_may_pass_is_the_operator_s_rule_not_a_cel_rule() {
    // The API server admits a route that says nobody; the operator answers
    // Accepted=False naming spec.policy, and render refuses it through Validate.
    let route = json!({"hosts": ["a.example.com"], "providerRef": {"name": "p"}, "policy": {}});
    assert_eq!(verdict("ForwardAuthRoute", route.clone()), Ok(()));
    let object: crate::api::ForwardAuthRoute = serde_json::from_value(json!({"apiVersion": V, "kind": "ForwardAuthRoute", "metadata": {"name": "x"}, "spec": route})).unwrap();
    use crate::api::Validate;
    assert_eq!(object.validate().unwrap_err().0, "spec.policy");
}
