//! The whole world → the compiled outpost configuration, every object to write and every
//! status. This is the one function `render` prints and the operator applies.

use super::assign::{Verdicts, assign};
use super::client::{state_secret_name, target_secret_name};
use super::client_plan::{self, ClientPlan};
use super::conditions;
use super::key::ObjectKey;
use super::world::World;
use super::{Desired, outpost_credentials, provider, provider_status, rotation, route, shard};
use crate::api::{
    ClientMode, ForwardAuthRoute, ForwardAuthRouteStatus, OAuthClient, OAuthClientStatus,
    OIDCProvider, OIDCProviderStatus,
};
use crate::config::{OutpostConfig, ProviderConfig};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;

/// Everything the operator would write.
#[derive(Clone, Debug, Default)]
pub struct Compiled {
    /// The compiled outpost configuration.
    pub config: OutpostConfig,
    /// Secrets and ConfigMaps, in a stable order.
    pub objects: Vec<Desired>,
    /// Status by object.
    pub provider_status: BTreeMap<ObjectKey, OIDCProviderStatus>,
    /// Status by object.
    pub client_status: BTreeMap<ObjectKey, OAuthClientStatus>,
    /// Status by object.
    pub route_status: BTreeMap<ObjectKey, ForwardAuthRouteStatus>,
    /// What the operator would do about each client's secret rotation.
    pub client_rotation: BTreeMap<ObjectKey, rotation::Outlook>,
}

/// Compiles the world. `operator_namespace` receives the configuration shards; `now`
/// stamps conditions that flipped and decides which secret rotations are due; `mint`
/// makes a new secret value where none exists yet or a rotation is due.
pub fn compile(
    world: &World,
    operator_namespace: &str,
    now: Timestamp,
    mint: &mut dyn FnMut() -> String,
) -> Compiled {
    let mut out = Compiled::default();

    let mut providers = BTreeMap::new();
    for p in &world.providers {
        let (config, outcome) = provider::desired(world, p);
        if let Some(config) = config {
            providers.insert(ObjectKey::of(p), (config, p));
        }
        let mut status = match world.probes.get(&ObjectKey::of(p)) {
            Some(report) => probed_status(world, p, report, now).unwrap_or(outcome.status),
            None => outcome.status,
        };
        status.conditions = stamp(
            p.status.as_ref().map(|s| s.conditions.as_slice()),
            status.conditions,
            p.metadata.generation,
            now,
        );
        out.provider_status.insert(ObjectKey::of(p), status);
    }

    let Served {
        config, verdicts, ..
    } = outpost_config(&providers, &world.routes);
    for r in &world.routes {
        let provider_key = route::provider_key(r);
        let programmed = verdicts
            .get(&ObjectKey::of(r))
            .cloned()
            .unwrap_or_else(|| Err("not compiled".into()));
        let provider_conds = out
            .provider_status
            .get(&provider_key)
            .map(|s| s.conditions.as_slice());
        let mut status = route::status(world, r, &route::config(r), provider_conds, programmed);
        status.conditions = stamp(
            r.status.as_ref().map(|s| s.conditions.as_slice()),
            status.conditions,
            r.metadata.generation,
            now,
        );
        out.route_status.insert(ObjectKey::of(r), status);
    }

    // The index's relations read the operator's caches (shared objects); the same here.
    let shared_providers: Vec<std::sync::Arc<OIDCProvider>> = world
        .providers
        .iter()
        .cloned()
        .map(std::sync::Arc::new)
        .collect();
    let shared_routes: Vec<std::sync::Arc<ForwardAuthRoute>> = world
        .routes
        .iter()
        .cloned()
        .map(std::sync::Arc::new)
        .collect();
    for c in &world.clients {
        // The redirect URIs of every route whose provider logs in with this client, as
        // the operator computes them: whether or not the route is served yet (a Dynamic
        // client registers them before its provider, and so its routes, can be Ready).
        let needed = super::index::needed_redirects(&shared_providers, &shared_routes, c);
        let logout_uri =
            super::index::needed_backchannel_logout_uri(&shared_providers, &shared_routes, c);
        let plan = client_plan(world, c, &needed, logout_uri, now, mint);
        out.client_rotation
            .insert(ObjectKey::of(c), plan.rotation.outlook(c, plan.rotated));
        out.objects.extend(plan.objects);
        let mut status = plan.status;
        status.conditions = stamp(
            c.status.as_ref().map(|s| s.conditions.as_slice()),
            status.conditions,
            c.metadata.generation,
            now,
        );
        out.client_status.insert(ObjectKey::of(c), status);
    }

    out.config = config;
    // Outposts read credentials from a copy in their own namespace; here the copy holds
    // what this compile publishes and what the manifests on disk provide (the operator
    // reads the cluster instead).
    let copies = outpost_credentials::localise(&mut out.config, operator_namespace);
    let published = |ns: &str, name: &str, key: &str| {
        out.objects.iter().find_map(|o| match o {
            Desired::Secret(s)
                if s.metadata.namespace.as_deref() == Some(ns)
                    && s.metadata.name.as_deref() == Some(name) =>
            {
                super::world::secret_value(s, key)
            }
            _ => None,
        })
    };
    let values = copies
        .into_iter()
        .filter_map(|(key, origin)| match origin {
            outpost_credentials::Origin::Secret(r) => published(&r.namespace, &r.name, &r.key)
                .or_else(|| world.secret_value(&r.namespace, &r.name, &r.key))
                .map(|v| (key, v)),
            outpost_credentials::Origin::ConfigMap(_) => None,
        })
        .collect();
    out.objects
        .push(Desired::Secret(outpost_credentials::credentials_secret(
            operator_namespace,
            values,
        )));
    out.objects.extend(
        shard::shards(&out.config, operator_namespace)
            .into_iter()
            .map(Desired::ConfigMap),
    );
    out
}

/// The outposts' configuration: the routes whose provider is usable (its config
/// resolved, and it permits the route's namespace) and whose hosts and paths no older
/// route claims, with only the providers they use; and every route's verdict. The one
/// definition `compile` (so `render`) and the operator's writer share.
pub fn outpost_config<'a>(
    providers: &BTreeMap<ObjectKey, (ProviderConfig, &'a OIDCProvider)>,
    routes: impl IntoIterator<Item = &'a ForwardAuthRoute>,
) -> Served {
    let assignment = assign(routes, &|r, provider_key| {
        let (_, provider) = providers.get(provider_key).ok_or_else(|| {
            format!("provider {provider_key} is unusable; see ProviderReady and Accepted")
        })?;
        super::reference_allowed(provider, &r.namespace_or_default())
    });
    let config = OutpostConfig {
        providers: providers
            .iter()
            .filter(|(k, _)| assignment.redirects.contains_key(k))
            .map(|(k, (c, _))| (k.to_string(), c.clone()))
            .collect(),
        routes: assignment.routes,
    };
    Served {
        config,
        verdicts: assignment.verdicts,
    }
}

/// What the outposts serve ([`outpost_config`]).
pub struct Served {
    /// The outposts' configuration.
    pub config: OutpostConfig,
    /// Every route's verdict.
    pub verdicts: Verdicts,
}

/// A client's plan from the same [`client_plan::desired`] the operator applies, observed
/// in the world instead of the operator's caches: the state and application Secrets
/// among the manifests (so a state Secret records the last rotation), a Static client's
/// credentials. A Dynamic client is not registered at the IdP (`render` asks no one).
fn client_plan(
    world: &World,
    c: &OAuthClient,
    needed_redirects: &[String],
    backchannel_logout_uri: Option<String>,
    now: Timestamp,
    mint: &mut dyn FnMut() -> String,
) -> ClientPlan {
    let ns = c.namespace_or_default();
    let provider_ref = &c.spec.provider_ref;
    let credentials = match c.spec.mode {
        ClientMode::Static => c
            .spec
            .credentials_secret_ref
            .as_ref()
            .and_then(|r| world.secret(&ns, &r.name))
            .cloned(),
        ClientMode::Generated | ClientMode::Dynamic => None,
    };
    client_plan::desired(
        client_plan::Observed {
            client: c,
            provider: world.provider(provider_ref.namespace_or(&ns), &provider_ref.name),
            needed_redirects,
            cached_state: world.secret(&ns, &state_secret_name(c)),
            cached_target: world.secret(&ns, &target_secret_name(c)),
            credentials,
            registration: None,
            backchannel_logout_uri,
            now,
        },
        mint,
    )
}

/// A probed provider's status, from the same [`provider_status::desired`] the operator
/// publishes after its probe. One probe, so a failure is believed at once (the
/// operator's grace only ever holds a status that was good before, and input on disk
/// carries none): `None` only if that were not so.
fn probed_status(
    world: &World,
    p: &OIDCProvider,
    report: &super::probe::Report,
    now: Timestamp,
) -> Option<OIDCProviderStatus> {
    let compiled = provider::config(world, p);
    let routes: Vec<std::sync::Arc<ForwardAuthRoute>> = world
        .routes
        .iter()
        .cloned()
        .map(std::sync::Arc::new)
        .collect();
    let needed_claims = super::index::needed_claims(p, &routes);
    let failed = report.discovery_error.is_some() || report.jwks_error.is_some();
    match provider_status::desired(provider_status::Observed {
        provider: p,
        compiled: &compiled,
        report: report.clone(),
        needed_claims: &needed_claims,
        failing_since: failed.then_some(report.at.unwrap_or(now)),
        now,
        grace: std::time::Duration::ZERO,
    }) {
        provider_status::Verdict::Publish(status) => Some(*status),
        provider_status::Verdict::HoldLastGood => None,
    }
}

fn stamp(
    previous: Option<&[Condition]>,
    fresh: Vec<Condition>,
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    conditions::merge(previous.unwrap_or_default(), fresh, generation, now)
}

/// `namespace()` with the empty string for cluster-scoped input.
trait NamespaceOrDefault {
    fn namespace_or_default(&self) -> String;
}

impl<K: kube::ResourceExt> NamespaceOrDefault for K {
    fn namespace_or_default(&self) -> String {
        self.namespace().unwrap_or_default()
    }
}

#[cfg(test)]
#[path = "compile_tests.rs"]
mod tests;
