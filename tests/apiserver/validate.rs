//! Per-type admission the real server does in its strategies: metadata checks,
//! Secret `stringData`, field pruning/validation, CRD checks and CRD/Namespace status.

use super::registry::ResourceInfo;
use super::schema::{prune_and_default, validate};
use super::status::{ApiError, ApiResult, Cause};
use super::store::Store;
use super::structural::validate_crd;
use super::util::{is_dns_label, is_dns_subdomain, meta_mut, meta_str};
use base64::Engine as _;
use serde_json::{Value, json};

const OBJECT_META: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Validates and normalizes `obj` for `info`. Unknown fields are pruned; with
/// `strict` they fail the request (400), otherwise they come back as warnings.
pub fn check(
    _st: &Store,
    info: &ResourceInfo,
    obj: &mut Value,
    strict: bool,
) -> ApiResult<Vec<String>> {
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut unknown: Vec<String> = vec![];
    let mut causes: Vec<Cause> = vec![];
    if let Some(meta) = obj["metadata"].as_object() {
        for k in meta.keys().filter(|k| !OBJECT_META.contains(&k.as_str())) {
            unknown.push(format!("metadata.{k}"));
        }
    }
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.retain(|k, _| OBJECT_META.contains(&k.as_str()));
    }
    if name.is_empty() {
        causes.push(Cause::new(
            "FieldValueRequired",
            "metadata.name",
            "Required value: name or generateName is required",
        ));
    } else {
        let ok = if info.kind == "Namespace" {
            is_dns_label(&name)
        } else {
            is_dns_subdomain(&name)
        };
        if !ok {
            causes.push(Cause::new(
                "FieldValueInvalid",
                "metadata.name",
                format!(
                    "Invalid value: \"{name}\": a lowercase RFC 1123 {} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
                    if info.kind == "Namespace" { "label" } else { "subdomain" }
                ),
            ));
        }
    }
    if info.custom {
        if let Some(schema) = &info.schema {
            prune_and_default(obj, schema, "", &mut unknown);
            validate(obj, schema, "", &mut causes);
        }
    } else if let Some(known) = info.known_top_level()
        && let Some(m) = obj.as_object_mut()
    {
        let extra: Vec<String> = m
            .keys()
            .filter(|k| {
                !matches!(k.as_str(), "apiVersion" | "kind" | "metadata")
                    && !known.contains(&k.as_str())
            })
            .cloned()
            .collect();
        for k in extra {
            m.remove(&k);
            unknown.push(k);
        }
    }
    if strict && !unknown.is_empty() {
        let list: Vec<String> = unknown
            .iter()
            .map(|u| format!("unknown field \"{u}\""))
            .collect();
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{v}\" cannot be handled as a {kind}: strict decoding error: {}",
            list.join(", "),
            kind = info.kind,
            v = info.version
        )));
    }
    match info.kind.as_str() {
        "Secret" => secret(info, obj)?,
        "CustomResourceDefinition" => {
            causes.extend(validate_crd(obj));
            if causes.is_empty() {
                crd_status(obj);
            }
        }
        "Namespace" => {
            obj["status"] = json!({"phase": if obj["metadata"]["deletionTimestamp"].is_string() { "Terminating" } else { "Active" }});
            if obj["spec"]["finalizers"].is_null() {
                obj["spec"] = json!({"finalizers": ["kubernetes"]});
            }
            let labels = meta_mut(obj).entry("labels").or_insert_with(|| json!({}));
            labels["kubernetes.io/metadata.name"] = json!(name);
        }
        _ => {}
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(&info.kind, &info.group, &name, causes));
    }
    Ok(unknown
        .into_iter()
        .map(|u| format!("unknown field \"{u}\""))
        .collect())
}

fn secret(info: &ResourceInfo, obj: &mut Value) -> ApiResult<()> {
    let engine = base64::engine::general_purpose::STANDARD;
    if let Some(Value::Object(sd)) = obj.as_object_mut().and_then(|m| m.remove("stringData")) {
        let data = obj
            .as_object_mut()
            .expect("object")
            .entry("data")
            .or_insert_with(|| json!({}));
        if !data.is_object() {
            *data = json!({});
        }
        for (k, v) in sd {
            data[&k] = json!(engine.encode(v.as_str().unwrap_or_default()));
        }
    }
    for (k, v) in obj["data"].as_object().into_iter().flatten() {
        if v.as_str().is_none_or(|s| engine.decode(s).is_err()) {
            return Err(ApiError::bad_request(format!(
                "{kind} in version \"{v}\" cannot be handled as a {kind}: illegal base64 data in data[{k}]",
                kind = info.kind,
                v = info.version
            )));
        }
    }
    if obj.get("type").is_none() {
        obj["type"] = json!("Opaque");
    }
    Ok(())
}

fn crd_status(crd: &mut Value) {
    let stored: Vec<Value> = crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["storage"].as_bool() == Some(true))
        .map(|v| v["name"].clone())
        .collect();
    if crd["status"]["conditions"]
        .as_array()
        .is_some_and(|c| !c.is_empty())
    {
        crd["status"]["acceptedNames"] = crd["spec"]["names"].clone();
        crd["status"]["storedVersions"] = Value::Array(stored);
        return;
    }
    let now = super::util::now_rfc3339();
    let cond = |t: &str, reason: &str, msg: &str| json!({"type": t, "status": "True", "reason": reason, "message": msg, "lastTransitionTime": now});
    crd["status"] = json!({
        "acceptedNames": crd["spec"]["names"].clone(),
        "storedVersions": stored,
        "conditions": [
            cond("NamesAccepted", "NoConflicts", "no conflicts found"),
            cond("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
    });
}

/// Server-set metadata for a new object.
pub fn checked_new(info: &ResourceInfo, obj: &mut Value) {
    super::write::new_metadata(obj, info.has_generation());
}

/// Objects compared for no-op detection: without resourceVersion and managedFields times.
pub fn comparable(v: &Value) -> Value {
    let mut c = v.clone();
    let meta = meta_mut(&mut c);
    meta.remove("resourceVersion");
    if let Some(Value::Array(mf)) = meta.get_mut("managedFields") {
        for e in mf {
            e.as_object_mut().map(|m| m.remove("time"));
        }
    }
    c
}

/// Carries server-owned metadata from `old` to `new`, refuses new finalizers on an
/// object being deleted, and bumps `generation` when more than metadata/status changed.
pub fn carry_metadata(
    old: &Value,
    new: &mut Value,
    generation: bool,
    status_sub: bool,
) -> ApiResult<()> {
    let deleting = old["metadata"]["deletionTimestamp"].is_string();
    if deleting {
        let before: Vec<&Value> = old["metadata"]["finalizers"]
            .as_array()
            .map(|f| f.iter().collect())
            .unwrap_or_default();
        let added: Vec<String> = new["metadata"]["finalizers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| !before.contains(f))
            .map(|f| format!("{f}"))
            .collect();
        if !added.is_empty() {
            return Err(ApiError::invalid(
                new["kind"].as_str().unwrap_or_default(),
                "",
                meta_str(old, "name").unwrap_or_default(),
                vec![super::status::Cause::new(
                    "FieldValueForbidden",
                    "metadata.finalizers",
                    format!(
                        "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                        added.join(", ")
                    ),
                )],
            ));
        }
    }
    let meta = meta_mut(new);
    for k in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "name",
        "namespace",
    ] {
        match old["metadata"].get(k) {
            Some(v) => meta.insert(k.into(), v.clone()),
            None => meta.remove(k),
        };
    }
    if generation {
        let strip = |v: &Value| {
            let mut c = v.clone();
            if let Some(m) = c.as_object_mut() {
                m.remove("metadata");
                if status_sub {
                    m.remove("status");
                }
            }
            c
        };
        if strip(old) != strip(new) {
            let g = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            meta_mut(new).insert("generation".into(), json!(g));
        }
    }
    Ok(())
}
