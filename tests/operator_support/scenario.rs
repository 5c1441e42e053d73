//! The conversations the operator (and the outpost's cluster loader) have with the API
//! server, named by what happens; each is a list of [`Step`]s the verifier answers in
//! order.

use super::verifier::Step;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Resource;
use portcullis::api::{ForwardAuthRoute, OAuthClient, OIDCProvider};
use portcullis::reconcile::client;
use serde_json::Value;

/// The conversations the operator's reconcilers and the outpost's loader have with the
/// API server.
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
    /// A Static client already projected: the user's Secret read, nothing written.
    StaticClientConverged {
        /// The client.
        client: OAuthClient,
        /// The user's credentials Secret, as the server returns it.
        credentials: Value,
    },
    /// A client whose provider does not exist: its status says so, then a Warning
    /// event names the provider.
    ClientProviderMissing(OAuthClient),
    /// A Generated client's Secrets written: the target Secret applied with the
    /// client secret (minted, or kept from the state Secret), the state Secret applied
    /// with the rotation bookkeeping, the status published.
    GeneratedClientProjected(OAuthClient),
    /// As [`Scenario::GeneratedClientProjected`], but the API server refuses the status
    /// write (500 InternalError).
    GeneratedClientStatusRefused(OAuthClient),
    /// A client seen for the first time: the operator's finalizer added (a patch of the
    /// client's metadata), nothing else.
    FinalizerAdded(OAuthClient),
    /// A Dynamic client registered at the IdP (RFC 7591): the initial access token's
    /// Secret read, then the target Secret, the state Secret (client secret and
    /// registration access token) and the status written.
    DynamicClientRegistered {
        /// The client.
        client: OAuthClient,
        /// The initial access token's Secret, as the server returns it.
        initial_access_token: Value,
    },
    /// A Dynamic client whose redirect URIs drifted at the IdP, which refused the
    /// update: only the status changes (no Secret written, no event).
    RegistrationUpdateRefused(OAuthClient),
    /// A deleted client let go: the operator's finalizer removed (a patch of the
    /// client's metadata) once the IdP side is cleaned up.
    FinalizerRemoved(OAuthClient),
    /// A client's secret rotated: the target Secret applied with the new and the
    /// previous value, the state Secret applied, the status published, a Normal event,
    /// then each workload of `restartOnRotation` rolled.
    ClientRotated(OAuthClient),
    /// The first replica to start finds no leader-election Lease (404) and creates one.
    LeaseCreated {
        /// The Lease's namespace.
        namespace: String,
        /// The Lease's name.
        name: String,
    },
    /// A replica reads a Lease another replica holds and still renews, and stands by
    /// without writing.
    LeaseHeldElsewhere(Value),
    /// A replica reads an expired Lease and tries to take it with a conditional update,
    /// but another replica updated it first (409 Conflict).
    LeaseTakeoverLost(Value),
    /// A route the writer refused (a reference its provider does not permit): its
    /// status says why, then a Warning event repeats it.
    RouteRefused(ForwardAuthRoute),
    /// Routes the writer programmed, reconciled one after the other: each one's status
    /// published once, in this order.
    RoutesProgrammed(Vec<ForwardAuthRoute>),
    /// The writer's first pass: the outposts' credentials copy applied in the
    /// operator's namespace, then each of `shards` configuration shards applied once.
    ConfigurationWritten {
        /// How many shards the configuration compiles to.
        shards: usize,
    },
    /// The outpost loads its configuration: one list of the label-selected shards in
    /// `namespace`, answered with `shards`.
    ConfigShardsListed {
        /// The namespace the outpost reads.
        namespace: String,
        /// The shards the server holds.
        shards: Vec<ConfigMap>,
    },
    /// The outpost watches its configuration: the list of `shards`, then a watch from
    /// that list's resourceVersion that delivers one MODIFIED event for `modified`.
    ConfigShardModified {
        /// The namespace the outpost reads.
        namespace: String,
        /// The shards the server holds at first.
        shards: Vec<ConfigMap>,
        /// A shard as it is after the change.
        modified: ConfigMap,
    },
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
                let target = client::target_secret_name(&client);
                vec![
                    read_static_credentials(&client, credentials),
                    Step::ApplySecret {
                        secret: (ns, target),
                    },
                    Step::apply_status(&client),
                ]
            }
            Self::StaticClientConverged {
                client,
                credentials,
            } => vec![read_static_credentials(&client, credentials)],
            Self::GeneratedClientProjected(c) => generated_client_projected(&c),
            Self::GeneratedClientStatusRefused(c) => {
                let mut steps = generated_client_projected(&c);
                let status = steps.pop().expect("the status write");
                steps.push(status.refused(500, "InternalError"));
                steps
            }
            Self::FinalizerAdded(c) => {
                let mut finalized = c.clone();
                finalized.metadata.finalizers =
                    Some(vec![portcullis::operator::FINALIZER.to_string()]);
                vec![Step::patch_object(&c, &finalized)]
            }
            Self::DynamicClientRegistered {
                client,
                initial_access_token,
            } => {
                let source = client
                    .spec
                    .registration
                    .as_ref()
                    .and_then(|r| r.initial_access_token_ref.as_ref())
                    .expect("a Dynamic client names its initial access token Secret")
                    .name
                    .clone();
                let mut steps = vec![Step::ReadSecret {
                    secret: (namespace_of(&client), source),
                    answer: initial_access_token,
                }];
                steps.extend(generated_client_projected(&client));
                steps
            }
            Self::RegistrationUpdateRefused(c) => vec![Step::apply_status(&c)],
            Self::FinalizerRemoved(c) => {
                let mut released = c.clone();
                released.metadata.finalizers = None;
                vec![Step::patch_object(&c, &released)]
            }
            Self::ClientRotated(c) => {
                let ns = namespace_of(&c);
                let mut steps = generated_client_projected(&c);
                steps.push(Step::event(&ns));
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
            Self::LeaseCreated { namespace, name } => vec![
                Step::ReadLease {
                    path: lease_path(&namespace, &name),
                    answer: Value::Null,
                }
                .refused(404, "NotFound"),
                Step::CreateLease {
                    path: lease_path(&namespace, ""),
                },
            ],
            Self::LeaseHeldElsewhere(lease) => vec![Step::ReadLease {
                path: lease_path_of(&lease),
                answer: lease,
            }],
            Self::LeaseTakeoverLost(lease) => vec![
                Step::ReadLease {
                    path: lease_path_of(&lease),
                    answer: lease.clone(),
                },
                Step::ReplaceLease {
                    path: lease_path_of(&lease),
                }
                .refused(409, "Conflict"),
            ],
            Self::RouteRefused(r) => vec![Step::apply_status(&r), Step::event(&namespace_of(&r))],
            Self::RoutesProgrammed(routes) => routes.iter().map(Step::apply_status).collect(),
            Self::ConfigShardsListed { namespace, shards } => vec![Step::ListConfigShards {
                namespace,
                shards,
                version: "1".into(),
            }],
            Self::ConfigShardModified {
                namespace,
                shards,
                modified,
            } => vec![
                Step::ListConfigShards {
                    namespace: namespace.clone(),
                    shards,
                    version: "1".into(),
                },
                Step::WatchConfigShards {
                    namespace,
                    kind: "MODIFIED",
                    shard: Box::new(modified),
                },
            ],
            Self::ConfigurationWritten { shards } => {
                let mut steps = vec![Step::ApplySecret {
                    secret: (
                        "portcullis-system".into(),
                        "portcullis-outpost-credentials".into(),
                    ),
                }];
                steps.extend(std::iter::repeat_n(Step::ApplyConfigShard, shards));
                steps
            }
        }
    }
}

/// The read of a Static client's credentials Secret, answered with `credentials`.
fn read_static_credentials(c: &OAuthClient, credentials: Value) -> Step {
    let source = c
        .spec
        .credentials_secret_ref
        .as_ref()
        .expect("a Static client names its credentials Secret")
        .name
        .clone();
    Step::ReadSecret {
        secret: (namespace_of(c), source),
        answer: credentials,
    }
}

/// The target Secret, the state Secret, the status (of a Generated or Dynamic client).
fn generated_client_projected(c: &OAuthClient) -> Vec<Step> {
    let ns = namespace_of(c);
    vec![
        Step::ApplySecret {
            secret: (ns.clone(), client::target_secret_name(c)),
        },
        Step::ApplySecret {
            secret: (ns, client::state_secret_name(c)),
        },
        Step::apply_status(c),
    ]
}

fn namespace_of<K: Resource>(object: &K) -> String {
    object.meta().namespace.clone().unwrap()
}

/// The path of the Lease `name` in `namespace` (with an empty name, of the collection).
fn lease_path(namespace: &str, name: &str) -> String {
    let collection = format!("/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases");
    if name.is_empty() {
        collection
    } else {
        format!("{collection}/{name}")
    }
}

fn lease_path_of(lease: &Value) -> String {
    let meta = &lease["metadata"];
    lease_path(
        meta["namespace"].as_str().expect("a Lease's namespace"),
        meta["name"].as_str().expect("a Lease's name"),
    )
}
