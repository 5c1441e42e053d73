//! DELETE of objects and collections: preconditions, propagation policy, finalizers.

use super::Shared;
use super::handlers::{ListQuery, Output, Target, not_found, render, respond};
use super::status::{ApiError, ApiResult};
use super::store::{ObjKey, Propagation};
use super::util::meta_str;
use super::write::parse_body;
use axum::body::Bytes;
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

fn propagation(q: &HashMap<String, String>, opts: &Value) -> Propagation {
    let p = q
        .get("propagationPolicy")
        .map(String::as_str)
        .or_else(|| opts["propagationPolicy"].as_str());
    match p {
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        _ if opts["orphanDependents"].as_bool() == Some(true) => Propagation::Orphan,
        _ => Propagation::Background,
    }
}

/// DELETE of an object.
pub fn delete(
    shared: &Arc<Shared>,
    t: &Target,
    q: &HashMap<String, String>,
    body: &Bytes,
) -> ApiResult<Response> {
    let opts = if body.is_empty() {
        json!({})
    } else {
        parse_body(body)?
    };
    let mut st = shared.store.lock().expect("store lock");
    let key = t.key();
    let current = st.objects.get(&key).cloned().ok_or_else(|| not_found(t))?;
    let pre = &opts["preconditions"];
    for (field, label) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
        if let Some(want) = pre[field].as_str()
            && Some(want) != meta_str(&current, field)
        {
            let mut e = ApiError::stale(
                &t.info.qualified(),
                t.name.as_deref().unwrap_or_default(),
                &t.info.group,
                &t.info.plural,
            );
            e.message = format!(
                "Operation cannot be fulfilled on {} \"{}\": Precondition failed: {label} in precondition: {want}, {label} in object meta: {}",
                t.info.qualified(),
                t.name.as_deref().unwrap_or_default(),
                meta_str(&current, field).unwrap_or_default()
            );
            return Err(e);
        }
    }
    if q.get("dryRun").is_some_and(|d| d == "All") {
        return Ok(respond(200, &render(&t.info, &current, Output::Json), &[]));
    }
    let result = st.delete(&key, propagation(q, &opts)).unwrap_or(current);
    Ok(respond(200, &render(&t.info, &result, Output::Json), &[]))
}

/// DELETE of a collection (with selectors).
pub fn delete_collection(shared: &Arc<Shared>, t: &Target, lq: &ListQuery) -> ApiResult<Response> {
    let mut st = shared.store.lock().expect("store lock");
    let keys: Vec<ObjKey> = st
        .objects
        .iter()
        .filter(|(k, _)| (k.group.as_str(), k.plural.as_str()) == t.info.store_at())
        .filter(|(k, _)| t.namespace.as_ref().is_none_or(|ns| *ns == k.namespace))
        .filter(|(_, o)| lq.labels.matches(o) && lq.fields.matches(o))
        .map(|(k, _)| k.clone())
        .collect();
    let mut items = vec![];
    for k in keys {
        if let Some(o) = st.delete(&k, Propagation::Background) {
            items.push(render(&t.info, &o, Output::Json));
        }
    }
    let list = json!({"kind": format!("{}List", t.info.kind), "apiVersion": t.info.api_version(),
        "metadata": {"resourceVersion": st.rv.to_string()}, "items": items});
    Ok(respond(200, &list, &[]))
}
