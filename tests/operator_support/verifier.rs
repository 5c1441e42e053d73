//! Named API-server conversations, in the manner of kube-rs controller-rs's
//! `ApiServerVerifier` (the operator's, and the outpost's cluster loader's): a test says
//! which [`Scenario`] it expects ("the provider was
//! discovered", "the client's provider is missing"), the verifier answers the requests
//! that scenario consists of and asserts they come in that order, and the test reads the
//! [`Exchange`]s for what the operator sent. The scenarios themselves are in
//! `scenario.rs`; this file holds the requests they are made of.

use super::{Exchange, Handle, api_error, expect};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Resource;
use portcullis::api::{WorkloadKind, WorkloadRef};
use serde::Serialize;
use serde_json::Value;

use super::scenario::Scenario;

/// One request the operator is expected to make, named by what it does, with the
/// answer the mock API server gives.
#[derive(Debug, Clone)]
pub enum Step {
    /// Reads a Secret; answered with `answer`.
    ReadSecret {
        /// `namespace/name`.
        secret: (String, String),
        /// The Secret the server returns.
        answer: Value,
    },
    /// Server-side applies a Secret; the server echoes it.
    ApplySecret {
        /// `namespace/name`.
        secret: (String, String),
    },
    /// Server-side applies one shard of the outposts' configuration (a ConfigMap in the
    /// operator's namespace, named `portcullis-config-*`); the server echoes it.
    ApplyConfigShard,
    /// Server-side applies an object's status; the server answers with the object
    /// carrying the applied status.
    ApplyStatus {
        /// The status subresource's path (up to the query).
        path: String,
        /// The object as cached, to carry the status in the answer.
        object: Value,
    },
    /// Patches an object's metadata (its finalizers); the server answers with `answer`.
    PatchObject {
        /// The object's path (up to the query).
        path: String,
        /// The object the server returns.
        answer: Value,
    },
    /// Publishes an event in a namespace; the server echoes it.
    Event {
        /// The namespace of the object the event is about.
        namespace: String,
    },
    /// Rolls a workload named in `restartOnRotation` (a patch of its pod template);
    /// the server answers with the bare workload.
    RestartWorkload {
        /// The client's namespace (workloads are in the same one).
        namespace: String,
        /// The workload.
        workload: WorkloadRef,
    },
    /// Reads the leader-election Lease at `path` (`.../leases/<name>`); answered with
    /// `answer`.
    ReadLease {
        /// The Lease's path.
        path: String,
        /// The Lease the server returns.
        answer: Value,
    },
    /// Creates a Lease in the collection at `path` (`.../leases`); the server echoes it.
    CreateLease {
        /// The collection's path.
        path: String,
    },
    /// Replaces the Lease at `path` (a conditional update on its resourceVersion); the
    /// server echoes it.
    ReplaceLease {
        /// The Lease's path.
        path: String,
    },
    /// Lists the outposts' configuration shards in `namespace`, selected by their label;
    /// answered with `shards` at resourceVersion `version`.
    ListConfigShards {
        /// The namespace the outpost reads.
        namespace: String,
        /// The shards the server returns.
        shards: Vec<ConfigMap>,
        /// The list's resourceVersion.
        version: String,
    },
    /// Watches the shards in `namespace` (label-selected, as listed); answered with one
    /// watch event, `{"type": ..., "object": shard}`.
    WatchConfigShards {
        /// The namespace the outpost reads.
        namespace: String,
        /// `ADDED`, `MODIFIED` or `DELETED`.
        kind: &'static str,
        /// The shard the event carries.
        shard: Box<ConfigMap>,
    },
    /// `step`'s request, answered with an API error instead (a `Status` body).
    Refused {
        /// The request expected.
        step: Box<Step>,
        /// The HTTP status of the error.
        code: u16,
        /// The `reason` of the `Status` body (`NotFound`, `Conflict`, ...).
        reason: &'static str,
    },
}

/// How long the verifier waits for the next request: generous, since the writer
/// compiles 10k routes (in a debug build, on a shared machine) before its first one.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);

/// What the mock server answers, given the request's body.
type Responder = Box<dyn FnOnce(&Value) -> Value + Send>;

impl Step {
    /// The status write of `object`.
    pub fn apply_status<K>(object: &K) -> Self
    where
        K: Resource<DynamicType = ()> + Serialize,
    {
        Self::ApplyStatus {
            path: format!("{}/status?", object_path(object)),
            object: serde_json::to_value(object).unwrap(),
        }
    }

    /// A patch of `object`'s metadata, answered with `answer`.
    pub fn patch_object<K>(object: &K, answer: &K) -> Self
    where
        K: Resource<DynamicType = ()> + Serialize,
    {
        Self::PatchObject {
            path: format!("{}?", object_path(object)),
            answer: serde_json::to_value(answer).unwrap(),
        }
    }

    /// A Warning or Normal event about an object in `namespace`.
    pub fn event(namespace: &str) -> Self {
        Self::Event {
            namespace: namespace.into(),
        }
    }

    /// This step's request, answered with the API error `code`/`reason`.
    pub fn refused(self, code: u16, reason: &'static str) -> Self {
        Self::Refused {
            step: Box::new(self),
            code,
            reason,
        }
    }

    /// The request expected (method, path prefix), the HTTP status of the answer and
    /// the answer.
    fn request(self) -> (&'static str, String, u16, Responder) {
        let echo: Responder = Box::new(Value::clone);
        match self {
            Self::ReadSecret {
                secret: (ns, name),
                answer,
            } => (
                "GET",
                format!("/api/v1/namespaces/{ns}/secrets/{name}"),
                200,
                Box::new(move |_| answer),
            ),
            Self::ApplySecret { secret: (ns, name) } => (
                "PATCH",
                format!("/api/v1/namespaces/{ns}/secrets/{name}?"),
                200,
                echo,
            ),
            Self::ApplyConfigShard => (
                "PATCH",
                "/api/v1/namespaces/portcullis-system/configmaps/portcullis-config-".into(),
                200,
                echo,
            ),
            Self::ApplyStatus { path, object } => (
                "PATCH",
                path,
                200,
                Box::new(move |b| {
                    let mut o = object;
                    o["status"] = b["status"].clone();
                    o
                }),
            ),
            Self::PatchObject { path, answer } => ("PATCH", path, 200, Box::new(move |_| answer)),
            Self::RestartWorkload {
                namespace,
                workload,
            } => {
                let (kind, plural) = match workload.kind {
                    WorkloadKind::Deployment => ("Deployment", "deployments"),
                    WorkloadKind::StatefulSet => ("StatefulSet", "statefulsets"),
                    WorkloadKind::DaemonSet => ("DaemonSet", "daemonsets"),
                };
                let name = workload.name;
                let answer = serde_json::json!({"apiVersion": "apps/v1", "kind": kind,
                    "metadata": {"name": name, "namespace": namespace}});
                (
                    "PATCH",
                    format!("/apis/apps/v1/namespaces/{namespace}/{plural}/{name}?"),
                    200,
                    Box::new(move |_| answer),
                )
            }
            Self::Event { namespace } => (
                "POST",
                format!("/apis/events.k8s.io/v1/namespaces/{namespace}/events"),
                201,
                echo,
            ),
            Self::ReadLease { path, answer } => ("GET", path, 200, Box::new(move |_| answer)),
            Self::CreateLease { path } => ("POST", path, 201, echo),
            Self::ReplaceLease { path } => ("PUT", path, 200, echo),
            Self::ListConfigShards {
                namespace,
                shards,
                version,
            } => {
                let answer = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMapList",
                    "metadata": {"resourceVersion": version}, "items": shards});
                (
                    "GET",
                    format!("/api/v1/namespaces/{namespace}/configmaps?"),
                    200,
                    Box::new(move |_| answer),
                )
            }
            Self::WatchConfigShards {
                namespace,
                kind,
                shard,
            } => {
                let event = serde_json::json!({"type": kind, "object": shard});
                (
                    "GET",
                    format!("/api/v1/namespaces/{namespace}/configmaps?"),
                    200,
                    Box::new(move |_| event),
                )
            }
            Self::Refused { step, code, reason } => {
                let (method, path, _, _) = step.request();
                (
                    method,
                    path,
                    code,
                    Box::new(move |_| api_error(code, reason)),
                )
            }
        }
    }

    /// Answers this step's request, asserting it is the one expected. A request that
    /// never comes fails the test after [`PATIENCE`] instead of hanging it (the
    /// operator's context, which holds the client, often outlives the conversation).
    async fn answer(self, handle: &mut Handle) -> Exchange {
        let query = self.query();
        let (method, path, status, respond) = self.request();
        let exchange =
            tokio::time::timeout(PATIENCE, expect(handle, method, &path, status, respond))
                .await
                .unwrap_or_else(|_| panic!("no {method} {path} within {PATIENCE:?}"));
        for needed in query {
            assert!(
                exchange.uri.contains(needed),
                "expected {needed} in the query of {method} {}",
                exchange.uri
            );
        }
        exchange
    }

    /// What the request's query must hold beyond its path: the shards' label selector
    /// (an outpost reading every ConfigMap would merge foreign data), and for a watch,
    /// `watch=true`.
    fn query(&self) -> Vec<&'static str> {
        const SHARD_SELECTOR: &str = "labelSelector=portcullis.dev%2Foutpost-config%3Dtrue";
        match self {
            Self::ListConfigShards { .. } => vec![SHARD_SELECTOR],
            Self::WatchConfigShards { .. } => vec![SHARD_SELECTOR, "watch=true"],
            Self::Refused { step, .. } => step.query(),
            _ => vec![],
        }
    }
}

/// `/api[s]/<group>/<version>/namespaces/<ns>/<plural>/<name>` of a namespaced object.
fn object_path<K: Resource<DynamicType = ()>>(object: &K) -> String {
    let meta = object.meta();
    let (group, version) = (K::group(&()), K::version(&()));
    let root = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    format!(
        "{root}/namespaces/{}/{}/{}",
        meta.namespace.as_deref().unwrap(),
        K::plural(&()),
        meta.name.as_deref().unwrap()
    )
}

/// The mock API server's side, answering one scenario at a time.
pub struct ApiServerVerifier(pub Handle);

impl ApiServerVerifier {
    /// Answers `scenario`'s requests in order on a task; the task's result is what the
    /// operator sent, one [`Exchange`] per step. It panics (failing the test at the
    /// `await`) on a request out of order, and on one missing when the client is
    /// dropped.
    pub fn run(self, scenario: Scenario) -> tokio::task::JoinHandle<Vec<Exchange>> {
        let mut handle = self.0;
        tokio::spawn(async move {
            let mut exchanges = Vec::new();
            for step in scenario.steps() {
                exchanges.push(step.answer(&mut handle).await);
            }
            exchanges
        })
    }
}
