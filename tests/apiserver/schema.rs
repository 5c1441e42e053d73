//! Custom-resource handling against a CRD's OpenAPI v3 schema: defaulting, pruning of
//! unknown fields and validation with real-server-like causes. CEL rules
//! (`x-kubernetes-validations`) and `allOf`/`anyOf`/`oneOf`/`not` are not evaluated.

use super::status::Cause;
use super::util::parse_rfc3339;
use serde_json::{Map, Value};

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn flag(schema: &Value, name: &str) -> bool {
    schema[name].as_bool() == Some(true)
}

/// Applies `default`s, drops nulls of non-nullable fields and prunes fields the schema
/// does not declare, recording their paths in `unknown`. At the root, `apiVersion`,
/// `kind` and `metadata` are left alone (metadata is checked separately).
pub fn prune_and_default(value: &mut Value, schema: &Value, path: &str, unknown: &mut Vec<String>) {
    match value {
        Value::Object(map) => prune_object(map, schema, path, unknown),
        Value::Array(items) if schema["items"].is_object() => {
            for (i, item) in items.iter_mut().enumerate() {
                prune_and_default(item, &schema["items"], &format!("{path}[{i}]"), unknown);
            }
        }
        _ => {}
    }
}

fn prune_object(
    map: &mut Map<String, Value>,
    schema: &Value,
    path: &str,
    unknown: &mut Vec<String>,
) {
    let props = schema["properties"].as_object();
    let additional = schema["additionalProperties"].is_object();
    let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
    if schema["x-kubernetes-int-or-string"].as_bool() == Some(true) {
        return;
    }
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        if path.is_empty() && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        let child_schema = match props.and_then(|p| p.get(&key)) {
            Some(s) => Some(s),
            None if additional => Some(&schema["additionalProperties"]),
            None => None,
        };
        match child_schema {
            Some(cs) => {
                if map[&key].is_null() && !flag(cs, "nullable") {
                    map.remove(&key);
                    continue;
                }
                if let Some(child) = map.get_mut(&key) {
                    prune_and_default(child, cs, &join(path, &key), unknown);
                }
            }
            None if preserve => {}
            None => {
                map.remove(&key);
                unknown.push(join(path, &key));
            }
        }
    }
    if let Some(props) = props {
        for (key, cs) in props {
            if !map.contains_key(key)
                && let Some(default) = cs.get("default")
            {
                let mut v = default.clone();
                prune_and_default(&mut v, cs, &join(path, key), &mut vec![]);
                map.insert(key.clone(), v);
            }
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_ok(want: &str, v: &Value) -> bool {
    match want {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "number" => v.is_number(),
        "integer" => {
            v.as_i64().is_some()
                || v.as_u64().is_some()
                || v.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => true,
    }
}

fn invalid(causes: &mut Vec<Cause>, path: &str, v: &Value, detail: String) {
    causes.push(Cause::new(
        "FieldValueInvalid",
        path,
        format!("Invalid value: {v}: {detail}"),
    ));
}

fn format_ok(format: &str, s: &str) -> bool {
    use base64::Engine as _;
    match format {
        "date-time" => parse_rfc3339(s).is_some(),
        "date" => s.len() == 10 && parse_rfc3339(&format!("{s}T00:00:00Z")).is_some(),
        "byte" => base64::engine::general_purpose::STANDARD.decode(s).is_ok(),
        "uuid" => {
            s.len() == 36
                && s.chars().enumerate().all(|(i, c)| {
                    if matches!(i, 8 | 13 | 18 | 23) {
                        c == '-'
                    } else {
                        c.is_ascii_hexdigit()
                    }
                })
        }
        "email" => s
            .split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && b.contains('.')),
        "uri" => url::Url::parse(s).is_ok(),
        "hostname" => super::util::is_dns_subdomain(s),
        _ => true,
    }
}

/// Validates `value` against `schema`, appending causes. `path` is the field path of
/// `value` (`""` at the root).
pub fn validate(value: &Value, schema: &Value, path: &str, causes: &mut Vec<Cause>) {
    if value.is_null() {
        if !flag(schema, "nullable") && schema.get("type").is_some() {
            let t = schema["type"].as_str().unwrap_or_default();
            causes.push(Cause::new(
                "FieldValueTypeInvalid",
                path,
                format!("Invalid value: \"null\": {path} in body must be of type {t}: \"null\""),
            ));
        }
        return;
    }
    if flag(schema, "x-kubernetes-int-or-string") {
        if !(value.is_string() || type_ok("integer", value)) {
            let t = type_name(value);
            causes.push(Cause::new(
                "FieldValueTypeInvalid",
                path,
                format!(
                    "Invalid value: \"{t}\": {path} in body must be of type integer,string: \"{t}\""
                ),
            ));
            return;
        }
    } else if let Some(t) = schema["type"].as_str()
        && !type_ok(t, value)
    {
        let actual = type_name(value);
        causes.push(Cause::new(
            "FieldValueTypeInvalid",
            path,
            format!(
                "Invalid value: \"{actual}\": {path} in body must be of type {t}: \"{actual}\""
            ),
        ));
        return;
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        let list: Vec<String> = options.iter().map(Value::to_string).collect();
        causes.push(Cause::new(
            "FieldValueNotSupported",
            path,
            format!(
                "Unsupported value: {value}: supported values: {}",
                list.join(", ")
            ),
        ));
    }
    match value {
        Value::String(s) => validate_string(s, value, schema, path, causes),
        Value::Number(n) => validate_number(n.as_f64().unwrap_or(0.0), value, schema, path, causes),
        Value::Array(items) => validate_array(items, value, schema, path, causes),
        Value::Object(map) => validate_object(map, schema, path, causes),
        _ => {}
    }
}

fn validate_string(s: &str, value: &Value, schema: &Value, path: &str, causes: &mut Vec<Cause>) {
    let len = s.chars().count() as u64;
    if let Some(min) = schema["minLength"].as_u64()
        && len < min
    {
        invalid(
            causes,
            path,
            value,
            format!("{path} in body should be at least {min} chars long"),
        );
    }
    if let Some(max) = schema["maxLength"].as_u64()
        && len > max
    {
        causes.push(Cause::new(
            "FieldValueTooLong",
            path,
            format!("Too long: may not be more than {max} bytes"),
        ));
    }
    if let Some(p) = schema["pattern"].as_str() {
        match regex::Regex::new(p) {
            Ok(re) if !re.is_match(s) => invalid(
                causes,
                path,
                value,
                format!("{path} in body should match '{p}'"),
            ),
            _ => {}
        }
    }
    if let Some(f) = schema["format"].as_str()
        && !format_ok(f, s)
    {
        invalid(
            causes,
            path,
            value,
            format!("{path} in body must be of type {f}: {value}"),
        );
    }
}

fn validate_number(n: f64, value: &Value, schema: &Value, path: &str, causes: &mut Vec<Cause>) {
    if let Some(min) = schema["minimum"].as_f64() {
        let exclusive = flag(schema, "exclusiveMinimum");
        if n < min || (exclusive && n == min) {
            let rel = if exclusive {
                "greater than"
            } else {
                "greater than or equal to"
            };
            invalid(
                causes,
                path,
                value,
                format!("{path} in body should be {rel} {}", schema["minimum"]),
            );
        }
    }
    if let Some(max) = schema["maximum"].as_f64() {
        let exclusive = flag(schema, "exclusiveMaximum");
        if n > max || (exclusive && n == max) {
            let rel = if exclusive {
                "less than"
            } else {
                "less than or equal to"
            };
            invalid(
                causes,
                path,
                value,
                format!("{path} in body should be {rel} {}", schema["maximum"]),
            );
        }
    }
    if schema["format"].as_str() == Some("int32") && (n < i32::MIN as f64 || n > i32::MAX as f64) {
        invalid(
            causes,
            path,
            value,
            format!("{path} in body must be of type int32: {value}"),
        );
    }
}

fn validate_array(
    items: &[Value],
    value: &Value,
    schema: &Value,
    path: &str,
    causes: &mut Vec<Cause>,
) {
    let n = items.len() as u64;
    if let Some(min) = schema["minItems"].as_u64()
        && n < min
    {
        invalid(
            causes,
            path,
            &Value::from(n),
            format!("{path} in body should have at least {min} items"),
        );
    }
    if let Some(max) = schema["maxItems"].as_u64()
        && n > max
    {
        causes.push(Cause::new(
            "FieldValueTooMany",
            path,
            format!("Too many: {n}: must have at most {max} items"),
        ));
    }
    let _ = value;
    match schema["x-kubernetes-list-type"].as_str() {
        Some("map") => {
            let keys: Vec<&str> = schema["x-kubernetes-list-map-keys"]
                .as_array()
                .map(|k| k.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut seen: Vec<Value> = vec![];
            for (i, item) in items.iter().enumerate() {
                let key: Map<String, Value> = keys
                    .iter()
                    .filter_map(|k| item.get(*k).map(|v| (k.to_string(), v.clone())))
                    .collect();
                let key = Value::Object(key);
                if seen.contains(&key) {
                    causes.push(Cause::new(
                        "FieldValueDuplicate",
                        &format!("{path}[{i}]"),
                        format!("Duplicate value: {key}"),
                    ));
                } else {
                    seen.push(key);
                }
            }
        }
        Some("set") => {
            for (i, item) in items.iter().enumerate() {
                if items[..i].contains(item) {
                    causes.push(Cause::new(
                        "FieldValueDuplicate",
                        &format!("{path}[{i}]"),
                        format!("Duplicate value: {item}"),
                    ));
                }
            }
        }
        _ => {}
    }
    if schema["items"].is_object() {
        for (i, item) in items.iter().enumerate() {
            validate(item, &schema["items"], &format!("{path}[{i}]"), causes);
        }
    }
}

fn validate_object(map: &Map<String, Value>, schema: &Value, path: &str, causes: &mut Vec<Cause>) {
    for req in schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if path.is_empty() && matches!(req, "apiVersion" | "kind" | "metadata") {
            continue;
        }
        if !map.contains_key(req) {
            causes.push(Cause::new(
                "FieldValueRequired",
                &join(path, req),
                "Required value",
            ));
        }
    }
    let props = schema["properties"].as_object();
    for (key, child) in map {
        if path.is_empty() && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        if let Some(cs) = props.and_then(|p| p.get(key)) {
            validate(child, cs, &join(path, key), causes);
        } else if schema["additionalProperties"].is_object() {
            validate(
                child,
                &schema["additionalProperties"],
                &join(path, key),
                causes,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["color"],
        "properties": {
            "color": {"type": "string", "enum": ["red", "blue"]},
            "size": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3},
            "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
            "port": {"x-kubernetes-int-or-string": true},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            "tags": {"type": "object", "additionalProperties": {"type": "string"}},
            "items": {"type": "array", "maxItems": 2, "x-kubernetes-list-type": "map",
                      "x-kubernetes-list-map-keys": ["k"],
                      "items": {"type": "object", "properties": {"k": {"type": "string"}}}}
        }}}})
    }

    #[test]
    fn prunes_unknown_and_applies_defaults() {
        let mut v = json!({"apiVersion": "x/v1", "kind": "W", "metadata": {"name": "a"},
            "spec": {"color": "red", "bogus": 1, "free": {"any": {"thing": 1}}, "tags": {"a": "b"}}, "extra": true});
        let mut unknown = vec![];
        prune_and_default(&mut v, &schema(), "", &mut unknown);
        assert_eq!(unknown, vec!["extra".to_string(), "spec.bogus".to_string()]);
        assert_eq!(v["spec"]["size"], json!(3));
        assert_eq!(v["spec"]["free"]["any"]["thing"], json!(1));
        assert_eq!(v["metadata"]["name"], json!("a"));
    }

    #[test]
    fn reports_causes_with_paths() {
        let v = json!({"spec": {"color": "purple", "size": 20, "name": "Bad_Name", "port": true,
            "tags": {"a": 1}, "items": [{"k": "x"}, {"k": "x"}, {"k": "y"}]}});
        let mut causes = vec![];
        validate(&v, &schema(), "", &mut causes);
        let fields: Vec<(&str, &str)> = causes
            .iter()
            .map(|c| (c.field.as_str(), c.reason.as_str()))
            .collect();
        assert!(
            fields.contains(&("spec.color", "FieldValueNotSupported")),
            "{fields:?}"
        );
        assert!(fields.contains(&("spec.size", "FieldValueInvalid")));
        assert!(fields.contains(&("spec.name", "FieldValueInvalid")));
        assert!(fields.contains(&("spec.name", "FieldValueTooLong")));
        assert!(fields.contains(&("spec.port", "FieldValueTypeInvalid")));
        assert!(fields.contains(&("spec.tags.a", "FieldValueTypeInvalid")));
        assert!(fields.contains(&("spec.items", "FieldValueTooMany")));
        assert!(fields.contains(&("spec.items[1]", "FieldValueDuplicate")));
        let mut causes = vec![];
        validate(&json!({"spec": {}}), &schema(), "", &mut causes);
        assert_eq!(
            causes,
            vec![Cause::new(
                "FieldValueRequired",
                "spec.color",
                "Required value"
            )]
        );
    }
}
