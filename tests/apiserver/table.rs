//! `meta.k8s.io/v1` Table output (what `kubectl get` asks for), with a small JSONPath
//! evaluator for `additionalPrinterColumns`.

use super::registry::ResourceInfo;
use super::util::{human_duration, now_secs, parse_rfc3339};
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    Filter(Vec<String>, Value),
}

fn parse_path(expr: &str) -> Option<Vec<Step>> {
    let e = expr.trim();
    let e = e
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(e);
    let mut s = e.strip_prefix('$').unwrap_or(e);
    let mut steps = vec![];
    while !s.is_empty() {
        if let Some(rest) = s.strip_prefix('.') {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            if end > 0 {
                steps.push(Step::Field(rest[..end].to_string()));
            }
            s = &rest[end..];
        } else if let Some(rest) = s.strip_prefix('[') {
            let end = rest.find(']')?;
            let inner = &rest[..end];
            // A filter may contain "]" inside quotes only rarely; keep it simple.
            if let Some(f) = inner.strip_prefix("?(").and_then(|x| x.strip_suffix(')')) {
                let (lhs, rhs) = f.split_once("==")?;
                let path: Vec<String> = lhs
                    .trim()
                    .strip_prefix("@.")?
                    .split('.')
                    .map(String::from)
                    .collect();
                let rhs = rhs.trim();
                let val = if let Some(q) = rhs.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
                    Value::String(q.into())
                } else if let Some(q) = rhs.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
                    Value::String(q.into())
                } else {
                    serde_json::from_str(rhs).ok()?
                };
                steps.push(Step::Filter(path, val));
            } else if let Some(q) = inner
                .strip_prefix('\'')
                .and_then(|x| x.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
            {
                steps.push(Step::Field(q.to_string()));
            } else {
                steps.push(Step::Index(inner.trim().parse().ok()?));
            }
            s = &rest[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

/// Evaluates a simple JSONPath (`.a.b`, `.a[0].b`, `.a[?(@.type=="Ready")].status`,
/// `.metadata.labels['x.y/z']`) and returns the first match.
pub fn eval(obj: &Value, expr: &str) -> Option<Value> {
    let steps = parse_path(expr)?;
    let mut cur = obj.clone();
    for step in steps {
        cur = match step {
            Step::Field(f) => cur.get(&f)?.clone(),
            Step::Index(i) => cur.get(i)?.clone(),
            Step::Filter(path, want) => cur
                .as_array()?
                .iter()
                .find(|item| {
                    let mut v = *item;
                    for p in &path {
                        match v.get(p) {
                            Some(x) => v = x,
                            None => return false,
                        }
                    }
                    *v == want
                })?
                .clone(),
        };
    }
    Some(cur)
}

fn age(obj: &Value) -> Value {
    match obj["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(parse_rfc3339)
    {
        Some(t) => json!(human_duration(now_secs() - t)),
        None => json!("<unknown>"),
    }
}

fn cell(column_type: &str, v: Option<Value>) -> Value {
    let Some(v) = v else { return Value::Null };
    match column_type {
        "date" => match v.as_str().and_then(parse_rfc3339) {
            Some(t) => json!(human_duration(now_secs() - t)),
            None => Value::Null,
        },
        "string" => match v {
            Value::String(s) => json!(s),
            other => json!(other.to_string()),
        },
        _ => v,
    }
}

fn name_column() -> Value {
    json!({"name": "Name", "type": "string", "format": "name", "priority": 0,
           "description": "Name must be unique within a namespace."})
}

fn age_column() -> Value {
    json!({"name": "Age", "type": "string", "format": "", "priority": 0,
           "description": "CreationTimestamp is a timestamp representing the server time when this object was created."})
}

fn column(name: &str, ty: &str) -> Value {
    json!({"name": name, "type": ty, "format": "", "priority": 0, "description": ""})
}

/// Column definitions for a type.
pub fn columns(info: &ResourceInfo) -> Vec<Value> {
    let mut cols = vec![name_column()];
    if info.custom {
        if info.printer_columns.is_empty() {
            cols.push(age_column());
        }
        for c in &info.printer_columns {
            cols.push(json!({
                "name": c["name"], "type": c["type"], "format": c.get("format").cloned().unwrap_or(json!("")),
                "description": c.get("description").cloned().unwrap_or(json!("")),
                "priority": c.get("priority").cloned().unwrap_or(json!(0)),
            }));
        }
        return cols;
    }
    if info.kind == "Event" && info.group.is_empty() {
        return super::events::CORE_COLUMNS
            .iter()
            .map(|(name, priority)| {
                let mut c = column(name, "string");
                c["priority"] = json!(priority);
                c
            })
            .collect();
    }
    match info.kind.as_str() {
        "Secret" => cols.extend([column("Type", "string"), column("Data", "string")]),
        "ConfigMap" => cols.push(column("Data", "string")),
        "Namespace" => cols.push(column("Status", "string")),
        "Lease" => cols.push(column("Holder", "string")),
        _ => {}
    }
    cols.push(age_column());
    cols
}

fn cells(info: &ResourceInfo, obj: &Value) -> Vec<Value> {
    let mut out = vec![obj["metadata"]["name"].clone()];
    if info.custom {
        if info.printer_columns.is_empty() {
            out.push(age(obj));
        }
        for c in &info.printer_columns {
            let path = c["jsonPath"].as_str().unwrap_or_default();
            out.push(cell(
                c["type"].as_str().unwrap_or("string"),
                eval(obj, path),
            ));
        }
        return out;
    }
    if info.kind == "Event" && info.group.is_empty() {
        return super::events::core_cells(obj);
    }
    let count = |v: &Value| v.as_object().map(|m| m.len()).unwrap_or(0);
    match info.kind.as_str() {
        "Secret" => {
            out.push(obj.get("type").cloned().unwrap_or(json!("Opaque")));
            out.push(json!(count(&obj["data"])));
        }
        "ConfigMap" => out.push(json!(count(&obj["data"]) + count(&obj["binaryData"]))),
        "Namespace" => out.push(obj["status"]["phase"].clone()),
        "Lease" => out.push(obj["spec"]["holderIdentity"].clone()),
        _ => {}
    }
    out.push(age(obj));
    out
}

/// `includeObject` of a Table request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Include {
    /// No object in rows.
    None,
    /// PartialObjectMetadata (the default).
    Metadata,
    /// The full object.
    Object,
}

/// A Table of `objects`.
pub fn table(
    info: &ResourceInfo,
    objects: &[Value],
    rv: &str,
    include: Include,
    with_columns: bool,
) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut row = json!({"cells": cells(info, o)});
            match include {
                Include::None => {}
                Include::Metadata => {
                    row["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]})
                }
                Include::Object => row["object"] = o.clone(),
            }
            row
        })
        .collect();
    let mut t = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv}, "rows": rows});
    if with_columns {
        t["columnDefinitions"] = Value::Array(columns(info));
    } else {
        t["columnDefinitions"] = json!([]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonpath_forms() {
        let o = json!({"spec": {"a": {"b": 1}, "l": [{"x": "y"}]}, "metadata": {"labels": {"k.io/n": "v"}},
            "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        assert_eq!(eval(&o, ".spec.a.b"), Some(json!(1)));
        assert_eq!(eval(&o, "{.spec.l[0].x}"), Some(json!("y")));
        assert_eq!(
            eval(&o, ".status.conditions[?(@.type==\"Ready\")].status"),
            Some(json!("True"))
        );
        assert_eq!(eval(&o, ".metadata.labels['k.io/n']"), Some(json!("v")));
        assert_eq!(eval(&o, ".spec.missing"), None);
    }
}
