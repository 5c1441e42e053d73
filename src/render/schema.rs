//! A manifest checked against the CRD schema the API server would check it against:
//! the OpenAPI schema `portcullis crd` prints, generated from the Rust types. Unknown
//! fields (strict field validation), patterns, enums, lengths and item counts come from
//! that one schema, so `render` refuses what the API server refuses and names the field.
//! The CEL rules (`x-kubernetes-validations`) are evaluated from that same schema, the
//! way the API server evaluates them, by [`crate::api::cel`] (through `Validate`).

use crate::api::FieldError;
use serde_json::Value;

/// The `openAPIV3Schema` of `kind` at the version `api_version` names; an error naming
/// `apiVersion` when that version is not served (kubectl says "no matches for kind").
pub(crate) fn for_kind(api_version: &str, kind: &str) -> Result<Value, FieldError> {
    let crd = crate::api::crds()
        .into_iter()
        .find(|c| c.spec.names.kind == kind)
        .ok_or_else(|| {
            (
                "kind".to_string(),
                format!("{kind:?} is not a kind of ours"),
            )
        })?;
    let group = &crd.spec.group;
    let served: Vec<_> = crd.spec.versions.iter().filter(|v| v.served).collect();
    let version = api_version.strip_prefix(&format!("{group}/"));
    let Some(found) = served.iter().find(|v| Some(v.name.as_str()) == version) else {
        let names: Vec<String> = served
            .iter()
            .map(|v| format!("{group}/{}", v.name))
            .collect();
        return Err((
            "apiVersion".into(),
            format!(
                "{api_version:?} does not serve {kind}; use {}",
                names.join(" or ")
            ),
        ));
    };
    let schema = found
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref());
    Ok(serde_json::to_value(schema).expect("a schema serialises"))
}

/// Checks `value` (a whole object) against `schema`; the first problem, by field path.
pub fn check(value: &Value, schema: &Value) -> Result<(), FieldError> {
    walk(value, schema, "")
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(value: &Value, schema: &Value, path: &str) -> Result<(), FieldError> {
    if schema["x-kubernetes-preserve-unknown-fields"] == true {
        return Ok(());
    }
    match value {
        Value::Object(fields) => {
            let properties = schema["properties"].as_object();
            for key in schema["required"].as_array().into_iter().flatten() {
                let key = key.as_str().unwrap_or_default();
                if !fields.contains_key(key) {
                    return Err((join(path, key), "Required value".into()));
                }
            }
            for (key, field) in fields {
                let at = join(path, key);
                // The generated schema leaves the object's envelope to the API server.
                if path.is_empty() && (key == "apiVersion" || key == "kind") {
                    continue;
                }
                if path.is_empty() && key == "metadata" {
                    metadata(field)?;
                } else if let Some(sub) = properties.and_then(|p| p.get(key)) {
                    walk(field, sub, &at)?;
                } else if schema["additionalProperties"].is_object() {
                    walk(field, &schema["additionalProperties"], &at)?;
                } else if let Some(p) = properties {
                    return Err((at, unknown(key, p.keys())));
                }
            }
        }
        Value::Array(items) => {
            count(path, items.len(), schema, "minItems", "maxItems", "items")?;
            for (i, item) in items.iter().enumerate() {
                walk(item, &schema["items"], &format!("{path}[{i}]"))?;
            }
        }
        Value::String(s) => {
            count(
                path,
                s.chars().count(),
                schema,
                "minLength",
                "maxLength",
                "characters",
            )?;
            if let Some(pattern) = schema["pattern"].as_str() {
                let re = regex::Regex::new(pattern).expect("the CRD's patterns compile");
                if !re.is_match(s) {
                    return Err((path.into(), format!("{s:?} should match '{pattern}'")));
                }
            }
            if let Some(allowed) = schema["enum"].as_array()
                && !allowed.contains(value)
            {
                let names: Vec<String> = allowed.iter().map(|v| v.to_string()).collect();
                return Err((
                    path.into(),
                    format!("{s:?} is not one of {}", names.join(", ")),
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

fn count(
    path: &str,
    n: usize,
    schema: &Value,
    min: &str,
    max: &str,
    what: &str,
) -> Result<(), FieldError> {
    if let Some(m) = schema[min].as_u64()
        && (n as u64) < m
    {
        return Err((path.into(), format!("needs at least {m} {what}")));
    }
    if let Some(m) = schema[max].as_u64()
        && (n as u64) > m
    {
        return Err((path.into(), format!("allows at most {m} {what}")));
    }
    Ok(())
}

/// The CRD schema leaves `metadata` to the API server's ObjectMeta; its field names come
/// from the same generated ObjectMeta schema.
fn metadata(value: &Value) -> Result<(), FieldError> {
    let schema = serde_json::to_value(schemars::schema_for!(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta
    ))
    .expect("a schema serialises");
    let Some(known) = schema["properties"].as_object() else {
        return Ok(());
    };
    for key in value.as_object().into_iter().flat_map(|m| m.keys()) {
        if !known.contains_key(key) {
            return Err((format!("metadata.{key}"), unknown(key, known.keys())));
        }
    }
    Ok(())
}

/// "unknown field", with the nearest valid name when one is close (a typo), else the
/// valid names.
fn unknown<'a>(key: &str, valid: impl Iterator<Item = &'a String>) -> String {
    let valid: Vec<&String> = valid.collect();
    let nearest = valid
        .iter()
        .map(|v| {
            (
                strsim::levenshtein(&key.to_lowercase(), &v.to_lowercase()),
                v,
            )
        })
        .min();
    match nearest {
        Some((d, name)) if d <= 2.max(key.len() / 3) => {
            format!("unknown field; did you mean {name:?}?")
        }
        _ => {
            let names: Vec<&str> = valid.iter().map(|v| v.as_str()).collect();
            format!("unknown field; valid fields: {}", names.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn route(spec: Value) -> Result<(), FieldError> {
        let schema = for_kind("portcullis.dev/v1alpha1", "ForwardAuthRoute").unwrap();
        check(
            &json!({"apiVersion": "portcullis.dev/v1alpha1", "kind": "ForwardAuthRoute",
                "metadata": {"name": "r"}, "spec": spec}),
            &schema,
        )
    }

    #[test]
    fn unknown_fields_name_the_path_and_the_nearest_valid_name() {
        let base = json!({"hosts": ["a.example.com"], "providerRef": {"name": "p"}});
        assert_eq!(route(base.clone()), Ok(()));
        let mut typo = base.clone();
        typo["polcy"] = json!({});
        assert_eq!(
            route(typo),
            Err((
                "spec.polcy".into(),
                "unknown field; did you mean \"policy\"?".into()
            ))
        );
        let mut nested = base.clone();
        nested["policy"] = json!({"group": ["a"]});
        assert_eq!(route(nested).unwrap_err().0, "spec.policy.group");
        let mut far = base.clone();
        far["zzzzzzzzzz"] = json!(1);
        assert!(route(far).unwrap_err().1.contains("valid fields: "));
        let mut claims = base.clone();
        claims["policy"] = json!({"claims": [{"claim": "c", "values": ["v"], "vals": 1}]});
        assert_eq!(route(claims).unwrap_err().0, "spec.policy.claims[0].vals");
    }

    #[test]
    fn patterns_enums_and_required_fields_come_from_the_schema() {
        let with = |extra: Value| {
            let mut spec = json!({"hosts": ["a.example.com"], "providerRef": {"name": "p"}});
            spec.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            route(spec)
        };
        assert_eq!(
            with(json!({"session": {"lifetime": "1d"}})).unwrap_err().0,
            "spec.session.lifetime"
        );
        assert_eq!(
            with(json!({"headers": {"preset": "oauth2proxy"}}))
                .unwrap_err()
                .0,
            "spec.headers.preset"
        );
        assert_eq!(with(json!({"hosts": []})).unwrap_err().0, "spec.hosts");
        assert_eq!(
            route(json!({"hosts": ["a.example.com"]})).unwrap_err().0,
            "spec.providerRef"
        );
    }

    #[test]
    fn versions_and_metadata_are_checked() {
        assert_eq!(
            for_kind("portcullis.dev/v1", "ForwardAuthRoute")
                .unwrap_err()
                .1,
            "\"portcullis.dev/v1\" does not serve ForwardAuthRoute; use portcullis.dev/v1alpha1"
        );
        let schema = for_kind("portcullis.dev/v1alpha1", "OIDCProvider").unwrap();
        let err = check(
            &json!({"metadata": {"name": "p", "lables": {}}, "spec": {}}),
            &schema,
        );
        assert_eq!(
            err,
            Err((
                "metadata.lables".into(),
                "unknown field; did you mean \"labels\"?".into()
            ))
        );
    }
}

#[cfg(test)]
#[path = "schema_cel_tests.rs"]
mod cel_tests;
