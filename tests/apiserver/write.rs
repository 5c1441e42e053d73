//! The write side: create, update, patch (merge, strategic, JSON, apply), delete.
//! Every write goes through `prepare` (scoping, defaulting, validation, metadata,
//! generation, managedFields, no-op detection) and `commit`.

use super::Shared;
use super::apply::{WriteCtx, apply, track_update};
use super::events::{from_storage, to_storage};
use super::fields::Scope;
use super::handlers::{Output, Target, not_found, render, respond};
use super::patch::{json_patch, merge_patch, strategic_merge_patch};
use super::status::{ApiError, ApiResult};
use super::store::{ObjKey, Store};
use super::util::{meta_mut, meta_str, name_suffix, new_uid, now_rfc3339};
use super::validate::{carry_metadata, check, checked_new, comparable};
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

fn parse_object(headers: &HeaderMap, body: &Bytes) -> ApiResult<Value> {
    let ctype = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if ctype.starts_with("application/vnd.kubernetes.protobuf") {
        return super::proto::decode(body)
            .map_err(|e| ApiError::new(415, "UnsupportedMediaType", e));
    }
    parse_body(body)
}

pub(super) fn parse_body(body: &Bytes) -> ApiResult<Value> {
    serde_json::from_slice(body)
        .or_else(|_| serde_yaml::from_slice::<Value>(body))
        .map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        })
}

fn manager(q: &HashMap<String, String>, headers: &HeaderMap) -> String {
    if let Some(m) = q.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.clone();
    }
    headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown")
        .to_string()
}

fn scope_of(t: &Target) -> Scope {
    match (t.sub.as_deref(), t.info.status_subresource) {
        (Some("status"), _) => Scope::StatusOnly,
        (_, true) => Scope::NoStatus,
        _ => Scope::All,
    }
}

struct Write<'a> {
    t: &'a Target,
    manager: String,
    strict: bool,
    dry_run: bool,
}

impl Write<'_> {
    fn ctx(&self) -> WriteCtx<'_> {
        WriteCtx {
            manager: &self.manager,
            subresource: self.t.sub.as_deref().unwrap_or_default(),
            api_version: "",
            schema: self.t.info.schema.as_ref(),
            scope: scope_of(self.t),
        }
    }
}

fn start<'a>(t: &'a Target, q: &HashMap<String, String>, headers: &HeaderMap) -> Write<'a> {
    Write {
        t,
        manager: manager(q, headers),
        strict: q.get("fieldValidation").map(String::as_str) == Some("Strict"),
        dry_run: q.get("dryRun").is_some_and(|d| d == "All"),
    }
}

/// Scopes, validates and completes `new` (the intended object) against `old`.
/// Returns the object to store and warnings; `None` object means "no change".
fn prepare(
    st: &Store,
    w: &Write<'_>,
    old: Option<&Value>,
    mut new: Value,
    tracked: bool,
) -> ApiResult<(Option<Value>, Vec<String>)> {
    let info = &w.t.info;
    if let Some(av) = new.get("apiVersion").and_then(Value::as_str)
        && av != info.api_version()
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version ({})",
            info.api_version()
        )));
    }
    if let Some(k) = new.get("kind").and_then(Value::as_str)
        && k != info.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({k}) does not match the expected kind ({})",
            info.kind
        )));
    }
    new["apiVersion"] = json!(info.api_version());
    new["kind"] = json!(info.kind);
    match scope_of(w.t) {
        Scope::StatusOnly => {
            let mut base = old.cloned().unwrap_or_default();
            match new.get("status") {
                Some(s) => base["status"] = s.clone(),
                None => {
                    base.as_object_mut().map(|m| m.remove("status"));
                }
            }
            if let Some(mf) = new["metadata"].get("managedFields") {
                meta_mut(&mut base).insert("managedFields".into(), mf.clone());
            }
            new = base;
        }
        Scope::NoStatus => match old.and_then(|o| o.get("status")) {
            Some(s) => new["status"] = s.clone(),
            None => {
                new.as_object_mut().map(|m| m.remove("status"));
            }
        },
        Scope::All => {}
    }
    let warnings = check(st, info, &mut new, w.strict)?;
    if let Some(old) = old {
        carry_metadata(
            old,
            &mut new,
            info.has_generation(),
            info.status_subresource,
        )?;
    } else {
        checked_new(info, &mut new);
    }
    if !tracked {
        let mut ctx = w.ctx();
        let api_version = info.api_version();
        ctx.api_version = &api_version;
        track_update(old, &mut new, &ctx);
    }
    if let Some(old) = old
        && comparable(old) == comparable(&new)
    {
        return Ok((None, warnings));
    }
    Ok((Some(new), warnings))
}

fn commit(
    shared: &Arc<Shared>,
    st: &mut Store,
    w: &Write<'_>,
    key: ObjKey,
    old: Option<Value>,
    new: Option<Value>,
) -> Value {
    let Some(new) = new else {
        return old.unwrap_or_default();
    };
    if w.dry_run {
        return new;
    }
    let _ = shared;
    let info = &w.t.info;
    let stored = st.put(
        key.clone(),
        to_storage(info, new),
        old.map(|o| to_storage(info, o)),
    );
    st.finish_if_done(&key);
    stored
}

fn ensure_namespace(st: &Store, t: &Target) -> ApiResult<()> {
    match &t.namespace {
        Some(ns) if t.info.namespaced && !st.namespace_exists(ns) => {
            Err(ApiError::not_found("namespaces", ns, "", "namespaces"))
        }
        _ => Ok(()),
    }
}

/// POST to a collection.
pub fn create(
    shared: &Arc<Shared>,
    t: &Target,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> ApiResult<Response> {
    let w = start(t, q, headers);
    let mut obj = parse_object(headers, body)?;
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be an object",
        ));
    }
    let meta = meta_mut(&mut obj);
    match (meta.get("namespace").and_then(Value::as_str), &t.namespace) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        (_, Some(ns)) if t.info.namespaced => {
            meta.insert("namespace".into(), json!(ns));
        }
        _ => {
            meta.remove("namespace");
        }
    }
    if meta
        .get("name")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
        && let Some(g) = meta.get("generateName").and_then(Value::as_str)
    {
        let name = format!("{g}{}", name_suffix());
        meta.insert("name".into(), json!(name));
    }
    let name = meta
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut st = shared.store.lock().expect("store lock");
    ensure_namespace(&st, t)?;
    let (group, plural) = t.info.store_at();
    let key = ObjKey::new(
        group,
        plural,
        t.namespace.as_deref().unwrap_or_default(),
        &name,
    );
    if !name.is_empty() && st.objects.contains_key(&key) {
        return Err(ApiError::already_exists(
            &t.info.qualified(),
            &name,
            &t.info.group,
            &t.info.plural,
        ));
    }
    let (new, warnings) = prepare(&st, &w, None, obj, false)?;
    let stored = commit(shared, &mut st, &w, key, None, new);
    Ok(respond(
        201,
        &render(&t.info, &stored, Output::Json),
        &warnings,
    ))
}

fn check_rv(t: &Target, old: &Value, new: &Value) -> ApiResult<()> {
    match meta_str(new, "resourceVersion") {
        Some(rv) if !rv.is_empty() && Some(rv) != meta_str(old, "resourceVersion") => {
            Err(ApiError::stale(
                &t.info.qualified(),
                t.name.as_deref().unwrap_or_default(),
                &t.info.group,
                &t.info.plural,
            ))
        }
        _ => Ok(()),
    }
}

/// PUT to an object or its status.
pub fn update(
    shared: &Arc<Shared>,
    t: &Target,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> ApiResult<Response> {
    let w = start(t, q, headers);
    let obj = parse_object(headers, body)?;
    let name = t.name.as_deref().unwrap_or_default();
    if let Some(n) = meta_str(&obj, "name")
        && n != name
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({name})"
        )));
    }
    let mut st = shared.store.lock().expect("store lock");
    let key = t.key();
    let old = st
        .objects
        .get(&key)
        .map(|o| from_storage(&t.info, o))
        .ok_or_else(|| not_found(t))?;
    check_rv(t, &old, &obj)?;
    let (new, warnings) = prepare(&st, &w, Some(&old), obj, false)?;
    let stored = commit(shared, &mut st, &w, key, Some(old), new);
    Ok(respond(
        200,
        &render(&t.info, &stored, Output::Json),
        &warnings,
    ))
}

/// PATCH to an object or its status.
pub fn patch(
    shared: &Arc<Shared>,
    t: &Target,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> ApiResult<Response> {
    let w = start(t, q, headers);
    let ctype = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let ctype = ctype
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let doc = parse_body(body)?;
    let mut st = shared.store.lock().expect("store lock");
    let key = t.key();
    let old = st.objects.get(&key).map(|o| from_storage(&t.info, o));
    let unsupported = || {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml{}",
                if t.info.custom {
                    ""
                } else {
                    ", application/strategic-merge-patch+json"
                }
            ),
        )
    };
    let (patched, tracked) = match ctype.as_str() {
        "application/apply-patch+yaml" => {
            if w.manager.is_empty() || !q.contains_key("fieldManager") {
                return Err(ApiError::invalid(
                    "PatchOptions",
                    "meta.k8s.io",
                    "",
                    vec![super::status::Cause::new(
                        "FieldValueRequired",
                        "fieldManager",
                        "Required value: is required for apply patch",
                    )],
                ));
            }
            if let Some(n) = meta_str(&doc, "name")
                && Some(n) != t.name.as_deref()
            {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({})",
                    t.name.as_deref().unwrap_or_default()
                )));
            }
            if old.is_none() {
                if t.sub.is_some() {
                    return Err(not_found(t));
                }
                ensure_namespace(&st, t)?;
            }
            let force = matches!(q.get("force").map(String::as_str), Some("true" | "1"));
            let api_version = t.info.api_version();
            let mut ctx = w.ctx();
            ctx.api_version = &api_version;
            let mut merged = apply(old.as_ref(), &doc, force, &ctx)?;
            let meta = meta_mut(&mut merged);
            meta.insert("name".into(), json!(t.name));
            if let Some(ns) = &t.namespace {
                meta.insert("namespace".into(), json!(ns));
            }
            (merged, true)
        }
        _ => {
            let Some(old) = old.as_ref() else {
                return Err(not_found(t));
            };
            let mut target = old.clone();
            match ctype.as_str() {
                "application/merge-patch+json" | "application/json" => {
                    merge_patch(&mut target, &doc)
                }
                "application/json-patch+json" => json_patch(&mut target, &doc)?,
                "application/strategic-merge-patch+json" if !t.info.custom => {
                    strategic_merge_patch(&mut target, &doc, "")
                }
                _ => return Err(unsupported()),
            }
            check_rv(t, old, &target)?;
            (target, false)
        }
    };
    let created = old.is_none();
    let (new, warnings) = prepare(&st, &w, old.as_ref(), patched, tracked)?;
    let stored = commit(shared, &mut st, &w, key, old, new);
    Ok(respond(
        if created { 201 } else { 200 },
        &render(&t.info, &stored, Output::Json),
        &warnings,
    ))
}

/// Fills server-set metadata of a new object.
pub fn new_metadata(obj: &mut Value, generation: bool) {
    let meta = meta_mut(obj);
    meta.insert("uid".into(), json!(new_uid()));
    meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
    for k in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        meta.remove(k);
    }
    if generation {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
}
