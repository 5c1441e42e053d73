//! OAuthClient: observe (caches, the user's credentials, the IdP's registration), plan
//! the Secrets and status ([`crate::reconcile::client_plan`], pure, rotation included),
//! apply what differs, publish status.

use super::apply::apply;
use super::backoff::BackoffKey;
use super::context::Context;
use super::status::publish_status;
use super::{ApiContext, Error, FINALIZER, RESTARTED_AT_ANNOTATION, Result, Verb, dynamic};
use crate::api::{ClientMode, DeletionPolicy, OAuthClient, Validate, WorkloadKind};
use crate::reconcile::Desired;
use crate::reconcile::client::{data_of, state_secret_name, target_secret_name};
use crate::reconcile::client_plan::{self, Observed};
use crate::reconcile::diff::secret_needs_apply;
use crate::reconcile::events::EventReason;
use crate::reconcile::index;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::{Resource, ResourceExt};
use std::sync::Arc;

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
    let key = BackoffKey::of(client.as_ref());
    let result = if needs_finalizer || has_finalizer {
        let api: Api<OAuthClient> = Api::namespaced(ctx.client.clone(), &ns);
        let ctx2 = ctx.clone();
        let object = super::describe(client.as_ref());
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
            // Adding or removing the finalizer is a JSON patch of the object.
            kube::runtime::finalizer::Error::AddFinalizer(source)
            | kube::runtime::finalizer::Error::RemoveFinalizer(source) => Error::Api {
                verb: Verb::Patch,
                object,
                source,
            },
            other => Error::Finalizer {
                object,
                source: Box::new(other),
            },
        })
    } else {
        apply_client(client, ctx.clone()).await
    };
    if result.is_ok() {
        ctx.reset_backoff(&key);
    }
    result
}

/// Observe (caches, the user's credentials, the IdP's registration), the pure
/// [`client_plan::desired`], apply the Secrets that differ, publish status, then act on
/// a rotation (event, workload restarts).
async fn apply_client(client: Arc<OAuthClient>, ctx: Arc<Context>) -> Result<Action> {
    let ns = client
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    let now = (ctx.now)();
    let cached_state = ctx.stores.owned_secret(&ns, &state_secret_name(&client));
    let cached_target = ctx.stores.owned_secret(&ns, &target_secret_name(&client));
    let pref = &client.spec.provider_ref;
    let provider = ctx.stores.provider(pref.namespace_or(&ns), &pref.name);
    let (providers, routes) = (ctx.stores.providers.state(), ctx.stores.routes.state());
    let needed = index::needed_redirects(&providers, &routes, &client);
    let logout_uri = index::needed_backchannel_logout_uri(&providers, &routes, &client);

    let mut credentials = None;
    let mut registration = None;
    // An invalid spec (admitted without the CRD's rules) is never registered at the IdP;
    // `desired` reports the field.
    if provider.is_some() && client.validate().is_ok() {
        match client.spec.mode {
            ClientMode::Static => {
                if let Some(r) = &client.spec.credentials_secret_ref {
                    credentials = Api::<Secret>::namespaced(ctx.client.clone(), &ns)
                        .get_opt(&r.name)
                        .await
                        .during(Verb::Get, || format!("Secret {ns}/{}", r.name))?;
                }
            }
            ClientMode::Dynamic => {
                let ensured = dynamic::ensure(
                    &ctx,
                    &client,
                    provider.as_deref(),
                    &data_of(cached_state.as_deref()),
                    &needed,
                    logout_uri.as_deref(),
                )
                .await?;
                registration = Some(ensured);
            }
            ClientMode::Generated => {}
        }
    }

    let mint = ctx.mint;
    let mut plan = client_plan::desired(
        Observed {
            client: &client,
            provider: provider.as_deref(),
            needed_redirects: &needed,
            cached_state: cached_state.as_deref(),
            cached_target: cached_target.as_deref(),
            credentials,
            registration,
            backchannel_logout_uri: logout_uri,
            now,
        },
        &mut || mint(),
    );

    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    for object in &plan.objects {
        let Desired::Secret(s) = object else { continue };
        let cached = ctx
            .stores
            .owned_secret(&ns, s.metadata.name.as_deref().unwrap_or_default());
        if secret_needs_apply(s, cached.as_deref()) {
            apply(&secrets, s).await?;
            ctx.metrics.write("secret");
        }
    }

    if let Some(check) = client_plan::credential_check(&client, provider.as_deref(), &plan)
        && let Some(provider) = &provider
    {
        let http = super::provider::http_for(&ctx, provider).await?;
        let registered = super::verify::registered(
            &http,
            &check.token_endpoint,
            &check.client_id,
            &check.client_secret,
            &check.secret_name,
        )
        .await;
        client_plan::with_verification(&mut plan.status, registered);
    }
    let status = publish_status(&ctx, client.as_ref(), plan.status).await?;
    if plan.rotated {
        let why = plan.rotation.why.unwrap_or("rotation");
        ctx.event(
            &client.object_ref(&()),
            EventReason::Rotated,
            format!(
                "secret rotated because {why}; new fingerprint {}",
                status.secret_fingerprint.clone().unwrap_or_default()
            ),
        )
        .await;
        restart_workloads(&ctx, &client, &ns, now).await;
    }
    Ok(Action::requeue(client_plan::requeue_after(
        &client,
        &plan.rotation,
        &status,
        ctx.idp_recheck,
    )))
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
                ctx.event(&client.object_ref(&()), EventReason::RestartFailed, msg)
                    .await;
            }
        }
    }
}
