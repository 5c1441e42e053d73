//! The walker binds `self` where the API server does and words refusals as it does.

use super::*;
use serde_json::json;

fn rules(rules: Value) -> Value {
    json!({"type": "object", "x-kubernetes-validations": rules})
}

#[test]
fn self_is_the_node_the_rule_sits_on_and_the_error_names_it() {
    let schema = json!({
        "type": "object",
        "properties": {"spec": {
            "type": "object",
            "x-kubernetes-validations": [{"rule": "self.a < self.b", "message": "a must be below b"}],
            "properties": {
                "a": {"type": "integer"},
                "b": {"type": "integer"},
                "names": {"type": "array", "items": {
                    "type": "string",
                    "x-kubernetes-validations": [{"rule": "self.startsWith('x')", "message": "starts with x"}]
                }}
            }
        }}
    });
    assert_eq!(check(&json!({"spec": {"a": 1, "b": 2}}), &schema), Ok(()));
    assert_eq!(
        check(&json!({"spec": {"a": 2, "b": 1}}), &schema),
        Err(("spec".into(), "Invalid value: a must be below b".into()))
    );
    assert_eq!(
        check(
            &json!({"spec": {"a": 1, "b": 2, "names": ["xa", "y"]}}),
            &schema
        ),
        Err((
            "spec.names[1]".into(),
            "Invalid value: \"y\": starts with x".into()
        ))
    );
}

#[test]
fn an_absent_or_null_value_runs_no_rule() {
    let schema = json!({"type": "object", "properties": {"x": rules(json!([{"rule": "false"}]))}});
    assert_eq!(check(&json!({}), &schema), Ok(()));
    assert_eq!(check(&json!({"x": null}), &schema), Ok(()));
    assert!(check(&json!({"x": {}}), &schema).is_err());
}

#[test]
fn field_path_reason_and_message_expression_are_the_api_server_s() {
    let schema = rules(json!([{
        "rule": "has(self.a)",
        "messageExpression": "'a is missing, b is ' + string(self.b)",
        "message": "unused",
        "fieldPath": ".a",
        "reason": "FieldValueRequired"
    }]));
    assert_eq!(
        check(&json!({"b": 3}), &schema),
        Err(("a".into(), "Required value: a is missing, b is 3".into()))
    );
    let forbidden = rules(
        json!([{"rule": "!has(self.a)", "message": "no a", "reason": "FieldValueForbidden"}]),
    );
    assert_eq!(
        check(&json!({"a": 1}), &forbidden).unwrap_err().1,
        "Forbidden: no a"
    );
    // No message: the API server says which rule failed.
    let bare = rules(json!([{"rule": "self.size() == 0"}]));
    assert_eq!(
        check(&json!({"a": 1}), &bare).unwrap_err().1,
        "Invalid value: failed rule: self.size() == 0"
    );
}

#[test]
fn a_rule_that_cannot_be_evaluated_refuses() {
    for rule in [
        "url(self.u).getScheme() == 'https'",
        "self.nope == 1",
        "self.u +",
    ] {
        let schema = rules(json!([{"rule": rule, "message": "m"}]));
        let (field, message) = check(&json!({"u": "not a url"}), &schema).unwrap_err();
        assert_eq!(field, "");
        assert!(message.contains(rule), "{rule}: {message}");
    }
    assert_eq!(
        compile_errors(&rules(json!([{"rule": "self.u +"}, {"rule": "true"}]))).len(),
        1
    );
}

#[test]
fn maps_and_lists_bind_as_cel_values() {
    let schema = rules(
        json!([{"rule": "self.l.all(x, x > 0) && 'k' in self.m && self.m.k == 'v' && self.f == 1.5 && self.n == null"}]),
    );
    assert_eq!(
        check(
            &json!({"l": [1, 2], "m": {"k": "v"}, "f": 1.5, "n": null}),
            &schema
        ),
        Ok(())
    );
    assert!(
        check(
            &json!({"l": [1, 0], "m": {"k": "v"}, "f": 1.5, "n": null}),
            &schema
        )
        .is_err()
    );
}
