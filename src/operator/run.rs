//! Wiring: shared reflectors, the three controllers, the writer, leader election and the
//! admin server.

use super::context::{Context, Stores};
use super::metrics::{Metrics, router};
use super::{Error, Result, client, lease, outpost_keys, provider, route, writer};
use crate::api::{ForwardAuthRoute, OAuthClient, OIDCProvider};
use crate::process;
use crate::reconcile::client::MANAGED_BY;
use crate::reconcile::index;
use crate::reconcile::shard::CONFIG_LABEL;
use futures::{Stream, StreamExt, future};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::{self, ReflectHandle, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use std::fmt::Debug;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `portcullis operator`.
#[derive(Debug, Clone, clap::Args)]
pub struct OperatorArgs {
    /// Namespace of the compiled configuration shards and the leader Lease.
    #[arg(
        long,
        default_value = "portcullis-system",
        env = "PORTCULLIS_OPERATOR_NAMESPACE"
    )]
    pub operator_namespace: String,
    /// `--log-format` and `--admin-listen` (formerly `--admin-addr`), shared with the
    /// outpost.
    #[command(flatten)]
    pub process: crate::process::ProcessArgs,
    /// This replica's identity in the Lease (the pod name).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// Name of the leader election Lease.
    #[arg(long, default_value = "portcullis-operator")]
    pub lease_name: String,
    /// Fill the outposts' key Secret of this name in the operator's namespace: the
    /// cookie secret and signing key are minted when missing, never replaced (for
    /// installs rendered without a cluster, such as `manifests/install.yaml`).
    #[arg(long, env = "PORTCULLIS_OUTPOST_KEYS_SECRET")]
    pub outpost_keys_secret: Option<String>,
    /// How often each IdP is probed again when nothing changed.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub idp_recheck: Duration,
    /// How long the probes of a provider that was reachable must keep failing before
    /// `Discovered` turns False (meanwhile the last good status stays and the IdP is
    /// probed again more often).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub idp_failure_grace: Duration,
}

/// The operator's admin port unless `--admin-listen` says otherwise.
pub(crate) const DEFAULT_ADMIN_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 8081);

/// Reconciles in flight per controller. Unbounded (kube-runtime's default), 3,000 routes
/// arriving at once meant 3,000 concurrent status writes, about 1,500 HTTP/1.1
/// connections to the API server and a quarter of the operator's peak memory in their
/// buffers (heaptrack); the API server's own throughput is the limit either way.
const RECONCILE_CONCURRENCY: u16 = 16;

/// Capacity of each shared reflector's broadcast buffer.
const BUFFER: usize = 1024;

/// Starts a shared reflector for `api` and returns its store and one subscription per
/// consumer (`N` of them, named where the array is taken apart). Every subscription
/// exists before the watcher starts, so none misses the initial list.
fn shared<K, const N: usize>(
    api: Api<K>,
    config: watcher::Config,
) -> (Store<K>, [ReflectHandle<K>; N])
where
    K: Resource<DynamicType = ()>
        + Clone
        + Debug
        + Send
        + Sync
        + serde::de::DeserializeOwned
        + 'static,
{
    let (store, writer) = reflector::store_shared(BUFFER);
    let subs = std::array::from_fn(|_| {
        writer
            .subscribe()
            .expect("a store made by store_shared has subscribers")
    });
    let stream = watcher(api, config)
        .default_backoff()
        .modify(forget_what_no_reconcile_reads)
        .reflect_shared(writer);
    tokio::spawn(stream.for_each(|_| future::ready(())));
    (store, subs)
}

/// Drops from a cached object what no reconcile reads and what can be most of its size:
/// `managedFields` (every field manager's field set, on every object), and the
/// `kubectl.kubernetes.io/last-applied-configuration` annotation (a second copy of the
/// object on anything applied with client-side `kubectl apply`). At 10,000 routes the
/// caches were most of the operator's memory.
fn forget_what_no_reconcile_reads<K: Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
    if let Some(annotations) = object.meta_mut().annotations.as_mut() {
        annotations.remove(crate::reconcile::client::LAST_APPLIED_ANNOTATION);
    }
}

fn error_policy<K: Resource<DynamicType = ()>>(
    controller: &'static str,
) -> impl Fn(Arc<K>, &Error, Arc<Context>) -> Action {
    move |obj, error, ctx| {
        ctx.metrics.failed(controller, error.metric_label());
        let key = super::backoff::BackoffKey::of(obj.as_ref());
        tracing::warn!(controller, object = %key, reason = error.metric_label(), error = %error, "reconcile failed");
        Action::requeue(ctx.backoff(&key))
    }
}

fn drain<S: Stream + Send + 'static>(s: S) -> impl std::future::Future<Output = ()> + Send {
    s.for_each(|_| future::ready(()))
}

/// `portcullis operator`: logging, the runtime, and the exit code.
pub(crate) fn main(args: OperatorArgs) -> ExitCode {
    let _log_writer = process::init_logging(args.process.log_format);
    process::block_on("operator", async {
        match run(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, reason = e.metric_label(), "operator stopped");
                eprintln!("portcullis operator: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Runs the operator until leadership is lost or a fatal error.
pub async fn run(args: OperatorArgs) -> Result<()> {
    let config = kube::Config::infer()
        .await
        .map_err(kube::Error::InferConfig)?;
    // The elector's own client is never gated; every other write goes through the gate,
    // open only while this replica has recently confirmed the Lease.
    let elector_client = kube::Client::try_from(config.clone())?;
    let gate = super::gate::WriteGate::default();
    let kube_client = kube::client::ClientBuilder::try_from(config)?
        .with_layer(&gate)
        .build();
    let metrics = Arc::new(Metrics::default());
    let admin_addr = args.process.admin_listen_or(DEFAULT_ADMIN_LISTEN);
    let listener = tokio::net::TcpListener::bind(admin_addr)
        .await
        .map_err(|source| Error::Listen {
            addr: admin_addr,
            source,
        })?;
    let admin = router(metrics.clone());
    tokio::spawn(async move { axum::serve(listener, admin).await });

    let identity = args
        .identity
        .clone()
        .unwrap_or_else(|| format!("portcullis-{}", std::process::id()));
    let elector = lease::Elector::new(
        elector_client,
        &args.operator_namespace,
        &args.lease_name,
        &identity,
    );
    // One future for every wait below, made before the first: a SIGTERM at any point
    // from here on is seen (see process::shutdown_signal).
    let mut stop = std::pin::pin!(process::shutdown_signal());
    tracing::info!(identity, "waiting for the leader lease");
    // A standby is ready: it is healthy and can take over. Were it not, a rolling
    // update would wait forever for a new pod that waits for the old one's lease.
    metrics
        .ready
        .store(true, std::sync::atomic::Ordering::Relaxed);
    tokio::select! {
        () = elector.acquire() => {}
        () = &mut stop => return Ok(()),
    }
    metrics
        .ready
        .store(false, std::sync::atomic::Ordering::Relaxed);
    metrics.leader.set(1);
    // Just acquired: writes may go from here (`hold` keeps the gate open while it renews).
    gate.confirm();
    tracing::info!(identity, "leading");

    let c = kube_client.clone();
    let managed = watcher::Config::default().labels(&format!("{}={}", MANAGED_BY.0, MANAGED_BY.1));
    // One subscription per consumer: the three controllers and the writer.
    let (
        providers,
        [
            providers_to_p,
            providers_to_c,
            providers_to_r,
            providers_to_w,
        ],
    ) = shared(Api::<OIDCProvider>::all(c.clone()), Default::default());
    let (clients, [clients_to_p, clients_to_c, clients_to_r, clients_to_w]) =
        shared(Api::<OAuthClient>::all(c.clone()), Default::default());
    let (routes, [routes_to_p, routes_to_c, routes_to_r, routes_to_w]) =
        shared(Api::<ForwardAuthRoute>::all(c.clone()), Default::default());
    let (owned_secrets, [owned_to_c, owned_to_w]) = shared(Api::<Secret>::all(c.clone()), managed);
    let (shards, [shards_to_w]) = shared(
        Api::<ConfigMap>::namespaced(c.clone(), &args.operator_namespace),
        watcher::Config::default().labels(&format!("{CONFIG_LABEL}=true")),
    );
    let stores = Stores {
        providers: providers.clone(),
        clients: clients.clone(),
        routes: routes.clone(),
        owned_secrets,
    };
    let mut context = Context::new(c.clone(), stores, args.operator_namespace.clone())?;
    context
        .caches_synced
        .store(false, std::sync::atomic::Ordering::Release);
    context.metrics = metrics.clone();
    context.idp_recheck = args.idp_recheck;
    context.idp_failure_grace = args.idp_failure_grace;
    let ctx = Arc::new(context);

    let bounded = ControllerConfig::default().concurrency(RECONCILE_CONCURRENCY);
    let debounced = bounded.clone().debounce(Duration::from_secs(1));
    let clients_for_p = clients.clone();
    let provider_ctl = Controller::for_shared_stream(providers_to_p, providers.clone())
        .with_config(debounced.clone())
        .watches_shared_stream(clients_to_p, {
            let providers = providers.clone();
            move |c| index::providers_of_client(&providers.state(), &c)
        })
        .watches_shared_stream(routes_to_p, |r| [index::provider_of_route(&r)])
        .run(
            |o, c| {
                c.metrics.reconciled("oidcprovider");
                provider::reconcile(o, c)
            },
            error_policy("oidcprovider"),
            ctx.clone(),
        );

    let user_secrets = watcher(
        Api::<kube::core::PartialObjectMeta<Secret>>::all(c.clone()),
        Default::default(),
    )
    .default_backoff()
    .touched_objects();
    let client_ctl = Controller::for_shared_stream(clients_to_c, clients.clone())
        .with_config(debounced.clone())
        .owns_shared_stream(owned_to_c)
        .watches_shared_stream(providers_to_c, {
            let clients = clients_for_p.clone();
            move |p| index::clients_of_provider(&clients.state(), &p)
        })
        .watches_shared_stream(routes_to_c, {
            let (clients, providers) = (clients.clone(), providers.clone());
            move |r| {
                let p = providers.get(&index::provider_of_route(&r));
                p.map(|p| index::clients_of_provider(&clients.state(), &p))
                    .unwrap_or_default()
            }
        })
        .watches_stream(user_secrets, {
            let clients = clients.clone();
            move |s| {
                let ns = s.namespace().unwrap_or_default();
                let mut refs = index::clients_of_secret(&clients.state(), &ns, &s.name_any());
                // An owned Secret of an Orphan client has no ownerReference; its label
                // still names the client (e.g. when someone deletes it).
                if let Some(name) = s.labels().get(crate::reconcile::client::CLIENT_LABEL) {
                    refs.push(kube::runtime::reflector::ObjectRef::new(name).within(&ns));
                }
                refs
            }
        })
        .run(
            |o, c| {
                c.metrics.reconciled("oauthclient");
                client::reconcile(o, c)
            },
            error_policy("oauthclient"),
            ctx.clone(),
        );

    let route_ctl = Controller::for_shared_stream(routes_to_r, routes.clone())
        .with_config(bounded)
        .watches_shared_stream(providers_to_r, {
            let routes = routes.clone();
            move |p| index::routes_of_provider(&routes.state(), &p)
        })
        .watches_shared_stream(clients_to_r, {
            let (routes, providers) = (routes.clone(), providers.clone());
            move |c| {
                let rs = routes.state();
                index::providers_of_client(&providers.state(), &c)
                    .into_iter()
                    .filter_map(|p| providers.get(&p))
                    .flat_map(|p| index::routes_of_provider(&rs, &p))
                    .collect::<Vec<_>>()
            }
        })
        .reconcile_on(route::verdict_changes(ctx.subscribe_verdicts()))
        .run(
            |o, c| {
                c.metrics.reconciled("forwardauthroute");
                route::reconcile(o, c)
            },
            error_policy("forwardauthroute"),
            ctx.clone(),
        );

    let (synced_tx, synced_rx) = tokio::sync::oneshot::channel::<()>();
    let owned_secrets_ready = ctx.stores.owned_secrets.clone();
    let triggers = futures::stream::select_all(vec![
        providers_to_w.map(|_| ()).boxed(),
        clients_to_w.map(|_| ()).boxed(),
        routes_to_w.map(|_| ()).boxed(),
        shards_to_w.map(|_| ()).boxed(),
        // A client's published Secret changed: the outposts' copy follows.
        owned_to_w.map(|_| ()).boxed(),
        // Users' Secrets are not watched (that would need every Secret in the cluster
        // cached): a periodic pass picks up a rotated value.
        futures::stream::unfold((), |()| async {
            tokio::time::sleep(writer::CREDENTIALS_RESYNC).await;
            Some(((), ()))
        })
        .boxed(),
        // One pass once every cache has synced (passes before that write nothing), so an
        // empty cluster still gets its (empty) shard.
        futures::stream::once(async move {
            let _ = synced_rx.await;
        })
        .boxed(),
    ]);
    let writer_task = writer::run(ctx.clone(), triggers, shards.clone());
    let keys_task = {
        let (client, namespace) = (kube_client.clone(), args.operator_namespace.clone());
        let name = args.outpost_keys_secret.clone();
        async move {
            let Some(name) = name else {
                return future::pending::<()>().await;
            };
            // Checked again now and then: a deleted key comes back (new, as nothing
            // could have kept the old one) and the outposts log that it changed.
            loop {
                match outpost_keys::ensure(&client, &namespace, &name).await {
                    Ok(added) if !added.is_empty() => {
                        tracing::info!(secret = %format!("{namespace}/{name}"), keys = ?added, "minted the outposts' missing keys")
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(secret = %format!("{namespace}/{name}"), error = %e, "filling the outposts' keys failed; retrying")
                    }
                }
                tokio::time::sleep(writer::CREDENTIALS_RESYNC).await;
            }
        }
    };

    let ready = {
        let metrics = metrics.clone();
        let ctx = ctx.clone();
        async move {
            let _ = futures::join!(
                providers.wait_until_ready(),
                clients.wait_until_ready(),
                routes.wait_until_ready(),
                shards.wait_until_ready(),
                owned_secrets_ready.wait_until_ready()
            );
            ctx.caches_synced
                .store(true, std::sync::atomic::Ordering::Release);
            let _ = synced_tx.send(());
            metrics
                .ready
                .store(true, std::sync::atomic::Ordering::Relaxed);
            future::pending::<()>().await
        }
    };
    tokio::select! {
        e = elector.hold(&metrics, &gate) => { metrics.leader.set(0); Err(e) }
        _ = drain(provider_ctl) => Ok(()),
        _ = drain(client_ctl) => Ok(()),
        _ = drain(route_ctl) => Ok(()),
        _ = writer_task => Ok(()),
        () = keys_task => Ok(()),
        _ = ready => Ok(()),
        () = &mut stop => {
            // Step down so a standby takes over without waiting out the lease.
            elector.release().await;
            metrics.leader.set(0);
            Ok(())
        }
    }
}
