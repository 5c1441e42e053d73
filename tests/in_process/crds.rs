//! The CRD manifests in `crds/` are what the code generates, and every schema is one the
//! API server accepts (structural, no defaults that would fight GitOps).

use serde_json::Value;
use std::path::Path;

#[test]
fn crds_directory_matches_the_generated_crds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let generated = portcullis::crdgen::crd_files();
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut names: Vec<String> = generated.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    assert_eq!(
        on_disk, names,
        "crds/ has other files than the code generates; run scripts/regen"
    );
    for (name, yaml) in generated {
        let disk = std::fs::read_to_string(dir.join(&name)).unwrap();
        assert!(
            disk == yaml,
            "crds/{name} differs from `portcullis crd`; run scripts/regen"
        );
    }
}

/// Collects every place a schema breaks the structural rules of apiextensions.k8s.io/v1.
#[test]
fn the_field_reference_is_generated_from_the_crds() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reference/crds.md");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == portcullis::crd_reference::markdown(&portcullis::api::crds()),
        "docs/reference/crds.md differs from `portcullis crd --reference`; run scripts/regen docs"
    );
}

#[test]
fn the_outpost_config_reference_is_generated_from_the_types() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reference/outpost-config.md");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = portcullis::crd_reference::outpost_config_markdown();
    assert!(
        on_disk == generated,
        "docs/reference/outpost-config.md differs from `portcullis outpost --config-reference`; run scripts/regen docs"
    );
    // The schema really came through: nested fields, required marks and defaults.
    for row in [
        "| `routes[].policy` | object | yes |  |",
        "| `routes[].policy.allowAnyAuthenticated` | boolean |",
        "| `providers.<key>.clientSecret.secretKeyRef.name` | string | yes |",
        "| `routes[].session.cookieName` | string |",
    ] {
        assert!(generated.contains(row), "missing {row:?}");
    }
}

fn structural_errors(node: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(obj) = node.as_object() else {
        errors.push(format!("{path}: schema node is not an object"));
        return;
    };
    let typed = obj.contains_key("type")
        || obj.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        || obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    if !typed {
        errors.push(format!(
            "{path}: no type (and not int-or-string / preserve-unknown-fields)"
        ));
    }
    if let Some(t) = obj.get("type")
        && !t.is_string()
    {
        errors.push(format!("{path}: type must be one string, got {t}"));
    }
    for forbidden in [
        "$ref",
        "definitions",
        "$schema",
        "default",
        "additionalItems",
        "patternProperties",
        "dependencies",
        "uniqueItems",
    ] {
        if obj.contains_key(forbidden) {
            errors.push(format!("{path}: {forbidden} is not allowed"));
        }
    }
    if obj.contains_key("properties") && obj.contains_key("additionalProperties") {
        errors.push(format!(
            "{path}: properties and additionalProperties are mutually exclusive"
        ));
    }
    for junction in ["anyOf", "oneOf", "allOf", "not"] {
        if let Some(v) = obj.get(junction) {
            // Inside value validations, nodes may not declare types, descriptions etc.
            let items: Vec<&Value> = match v {
                Value::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            for item in items {
                for k in [
                    "type",
                    "description",
                    "default",
                    "nullable",
                    "additionalProperties",
                    "x-kubernetes-preserve-unknown-fields",
                ] {
                    if item.get(k).is_some() {
                        errors.push(format!(
                            "{path}.{junction}: {k} is not allowed in value validations"
                        ));
                    }
                }
            }
        }
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            structural_errors(v, &format!("{path}.{k}"), errors);
        }
    }
    if let Some(items) = obj.get("items") {
        structural_errors(items, &format!("{path}[]"), errors);
    }
    if let Some(ap) = obj.get("additionalProperties").filter(|v| v.is_object()) {
        structural_errors(ap, &format!("{path}{{}}"), errors);
    }
    if obj.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map") {
        let keys = obj
            .get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let required = node
            .pointer("/items/required")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for k in &keys {
            if !required.contains(k) {
                errors.push(format!(
                    "{path}: list-map key {k} must be required in items"
                ));
            }
        }
        if keys.is_empty() {
            errors.push(format!(
                "{path}: list-type map needs x-kubernetes-list-map-keys"
            ));
        }
    }
}

#[test]
fn every_schema_is_structural() {
    for crd in portcullis::api::crds() {
        let name = crd.metadata.name.clone().unwrap();
        for version in &crd.spec.versions {
            let schema =
                serde_json::to_value(&version.schema.as_ref().unwrap().open_api_v3_schema).unwrap();
            let mut errors = Vec::new();
            structural_errors(&schema, &format!("{name}/{}", version.name), &mut errors);
            // metadata may only restrict name and generateName.
            if let Some(meta) = schema
                .pointer("/properties/metadata/properties")
                .and_then(Value::as_object)
            {
                for k in meta.keys().filter(|k| *k != "name" && *k != "generateName") {
                    errors.push(format!("{name}: metadata.{k} may not be specified"));
                }
            }
            assert!(
                errors.is_empty(),
                "non-structural schema:\n{}",
                errors.join("\n")
            );
            assert!(
                version
                    .subresources
                    .as_ref()
                    .and_then(|s| s.status.as_ref())
                    .is_some(),
                "{name}: status subresource"
            );
        }
    }
}

#[test]
fn the_structural_check_catches_what_the_api_server_refuses() {
    let bad = serde_json::json!({
        "type": "object",
        "properties": {
            "untyped": {"description": "no type"},
            "both": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string"}},
            "defaulted": {"type": "string", "default": "x"},
            "conditions": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"], "items": {"type": "object"}}
        }
    });
    let mut errors = Vec::new();
    structural_errors(&bad, "bad", &mut errors);
    let text = errors.join("\n");
    for needle in [
        "bad.untyped: no type",
        "mutually exclusive",
        "default is not allowed",
        "list-map key",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn crds_carry_printer_columns_and_conditions_as_a_list_map() {
    for crd in portcullis::api::crds() {
        let version = &crd.spec.versions[0];
        let columns: Vec<&str> = version
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| c.name.as_str())
            .collect();
        assert!(
            columns.contains(&"Ready") && columns.contains(&"Age"),
            "{columns:?}"
        );
        let schema =
            serde_json::to_value(&version.schema.as_ref().unwrap().open_api_v3_schema).unwrap();
        let conditions = schema
            .pointer("/properties/status/properties/conditions")
            .unwrap();
        assert_eq!(conditions["x-kubernetes-list-type"], "map");
        assert_eq!(
            conditions["x-kubernetes-list-map-keys"],
            serde_json::json!(["type"])
        );
        assert_eq!(crd.spec.group, "portcullis.dev");
        assert_eq!(crd.spec.scope, "Namespaced");
    }
}
