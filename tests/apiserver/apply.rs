//! Server-side apply and managedFields tracking per field manager.

use super::fields::{
    FieldSet, Scope, display_path, field_set, find_duplicates, from_fields_v1, get_at,
    merge_applied, remove_at, to_fields_v1,
};
use super::status::{ApiError, ApiResult, Cause};
use super::util::{meta_mut, now_rfc3339};
use serde_json::{Value, json};

/// One managedFields entry.
#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: String,
    subresource: String,
    api_version: String,
    time: String,
    set: FieldSet,
}

fn entries(obj: &Value) -> Vec<Entry> {
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| Entry {
            manager: e["manager"].as_str().unwrap_or_default().into(),
            operation: e["operation"].as_str().unwrap_or_default().into(),
            subresource: e["subresource"].as_str().unwrap_or_default().into(),
            api_version: e["apiVersion"].as_str().unwrap_or_default().into(),
            time: e["time"].as_str().unwrap_or_default().into(),
            set: from_fields_v1(&e["fieldsV1"]),
        })
        .collect()
}

fn store_entries(obj: &mut Value, list: Vec<Entry>) {
    let json: Vec<Value> = list
        .into_iter()
        .filter(|e| !e.set.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager, "operation": e.operation, "apiVersion": e.api_version,
                "time": e.time, "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(&e.set),
            });
            if !e.subresource.is_empty() {
                v["subresource"] = json!(e.subresource);
            }
            v
        })
        .collect();
    let meta = meta_mut(obj);
    if json.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(json));
    }
}

/// What a write is: who makes it, where, against which schema.
pub struct WriteCtx<'a> {
    /// The field manager.
    pub manager: &'a str,
    /// "" or "status".
    pub subresource: &'a str,
    /// apiVersion of the request.
    pub api_version: &'a str,
    /// The CRD version schema, if any.
    pub schema: Option<&'a Value>,
    /// Which part of the object the write may touch.
    pub scope: Scope,
}

/// Server-side apply of `applied` onto `live` (or a new object when `live` is None).
/// Returns the merged object with updated managedFields, or a 409 naming the other
/// managers and fields when `force` is false.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    force: bool,
    ctx: &WriteCtx<'_>,
) -> ApiResult<Value> {
    let mut obj = live.cloned().unwrap_or_else(
        || json!({"apiVersion": applied["apiVersion"], "kind": applied["kind"], "metadata": {}}),
    );
    if let Some((path, key)) = find_duplicates(applied, ctx.schema, "", "") {
        let mut err = ApiError::new(
            500,
            "InternalError",
            format!("failed to create typed patch object: {path}: duplicate entries for key {key}"),
        );
        err.details = Some(json!({"causes": [{"message": err.message}]}));
        return Err(err);
    }
    let mut managed = entries(&obj);
    let new_set = field_set(applied, ctx.schema, ctx.scope);
    let is_me = |e: &Entry| {
        e.manager == ctx.manager && e.operation == "Apply" && e.subresource == ctx.subresource
    };

    let mut conflicts: Vec<(String, String, Vec<String>)> = vec![];
    for path in new_set
        .iter()
        .filter(|p| p.last().map(String::as_str) != Some("."))
    {
        let Some(live_v) = get_at(&obj, path) else {
            continue;
        };
        if get_at(applied, path) == Some(live_v) {
            continue;
        }
        for e in managed
            .iter()
            .filter(|e| e.manager != ctx.manager && e.set.contains(path))
        {
            conflicts.push((e.manager.clone(), print_manager(e), path.clone()));
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflict_error(&conflicts));
    }

    let old_set = managed
        .iter()
        .find(|e| is_me(e))
        .map(|e| e.set.clone())
        .unwrap_or_default();
    let others: FieldSet = managed
        .iter()
        .filter(|e| !is_me(e))
        .flat_map(|e| e.set.iter().cloned())
        .collect();
    let mut to_remove: Vec<&Vec<String>> = old_set
        .iter()
        .filter(|p| !new_set.contains(*p) && !others.contains(*p))
        .collect();
    to_remove.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for path in to_remove {
        let owner_prefix: &[String] = if path.last().map(String::as_str) == Some(".") {
            &path[..path.len() - 1]
        } else {
            path
        };
        let still_used = others
            .iter()
            .chain(new_set.iter())
            .any(|o| o.len() > owner_prefix.len() && o.starts_with(owner_prefix));
        if still_used {
            continue;
        }
        remove_at(&mut obj, path);
        prune_empty_parents(&mut obj, owner_prefix, &others, &new_set);
    }

    let mut scoped = scoped_applied(applied, ctx.scope);
    if let Some(m) = scoped.as_object_mut() {
        m.remove("apiVersion");
        m.remove("kind");
    }
    merge_applied(&mut obj, &scoped, ctx.schema, "");

    for (manager, _, path) in &conflicts {
        for e in managed.iter_mut().filter(|e| &e.manager == manager) {
            e.set.remove(path);
        }
    }
    managed.retain(|e| !is_me(e));
    managed.push(Entry {
        manager: ctx.manager.into(),
        operation: "Apply".into(),
        subresource: ctx.subresource.into(),
        api_version: ctx.api_version.into(),
        time: now_rfc3339(),
        set: new_set,
    });
    store_entries(&mut obj, managed);
    Ok(obj)
}

fn scoped_applied(applied: &Value, scope: Scope) -> Value {
    let mut out = applied.clone();
    if let Some(m) = out.as_object_mut() {
        match scope {
            Scope::All => {}
            Scope::NoStatus => {
                m.remove("status");
            }
            Scope::StatusOnly => m.retain(|k, _| k == "status"),
        }
        if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.retain(|k, _| {
                matches!(
                    k.as_str(),
                    "labels" | "annotations" | "finalizers" | "ownerReferences"
                )
            });
        }
    }
    out
}

fn prune_empty_parents(obj: &mut Value, path: &[String], others: &FieldSet, new_set: &FieldSet) {
    for len in (2..path.len()).rev() {
        let prefix = &path[..len];
        let empty = match get_at(obj, prefix) {
            Some(Value::Object(m)) => m.is_empty(),
            Some(Value::Array(a)) => a.is_empty(),
            _ => false,
        };
        let used = others
            .iter()
            .chain(new_set.iter())
            .any(|o| o.starts_with(prefix));
        if !empty || used {
            return;
        }
        remove_at(obj, prefix);
    }
}

// How the real server names a manager in conflict messages.
fn print_manager(e: &Entry) -> String {
    let mut s = format!("\"{}\"", e.manager);
    if !e.subresource.is_empty() {
        s.push_str(&format!(" with subresource \"{}\"", e.subresource));
    }
    if e.operation == "Update" {
        s.push_str(&format!(" using {}", e.api_version));
        if !e.time.is_empty() {
            s.push_str(&format!(" at {}", e.time));
        }
    }
    s
}

// The real server's wording: one conflict inline, several grouped by sorted manager.
fn conflict_error(conflicts: &[(String, String, Vec<String>)]) -> ApiError {
    let message = if let [(_, printed, path)] = conflicts {
        format!(
            "Apply failed with 1 conflict: conflict with {printed}: {}",
            display_path(path)
        )
    } else {
        let mut managers: Vec<&str> = conflicts.iter().map(|c| c.1.as_str()).collect();
        managers.sort();
        managers.dedup();
        let mut lines = vec![];
        for m in managers {
            lines.push(format!("conflicts with {m}:"));
            for (_, _, p) in conflicts.iter().filter(|c| c.1 == m) {
                lines.push(format!("- {}", display_path(p)));
            }
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(_, printed, p)| {
            let c = Cause::new(
                "FieldManagerConflict",
                &display_path(p),
                format!("conflict with {printed}"),
            );
            json!({"reason": c.reason, "message": c.message, "field": c.field})
        })
        .collect();
    let mut err = ApiError::new(409, "Conflict", message);
    err.details = Some(json!({ "causes": causes }));
    err
}

/// Records an Update operation by `ctx.manager`: it takes ownership of the fields it
/// changed; other managers lose them; removed fields leave every set.
pub fn track_update(old: Option<&Value>, new: &mut Value, ctx: &WriteCtx<'_>) {
    let mut managed = old.map(entries).unwrap_or_default();
    let old_set = old
        .map(|o| field_set(o, ctx.schema, ctx.scope))
        .unwrap_or_default();
    let new_set = field_set(new, ctx.schema, ctx.scope);
    let changed: FieldSet = new_set
        .iter()
        .filter(|p| old.is_none_or(|o| get_at(o, p) != get_at(new, p)))
        .cloned()
        .collect();
    let removed: FieldSet = old_set.difference(&new_set).cloned().collect();
    if !changed.is_empty() || !removed.is_empty() {
        for e in managed.iter_mut() {
            e.set
                .retain(|p| !changed.contains(p) && !removed.contains(p));
        }
        let mine = managed.iter().position(|e| {
            e.manager == ctx.manager && e.operation == "Update" && e.subresource == ctx.subresource
        });
        let idx = match mine {
            Some(i) => i,
            None => {
                managed.push(Entry {
                    manager: ctx.manager.into(),
                    operation: "Update".into(),
                    subresource: ctx.subresource.into(),
                    api_version: ctx.api_version.into(),
                    time: String::new(),
                    set: FieldSet::new(),
                });
                managed.len() - 1
            }
        };
        let e = &mut managed[idx];
        e.set.extend(changed);
        e.time = now_rfc3339();
        e.api_version = ctx.api_version.into();
    }
    store_entries(new, managed);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(manager: &str) -> WriteCtx<'_> {
        WriteCtx {
            manager,
            subresource: "",
            api_version: "v1",
            schema: None,
            scope: Scope::All,
        }
    }

    #[test]
    fn apply_tracks_owners_conflicts_and_removes_dropped_fields() {
        let a = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                       "data": {"x": "1", "y": "2"}});
        let live = apply(None, &a, false, &ctx("a")).unwrap();
        assert_eq!(live["data"], json!({"x": "1", "y": "2"}));
        let b = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"x": "9"}});
        let err = apply(Some(&live), &b, false, &ctx("b")).unwrap_err();
        assert_eq!(err.code, 409);
        assert!(err.message.contains("conflict with \"a\"") && err.message.contains(".data.x"));
        let forced = apply(Some(&live), &b, true, &ctx("b")).unwrap();
        assert_eq!(forced["data"]["x"], "9");
        // a no longer owns x; dropping y from its config removes y, x stays (b's).
        let a2 = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {}});
        let after = apply(Some(&forced), &a2, false, &ctx("a")).unwrap();
        assert_eq!(after["data"], json!({"x": "9"}));
    }

    #[test]
    fn updates_take_ownership_of_changed_fields_only() {
        let old = apply(
            None,
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"x": "1", "y": "2"}}),
            false,
            &ctx("a"),
        )
        .unwrap();
        let mut new = old.clone();
        new["data"]["y"] = json!("3");
        track_update(Some(&old), &mut new, &ctx("editor"));
        let mf = new["metadata"]["managedFields"].as_array().unwrap();
        let editor = mf.iter().find(|m| m["manager"] == "editor").unwrap();
        assert_eq!(editor["operation"], "Update");
        assert_eq!(editor["fieldsV1"], json!({"f:data": {"f:y": {}}}));
        let a = mf.iter().find(|m| m["manager"] == "a").unwrap();
        assert_eq!(a["fieldsV1"], json!({"f:data": {"f:x": {}}}));
    }
}
