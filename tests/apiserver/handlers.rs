//! Request routing: discovery paths, resource paths (`/api/v1/...`, `/apis/g/v/...`),
//! and the read side (get, list with selectors and pagination, watch).

use super::Shared;
use super::discovery;
use super::registry::ResourceInfo;
use super::selectors::{FieldSelector, LabelSelector};
use super::status::{ApiError, ApiResult};
use super::store::ObjKey;
use super::table::{self, Include};
use super::{delete, watch, write};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// How objects are rendered, from the Accept header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Plain objects.
    Json,
    /// meta.k8s.io/v1 Table.
    Table(Include),
    /// meta.k8s.io/v1 PartialObjectMetadata.
    Metadata,
}

/// Parsed list/watch parameters.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// labelSelector.
    pub labels: LabelSelector,
    /// fieldSelector.
    pub fields: FieldSelector,
    /// resourceVersion.
    pub resource_version: Option<String>,
    /// timeoutSeconds.
    pub timeout_seconds: Option<u64>,
    /// allowWatchBookmarks.
    pub bookmarks: bool,
    /// sendInitialEvents.
    pub send_initial_events: bool,
    /// Rendering.
    pub output: Output,
}

/// A parsed resource request.
pub struct Target {
    /// The served type.
    pub info: ResourceInfo,
    /// Namespace from the path.
    pub namespace: Option<String>,
    /// Object name from the path.
    pub name: Option<String>,
    /// Subresource (`status`).
    pub sub: Option<String>,
}

impl Target {
    /// The store key of the named object.
    pub fn key(&self) -> ObjKey {
        let (group, plural) = self.info.store_at();
        ObjKey::new(
            group,
            plural,
            self.namespace.as_deref().unwrap_or_default(),
            self.name.as_deref().unwrap_or_default(),
        )
    }
}

fn json_response(code: u16, v: &Value) -> Response {
    let code = axum::http::StatusCode::from_u16(code).unwrap_or(axum::http::StatusCode::OK);
    (
        code,
        [("content-type", "application/json")],
        serde_json::to_vec(v).unwrap_or_default(),
    )
        .into_response()
}

/// Query parameters as a map.
pub fn query_map(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn output(headers: &HeaderMap, q: &HashMap<String, String>) -> Output {
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if accept.contains("as=Table") {
        return Output::Table(match q.get("includeObject").map(String::as_str) {
            Some("None") => Include::None,
            Some("Object") => Include::Object,
            _ => Include::Metadata,
        });
    }
    if accept.contains("as=PartialObjectMetadata") {
        return Output::Metadata;
    }
    Output::Json
}

/// Renders one object for the requested version and representation.
pub fn render(info: &ResourceInfo, obj: &Value, out: Output) -> Value {
    let mut o = super::events::from_storage(info, obj);
    o["apiVersion"] = json!(info.api_version());
    o["kind"] = json!(info.kind);
    match out {
        Output::Json => o,
        Output::Table(inc) => {
            let rv = o["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            table::table(info, &[o], &rv, inc, true)
        }
        Output::Metadata => {
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]})
        }
    }
}

/// The single entry point: every request lands here.
pub async fn dispatch(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match route(&shared, &method, &uri, &headers, &body) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn route(
    shared: &Arc<Shared>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> ApiResult<Response> {
    let segs: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let store = || shared.store.lock().expect("store lock");
    let found = |v: Option<Value>| {
        v.map(|v| json_response(200, &v))
            .ok_or_else(ApiError::no_route)
    };
    match segs.as_slice() {
        ["version"] => return Ok(json_response(200, &discovery::version())),
        ["healthz" | "readyz" | "livez"] => return Ok("ok".into_response()),
        ["api"] => return Ok(json_response(200, &discovery::api_versions(&shared.addr))),
        ["apis"] => return Ok(json_response(200, &discovery::api_groups(&store()))),
        ["apis", g] => return found(discovery::api_group(&store(), g)),
        ["api", v] => return found(discovery::resource_list(&store(), "", v)),
        ["apis", g, v] => return found(discovery::resource_list(&store(), g, v)),
        ["openapi", "v3"] => return Ok(json_response(200, &discovery::openapi_root(&store()))),
        ["openapi", "v3", "api", v] => return found(discovery::openapi_gv(&store(), "", v)),
        ["openapi", "v3", "apis", g, v] => return found(discovery::openapi_gv(&store(), g, v)),
        _ => {}
    }
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(ApiError::no_route()),
    };
    let target = parse_target(&store(), group, version, rest)?;
    let q = query_map(uri);
    let out = output(headers, &q);
    match (method.clone(), target.name.is_some()) {
        (Method::GET, false) => {
            let lq = list_query(&q, &target.info, out)?;
            if matches!(q.get("watch").map(String::as_str), Some("1" | "true")) {
                return watch::watch(shared.clone(), target.info, target.namespace, lq);
            }
            list(shared, &target, &lq, &q).map(|v| json_response(200, &v))
        }
        (Method::GET, true) => {
            let st = store();
            let obj = st
                .objects
                .get(&target.key())
                .ok_or_else(|| not_found(&target))?;
            Ok(json_response(200, &render(&target.info, obj, out)))
        }
        (Method::POST, false) => write::create(shared, &target, &q, headers, body),
        (Method::PUT, true) => write::update(shared, &target, &q, headers, body),
        (Method::PATCH, true) => write::patch(shared, &target, &q, headers, body),
        (Method::DELETE, true) => delete::delete(shared, &target, &q, body),
        (Method::DELETE, false) => {
            let lq = list_query(&q, &target.info, Output::Json)?;
            delete::delete_collection(shared, &target, &lq)
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )),
    }
}

/// 404 for the target's object.
pub fn not_found(t: &Target) -> ApiError {
    ApiError::not_found(
        &t.info.qualified(),
        t.name.as_deref().unwrap_or_default(),
        &t.info.group,
        &t.info.plural,
    )
}

fn parse_target(
    store: &super::store::Store,
    group: &str,
    version: &str,
    rest: &[&str],
) -> ApiResult<Target> {
    let namespaced_form = rest.len() >= 3
        && rest[0] == "namespaces"
        && store
            .find(group, version, rest[2])
            .is_some_and(|r| r.namespaced);
    let (namespace, parts) = if namespaced_form {
        (Some(rest[1].to_string()), &rest[2..])
    } else {
        (None, rest)
    };
    let (plural, name, sub) = match parts {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(n.to_string()), None),
        [p, n, s] => (*p, Some(n.to_string()), Some(s.to_string())),
        _ => return Err(ApiError::no_route()),
    };
    let info = store
        .find(group, version, plural)
        .cloned()
        .ok_or_else(ApiError::no_route)?;
    if name.is_some() && info.namespaced && namespace.is_none() {
        return Err(ApiError::no_route());
    }
    if let Some(s) = &sub
        && !(s == "status" && info.status_subresource)
    {
        return Err(ApiError::no_route());
    }
    Ok(Target {
        info,
        namespace,
        name,
        sub,
    })
}

fn list_query(
    q: &HashMap<String, String>,
    info: &ResourceInfo,
    output: Output,
) -> ApiResult<ListQuery> {
    let truthy = |k: &str| matches!(q.get(k).map(String::as_str), Some("1" | "true"));
    Ok(ListQuery {
        labels: LabelSelector::parse(
            q.get("labelSelector")
                .map(String::as_str)
                .unwrap_or_default(),
        )?,
        fields: FieldSelector::parse(
            q.get("fieldSelector")
                .map(String::as_str)
                .unwrap_or_default(),
            &info.kind,
        )?,
        resource_version: q.get("resourceVersion").cloned(),
        timeout_seconds: q.get("timeoutSeconds").and_then(|t| t.parse().ok()),
        bookmarks: truthy("allowWatchBookmarks"),
        send_initial_events: truthy("sendInitialEvents"),
        output,
    })
}

fn list(
    shared: &Arc<Shared>,
    t: &Target,
    lq: &ListQuery,
    q: &HashMap<String, String>,
) -> ApiResult<Value> {
    let st = shared.store.lock().expect("store lock");
    let all: Vec<Value> = st
        .objects
        .iter()
        .filter(|(k, _)| (k.group.as_str(), k.plural.as_str()) == t.info.store_at())
        .filter(|(k, _)| t.namespace.as_ref().is_none_or(|ns| *ns == k.namespace))
        .map(|(_, o)| render(&t.info, o, Output::Json))
        .filter(|o| lq.labels.matches(o) && lq.fields.matches(o))
        .collect();
    let offset: usize = q.get("continue").and_then(|c| c.parse().ok()).unwrap_or(0);
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let page: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
    let rv = st.rv.to_string();
    let mut meta = json!({"resourceVersion": rv});
    let next = offset.saturating_add(page.len());
    if next < all.len() {
        meta["continue"] = json!(next.to_string());
        meta["remainingItemCount"] = json!(all.len() - next);
    }
    Ok(match lq.output {
        Output::Json => {
            json!({"kind": format!("{}List", t.info.kind), "apiVersion": t.info.api_version(), "metadata": meta, "items": page})
        }
        Output::Table(inc) => {
            let mut tb = table::table(&t.info, &page, &rv, inc, true);
            tb["metadata"] = meta;
            tb
        }
        Output::Metadata => {
            let items: Vec<Value> = page
                .iter()
                .map(|o| render(&t.info, o, Output::Metadata))
                .collect();
            json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": items})
        }
    })
}

/// A JSON response with optional `Warning` headers.
pub fn respond(code: u16, v: &Value, warnings: &[String]) -> Response {
    let mut r = json_response(code, v);
    for w in warnings {
        let value = format!("299 - {}", serde_json::to_string(w).unwrap_or_default());
        if let Ok(h) = axum::http::HeaderValue::from_str(&value) {
            r.headers_mut().append("warning", h);
        }
    }
    r
}
