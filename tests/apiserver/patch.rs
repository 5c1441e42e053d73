//! JSON merge patch (RFC 7386), JSON patch (RFC 6902) and a simplified strategic merge
//! patch (merge patch, except that lists whose merge key we know are merged by key and
//! `$patch: delete` items remove the matching element).

use super::registry::ResourceInfo;
use super::status::{ApiError, ApiResult};
use serde_json::{Map, Value};

/// RFC 7386: objects merge recursively, `null` deletes, everything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let t = target.as_object_mut().expect("object");
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// Strategic merge patch, simplified: known list merge keys (containers/env/volumes/
/// ports/conditions/...) merge by key; other lists are replaced; `$patch: delete` on
/// a keyed item deletes it; other directives are dropped.
pub fn strategic_merge_patch(target: &mut Value, patch: &Value, field: &str) {
    match (target.is_object(), patch) {
        (true, Value::Object(p)) => {
            let t = target.as_object_mut().expect("object");
            for (k, v) in p {
                if k.starts_with('$') {
                    continue;
                }
                if v.is_null() {
                    t.remove(k);
                } else if let (Some(Value::Array(cur)), Value::Array(items)) = (t.get_mut(k), v) {
                    match ResourceInfo::builtin_list_key(k) {
                        Some(keys) => merge_list(cur, items, keys),
                        None => *cur = items.clone(),
                    }
                } else {
                    let slot = t.entry(k.clone()).or_insert(Value::Null);
                    if slot.is_null() {
                        *slot = Value::Object(Map::new());
                        if !v.is_object() {
                            *slot = v.clone();
                            continue;
                        }
                    }
                    strategic_merge_patch(slot, v, k);
                }
            }
        }
        _ => {
            let _ = field;
            *target = strip_directives(patch.clone());
        }
    }
}

fn strip_directives(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.retain(|k, _| !k.starts_with('$'));
        for val in m.values_mut() {
            *val = strip_directives(val.take());
        }
    }
    v
}

fn merge_list(cur: &mut Vec<Value>, items: &[Value], keys: &[&str]) {
    let key_of = |v: &Value| {
        keys.iter()
            .find_map(|k| v.get(*k).map(|x| (k.to_string(), x.clone())))
    };
    for item in items {
        let Some(key) = key_of(item) else {
            cur.push(item.clone());
            continue;
        };
        let pos = cur.iter().position(|c| key_of(c) == Some(key.clone()));
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                cur.remove(i);
            }
            (Some(i), false) => strategic_merge_patch(&mut cur[i], item, ""),
            (None, true) => {}
            (None, false) => cur.push(strip_directives(item.clone())),
        }
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn pointer_parts(path: &str) -> ApiResult<Vec<String>> {
    if path.is_empty() {
        return Ok(vec![]);
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| ApiError::new(422, "Invalid", format!("invalid JSON pointer {path:?}")))?;
    Ok(rest.split('/').map(unescape).collect())
}

fn parent_mut<'a>(doc: &'a mut Value, parts: &[String], path: &str) -> ApiResult<&'a mut Value> {
    let mut cur = doc;
    for p in parts {
        cur = match cur {
            Value::Object(m) => m.get_mut(p),
            Value::Array(a) => p.parse::<usize>().ok().and_then(move |i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| missing(path))?;
    }
    Ok(cur)
}

fn missing(path: &str) -> ApiError {
    ApiError::new(
        422,
        "Invalid",
        format!(
            "the server rejected our request due to an error in our request: doc is missing path: \"{path}\""
        ),
    )
}

fn add(doc: &mut Value, path: &str, value: Value) -> ApiResult<()> {
    let parts = pointer_parts(path)?;
    let Some((last, init)) = parts.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent_mut(doc, init, path)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) => {
            let i = if last == "-" {
                a.len()
            } else {
                last.parse().map_err(|_| missing(path))?
            };
            if i > a.len() {
                return Err(missing(path));
            }
            a.insert(i, value);
        }
        _ => return Err(missing(path)),
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> ApiResult<Value> {
    let parts = pointer_parts(path)?;
    let Some((last, init)) = parts.split_last() else {
        return Err(missing(path));
    };
    match parent_mut(doc, init, path)? {
        Value::Object(m) => m.remove(last).ok_or_else(|| missing(path)),
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| missing(path))?;
            if i >= a.len() {
                return Err(missing(path));
            }
            Ok(a.remove(i))
        }
        _ => Err(missing(path)),
    }
}

/// Applies an RFC 6902 JSON patch document.
pub fn json_patch(doc: &mut Value, ops: &Value) -> ApiResult<()> {
    let ops = ops
        .as_array()
        .ok_or_else(|| ApiError::bad_request("json patch must be an array of operations"))?;
    for op in ops {
        let path = op["path"].as_str().unwrap_or_default();
        match op["op"].as_str().unwrap_or_default() {
            "add" => add(doc, path, op["value"].clone())?,
            "remove" => {
                remove(doc, path)?;
            }
            "replace" => {
                remove(doc, path)?;
                add(doc, path, op["value"].clone())?;
            }
            "move" => {
                let v = remove(doc, op["from"].as_str().unwrap_or_default())?;
                add(doc, path, v)?;
            }
            "copy" => {
                let v = doc
                    .pointer(op["from"].as_str().unwrap_or_default())
                    .cloned()
                    .ok_or_else(|| missing(op["from"].as_str().unwrap_or_default()))?;
                add(doc, path, v)?;
            }
            "test" => {
                // Like the Go json-patch library: a missing path tests equal to null
                // (kube-runtime's finalizer helper relies on it).
                if doc.pointer(path).unwrap_or(&Value::Null) != &op["value"] {
                    return Err(ApiError::new(
                        422,
                        "Invalid",
                        format!(
                            "the server rejected our request due to an error in our request: testing value {path} failed"
                        ),
                    ));
                }
            }
            other => {
                return Err(ApiError::bad_request(format!("Unexpected kind: {other}")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_deletes_and_merges() {
        let mut doc = json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        merge_patch(&mut doc, &json!({"a": {"b": null, "d": 3}, "l": [3]}));
        assert_eq!(doc, json!({"a": {"c": 2, "d": 3}, "l": [3]}));
    }

    #[test]
    fn json_patch_ops() {
        let mut doc = json!({"a": [1, 2], "b": {"x/y": 1}});
        json_patch(
            &mut doc,
            &json!([
                {"op": "add", "path": "/a/-", "value": 3},
                {"op": "replace", "path": "/b/x~1y", "value": 5},
                {"op": "test", "path": "/a/0", "value": 1},
                {"op": "remove", "path": "/a/1"},
                {"op": "copy", "from": "/b", "path": "/c"}
            ]),
        )
        .unwrap();
        assert_eq!(doc, json!({"a": [1, 3], "b": {"x/y": 5}, "c": {"x/y": 5}}));
        assert_eq!(
            json_patch(&mut doc, &json!([{"op": "remove", "path": "/nope"}]))
                .unwrap_err()
                .code,
            422
        );
        let mut obj = json!({"metadata": {"name": "x"}});
        json_patch(
            &mut obj,
            &json!([
                {"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": ["f"]}
            ]),
        )
        .unwrap();
        assert_eq!(obj["metadata"]["finalizers"], json!(["f"]));
    }

    #[test]
    fn strategic_merges_known_lists_by_key() {
        let mut doc = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b"}], "args": [1]}});
        strategic_merge_patch(
            &mut doc,
            &json!({"spec": {"containers": [
            {"name": "a", "image": "y"}, {"name": "b", "$patch": "delete"}, {"name": "c"}], "args": [2]}}),
            "",
        );
        assert_eq!(
            doc,
            json!({"spec": {"containers": [{"name": "a", "image": "y"}, {"name": "c"}], "args": [2]}})
        );
    }
}
