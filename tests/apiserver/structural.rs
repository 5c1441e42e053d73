//! Validation of CustomResourceDefinition objects: names, versions, and the
//! structural-schema rules the real apiextensions server enforces.

use super::status::Cause;
use serde_json::Value;

/// Causes for an invalid CRD (empty when it may be stored).
pub fn validate_crd(crd: &Value) -> Vec<Cause> {
    let mut causes = vec![];
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let plural = spec["names"]["plural"].as_str().unwrap_or_default();
    let name = crd["metadata"]["name"].as_str().unwrap_or_default();
    if group.is_empty() {
        causes.push(Cause::new(
            "FieldValueRequired",
            "spec.group",
            "Required value",
        ));
    } else if !group.contains('.') {
        causes.push(Cause::new(
            "FieldValueInvalid",
            "spec.group",
            format!("Invalid value: \"{group}\": should be a domain with at least one dot"),
        ));
    }
    if plural.is_empty() {
        causes.push(Cause::new(
            "FieldValueRequired",
            "spec.names.plural",
            "Required value",
        ));
    }
    if spec["names"]["kind"]
        .as_str()
        .unwrap_or_default()
        .is_empty()
    {
        causes.push(Cause::new(
            "FieldValueRequired",
            "spec.names.kind",
            "Required value",
        ));
    }
    if !plural.is_empty() && !group.is_empty() && name != format!("{plural}.{group}") {
        causes.push(Cause::new(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    match spec["scope"].as_str() {
        Some("Namespaced") | Some("Cluster") => {}
        other => causes.push(Cause::new(
            "FieldValueNotSupported",
            "spec.scope",
            format!(
                "Unsupported value: \"{}\": supported values: \"Cluster\", \"Namespaced\"",
                other.unwrap_or_default()
            ),
        )),
    }
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    if versions.is_empty() {
        causes.push(Cause::new(
            "FieldValueRequired",
            "spec.versions",
            "Required value: must have exactly one version marked as storage version",
        ));
    }
    let storage = versions
        .iter()
        .filter(|v| v["storage"].as_bool() == Some(true))
        .count();
    if !versions.is_empty() && storage != 1 {
        causes.push(Cause::new(
            "FieldValueInvalid",
            "spec.versions",
            format!(
                "Invalid value: {}: must have exactly one version marked as storage version",
                Value::Array(versions.clone())
                    .to_string()
                    .chars()
                    .take(80)
                    .collect::<String>()
            ),
        ));
    }
    for (i, v) in versions.iter().enumerate() {
        let base = format!("spec.versions[{i}].schema.openAPIV3Schema");
        match v["schema"].get("openAPIV3Schema") {
            Some(schema) if schema.is_object() => {
                if schema["type"].as_str() != Some("object") {
                    causes.push(Cause::new(
                        "FieldValueInvalid",
                        &format!("{base}.type"),
                        format!(
                            "Invalid value: {}: must be object at the root",
                            schema["type"]
                        ),
                    ));
                }
                if let Some(meta) = schema["properties"].get("metadata") {
                    check_metadata(meta, &format!("{base}.properties[metadata]"), &mut causes);
                }
                structural(schema, &base, true, &mut causes);
            }
            _ => causes.push(Cause::new(
                "FieldValueRequired",
                &base,
                "Required value: schemas are required",
            )),
        }
    }
    causes
}

fn check_metadata(meta: &Value, path: &str, causes: &mut Vec<Cause>) {
    let allowed_top = |k: &str| matches!(k, "type" | "properties" | "description");
    let bad_top = meta
        .as_object()
        .is_some_and(|m| m.keys().any(|k| !allowed_top(k)));
    let bad_props = meta["properties"].as_object().is_some_and(|p| {
        p.iter().any(|(k, v)| {
            !matches!(k.as_str(), "name" | "generateName")
                || v["type"].as_str() != Some("string")
                || v.as_object().is_some_and(|o| {
                    o.keys().any(|f| {
                        !matches!(
                            f.as_str(),
                            "type"
                                | "description"
                                | "pattern"
                                | "maxLength"
                                | "minLength"
                                | "enum"
                                | "format"
                        )
                    })
                })
        })
    });
    if bad_top || bad_props {
        causes.push(Cause::new(
            "FieldValueForbidden",
            path,
            "Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified",
        ));
    }
}

fn structural(schema: &Value, path: &str, root: bool, causes: &mut Vec<Cause>) {
    let int_or_string = schema["x-kubernetes-int-or-string"].as_bool() == Some(true);
    let preserve = schema.get("x-kubernetes-preserve-unknown-fields");
    if preserve.is_some_and(|p| p.as_bool() != Some(true)) {
        causes.push(Cause::new(
            "FieldValueInvalid",
            &format!("{path}.x-kubernetes-preserve-unknown-fields"),
            "Invalid value: false: must be true or undefined",
        ));
    }
    let preserve = preserve.and_then(Value::as_bool) == Some(true);
    if !root && !int_or_string && !preserve && schema["type"].as_str().is_none_or(str::is_empty) {
        causes.push(Cause::new(
            "FieldValueRequired",
            &format!("{path}.type"),
            "Required value: must not be empty for specified object fields",
        ));
    }
    if schema["properties"].is_object() && schema.get("additionalProperties").is_some() {
        causes.push(Cause::new(
            "FieldValueForbidden",
            &format!("{path}.additionalProperties"),
            "Forbidden: additionalProperties and properties are mutual exclusive",
        ));
    }
    if schema["additionalProperties"].as_bool() == Some(false) {
        causes.push(Cause::new(
            "FieldValueForbidden",
            &format!("{path}.additionalProperties"),
            "Forbidden: must not be false",
        ));
    }
    if schema["type"].as_str() == Some("array") && !schema["items"].is_object() {
        causes.push(Cause::new(
            "FieldValueRequired",
            &format!("{path}.items"),
            "Required value: must be specified",
        ));
    }
    if schema["x-kubernetes-list-type"].as_str() == Some("map") {
        let keys = schema["x-kubernetes-list-map-keys"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if keys.is_empty() {
            causes.push(Cause::new(
                "FieldValueRequired",
                &format!("{path}.x-kubernetes-list-map-keys"),
                "Required value: must not be empty if x-kubernetes-list-type is map",
            ));
        }
        let item_props = &schema["items"]["properties"];
        for k in keys.iter().filter_map(Value::as_str) {
            if item_props.get(k).is_none() {
                causes.push(Cause::new(
                    "FieldValueInvalid",
                    &format!("{path}.x-kubernetes-list-map-keys"),
                    format!("Invalid value: \"{k}\": entries must all be names of item properties"),
                ));
            }
        }
    }
    if let Some(props) = schema["properties"].as_object() {
        for (k, child) in props {
            if root && k == "metadata" {
                continue;
            }
            structural(child, &format!("{path}.properties[{k}]"), false, causes);
        }
    }
    if schema["items"].is_object() {
        structural(&schema["items"], &format!("{path}.items"), false, causes);
    }
    if schema["additionalProperties"].is_object() {
        structural(
            &schema["additionalProperties"],
            &format!("{path}.additionalProperties"),
            false,
            causes,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd(schema: Value) -> Value {
        json!({"metadata": {"name": "widgets.example.dev"}, "spec": {"group": "example.dev",
            "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": schema}}]}})
    }

    #[test]
    fn structural_schema_is_accepted() {
        let s = json!({"type": "object", "properties": {"spec": {"type": "object",
            "x-kubernetes-validations": [{"rule": "self.a > 0"}],
            "properties": {"a": {"type": "integer"}, "p": {"x-kubernetes-int-or-string": true},
                           "m": {"type": "object", "additionalProperties": {"type": "string"}}}}}});
        assert!(validate_crd(&crd(s)).is_empty());
    }

    #[test]
    fn non_structural_schemas_are_refused() {
        let s = json!({"type": "object", "properties": {
            "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
            "spec": {"type": "object", "properties": {"a": {"description": "no type"}},
                     "additionalProperties": {"type": "string"}}}});
        let fields: Vec<String> = validate_crd(&crd(s)).into_iter().map(|c| c.field).collect();
        let base = "spec.versions[0].schema.openAPIV3Schema";
        assert!(
            fields.contains(&format!("{base}.properties[metadata]")),
            "{fields:?}"
        );
        assert!(fields.contains(&format!("{base}.properties[spec].properties[a].type")));
        assert!(fields.contains(&format!("{base}.properties[spec].additionalProperties")));
    }
}
