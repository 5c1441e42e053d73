//! What every reconcile shares: the client, the reflector stores, the event recorder,
//! metrics, the last IdP probe per provider, and per-object error backoff.

use super::backoff::{BackoffKey, backoff_delay};
use super::metrics::Metrics;
use crate::api::{ForwardAuthRoute, OAuthClient, OIDCProvider};
use crate::reconcile::events::EventReason;
use crate::reconcile::key::ObjectKey;
use crate::reconcile::writer_plan::{Programmed, changed_routes};
use k8s_openapi::api::core::v1::{ObjectReference, Secret};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::{Event, Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The reflector caches the reconcilers read from (never the API server, for these).
#[derive(Clone)]
pub struct Stores {
    /// Every OIDCProvider.
    pub providers: Store<OIDCProvider>,
    /// Every OAuthClient.
    pub clients: Store<OAuthClient>,
    /// Every ForwardAuthRoute.
    pub routes: Store<ForwardAuthRoute>,
    /// Secrets labelled `app.kubernetes.io/managed-by=portcullis` (what we wrote).
    pub owned_secrets: Store<Secret>,
}

impl Stores {
    /// An owned Secret from the cache.
    pub(crate) fn owned_secret(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
        self.owned_secrets
            .get(&ObjectRef::new(name).within(namespace))
    }

    /// A provider from the cache.
    pub(crate) fn provider(&self, namespace: &str, name: &str) -> Option<Arc<OIDCProvider>> {
        self.providers.get(&ObjectRef::new(name).within(namespace))
    }

    /// A client from the cache.
    pub(crate) fn client(&self, namespace: &str, name: &str) -> Option<Arc<OAuthClient>> {
        self.clients.get(&ObjectRef::new(name).within(namespace))
    }
}

/// Shared state of the operator's reconcilers.
pub struct Context {
    /// The Kubernetes client.
    pub client: kube::Client,
    /// The caches.
    pub stores: Stores,
    /// Where the compiled configuration shards go.
    pub operator_namespace: String,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The HTTP client for IdPs without an own CA bundle.
    pub http: reqwest::Client,
    /// How often a healthy provider's IdP is probed again.
    pub idp_recheck: Duration,
    /// How long probes of a provider that was reachable must keep failing before its
    /// status says so: one failed probe is a dropped connection more often than an
    /// outage, and each flip is a status write and an event.
    pub idp_failure_grace: Duration,
    /// The clock (a function so tests can pin it).
    pub now: fn() -> Timestamp,
    /// Mints a new secret value.
    pub mint: fn() -> String,
    /// The writer's verdict per route, whether it put the route into the configuration
    /// (or why not): the one channel between the writer and the route reconciler. The
    /// route reads its verdict from the current value, and the route controller is
    /// triggered by the routes whose verdict changed between values it saw
    /// ([`super::route::verdict_changes`]). `None` until the writer's first pass, so
    /// routes wait instead of flapping.
    programmed: tokio::sync::watch::Sender<Option<Arc<Programmed>>>,
    /// Whether every cache has its initial list. Until then what depends on other kinds
    /// (the compiled configuration, a client's needed redirect URIs) is not computed: a
    /// restarted operator would otherwise write a configuration missing the routes not
    /// yet listed, and statuses it then writes back. True by default (tests fill their
    /// caches up front); `run` clears it until the caches have synced.
    pub caches_synced: std::sync::atomic::AtomicBool,
    recorder: Recorder,
    failures: Mutex<HashMap<BackoffKey, u32>>,
    probe_failures: Mutex<HashMap<ObjectKey, Timestamp>>,
}

impl Context {
    /// A context around a client and filled (or filling) stores. Fails only when the
    /// HTTP client for IdPs cannot be built: a default client has no timeouts, and one
    /// hanging IdP would then hold a reconcile forever.
    pub fn new(
        client: kube::Client,
        stores: Stores,
        operator_namespace: String,
    ) -> super::Result<Self> {
        let reporter = Reporter {
            controller: "portcullis".into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        let http = crate::oidc::build_client(None).map_err(super::Error::HttpClient)?;
        Ok(Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            stores,
            operator_namespace,
            metrics: Arc::new(Metrics::default()),
            http,
            idp_recheck: Duration::from_secs(300),
            idp_failure_grace: Duration::from_secs(30),
            now: Timestamp::now,
            mint: crate::reconcile::mint_secret,
            programmed: tokio::sync::watch::Sender::new(None),
            caches_synced: std::sync::atomic::AtomicBool::new(true),
            failures: Mutex::default(),
            probe_failures: Mutex::default(),
        })
    }

    /// Publishes the writer's verdicts; returns the routes whose verdict differs from
    /// the previous ones (every route, the first time).
    pub fn publish_verdicts(&self, verdicts: Programmed) -> Vec<ObjectKey> {
        let before = self.programmed.send_replace(Some(Arc::new(verdicts)));
        let after = self.programmed.borrow();
        changed_routes(before.as_deref(), after.as_deref().expect("just published"))
    }

    /// The writer's current verdict on one route; `None` before the writer judged it
    /// (its first pass, or a route newer than the last pass).
    pub(crate) fn verdict(&self, route: &ObjectKey) -> Option<Result<(), String>> {
        self.programmed.borrow().as_ref()?.get(route).cloned()
    }

    /// The writer's current verdicts, `None` before its first pass.
    pub fn verdicts(&self) -> Option<Arc<Programmed>> {
        self.programmed.borrow().clone()
    }

    /// Follows the writer's verdicts (see [`Context::programmed`]).
    pub(crate) fn subscribe_verdicts(
        &self,
    ) -> tokio::sync::watch::Receiver<Option<Arc<Programmed>>> {
        self.programmed.subscribe()
    }

    /// See [`Context::caches_synced`].
    pub(crate) fn synced(&self) -> bool {
        self.caches_synced
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Publishes an event about `regarding`. A failed publish is logged, not returned:
    /// an event is a courtesy, the status is the record.
    pub(crate) async fn event(
        &self,
        regarding: &ObjectReference,
        reason: EventReason,
        note: String,
    ) {
        let ev = Event {
            type_: reason.event_type(),
            reason: reason.to_string(),
            note: Some(note),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, regarding).await {
            tracing::warn!(error = %e, %reason, "could not publish event");
        }
    }

    /// The delay before retrying `key` after an error: 5 s doubling to 5 min.
    pub(crate) fn backoff(&self, key: &BackoffKey) -> Duration {
        let mut failures = self.failures.lock().expect("not poisoned");
        let n = failures.entry(key.clone()).or_insert(0);
        *n = n.saturating_add(1);
        backoff_delay(*n)
    }

    /// When the probes of the provider `key` started failing (kept in memory: a restarted operator
    /// starts counting again), or `None` once a probe succeeds.
    pub(crate) fn probe_failing_since(
        &self,
        key: &ObjectKey,
        failed: bool,
        now: Timestamp,
    ) -> Option<Timestamp> {
        let mut since = self.probe_failures.lock().expect("not poisoned");
        if failed {
            Some(*since.entry(key.clone()).or_insert(now))
        } else {
            since.remove(key);
            None
        }
    }

    /// Forgets the failures of `key` after a successful reconcile.
    pub(crate) fn reset_backoff(&self, key: &BackoffKey) {
        self.failures.lock().expect("not poisoned").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn failures_back_off_per_object_until_a_success_resets_them() {
        let (service, _handle) = tower_test::mock::pair::<
            http::Request<kube::client::Body>,
            http::Response<kube::client::Body>,
        >();
        let client = kube::Client::new(service, "default");
        let (store, _w) = kube::runtime::reflector::store();
        let (clients, _w2) = kube::runtime::reflector::store();
        let (routes, _w3) = kube::runtime::reflector::store();
        let (owned, _w4) = kube::runtime::reflector::store();
        let ctx = Context::new(
            client,
            Stores {
                providers: store,
                clients,
                routes,
                owned_secrets: owned,
            },
            "sys".into(),
        )
        .expect("an HTTP client");
        let mut p = OIDCProvider::new("idp", Default::default());
        p.metadata.namespace = Some("ns".into());
        let key = BackoffKey::of(&p);
        assert_eq!(ctx.backoff(&key), Duration::from_secs(5));
        assert_eq!(ctx.backoff(&key), Duration::from_secs(10));
        let mut c = OAuthClient::new("idp", Default::default());
        c.metadata.namespace = Some("ns".into());
        assert_eq!(ctx.backoff(&BackoffKey::of(&c)), Duration::from_secs(5));
        assert_eq!(ctx.backoff(&BackoffKey::Writer), Duration::from_secs(5));
        ctx.reset_backoff(&key);
        assert_eq!(ctx.backoff(&key), Duration::from_secs(5));
        assert_eq!(ctx.backoff(&BackoffKey::Writer), Duration::from_secs(10));
    }
}
