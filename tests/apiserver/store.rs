//! The object store: one global resourceVersion counter, a bounded event history,
//! finalizers, and ownerReference garbage collection.

use super::registry::{self, ResourceInfo};
use super::util::{meta_mut, meta_str, new_uid, now_rfc3339};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Where an object lives: group, plural, namespace ("" when cluster-scoped), name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjKey {
    /// API group.
    pub group: String,
    /// Plural resource name.
    pub plural: String,
    /// Namespace or "".
    pub namespace: String,
    /// Object name.
    pub name: String,
}

impl ObjKey {
    /// A key from its parts.
    pub fn new(group: &str, plural: &str, namespace: &str, name: &str) -> Self {
        ObjKey {
            group: group.into(),
            plural: plural.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

/// One change, as watchers see it.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// The resourceVersion the change produced.
    pub rv: u64,
    /// Where the object lives.
    pub key: ObjKey,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub etype: &'static str,
    /// The object after the change (before it, for DELETED).
    pub object: Value,
    /// The object before the change (label-selector watches need it).
    pub old: Option<Value>,
}

/// How dependents are treated when their owner is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// Owner goes first, the garbage collector removes dependents after.
    Background,
    /// Dependents go first (simplified: synchronously), then the owner.
    Foreground,
    /// Dependents stay; their ownerReferences to the owner are removed.
    Orphan,
}

/// All state behind the emulator's lock.
pub struct Store {
    /// The last resourceVersion handed out.
    pub rv: u64,
    /// Served resource types (built-ins, then CRD-registered).
    pub resources: Vec<ResourceInfo>,
    /// Objects by key, in the order lists return them.
    pub objects: BTreeMap<ObjKey, Value>,
    /// Recent events, oldest first.
    pub history: VecDeque<Arc<StoredEvent>>,
    /// Highest resourceVersion dropped from `history` (watches from before it get 410).
    pub compacted: u64,
    /// How many events `history` keeps.
    pub history_limit: usize,
    /// Live event feed for watches.
    pub tx: broadcast::Sender<Arc<StoredEvent>>,
}

impl Store {
    /// A store with the built-in types and namespaces `default`, `kube-system`,
    /// `kube-public` and `kube-node-lease`.
    pub fn new(history_limit: usize) -> Self {
        let (tx, _) = broadcast::channel(4096);
        let mut store = Store {
            rv: 0,
            resources: registry::builtins(),
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            compacted: 0,
            history_limit: history_limit.max(1),
            tx,
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let obj = json!({
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": ns, "uid": new_uid(), "creationTimestamp": now_rfc3339(),
                             "labels": {"kubernetes.io/metadata.name": ns}},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"}
            });
            store.put(ObjKey::new("", "namespaces", "", ns), obj, None);
        }
        store
    }

    /// The served type for group/version/plural (or by kind/singular/short name when
    /// `plural` is not a plural).
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceInfo> {
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
    }

    /// The type info used for objects of group/plural (the storage version).
    pub fn storage_info(&self, group: &str, plural: &str) -> Option<&ResourceInfo> {
        let mut candidates = self
            .resources
            .iter()
            .filter(|r| r.group == group && r.plural == plural);
        let first = candidates.next()?;
        Some(
            std::iter::once(first)
                .chain(candidates)
                .find(|r| r.storage)
                .unwrap_or(first),
        )
    }

    /// Whether namespace `ns` exists.
    pub fn namespace_exists(&self, ns: &str) -> bool {
        self.objects
            .contains_key(&ObjKey::new("", "namespaces", "", ns))
    }

    /// Stores `obj` under `key` with a new resourceVersion and tells watchers.
    pub fn put(&mut self, key: ObjKey, mut obj: Value, old: Option<Value>) -> Value {
        self.rv += 1;
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(self.rv.to_string()));
        let etype = if old.is_some() { "MODIFIED" } else { "ADDED" };
        self.objects.insert(key.clone(), obj.clone());
        self.emit(key.clone(), etype, obj.clone(), old);
        if key.group == "apiextensions.k8s.io" {
            self.refresh_crds();
        }
        obj
    }

    fn emit(&mut self, key: ObjKey, etype: &'static str, object: Value, old: Option<Value>) {
        let ev = Arc::new(StoredEvent {
            rv: self.rv,
            key,
            etype,
            object,
            old,
        });
        self.history.push_back(ev.clone());
        while self.history.len() > self.history_limit {
            if let Some(dropped) = self.history.pop_front() {
                self.compacted = dropped.rv;
            }
        }
        // No receivers is fine: nobody is watching.
        let _ = self.tx.send(ev);
    }

    /// Recomputes the CRD-registered types from the stored CRDs.
    pub fn refresh_crds(&mut self) {
        let mut resources = registry::builtins();
        for (k, crd) in &self.objects {
            if k.group == "apiextensions.k8s.io" && k.plural == "customresourcedefinitions" {
                resources.extend(registry::from_crd(crd));
            }
        }
        self.resources = resources;
    }

    fn uid_exists(&self, uid: &str) -> bool {
        self.objects
            .values()
            .any(|o| meta_str(o, "uid") == Some(uid))
    }

    /// Deletes an object: sets deletionTimestamp while finalizers remain, removes it
    /// otherwise. Returns the object as the DELETE response shows it.
    pub fn delete(&mut self, key: &ObjKey, policy: Propagation) -> Option<Value> {
        let current = self.objects.get(key)?.clone();
        let uid = meta_str(&current, "uid").unwrap_or_default().to_string();
        match policy {
            Propagation::Orphan => self.orphan_dependents(&uid),
            Propagation::Foreground => {
                for dep in self.dependents_of(&uid) {
                    self.delete(&dep, Propagation::Foreground);
                }
            }
            Propagation::Background => {}
        }
        let has_finalizers = current["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if has_finalizers {
            if current["metadata"]["deletionTimestamp"].is_string() {
                return Some(current);
            }
            let mut next = current.clone();
            let meta = meta_mut(&mut next);
            meta.insert("deletionTimestamp".into(), json!(now_rfc3339()));
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
            if let Some(g) = meta.get("generation").and_then(Value::as_i64) {
                meta.insert("generation".into(), json!(g + 1));
            }
            return Some(self.put(key.clone(), next, Some(current)));
        }
        self.remove(key)
    }

    /// Removes an object now (no finalizer check), then collects its garbage.
    pub fn remove(&mut self, key: &ObjKey) -> Option<Value> {
        let mut obj = self.objects.remove(key)?;
        self.rv += 1;
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(self.rv.to_string()));
        self.emit(key.clone(), "DELETED", obj.clone(), None);
        if let Some(uid) = meta_str(&obj, "uid").map(String::from) {
            self.collect_garbage(&uid);
        }
        if key.plural == "customresourcedefinitions" && key.group == "apiextensions.k8s.io" {
            let group = obj["spec"]["group"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let plural = obj["spec"]["names"]["plural"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let doomed: Vec<ObjKey> = self
                .objects
                .keys()
                .filter(|k| k.group == group && k.plural == plural)
                .cloned()
                .collect();
            for k in doomed {
                self.remove(&k);
            }
            self.refresh_crds();
        }
        if key.plural == "namespaces" && key.group.is_empty() {
            let doomed: Vec<ObjKey> = self
                .objects
                .keys()
                .filter(|k| k.namespace == key.name)
                .cloned()
                .collect();
            for k in doomed {
                self.remove(&k);
            }
        }
        Some(obj)
    }

    /// Removes the object if it is being deleted and has no finalizers left.
    pub fn finish_if_done(&mut self, key: &ObjKey) {
        let Some(obj) = self.objects.get(key) else {
            return;
        };
        let deleting = obj["metadata"]["deletionTimestamp"].is_string();
        let finalizers_left = obj["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if deleting && !finalizers_left {
            self.remove(key);
        }
    }

    fn dependents_of(&self, uid: &str) -> Vec<ObjKey> {
        self.objects
            .iter()
            .filter(|(_, o)| {
                o["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|refs| refs.iter().any(|r| r["uid"].as_str() == Some(uid)))
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn orphan_dependents(&mut self, uid: &str) {
        for dep in self.dependents_of(uid) {
            let old = self.objects[&dep].clone();
            let mut next = old.clone();
            if let Some(refs) = meta_mut(&mut next)
                .get_mut("ownerReferences")
                .and_then(Value::as_array_mut)
            {
                refs.retain(|r| r["uid"].as_str() != Some(uid));
            }
            self.put(dep, next, Some(old));
        }
    }

    /// The garbage collector, run synchronously when an owner is removed: dependents
    /// whose owners are all gone are deleted (background), others lose the dangling
    /// reference.
    fn collect_garbage(&mut self, uid: &str) {
        for dep in self.dependents_of(uid) {
            let Some(old) = self.objects.get(&dep).cloned() else {
                continue;
            };
            let refs = old["metadata"]["ownerReferences"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let alive: Vec<Value> = refs
                .iter()
                .filter(|r| r["uid"].as_str().is_some_and(|u| self.uid_exists(u)))
                .cloned()
                .collect();
            if alive.is_empty() {
                self.delete(&dep, Propagation::Background);
            } else {
                let mut next = old.clone();
                meta_mut(&mut next).insert("ownerReferences".into(), Value::Array(alive));
                self.put(dep, next, Some(old));
            }
        }
    }
}
