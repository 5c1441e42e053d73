//! OAuthClient: project, mint or register credentials into the Secrets it owns, rotate
//! them with an overlap, and publish status — writing only what changed.

use super::apply::{apply, apply_status, secret_needs_apply};
use super::context::Context;
use super::rotation::{self, TARGET_PREVIOUS_KEY};
use super::{Error, FINALIZER, RESTARTED_AT_ANNOTATION, Result, dynamic, index};
use crate::api::{ClientMode, DeletionPolicy, OAuthClient, OIDCProvider, Validate, WorkloadKind};
use crate::reconcile::client::{
    STATE_SECRET_KEY, data_of, desired, state_secret_name, target_secret_name,
};
use crate::reconcile::conditions::{self, condition, types};
use crate::reconcile::world::World;
use crate::reconcile::{Desired, fingerprint};
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::{Resource, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How often a converged client is looked at again without a trigger.
const RESYNC: Duration = Duration::from_secs(3600);

/// Reconciles one OAuthClient (with a finalizer when a Dynamic client must be removed
/// at the IdP on deletion).
pub async fn reconcile(client: Arc<OAuthClient>, ctx: Arc<Context>) -> Result<Action> {
    if !ctx.synced() {
        // The redirect URIs a client needs come from every route: wait for them all.
        return Ok(Action::requeue(std::time::Duration::from_secs(1)));
    }
    let ns = client
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    let needs_finalizer = client.spec.mode == ClientMode::Dynamic
        && client.spec.deletion_policy.unwrap_or_default() == DeletionPolicy::Delete;
    let has_finalizer = client.finalizers().iter().any(|f| f == FINALIZER);
    let key = super::context::backoff_key(client.as_ref());
    let result = if needs_finalizer || has_finalizer {
        let api: Api<OAuthClient> = Api::namespaced(ctx.client.clone(), &ns);
        let ctx2 = ctx.clone();
        finalizer(&api, FINALIZER, client, |event| async move {
            match event {
                Finalizer::Apply(c) => apply_client(c, ctx2).await,
                Finalizer::Cleanup(c) => dynamic::cleanup(c, ctx2).await,
            }
        })
        .await
        .map_err(|e| match e {
            kube::runtime::finalizer::Error::ApplyFailed(e)
            | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
            kube::runtime::finalizer::Error::AddFinalizer(e)
            | kube::runtime::finalizer::Error::RemoveFinalizer(e) => Error::Kube(e),
            other => Error::Finalizer(other.to_string()),
        })
    } else {
        apply_client(client, ctx.clone()).await
    };
    if result.is_ok() {
        ctx.reset_backoff(&key);
    }
    result
}

fn put(secret: &mut Secret, key: &str, value: &str) {
    secret
        .data
        .get_or_insert_with(BTreeMap::new)
        .insert(key.to_string(), ByteString(value.as_bytes().to_vec()));
}

async fn apply_client(client: Arc<OAuthClient>, ctx: Arc<Context>) -> Result<Action> {
    let ns = client
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    let now = (ctx.now)();
    let state_name = state_secret_name(&client);
    let target_name = target_secret_name(&client);
    let cached_state = ctx.stores.owned_secret(&ns, &state_name);
    let cached_target = ctx.stores.owned_secret(&ns, &target_name);
    let pref = &client.spec.provider_ref;
    let provider = ctx.stores.provider(pref.namespace_or(&ns), &pref.name);
    let needed = index::needed_redirects(
        &ctx.stores.providers.state(),
        &ctx.stores.routes.state(),
        &client,
    );

    let mut world = World {
        clients: vec![(*client).clone()],
        providers: provider.iter().map(|p| (**p).clone()).collect(),
        ..Default::default()
    };
    let mut state = (*cached_state.clone().unwrap_or_default()).clone();
    state.metadata.name = Some(state_name.clone());
    state.metadata.namespace = Some(ns.clone());
    if let Some(t) = &cached_target {
        world.secrets.push((**t).clone());
    }
    let mut extra_state: BTreeMap<String, String> = BTreeMap::new();
    let mut redirect_condition = None;
    let mut registration_uri = None;
    // An invalid spec (admitted without the CRD's rules) is never registered at the IdP;
    // `desired` reports the field.
    if provider.is_some() && client.validate().is_ok() {
        match client.spec.mode {
            ClientMode::Static => {
                if let Some(r) = &client.spec.credentials_secret_ref
                    && let Some(s) = Api::<Secret>::namespaced(ctx.client.clone(), &ns)
                        .get_opt(&r.name)
                        .await?
                {
                    world.secrets.push(s);
                }
            }
            ClientMode::Dynamic => {
                let outcome = dynamic::ensure(
                    &ctx,
                    &client,
                    provider.as_deref(),
                    &data_of(cached_state.as_deref()),
                    &needed,
                    index::needed_backchannel_logout_uri(
                        &ctx.stores.providers.state(),
                        &ctx.stores.routes.state(),
                        &client,
                    )
                    .as_deref(),
                )
                .await?;
                for (k, v) in &outcome.state {
                    put(&mut state, k, v);
                }
                extra_state = outcome.state;
                redirect_condition = Some(outcome.redirect_condition);
                registration_uri = outcome.registration_client_uri;
            }
            ClientMode::Generated => {}
        }
    }

    // Rotation (Generated): decided before `desired`, which keeps whatever the state
    // Secret holds — so a rotation is the only way the value changes.
    let mut current = data_of(Some(&state)).get(STATE_SECRET_KEY).cloned();
    if client.spec.mode == ClientMode::Generated && current.is_none() {
        // Mint (or adopt the value the app already reads) here rather than inside
        // `desired`, so the first write of the state Secret already carries the
        // rotation bookkeeping — otherwise a second, redundant write would follow.
        let preset = crate::reconcile::client::preset_of(&client);
        let value = cached_target
            .as_deref()
            .and_then(|t| {
                crate::reconcile::world::secret_value(
                    t,
                    crate::reconcile::presets::secret_key(preset),
                )
            })
            .unwrap_or_else(ctx.mint);
        put(&mut state, STATE_SECRET_KEY, &value);
        current = Some(value);
    }
    let state_data = data_of(Some(&state));
    let plan = if client.spec.mode == ClientMode::Generated {
        rotation::plan(&client, &state_data, current.as_deref(), now)
    } else {
        rotation::plan(
            &OAuthClient::new("", Default::default()),
            &BTreeMap::new(),
            None,
            now,
        )
    };
    if plan.rotate {
        put(&mut state, STATE_SECRET_KEY, &(ctx.mint)());
    }
    world.secrets.push(state);

    let mint = ctx.mint;
    let mut outcome = desired(&world, &client, &needed, &mut || mint());
    for object in &mut outcome.objects {
        let Desired::Secret(s) = object else { continue };
        if s.metadata.name.as_deref() == Some(state_name.as_str()) {
            for (k, v) in plan.state.iter().chain(extra_state.iter()) {
                put(s, k, v);
            }
        } else if let Some(prev) = &plan.previous {
            put(s, TARGET_PREVIOUS_KEY, prev);
        }
    }

    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    for object in &outcome.objects {
        let Desired::Secret(s) = object else { continue };
        let cached = ctx
            .stores
            .owned_secret(&ns, s.metadata.name.as_deref().unwrap_or_default());
        if secret_needs_apply(s, cached.as_deref()) {
            apply(&secrets, s).await?;
            ctx.metrics.write("secret");
        }
    }

    // Status reports the rotation the state Secret holds after this reconcile: the copy
    // just written, else the cached one. A plan that `desired` did not write (no
    // provider yet, an invalid spec) rotated nothing; stamping its time would rewrite
    // status on every reconcile (issue 10: 62 writes a minute).
    let written_state = outcome.objects.iter().find_map(|o| match o {
        Desired::Secret(s) if s.metadata.name.as_deref() == Some(state_name.as_str()) => Some(s),
        _ => None,
    });
    let rotated = plan.rotate && written_state.is_some();
    let mut status = outcome.status;
    if client.spec.mode == ClientMode::Generated {
        verify_generated(
            &ctx,
            provider.as_deref(),
            &mut status,
            written_state.or(cached_state.as_deref()),
        )
        .await?;
    }
    status.registration_client_uri = registration_uri;
    status.last_rotation_time = data_of(written_state.or(cached_state.as_deref()))
        .get(rotation::ROTATED_AT_KEY)
        .cloned();
    for c in &mut status.conditions {
        if c.type_ == types::ROTATING
            && let Some(prev) = &plan.previous
        {
            *c = condition(
                types::ROTATING,
                Some(true),
                conditions::reasons::GRACE_PERIOD,
                format!(
                    "the previous secret ({}) stays published as {TARGET_PREVIOUS_KEY:?} until {}",
                    fingerprint(prev),
                    plan.state
                        .get(rotation::PREVIOUS_UNTIL_KEY)
                        .cloned()
                        .unwrap_or_default()
                ),
            );
        }
    }
    if let Some(rc) = redirect_condition {
        status
            .conditions
            .retain(|c| c.type_ != types::REDIRECT_URIS_IN_SYNC);
        status.conditions.push(rc);
    }
    let previous = client
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    status.conditions =
        conditions::merge(previous, status.conditions, client.metadata.generation, now);
    if client.status.as_ref() != Some(&status) {
        let api: Api<OAuthClient> = Api::namespaced(ctx.client.clone(), &ns);
        apply_status(&api, &client.name_any(), &status).await?;
        ctx.metrics.write("oauthclient_status");
        if let Some(ready) = conditions::find(&status.conditions, types::READY)
            && ready.status == "False"
            && !conditions::find(previous, types::READY)
                .is_some_and(|p| p.status == "False" && p.reason == ready.reason)
        {
            ctx.event(
                &client.object_ref(&()),
                true,
                &ready.reason,
                ready.message.clone(),
            )
            .await;
        }
    }
    if rotated {
        let why = plan.why.unwrap_or("rotation");
        ctx.event(
            &client.object_ref(&()),
            false,
            conditions::reasons::ROTATED,
            format!(
                "secret rotated because {why}; new fingerprint {}",
                status.secret_fingerprint.clone().unwrap_or_default()
            ),
        )
        .await;
        restart_workloads(&ctx, &client, &ns, now).await;
    }
    let mut requeue = plan.requeue_after.unwrap_or(RESYNC).min(RESYNC);
    let unverified = client.spec.mode == ClientMode::Generated
        && conditions::find(&status.conditions, types::REGISTERED)
            .is_none_or(|c| c.status != "True");
    if client.spec.mode == ClientMode::Dynamic || unverified {
        // Until the admin has registered a Generated client, look again as often as
        // the IdP is re-checked: Ready follows soon after they do.
        requeue = requeue.min(ctx.idp_recheck);
    }
    Ok(Action::requeue(requeue))
}

/// A Generated client's `Registered` (and so `Ready`) from the IdP's answer to a
/// credential check, once `desired` published credentials and the provider's token
/// endpoint is known.
async fn verify_generated(
    ctx: &Context,
    provider: Option<&OIDCProvider>,
    status: &mut crate::api::OAuthClientStatus,
    state: Option<&Secret>,
) -> Result<()> {
    let manual = conditions::find(&status.conditions, types::REGISTERED)
        .is_some_and(|c| c.reason == crate::reconcile::conditions::reasons::MANUAL);
    let token = provider
        .and_then(|p| p.status.as_ref())
        .and_then(|s| s.endpoints.as_ref())
        .and_then(|e| e.token.clone());
    let secret = data_of(state).get(STATE_SECRET_KEY).cloned();
    let (Some(provider), Some(token), Some(secret), Some(id), true) =
        (provider, token, secret, status.client_id.clone(), manual)
    else {
        return Ok(());
    };
    let http = super::provider::http_for(ctx, provider).await?;
    let secret_name = status.secret_name.clone().unwrap_or_default();
    let checked = super::verify::registered(&http, &token, &id, &secret, &secret_name).await;
    status
        .conditions
        .retain(|c| c.type_ != types::REGISTERED && c.type_ != types::READY);
    status.conditions.push(checked);
    let ready = crate::reconcile::client::ready(&status.conditions);
    status.conditions.push(ready);
    Ok(())
}

/// Rolls the workloads of `restartOnRotation` by stamping their pod template (what
/// `kubectl rollout restart` does). A failure becomes a Warning event naming the workload.
async fn restart_workloads(
    ctx: &Context,
    client: &OAuthClient,
    ns: &str,
    now: k8s_openapi::jiff::Timestamp,
) {
    let patch = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT_ANNOTATION: now.to_string()}}}}});
    let params = PatchParams {
        field_manager: Some(super::FIELD_MANAGER.into()),
        ..Default::default()
    };
    for w in client.spec.restart_on_rotation.iter().flatten() {
        let c = ctx.client.clone();
        let result = match w.kind {
            WorkloadKind::Deployment => Api::<Deployment>::namespaced(c, ns)
                .patch(&w.name, &params, &Patch::Merge(&patch))
                .await
                .map(|_| ()),
            WorkloadKind::StatefulSet => Api::<StatefulSet>::namespaced(c, ns)
                .patch(&w.name, &params, &Patch::Merge(&patch))
                .await
                .map(|_| ()),
            WorkloadKind::DaemonSet => Api::<DaemonSet>::namespaced(c, ns)
                .patch(&w.name, &params, &Patch::Merge(&patch))
                .await
                .map(|_| ()),
        };
        match result {
            Ok(()) => ctx.metrics.write("workload_restart"),
            Err(e) => {
                let msg = format!(
                    "could not restart {:?} {ns}/{} (spec.restartOnRotation): {}",
                    w.kind,
                    w.name,
                    super::Error::from(e).metric_label()
                );
                ctx.event(
                    &client.object_ref(&()),
                    true,
                    conditions::reasons::RESTART_FAILED,
                    msg,
                )
                .await;
            }
        }
    }
}
