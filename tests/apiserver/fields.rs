//! Field sets (`fieldsV1`) for managed-fields tracking: which paths an object sets,
//! how lists are keyed (schema `x-kubernetes-list-type`, or known built-in keys), and
//! reading/removing values at a path.

use super::registry::ResourceInfo;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// A path in fieldsV1 notation: `["f:spec", "f:items", "k:{\"name\":\"a\"}", "f:x"]`.
pub type FieldPath = Vec<String>;
/// A set of owned paths.
pub type FieldSet = BTreeSet<FieldPath>;

/// Which part of the object a write may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The main resource of a type without a status subresource: everything.
    All,
    /// The main resource of a type with a status subresource: all but `.status`.
    NoStatus,
    /// The `/status` subresource: `.status` only.
    StatusOnly,
}

enum ListKind {
    Atomic,
    Set,
    Map(Vec<String>),
}

fn list_kind(schema: Option<&Value>, field: &str) -> ListKind {
    if let Some(s) = schema {
        return match s["x-kubernetes-list-type"].as_str() {
            Some("map") => ListKind::Map(
                s["x-kubernetes-list-map-keys"]
                    .as_array()
                    .map(|k| {
                        k.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            Some("set") => ListKind::Set,
            _ => ListKind::Atomic,
        };
    }
    if field == "finalizers" {
        return ListKind::Set;
    }
    match ResourceInfo::builtin_list_key(field) {
        Some(keys) => ListKind::Map(keys.iter().map(|k| k.to_string()).collect()),
        None => ListKind::Atomic,
    }
}

fn child_schema<'a>(schema: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    let s = schema?;
    s["properties"]
        .get(key)
        .or_else(|| s.get("additionalProperties").filter(|a| a.is_object()))
}

fn item_key(item: &Value, keys: &[String]) -> String {
    let map: Map<String, Value> = keys
        .iter()
        .filter_map(|k| item.get(k).map(|v| (k.clone(), v.clone())))
        .collect();
    format!("k:{}", Value::Object(map))
}

/// The paths `obj` sets, limited to `scope` (apiVersion, kind and server-owned
/// metadata never count; labels, annotations, finalizers and ownerReferences do).
pub fn field_set(obj: &Value, schema: Option<&Value>, scope: Scope) -> FieldSet {
    let mut out = FieldSet::new();
    let Some(map) = obj.as_object() else {
        return out;
    };
    for (k, v) in map {
        let keep = match (k.as_str(), scope) {
            ("apiVersion" | "kind", _) => false,
            ("status", Scope::NoStatus) => false,
            ("status", _) => true,
            (_, Scope::StatusOnly) => false,
            _ => true,
        };
        if !keep {
            continue;
        }
        let mut prefix = vec![format!("f:{k}")];
        if k == "metadata" {
            for mk in ["labels", "annotations", "finalizers", "ownerReferences"] {
                if let Some(mv) = v.get(mk) {
                    prefix.push(format!("f:{mk}"));
                    collect(mv, None, mk, &mut prefix, &mut out);
                    prefix.pop();
                }
            }
            continue;
        }
        collect(v, child_schema(schema, k), k, &mut prefix, &mut out);
    }
    out
}

fn collect(
    v: &Value,
    schema: Option<&Value>,
    field: &str,
    prefix: &mut FieldPath,
    out: &mut FieldSet,
) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                prefix.push(format!("f:{k}"));
                collect(child, child_schema(schema, k), k, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => match list_kind(schema, field) {
            ListKind::Atomic => {
                out.insert(prefix.clone());
            }
            ListKind::Set => {
                for item in items {
                    prefix.push(format!("v:{item}"));
                    out.insert(prefix.clone());
                    prefix.pop();
                }
            }
            ListKind::Map(keys) => {
                let item_schema = schema.map(|s| &s["items"]).filter(|s| s.is_object());
                for item in items {
                    prefix.push(item_key(item, &keys));
                    prefix.push(".".into());
                    out.insert(prefix.clone());
                    prefix.pop();
                    collect(item, item_schema, "", prefix, out);
                    prefix.pop();
                }
            }
        },
        _ => {
            out.insert(prefix.clone());
        }
    }
}

fn matches_element(item: &Value, elem: &str) -> bool {
    if let Some(k) = elem.strip_prefix("k:") {
        let Ok(Value::Object(key)) = serde_json::from_str::<Value>(k) else {
            return false;
        };
        key.iter().all(|(f, want)| item.get(f) == Some(want))
    } else if let Some(v) = elem.strip_prefix("v:") {
        serde_json::from_str::<Value>(v).is_ok_and(|want| *item == want)
    } else {
        false
    }
}

/// The value at `path` (a trailing "." names the element itself).
pub fn get_at<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = v;
    for elem in path {
        cur = if let Some(f) = elem.strip_prefix("f:") {
            cur.get(f)?
        } else if elem == "." {
            cur
        } else {
            cur.as_array()?.iter().find(|i| matches_element(i, elem))?
        };
    }
    Some(cur)
}

/// Removes the value at `path` (for a trailing ".", the element owning it).
pub fn remove_at(v: &mut Value, path: &[String]) {
    let path = match path.split_last() {
        Some((last, init)) if last == "." => init,
        _ => path,
    };
    let Some((last, init)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for elem in init {
        let next = if let Some(f) = elem.strip_prefix("f:") {
            cur.get_mut(f)
        } else {
            cur.as_array_mut()
                .and_then(|a| a.iter_mut().find(|i| matches_element(i, elem)))
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let Some(f) = last.strip_prefix("f:") {
        if let Some(m) = cur.as_object_mut() {
            m.remove(f);
        }
    } else if let Some(a) = cur.as_array_mut() {
        a.retain(|i| !matches_element(i, last));
    }
}

/// `.spec.conditions[type="Ready"].status`, the way conflict messages show paths.
pub fn display_path(path: &[String]) -> String {
    let mut s = String::new();
    for elem in path {
        if let Some(f) = elem.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some(k) = elem.strip_prefix("k:") {
            let key: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            let parts: Vec<String> = key.iter().map(|(f, v)| format!("{f}={v}")).collect();
            s.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = elem.strip_prefix("v:") {
            s.push_str(&format!("[={v}]"));
        }
    }
    s
}

/// A set as fieldsV1 JSON.
pub fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut cur = &mut root;
        for elem in path {
            cur = cur
                .entry(elem.clone())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("object");
        }
    }
    Value::Object(root)
}

/// fieldsV1 JSON as a set.
pub fn from_fields_v1(v: &Value) -> FieldSet {
    fn walk(v: &Value, prefix: &mut FieldPath, out: &mut FieldSet) {
        if let Some(m) = v.as_object() {
            for (k, child) in m {
                prefix.push(k.clone());
                if child.as_object().is_none_or(Map::is_empty) {
                    out.insert(prefix.clone());
                } else {
                    walk(child, prefix, out);
                }
                prefix.pop();
            }
        }
    }
    let mut out = FieldSet::new();
    walk(v, &mut vec![], &mut out);
    out
}

/// The first set or keyed list in `v` with duplicate entries, as
/// (display path, duplicated key), e.g. (".spec.tags", "a").
pub fn find_duplicates(
    v: &Value,
    schema: Option<&Value>,
    field: &str,
    path: &str,
) -> Option<(String, String)> {
    match v {
        Value::Object(m) => m.iter().find_map(|(k, child)| {
            find_duplicates(child, child_schema(schema, k), k, &format!("{path}.{k}"))
        }),
        Value::Array(items) => {
            let key = |item: &Value| match list_kind(schema, field) {
                ListKind::Set => Some(item.to_string()),
                ListKind::Map(keys) => Some(item_key(item, &keys)[2..].to_string()),
                ListKind::Atomic => None,
            };
            let mut seen = vec![];
            for item in items {
                if let Some(k) = key(item) {
                    if seen.contains(&k) {
                        return Some((path.to_string(), k));
                    }
                    seen.push(k);
                }
            }
            let item_schema = schema.map(|s| &s["items"]).filter(|s| s.is_object());
            items
                .iter()
                .find_map(|i| find_duplicates(i, item_schema, "", path))
        }
        _ => None,
    }
}

/// Merges an applied configuration into a live object: objects recursively, keyed
/// lists by key, set lists by value, everything else replaced.
pub fn merge_applied(live: &mut Value, applied: &Value, schema: Option<&Value>, field: &str) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            for (k, v) in a {
                if v.is_null() {
                    l.remove(k);
                } else if let Some(cur) = l.get_mut(k) {
                    merge_applied(cur, v, child_schema(schema, k), k);
                } else {
                    l.insert(k.clone(), v.clone());
                }
            }
        }
        (Value::Array(l), Value::Array(a)) => match list_kind(schema, field) {
            ListKind::Atomic => *l = a.clone(),
            ListKind::Set => {
                for item in a {
                    if !l.contains(item) {
                        l.push(item.clone());
                    }
                }
            }
            ListKind::Map(keys) => {
                let item_schema = schema.map(|s| &s["items"]).filter(|s| s.is_object());
                for item in a {
                    let key = item_key(item, &keys);
                    match l.iter_mut().find(|i| matches_element(i, &key)) {
                        Some(cur) => merge_applied(cur, item, item_schema, ""),
                        None => l.push(item.clone()),
                    }
                }
            }
        },
        (live, applied) => *live = applied.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_set_round_trips_and_keys_lists() {
        let schema = json!({"properties": {"status": {"properties": {"conditions": {
            "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
            "items": {"type": "object"}}}}}});
        let obj = json!({"apiVersion": "v1", "metadata": {"name": "a", "labels": {"x": "1"}},
            "spec": {"a": 1, "tags": ["p", "q"]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        let set = field_set(&obj, Some(&schema), Scope::All);
        let ready = r#"k:{"type":"Ready"}"#.to_string();
        assert!(set.contains(&vec![
            "f:status".into(),
            "f:conditions".into(),
            ready.clone(),
            "f:status".into()
        ]));
        assert!(set.contains(&vec!["f:metadata".into(), "f:labels".into(), "f:x".into()]));
        assert!(set.contains(&vec!["f:spec".into(), "f:tags".into()]));
        assert!(!set.iter().any(|p| p.contains(&"f:name".to_string())));
        assert_eq!(from_fields_v1(&to_fields_v1(&set)), set);
        let path = vec![
            "f:status".into(),
            "f:conditions".into(),
            ready,
            "f:status".into(),
        ];
        assert_eq!(get_at(&obj, &path), Some(&json!("True")));
        assert_eq!(
            display_path(&path),
            ".status.conditions[type=\"Ready\"].status"
        );
        let mut o = obj.clone();
        remove_at(
            &mut o,
            &path[..3]
                .iter()
                .cloned()
                .chain([".".to_string()])
                .collect::<Vec<_>>(),
        );
        assert_eq!(o["status"]["conditions"], json!([]));
    }
}
