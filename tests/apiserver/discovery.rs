//! Legacy (unaggregated) discovery, `/version`, and an OpenAPI v3 index that tells
//! kubectl every PATCH supports the `fieldValidation` query parameter (so kubectl
//! leaves field validation to the server, as against a real 1.27+ cluster).

use super::registry::ResourceInfo;
use super::store::Store;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// `/version`.
pub fn version() -> Value {
    json!({
        "major": "1", "minor": "32", "gitVersion": "v1.32.0-emulator",
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `/api`.
pub fn api_versions(addr: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
           "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr}]})
}

// group -> versions, in registration order; the preferred version is the storage one.
fn groups(store: &Store) -> BTreeMap<String, (Vec<String>, String)> {
    let mut out: BTreeMap<String, (Vec<String>, String)> = BTreeMap::new();
    for r in store.resources.iter().filter(|r| !r.group.is_empty()) {
        let entry = out
            .entry(r.group.clone())
            .or_insert_with(|| (vec![], r.version.clone()));
        if !entry.0.contains(&r.version) {
            entry.0.push(r.version.clone());
        }
        if r.storage {
            entry.1 = r.version.clone();
        }
    }
    out
}

fn group_json(name: &str, versions: &[String], preferred: &str) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({"name": name, "versions": vs,
           "preferredVersion": {"groupVersion": format!("{name}/{preferred}"), "version": preferred}})
}

/// `/apis` (APIGroupList).
pub fn api_groups(store: &Store) -> Value {
    let groups: Vec<Value> = groups(store)
        .iter()
        .map(|(g, (vs, pref))| group_json(g, vs, pref))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>` (APIGroup), if served.
pub fn api_group(store: &Store, group: &str) -> Option<Value> {
    let all = groups(store);
    let (vs, pref) = all.get(group)?;
    let mut g = group_json(group, vs, pref);
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Some(g)
}

fn verbs(r: &ResourceInfo) -> Vec<&'static str> {
    vec![
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    ]
    .into_iter()
    .filter(|v| !(r.kind == "Namespace" && *v == "deletecollection"))
    .collect()
}

/// `/api/v1` or `/apis/<group>/<version>` (APIResourceList), if served.
pub fn resource_list(store: &Store, group: &str, version: &str) -> Option<Value> {
    let served: Vec<&ResourceInfo> = store
        .resources
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if served.is_empty() {
        return None;
    }
    let mut resources = vec![];
    for r in served {
        let mut entry = json!({
            "name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
            "kind": r.kind, "verbs": verbs(r),
            "storageVersionHash": format!("{:x}", r.plural.len() * 7919 + r.kind.len()),
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        resources.push(entry);
        if r.status_subresource {
            resources.push(
                json!({"name": format!("{}/status", r.plural), "singularName": "",
                "namespaced": r.namespaced, "kind": r.kind, "verbs": ["get", "patch", "update"]}),
            );
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

/// `/openapi/v3`: one entry per served group/version.
pub fn openapi_root(store: &Store) -> Value {
    let mut paths = serde_json::Map::new();
    for r in &store.resources {
        let key = if r.group.is_empty() {
            format!("api/{}", r.version)
        } else {
            format!("apis/{}/{}", r.group, r.version)
        };
        // The hash changes with the served set, so kubectl's cache never goes stale.
        let hash = format!(
            "{:x}",
            store.resources.len() * 1_000_003 + store.rv as usize
        );
        paths.insert(
            key.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={hash}")}),
        );
    }
    json!({"paths": paths})
}

/// `/openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>`: PATCH operations with
/// the fieldValidation parameter and the GVK extension, plus CRD schemas.
pub fn openapi_gv(store: &Store, group: &str, version: &str) -> Option<Value> {
    let served: Vec<&ResourceInfo> = store
        .resources
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if served.is_empty() {
        return None;
    }
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let params = json!([
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": true}}
    ]);
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    for r in served {
        let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
        let op = json!({"operationId": format!("patch{}", r.kind), "parameters": params,
            "x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "patch",
            "responses": {"200": {"description": "OK"}}});
        let path = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("{prefix}/{}/{{name}}", r.plural)
        };
        paths.insert(path, json!({"patch": op}));
        let schema_name = format!("{}.{}.{}", reverse_group(&r.group), r.version, r.kind);
        let mut schema = r.schema.clone().unwrap_or_else(
            || json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
        );
        schema["x-kubernetes-group-version-kind"] = json!([gvk]);
        schemas.insert(schema_name, schema);
    }
    Some(
        json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
                "paths": paths, "components": {"schemas": schemas}}),
    )
}

fn reverse_group(group: &str) -> String {
    if group.is_empty() {
        return "io.k8s.api.core".into();
    }
    group.split('.').rev().collect::<Vec<_>>().join(".")
}
