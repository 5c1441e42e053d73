//! Named API-server conversations, in the manner of kube-rs controller-rs's
//! `ApiServerVerifier`: a test says which [`Scenario`] it expects ("the provider was
//! discovered", "the client's provider is missing"), the verifier answers the requests
//! that scenario consists of and asserts they come in that order, and the test reads the
//! [`Exchange`]s for what the operator sent.

use super::{Exchange, Handle, expect};
use kube::Resource;
use portcullis::api::{OAuthClient, OIDCProvider, WorkloadKind, WorkloadRef};
use portcullis::reconcile::client;
use serde::Serialize;
use serde_json::Value;

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
    /// Server-side applies an object's status; the server answers with the object
    /// carrying the applied status.
    ApplyStatus {
        /// The status subresource's path (up to the query).
        path: String,
        /// The object as cached, to carry the status in the answer.
        object: Value,
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
}

impl Step {
    /// The status write of `object`.
    pub fn apply_status<K>(object: &K) -> Self
    where
        K: Resource<DynamicType = ()> + Serialize,
    {
        let meta = object.meta();
        Self::ApplyStatus {
            path: format!(
                "{}/namespaces/{}/{}/{}/status?",
                api_root::<K>(),
                meta.namespace.as_deref().unwrap(),
                K::plural(&()),
                meta.name.as_deref().unwrap()
            ),
            object: serde_json::to_value(object).unwrap(),
        }
    }

    /// A Warning or Normal event about an object in `namespace`.
    pub fn event(namespace: &str) -> Self {
        Self::Event {
            namespace: namespace.into(),
        }
    }

    /// Answers this step's request, asserting it is the one expected.
    async fn answer(self, handle: &mut Handle) -> Exchange {
        match self {
            Self::ReadSecret {
                secret: (ns, name),
                answer,
            } => {
                expect(
                    handle,
                    "GET",
                    &format!("/api/v1/namespaces/{ns}/secrets/{name}"),
                    200,
                    move |_| answer,
                )
                .await
            }
            Self::ApplySecret { secret: (ns, name) } => {
                expect(
                    handle,
                    "PATCH",
                    &format!("/api/v1/namespaces/{ns}/secrets/{name}?"),
                    200,
                    Value::clone,
                )
                .await
            }
            Self::ApplyStatus { path, object } => {
                expect(handle, "PATCH", &path, 200, move |b| {
                    let mut o = object;
                    o["status"] = b["status"].clone();
                    o
                })
                .await
            }
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
                expect(
                    handle,
                    "PATCH",
                    &format!("/apis/apps/v1/namespaces/{namespace}/{plural}/{name}?"),
                    200,
                    move |_| answer,
                )
                .await
            }
            Self::Event { namespace } => {
                expect(
                    handle,
                    "POST",
                    &format!("/apis/events.k8s.io/v1/namespaces/{namespace}/events"),
                    201,
                    Value::clone,
                )
                .await
            }
        }
    }
}

fn api_root<K: Resource<DynamicType = ()>>() -> String {
    let (group, version) = (K::group(&()), K::version(&()));
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

/// The conversations the operator's reconcilers have with the API server.
pub enum Scenario {
    /// A provider whose IdP answered as configured: its status is published, and no
    /// event (nothing went wrong).
    ProviderDiscovered(OIDCProvider),
    /// A provider that is not Ready (IdP unreachable, issuer mismatch): its status says
    /// why, then a Warning event repeats it.
    ProviderNotReady(OIDCProvider),
    /// A Static client's credentials projected: the user's Secret read, the target
    /// Secret applied, the status published.
    StaticClientProjected {
        /// The client.
        client: OAuthClient,
        /// The user's credentials Secret, as the server returns it.
        credentials: Value,
    },
    /// A client whose provider does not exist: its status says so, then a Warning
    /// event names the provider.
    ClientProviderMissing(OAuthClient),
    /// A client's secret rotated: the target Secret applied with the new and the
    /// previous value, the state Secret applied, the status published, a Normal event,
    /// then each workload of `restartOnRotation` rolled.
    ClientRotated(OAuthClient),
    /// Any other sequence of steps.
    Steps(Vec<Step>),
}

impl Scenario {
    /// The requests this scenario consists of, in order.
    pub fn steps(self) -> Vec<Step> {
        match self {
            Self::ProviderDiscovered(p) => vec![Step::apply_status(&p)],
            Self::ProviderNotReady(p) => {
                vec![Step::apply_status(&p), Step::event(&namespace_of(&p))]
            }
            Self::StaticClientProjected {
                client,
                credentials,
            } => {
                let ns = namespace_of(&client);
                let source = client
                    .spec
                    .credentials_secret_ref
                    .as_ref()
                    .expect("a Static client names its credentials Secret")
                    .name
                    .clone();
                let target = client::target_secret_name(&client);
                vec![
                    Step::ReadSecret {
                        secret: (ns.clone(), source),
                        answer: credentials,
                    },
                    Step::ApplySecret {
                        secret: (ns, target),
                    },
                    Step::apply_status(&client),
                ]
            }
            Self::ClientRotated(c) => {
                let ns = namespace_of(&c);
                let mut steps = vec![
                    Step::ApplySecret {
                        secret: (ns.clone(), client::target_secret_name(&c)),
                    },
                    Step::ApplySecret {
                        secret: (ns.clone(), client::state_secret_name(&c)),
                    },
                    Step::apply_status(&c),
                    Step::event(&ns),
                ];
                for workload in c.spec.restart_on_rotation.clone().unwrap_or_default() {
                    steps.push(Step::RestartWorkload {
                        namespace: ns.clone(),
                        workload,
                    });
                }
                steps
            }
            Self::ClientProviderMissing(c) => {
                vec![Step::apply_status(&c), Step::event(&namespace_of(&c))]
            }
            Self::Steps(steps) => steps,
        }
    }
}

fn namespace_of<K: Resource>(object: &K) -> String {
    object.meta().namespace.clone().unwrap()
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
